/* currents_partners_test.c -- the Amplitude and Mixpanel request bodies of
 * Currents (src/currents/amplitude.c, mixpanel.c, partner.c): batches of
 * flat records as the outbox holds them, the bodies parsed back with json-c
 * and compared whole, a name for every event type brasa produces, the
 * users each partner cannot take, and odd values. */
#include "test.h"
#include "fixture.h"
#include "currents/internal.h"
#include "currents/partner.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* A batch from a JSON array of flat records (the array owns them). */
typedef struct {
    json_object *arr;
    cur_event ev[32];
    int n;
} batch;

static void batch_of(batch *b, const char *records) {
    b->arr = json_tokener_parse(records);
    b->n = b->arr ? (int)json_object_array_length(b->arr) : 0;
    for (int i = 0; i < b->n; i++) {
        json_object *o = json_object_array_get_idx(b->arr, (size_t)i), *v;
        b->ev[i].ev = o;
        b->ev[i].type = json_object_object_get_ex(o, "event_type", &v) ? json_object_get_string(v) : "";
        b->ev[i].id = json_object_object_get_ex(o, "id", &v) ? json_object_get_string(v) : "";
    }
}

static cur_conf amp_conf = {.type = CUR_AMPLITUDE, .api_key = "amp-key-123"};
static cur_conf mp_conf = {.type = CUR_MIXPANEL, .api_secret = "s3cret", .project_token = "tok-abc"};

/* The body of records for a partner, parsed; *held = what the formatter said it holds. */
static json_object *body(bool amplitude, const char *records, int *held, buf_t *raw) {
    batch b;
    batch_of(&b, records);
    buf_t out = BUF_INIT;
    *held = amplitude ? cur_fmt_amplitude(&amp_conf, b.ev, b.n, &out) : cur_fmt_mixpanel(&mp_conf, b.ev, b.n, &out);
    json_tokener *t = json_tokener_new();
    json_tokener_set_flags(t, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(t, out.data, (int)out.len);
    if (json_tokener_get_parse_end(t) != out.len) { /* trailing bytes: not one JSON value */
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(t);
    if (raw) buf_append(raw, out.data, out.len);
    buf_free(&out);
    json_object_put(b.arr);
    return o;
}

/* The i-th event of a parsed body. */
static json_object *nth(bool amplitude, json_object *o, int i) {
    json_object *evs = o;
    if (amplitude && !json_object_object_get_ex(o, "events", &evs)) return NULL;
    if (!json_object_is_type(evs, json_type_array) || i >= (int)json_object_array_length(evs)) return NULL;
    return json_object_array_get_idx(evs, (size_t)i);
}

#define T_JSON(got, want) T_JSON_AS(got, json_tokener_parse(want), want)

/* ---- Amplitude ---------------------------------------------------------- */

TEST(amplitude_custom_event_and_purchase) {
    int held;
    json_object *o = body(true,
                          "[{\"id\":\"00000000000000a1-0000-0000\",\"event_type\":\"users.behaviors.CustomEvent\","
                          "\"user_id\":\"65a000000000000000000001\",\"external_user_id\":\"user-1\",\"app_id\":\"app-9\","
                          "\"time\":1782896400,\"name\":\"Played Song\",\"properties\":"
                          "\"{\\\"plan\\\":\\\"gold\\\",\\\"n\\\":3,\\\"on\\\":true,\\\"nested\\\":{\\\"a\\\":[1,{\\\"b\\\":null}]},\\\"none\\\":null}\"},"
                          "{\"id\":\"00000000000000a1-0001-0000\",\"event_type\":\"users.behaviors.Purchase\","
                          "\"user_id\":\"65a000000000000000000001\",\"external_user_id\":\"user-1\",\"time\":1782896401,"
                          "\"product_id\":\"sku-7\",\"price\":9.99,\"currency\":\"EUR\",\"properties\":\"{\\\"color\\\":\\\"red\\\"}\"}]",
                          &held, NULL);
    T_EQ_INT(held, 2);
    T_JSON(o,
           "{\"api_key\":\"amp-key-123\",\"options\":{\"min_id_length\":1},\"events\":["
           "{\"event_type\":\"[Appboy] [Custom Event] Played Song\",\"insert_id\":\"00000000000000a1-0000-0000\","
           "\"user_id\":\"user-1\",\"time\":1782896400000,\"library\":\"Braze\",\"event_properties\":{\"app_id\":\"app-9\","
           "\"[Custom event property] plan\":\"gold\",\"[Custom event property] n\":3,\"[Custom event property] on\":true,"
           "\"[Custom event property] nested\":{\"a\":[1,{\"b\":null}]},\"[Custom event property] none\":null}},"
           "{\"event_type\":\"[Appboy] Purchase\",\"insert_id\":\"00000000000000a1-0001-0000\",\"user_id\":\"user-1\","
           "\"time\":1782896401000,\"library\":\"Braze\",\"price\":9.99,\"productId\":\"sku-7\","
           "\"event_properties\":{\"currency\":\"EUR\",\"[Purchase property] color\":\"red\"}}]}");
    json_object_put(o);
}

TEST(amplitude_email_and_subscription_events) {
    int held;
    json_object *o = body(true,
                          "[{\"id\":\"d1-65a000000000000000000002-send\",\"event_type\":\"users.messages.email.Send\","
                          "\"user_id\":\"65a000000000000000000002\",\"external_user_id\":\"user-2\",\"time\":1782896500,"
                          "\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\",\"campaign_name\":\"Welcome\",\"send_id\":\"s1\","
                          "\"message_variation_id\":\"v1\",\"message_variation_name\":\"Variant 1\",\"email_address\":\"a@x.org\"},"
                          "{\"id\":\"d1-65a000000000000000000002-0011aa\",\"event_type\":\"users.messages.email.Open\","
                          "\"user_id\":\"65a000000000000000000002\",\"external_user_id\":\"user-2\",\"time\":1782896600,"
                          "\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\",\"email_address\":\"a@x.org\",\"user_agent\":\"Mail/1.0\","
                          "\"machine_open\":\"true\",\"to_domain\":\"x.org\"},"
                          "{\"id\":\"d1-65a000000000000000000002-0022bb\",\"event_type\":\"users.messages.email.Click\","
                          "\"user_id\":\"65a000000000000000000002\",\"external_user_id\":\"user-2\",\"time\":1782896700,"
                          "\"dispatch_id\":\"d1\",\"email_address\":\"a@x.org\",\"user_agent\":\"UA\",\"url\":\"https://x.org/a?b=1\","
                          "\"link_id\":\"3\"},"
                          "{\"id\":\"00000000000000b2-s0000\",\"event_type\":\"users.behaviors.subscription.GlobalStateChange\","
                          "\"user_id\":\"65a000000000000000000002\",\"external_user_id\":\"user-2\",\"timezone\":\"Europe/Paris\","
                          "\"time\":1782896800,\"channel\":\"email\",\"channel_identifier\":\"a@x.org\",\"email_address\":\"a@x.org\","
                          "\"state_change_source\":\"Email Link\",\"subscription_status\":\"Unsubscribed\"}]",
                          &held, NULL);
    T_EQ_INT(held, 4);
    T_JSON(nth(true, o, 0), "{\"event_type\":\"[Appboy] Email Send\",\"insert_id\":\"d1-65a000000000000000000002-send\","
                            "\"user_id\":\"user-2\",\"time\":1782896500000,\"library\":\"Braze\",\"event_properties\":{"
                            "\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\",\"campaign_name\":\"Welcome\",\"send_id\":\"s1\","
                            "\"message_variation_id\":\"v1\",\"message_variation_name\":\"Variant 1\",\"email_address\":\"a@x.org\"}}");
    T_JSON(nth(true, o, 1), "{\"event_type\":\"[Appboy] Email Open\",\"insert_id\":\"d1-65a000000000000000000002-0011aa\","
                            "\"user_id\":\"user-2\",\"time\":1782896600000,\"library\":\"Braze\",\"event_properties\":{"
                            "\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\",\"email_address\":\"a@x.org\",\"user_agent\":\"Mail/1.0\","
                            "\"machine_open\":\"true\",\"to_domain\":\"x.org\"}}");
    T_JSON(nth(true, o, 2), "{\"event_type\":\"[Appboy] Email Click\",\"insert_id\":\"d1-65a000000000000000000002-0022bb\","
                            "\"user_id\":\"user-2\",\"time\":1782896700000,\"library\":\"Braze\",\"event_properties\":{"
                            "\"dispatch_id\":\"d1\",\"email_address\":\"a@x.org\",\"user_agent\":\"UA\","
                            "\"url\":\"https://x.org/a?b=1\",\"link_id\":\"3\"}}");
    T_JSON(nth(true, o, 3), "{\"event_type\":\"[Appboy] Global Subscription State Change\","
                            "\"insert_id\":\"00000000000000b2-s0000\",\"user_id\":\"user-2\",\"time\":1782896800000,"
                            "\"library\":\"Braze\",\"event_properties\":{\"timezone\":\"Europe/Paris\",\"channel\":\"email\","
                            "\"channel_identifier\":\"a@x.org\",\"email_address\":\"a@x.org\",\"state_change_source\":\"Email Link\","
                            "\"subscription_status\":\"Unsubscribed\"}}");
    json_object_put(o);
}

/* Braze sends users with an external id, or anonymous ones with a device
 * id; the rest are left out and counted as delivered (not in `held`). */
TEST(amplitude_users_it_cannot_take) {
    int held;
    buf_t raw = BUF_INIT;
    json_object *o = body(true,
                          "[{\"id\":\"e1\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"65a000000000000000000003\","
                          "\"time\":10,\"name\":\"anon\",\"properties\":\"{}\"},"
                          "{\"id\":\"e2\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"65a000000000000000000004\","
                          "\"device_id\":\"dev-4\",\"os_version\":\"17.1\",\"device_model\":\"iPhone15,2\",\"platform\":\"ios\","
                          "\"ad_id\":\"AD-1\",\"ad_id_type\":\"ios_idfa\",\"time\":11,\"name\":\"dev\",\"properties\":\"{}\"},"
                          "{\"id\":\"e3\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"65a000000000000000000005\","
                          "\"external_user_id\":null,\"time\":12,\"name\":\"nullext\",\"properties\":\"{}\"},"
                          "{\"id\":\"e4\",\"event_type\":\"users.behaviors.Purchase\",\"user_id\":\"65a000000000000000000006\","
                          "\"external_user_id\":\"u6\",\"device_id\":\"dev-6\",\"ad_id\":\"G-1\",\"ad_id_type\":\"google_ad_id\","
                          "\"time\":13,\"product_id\":\"p\",\"price\":1,\"currency\":\"USD\",\"properties\":\"{}\"}]",
                          &held, &raw);
    T_EQ_INT(held, 2);
    T_JSON(o, "{\"api_key\":\"amp-key-123\",\"options\":{\"min_id_length\":1},\"events\":["
              "{\"event_type\":\"[Appboy] [Custom Event] dev\",\"insert_id\":\"e2\",\"device_id\":\"dev-4\",\"time\":11000,"
              "\"library\":\"Braze\",\"idfa\":\"AD-1\",\"event_properties\":{\"os_version\":\"17.1\","
              "\"device_model\":\"iPhone15,2\",\"platform\":\"ios\",\"ad_id\":\"AD-1\",\"ad_id_type\":\"ios_idfa\"}},"
              "{\"event_type\":\"[Appboy] Purchase\",\"insert_id\":\"e4\",\"user_id\":\"u6\",\"device_id\":\"dev-6\",\"time\":13000,"
              "\"library\":\"Braze\",\"price\":1,\"productId\":\"p\",\"adid\":\"G-1\",\"event_properties\":{"
              "\"ad_id\":\"G-1\",\"ad_id_type\":\"google_ad_id\",\"currency\":\"USD\"}}]}");
    T_TRUE(!strstr(raw.data, "anon") && !strstr(raw.data, "nullext"));
    json_object_put(o);
    buf_free(&raw);
    /* a batch of none of them: an empty, valid body */
    o = body(true, "[{\"id\":\"e1\",\"event_type\":\"users.messages.email.Send\",\"user_id\":\"65a000000000000000000003\",\"time\":1}]",
             &held, NULL);
    T_EQ_INT(held, 0);
    T_JSON(o, "{\"api_key\":\"amp-key-123\",\"events\":[],\"options\":{\"min_id_length\":1}}");
    json_object_put(o);
    o = body(true, "[]", &held, NULL);
    T_EQ_INT(held, 0);
    T_JSON(o, "{\"api_key\":\"amp-key-123\",\"events\":[],\"options\":{\"min_id_length\":1}}");
    json_object_put(o);
}

/* ---- Mixpanel ----------------------------------------------------------- */

TEST(mixpanel_custom_event_and_purchase) {
    int held;
    json_object *o = body(false,
                          "[{\"id\":\"00000000000000c3-0000-0000\",\"event_type\":\"users.behaviors.CustomEvent\","
                          "\"user_id\":\"65a000000000000000000007\",\"external_user_id\":\"user-7\",\"app_id\":\"app-9\","
                          "\"device_model\":\"Pixel 8\",\"os_version\":\"14\",\"device_id\":\"dev-7\",\"time\":1782896400,"
                          "\"name\":\"Played Song\",\"properties\":\"{\\\"plan\\\":\\\"gold\\\",\\\"nested\\\":{\\\"a\\\":[1,2]}}\"},"
                          "{\"id\":\"00000000000000c3-0001-0000\",\"event_type\":\"users.behaviors.Purchase\","
                          "\"user_id\":\"65a000000000000000000007\",\"external_user_id\":\"user-7\",\"time\":1782896401,"
                          "\"product_id\":\"sku-7\",\"price\":9.99,\"currency\":\"EUR\",\"properties\":\"{\\\"color\\\":\\\"red\\\"}\"}]",
                          &held, NULL);
    T_EQ_INT(held, 2);
    T_JSON(o, "[{\"event\":\"[Braze Custom Event] Played Song\",\"properties\":{\"$insert_id\":\"00000000000000c3-0000-0000\","
              "\"distinct_id\":\"user-7\",\"time\":1782896400000,\"token\":\"tok-abc\",\"$partner_id\":\"braze\","
              "\"app_id\":\"app-9\",\"$device\":\"Pixel 8\",\"$os\":\"14\",\"device_id\":\"dev-7\","
              "\"[Custom event property] plan\":\"gold\",\"[Custom event property] nested\":{\"a\":[1,2]}}},"
              "{\"event\":\"Purchase\",\"properties\":{\"$insert_id\":\"00000000000000c3-0001-0000\",\"distinct_id\":\"user-7\","
              "\"time\":1782896401000,\"token\":\"tok-abc\",\"$partner_id\":\"braze\",\"product_id\":\"sku-7\",\"price\":9.99,"
              "\"currency\":\"EUR\",\"[Purchase property] color\":\"red\"}}]");
    json_object_put(o);
}

TEST(mixpanel_message_events_and_users_it_cannot_take) {
    int held;
    json_object *o = body(false,
                          "[{\"id\":\"65b0c0ffee0000000000beef-65a000000000000000000008-send\",\"event_type\":\"users.messages.email.Send\","
                          "\"user_id\":\"65a000000000000000000008\",\"external_user_id\":\"user-8\",\"time\":1782896500,"
                          "\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\",\"email_address\":\"a@x.org\"},"
                          "{\"id\":\"e2\",\"event_type\":\"users.messages.email.Send\",\"user_id\":\"65a000000000000000000009\","
                          "\"device_id\":\"dev-9\",\"time\":1,\"email_address\":\"b@x.org\"},"
                          "{\"id\":\"e3\",\"event_type\":\"users.behaviors.subscription.GlobalStateChange\","
                          "\"user_id\":\"65a00000000000000000000a\",\"time\":2,\"subscription_status\":\"Subscribed\"},"
                          "{\"id\":\"00000000000000b2-s0001\",\"event_type\":\"users.behaviors.subscription.GlobalStateChange\","
                          "\"user_id\":\"65a000000000000000000008\",\"external_user_id\":\"user-8\",\"time\":1782896800,"
                          "\"channel\":\"email\",\"subscription_status\":\"Opted In\",\"state_change_source\":\"REST API\"}]",
                          &held, NULL);
    T_EQ_INT(held, 2);
    T_JSON(o, "[{\"event\":\"Email Send\",\"properties\":{\"$insert_id\":\"95926dc5bddc19c510375cd61f7ad74e\","
              "\"distinct_id\":\"user-8\",\"time\":1782896500000,\"token\":\"tok-abc\",\"$partner_id\":\"braze\","
              "\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\",\"email_address\":\"a@x.org\"}},"
              "{\"event\":\"Global Subscription State Change\",\"properties\":{\"$insert_id\":\"00000000000000b2-s0001\","
              "\"distinct_id\":\"user-8\",\"time\":1782896800000,\"token\":\"tok-abc\",\"$partner_id\":\"braze\","
              "\"channel\":\"email\",\"subscription_status\":\"Opted In\",\"state_change_source\":\"REST API\"}}]");
    json_object_put(o);
    o = body(false, "[{\"id\":\"e3\",\"event_type\":\"users.UserDeleteRequest\",\"user_id\":\"65a00000000000000000000a\",\"time\":2}]",
             &held, NULL);
    T_EQ_INT(held, 0);
    T_JSON(o, "[]");
    json_object_put(o);
}

/* $insert_id: 36 characters of [A-Za-z0-9-] at most, else a stable hash. */
TEST(mixpanel_insert_id) {
    static const struct {
        const char *id;
        bool kept;
    } rows[] = {
        {"00000000000000c3-0000-0000", true},
        {"abcdefghijklmnopqrstuvwxyzABCDEFGH-9", true},   /* 36 */
        {"abcdefghijklmnopqrstuvwxyzABCDEFGH-90", false}, /* 37 */
        {"c1-65a000000000000000000001-conv0-1782896400", false},
        {"under_score", false},
        {"dot.ted", false},
        {"ünï", false},
        {"", false},
    };
    char seen[8][40];
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char rec[512];
        snprintf(rec, sizeof rec,
                 "[{\"id\":\"%s\",\"event_type\":\"users.messages.email.Send\",\"user_id\":\"65a000000000000000000001\","
                 "\"external_user_id\":\"u\",\"time\":1},"
                 "{\"id\":\"%s\",\"event_type\":\"users.messages.email.Send\",\"user_id\":\"65a000000000000000000001\","
                 "\"external_user_id\":\"u\",\"time\":1}]",
                 rows[i].id, rows[i].id);
        int held;
        json_object *o = body(false, rec, &held, NULL), *p, *iid;
        T_EQ_INT(held, 2);
        T_TRUE(json_object_object_get_ex(nth(false, o, 0), "properties", &p) && json_object_object_get_ex(p, "$insert_id", &iid));
        const char *got = json_object_get_string(iid);
        if (rows[i].kept) {
            T_EQ_STR(got, rows[i].id);
        } else {
            T_EQ_INT(strlen(got), 32);
            T_EQ_INT(strspn(got, "0123456789abcdef"), 32);
        }
        /* the same id twice in a batch (a re-send): the same $insert_id */
        json_object *p2, *iid2;
        T_TRUE(json_object_object_get_ex(nth(false, o, 1), "properties", &p2) && json_object_object_get_ex(p2, "$insert_id", &iid2));
        T_EQ_STR(json_object_get_string(iid2), got);
        snprintf(seen[i], sizeof seen[i], "%s", got);
        for (size_t j = 0; j < i; j++) T_TRUE(strcmp(seen[j], seen[i]) != 0);
        json_object_put(o);
    }
}

/* ---- every event type --------------------------------------------------- */

TEST(partners_name_every_event_type) {
    static const char *const names[][3] = {
        {"users.behaviors.CustomEvent", "[Appboy] [Custom Event] ev", "[Braze Custom Event] ev"},
        {"users.behaviors.Purchase", "[Appboy] Purchase", "Purchase"},
        {"users.behaviors.subscription.GlobalStateChange", "[Appboy] Global Subscription State Change",
         "Global Subscription State Change"},
        {"users.behaviors.subscriptiongroup.StateChange", "[Appboy] Subscription Group State Change",
         "Subscription Group State Change"},
        {"users.campaigns.Conversion", "[Appboy] Campaign Conversion", "Campaign Conversion"},
        {"users.campaigns.EnrollInControl", "[Appboy] Campaign Control Group Enrollment", "Campaign Control Group Enrollment"},
        {"users.messages.email.Abort", "[Appboy] Email Abort", "Email Abort"},
        {"users.messages.email.Bounce", "[Appboy] Email Bounce", "Email Bounce"},
        {"users.messages.email.Click", "[Appboy] Email Click", "Email Click"},
        {"users.messages.email.Delivery", "[Appboy] Email Delivery", "Email Delivery"},
        {"users.messages.email.Open", "[Appboy] Email Open", "Email Open"},
        {"users.messages.email.Send", "[Appboy] Email Send", "Email Send"},
        {"users.messages.email.SoftBounce", "[Appboy] Email Soft Bounce", "Email Soft Bounce"},
        {"users.messages.email.Unsubscribe", "[Appboy] Email Unsubscribe", "Email Unsubscribe"},
        {"users.messages.webhook.Abort", "[Appboy] Webhook Abort", "Webhook Abort"},
        {"users.messages.webhook.Failure", "[Appboy] Webhook Failure", "Webhook Failure"},
        {"users.messages.webhook.Send", "[Appboy] Webhook Send", "Webhook Send"},
        {"users.UserDeleteRequest", "[Appboy] User Delete Request", "User Delete Request"},
        {"users.UserOrphan", "[Appboy] User Orphan", "User Orphan"},
        {"brasa.cohorts.Change", "[Appboy] Cohort Change", "Cohort Change"},
        /* a type a newer outbox holds: its own name, never lost */
        {"users.messages.sms.Send", "[Appboy] users.messages.sms.Send", "users.messages.sms.Send"},
    };
    size_t rows = sizeof names / sizeof *names;
    /* every type brasa produces has a row, and a name of its own */
    for (const char *const *t = cur_event_types; *t; t++) {
        size_t i = 0;
        while (i < rows && strcmp(names[i][0], *t)) i++;
        if (i == rows) T_FAIL_("no row for %s", *t);
        if (strcmp(*t, "users.behaviors.CustomEvent")) T_TRUE(strcmp(cur_partner_title(*t), *t) != 0);
    }
    for (size_t i = 0; i < rows; i++) {
        char rec[400];
        snprintf(rec, sizeof rec,
                 "[{\"id\":\"id-%zu\",\"event_type\":\"%s\",\"user_id\":\"65a000000000000000000001\",\"external_user_id\":\"u1\","
                 "\"time\":1700000000,\"name\":\"ev\",\"properties\":\"{}\"}]",
                 i, names[i][0]);
        for (int amp = 1; amp >= 0; amp--) {
            int held;
            json_object *o = body(amp, rec, &held, NULL), *v;
            T_EQ_INT(held, 1);
            T_TRUE(json_object_object_get_ex(nth(amp, o, 0), amp ? "event_type" : "event", &v));
            T_EQ_STR(json_object_get_string(v), names[i][amp ? 1 : 2]);
            json_object_put(o);
        }
    }
}

/* ---- odd values ---------------------------------------------------------- */

TEST(partners_odd_values) {
    /* unicode and escapes in names, ids and properties; numbers at the
     * edges of what json-c keeps (compared as text: parsing the body back
     * would clamp them again); a properties string that is not an object */
    const char *recs =
        "[{\"id\":\"00000000000000d4-0000-0000\",\"event_type\":\"users.behaviors.CustomEvent\","
        "\"user_id\":\"65a00000000000000000000d\",\"external_user_id\":\"José \\\"Q\\\" 🎵\",\"time\":2082758400,"
        "\"name\":\"Écouté \\u2028 \\\\ 日本\",\"properties\":"
        "\"{\\\"ключ\\\":\\\"значение\\\",\\\"big\\\":18446744073709551615,\\\"neg\\\":-9223372036854775808,"
        "\\\"huge\\\":1e308,\\\"pi\\\":3.14159265358979323846,\\\"tab\\\\\\\\t\\\":\\\"a\\\\\\\\nb\\\"}\"},"
        "{\"id\":\"00000000000000d4-0001-0000\",\"event_type\":\"users.behaviors.Purchase\","
        "\"user_id\":\"65a00000000000000000000d\",\"external_user_id\":\"x\",\"time\":1,\"product_id\":\"p\","
        "\"price\":12345678901234.5,\"currency\":\"JPY\",\"properties\":\"[1,2]\"},"
        "{\"id\":\"00000000000000d4-0002-0000\",\"event_type\":\"users.behaviors.CustomEvent\","
        "\"user_id\":\"65a00000000000000000000d\",\"external_user_id\":\"x\",\"time\":1,\"name\":\"n\",\"properties\":\"{\\\"a\\\":\"}]";
    for (int amp = 1; amp >= 0; amp--) {
        int held;
        buf_t raw = BUF_INIT;
        json_object *o = body(amp, recs, &held, &raw), *e, *v, *p;
        T_EQ_INT(held, 3);
        T_TRUE(o != NULL);
        e = nth(amp, o, 0);
        T_TRUE(json_object_object_get_ex(e, amp ? "event_type" : "event", &v));
        T_EQ_STR(json_object_get_string(v), amp ? "[Appboy] [Custom Event] Écouté \xe2\x80\xa8 \\ 日本" : "[Braze Custom Event] Écouté \xe2\x80\xa8 \\ 日本");
        T_TRUE(json_object_object_get_ex(e, amp ? "event_properties" : "properties", &p));
        if (amp) T_TRUE(json_object_object_get_ex(e, "user_id", &v));
        else T_TRUE(json_object_object_get_ex(p, "distinct_id", &v));
        T_EQ_STR(json_object_get_string(v), "José \"Q\" 🎵");
        T_TRUE(json_object_object_get_ex(p, "[Custom event property] ключ", &v));
        T_EQ_STR(json_object_get_string(v), "значение");
        T_TRUE(json_object_object_get_ex(p, "[Custom event property] tab\\t", &v));
        T_EQ_STR(json_object_get_string(v), "a\\nb");
        T_TRUE(strstr(raw.data, "\"[Custom event property] big\":18446744073709551615") != NULL);
        T_TRUE(strstr(raw.data, "\"[Custom event property] neg\":-9223372036854775808") != NULL);
        T_TRUE(strstr(raw.data, "\"[Custom event property] huge\":1e308") != NULL);
        T_TRUE(strstr(raw.data, "\"[Custom event property] pi\":3.14159265358979323846") != NULL);
        T_TRUE(strstr(raw.data, amp ? "\"time\":2082758400000" : "\"time\":2082758400000") != NULL); /* past 2038 in ms */
        T_TRUE(strstr(raw.data, "\"price\":12345678901234.5") != NULL);
        /* not an object, or not JSON: kept as the string it is */
        e = nth(amp, o, 1);
        T_TRUE(json_object_object_get_ex(e, amp ? "event_properties" : "properties", &p));
        T_TRUE(json_object_object_get_ex(p, "properties", &v));
        T_EQ_STR(json_object_get_string(v), "[1,2]");
        e = nth(amp, o, 2);
        T_TRUE(json_object_object_get_ex(e, amp ? "event_properties" : "properties", &p));
        T_TRUE(json_object_object_get_ex(p, "properties", &v));
        T_EQ_STR(json_object_get_string(v), "{\"a\":");
        json_object_put(o);
        buf_free(&raw);
    }
}

/* The endpoints a connector without `url` gets (config.c), as documented. */
TEST(partners_default_urls) {
    static const char *const rows[][2] = {
        {"{\"name\":\"a\",\"type\":\"amplitude\",\"api_key\":\"k\"}", "https://api2.amplitude.com/batch"},
        {"{\"name\":\"a\",\"type\":\"amplitude\",\"api_key\":\"k\",\"region\":\"US\"}", "https://api2.amplitude.com/batch"},
        {"{\"name\":\"a\",\"type\":\"amplitude\",\"api_key\":\"k\",\"region\":\"EU\"}", "https://api.eu.amplitude.com/batch"},
        {"{\"name\":\"m\",\"type\":\"mixpanel\",\"api_secret\":\"s\",\"project_token\":\"t\"}",
         "https://api.mixpanel.com/import?strict=1"},
        {"{\"name\":\"m\",\"type\":\"mixpanel\",\"api_secret\":\"s\",\"project_token\":\"t\",\"region\":\"EU\"}",
         "https://api-eu.mixpanel.com/import?strict=1"},
        {"{\"name\":\"m\",\"type\":\"mixpanel\",\"api_secret\":\"s\",\"project_token\":\"t\",\"region\":\"EU\","
         "\"url\":\"http://127.0.0.1:9/import\"}",
         "http://127.0.0.1:9/import"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        cur_conf c;
        char why[256];
        T_EQ_INT(cur_conf_parse_text(rows[i][0], &c, why, sizeof why), 0);
        T_EQ_STR(c.url, rows[i][1]);
        cur_conf_free(&c);
    }
}
