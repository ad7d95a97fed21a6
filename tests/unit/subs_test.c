/* subs_test.c -- subscription state (src/core/subs.c): the kept states of
 * addresses, a global state reaching every user of an address and kept
 * for a user who gets it later, group states, and their Currents events. */
#include "test.h"
#include "fixture.h"
#include "core/subs.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1782896400000LL

static void no_touch(void *a, uint32_t r) { (void)a, (void)r; }

static const char *email_state(fixture_world *w, const char *ext) {
    uint32_t row = users_by_external_id(w->u, ext, strlen(ext));
    pfield f;
    const uint8_t *blob = row == USERS_NONE ? NULL : users_get(w->u, row)->blob;
    static char out[32];
    if (!blob || !profile_get(blob, pkey(PF_EMAIL_SUBSCRIBE, PK_ATTR), &f)) return "(none)";
    snprintf(out, sizeof out, "%.*s", (int)f.len, (const char *)f.p);
    return out;
}

/* The events of the outbox so far, as a JSON array. */
static json_object *events(buf_t *b) {
    buf_t c = BUF_INIT;
    buf_append(&c, b->data, b->len);
    buf_append(&c, "]", 1);
    buf_append(&c, "", 1);
    json_object *a = json_tokener_parse(c.data);
    buf_free(&c);
    return a;
}

TEST(subs_kept_states_by_address) {
    subs_kept *k = subs_kept_new();
    subs_state s;
    T_TRUE(!subs_kept_get(k, "a@x.org", 7, &s));
    subs_kept_set(k, "A@X.org", 7, SUBS_UNSUBSCRIBED, 5, true);
    T_TRUE(subs_kept_get(k, "a@x.ORG", 7, &s) && s == SUBS_UNSUBSCRIBED);
    char a[32];
    for (int i = 0; i < 1000; i++) { /* past several growths */
        int n = snprintf(a, sizeof a, "u%d@x.org", i);
        subs_kept_set(k, a, (size_t)n, i % 2 ? SUBS_OPTED_IN : SUBS_SUBSCRIBED, i, i < 10);
    }
    subs_kept_set(k, "a@x.org", 7, SUBS_SUBSCRIBED, 6, true); /* dirty twice: taken once */
    T_EQ_INT((int)subs_kept_count(k), 1001);
    T_TRUE(subs_kept_get(k, "U999@x.org", 10, &s) && s == SUBS_OPTED_IN);
    int n;
    subs_kept_row *rows = subs_kept_take(k, &n);
    T_EQ_INT(n, 11);
    T_EQ_STR(rows[0].address, "a@x.org");
    T_TRUE(rows[0].state == SUBS_SUBSCRIBED && rows[0].at_ms == 6);
    subs_kept_rows_free(rows, n);
    T_TRUE(subs_kept_take(k, &n) == NULL && n == 0);
    subs_kept_free(k);
}

TEST(subs_email_state_reaches_every_user_and_waits_for_a_new_one) {
    fixture_world w = fixture_world_new();
    json_object_put(fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"a\",\"email\":\"x@e.org\"},"
                                                 "{\"external_id\":\"b\",\"email\":\"X@E.org\"},{\"external_id\":\"c\",\"email\":\"y@e.org\"}]}").errors);
    subs_kept *k = subs_kept_new();
    buf_t out = BUF_INIT;
    buf_append(&out, "[", 1);
    track_ctx c = {w.u, w.n, NOW, &out, 7, no_touch, NULL, k, 0, 0};
    const char *emails[] = {"x@e.org", "new@e.org"};
    subs_cmd cmd = {.kind = SUBS_EMAIL, .state = SUBS_UNSUBSCRIBED, .source = "REST API", .emails = emails, .nemails = 2};
    subs_apply(&c, &cmd);
    T_EQ_INT((int)cmd.reached, 2);
    T_EQ_STR(email_state(&w, "a"), "unsubscribed");
    T_EQ_STR(email_state(&w, "b"), "unsubscribed");
    T_EQ_STR(email_state(&w, "c"), "(none)");
    subs_state s;
    T_TRUE(subs_kept_get(k, "new@e.org", 9, &s) && s == SUBS_UNSUBSCRIBED);
    /* again: no change, no event */
    subs_apply(&c, &cmd);
    json_object *ev = events(&out);
    T_EQ_INT((int)json_object_array_length(ev), 2);
    json_object *e0 = json_object_array_get_idx(ev, 0);
    T_EQ_STR(json_object_get_string(json_object_object_get(e0, "event_type")), "users.behaviors.subscription.GlobalStateChange");
    T_EQ_STR(json_object_get_string(json_object_object_get(e0, "subscription_status")), "Unsubscribed");
    T_EQ_STR(json_object_get_string(json_object_object_get(e0, "state_change_source")), "REST API");
    T_EQ_STR(json_object_get_string(json_object_object_get(e0, "external_user_id")), "a");
    T_TRUE(strcmp(json_object_get_string(json_object_object_get(e0, "id")),
                  json_object_get_string(json_object_object_get(json_object_array_get_idx(ev, 1), "id"))) != 0);
    json_object_put(ev);

    /* A user who gets the kept address takes its state, unless its object sets one. */
    json_object *body = json_tokener_parse("{\"attributes\":[{\"external_id\":\"n\",\"email\":\"NEW@e.org\"},"
                                           "{\"external_id\":\"m\",\"email\":\"new@e.org\",\"email_subscribe\":\"opted_in\"},"
                                           "{\"external_id\":\"c\",\"first_name\":\"C\"}]}");
    track_cmd t;
    api_track_result r;
    char why[200];
    T_EQ_INT(api_track_parse(body, &t, &r, why, sizeof why), 0);
    track_apply(&c, &t);
    track_cmd_free(&t);
    json_object_put(r.errors);
    json_object_put(body);
    /* m's opted_in went to every user of the address, n included */
    T_EQ_STR(email_state(&w, "n"), "opted_in");
    T_EQ_STR(email_state(&w, "m"), "opted_in");
    T_EQ_STR(email_state(&w, "c"), "(none)"); /* its address has no kept state */
    T_TRUE(subs_kept_get(k, "new@e.org", 9, &s) && s == SUBS_OPTED_IN);

    /* one user by braze_id: its address, so every user of it */
    char bz[25];
    users_braze_hex(w.u, users_by_external_id(w.u, "a", 1), bz);
    const char *ids[] = {bz};
    subs_cmd one = {.kind = SUBS_EMAIL, .state = SUBS_SUBSCRIBED, .source = "Unsubscribe Link", .braze_ids = ids, .nbraze = 1};
    subs_apply(&c, &one);
    T_EQ_STR(email_state(&w, "b"), "subscribed");
    subs_kept_free(k);
    buf_free(&out);
    fixture_world_free(&w);
}

TEST(subs_group_states_and_their_events) {
    fixture_world w = fixture_world_new();
    json_object_put(fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"a\",\"phone\":\"+15555550100\","
        "\"subscription_groups\":[{\"subscription_group_id\":\"g0\",\"subscription_state\":\"unsubscribed\"}]}]}").errors);
    buf_t out = BUF_INIT;
    buf_append(&out, "[", 1);
    track_ctx c = {w.u, w.n, NOW, &out, 9, no_touch, NULL, NULL, 0, 0};
    const char *phones[] = {"+15555550100"};
    subs_cmd second = {.kind = SUBS_GROUP, .state = SUBS_UNSUBSCRIBED, .group_id = "g0", .channel = "sms", .source = "REST API",
                       .phones = phones, .nphones = 1}; /* no change */
    subs_cmd cmd = {.kind = SUBS_GROUP, .state = SUBS_SUBSCRIBED, .group_id = "g1", .channel = "sms", .source = "REST API",
                    .phones = phones, .nphones = 1, .next = &second};
    subs_apply(&c, &cmd);
    uint32_t row = users_by_external_id(w.u, "a", 1);
    subs_state s;
    T_TRUE(subs_group_state(users_get(w.u, row)->blob, "g1", &s) == 0 && s == SUBS_SUBSCRIBED);
    T_TRUE(subs_group_state(users_get(w.u, row)->blob, "g0", &s) == 0 && s == SUBS_UNSUBSCRIBED); /* kept */
    T_TRUE(subs_group_state(users_get(w.u, row)->blob, "g2", &s) < 0);
    T_EQ_INT((int)second.reached, 1);
    json_object *ev = events(&out);
    T_EQ_INT((int)json_object_array_length(ev), 1);
    json_object *e = json_object_array_get_idx(ev, 0);
    T_EQ_STR(json_object_get_string(json_object_object_get(e, "event_type")), "users.behaviors.subscriptiongroup.StateChange");
    T_EQ_STR(json_object_get_string(json_object_object_get(e, "channel_identifier")), "+15555550100");
    T_EQ_STR(json_object_get_string(json_object_object_get(e, "subscription_group_id")), "g1");
    json_object_put(ev);
    json_object *all = subs_group_states(users_get(w.u, row)->blob);
    T_EQ_STR(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN), "{\"g0\":\"unsubscribed\",\"g1\":\"subscribed\"}");
    json_object_put(all);
    buf_free(&out);
    fixture_world_free(&w);
}
