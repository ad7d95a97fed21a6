/* merge_test.c -- Braze's merge rules (core/merge.c) through /users/merge
 * and /users/identify, the merge parser's errors (api/merge.c), alias
 * updates, and the Global Control Group (core/gcg.c). */
#include "test.h"
#include "fixture.h"
#include "core/export.h"
#include "core/gcg.h"
#include "core/merge.h"
#include "core/segment.h"
#include "lib/err.h"
#include "lib/timefmt.h"

#include <stdlib.h>
#include <time.h>

#define NOW 1700000000000LL /* 2023-11-14 */

typedef fixture_world world;

static json_object *export_of(world *w, const char *ext) {
    export_fields f = {0};
    uint32_t row = users_by_external_id(w->u, ext, strlen(ext));
    return row == USERS_NONE ? NULL : export_user(w->u, w->n, row, &f);
}

/* The JSON text of a key of an export (or of a key inside custom_attributes
 * when custom). */
static const char *key_of(json_object *user, const char *key, bool custom) {
    json_object *o = user, *v;
    if (custom) json_object_object_get_ex(user, "custom_attributes", &o);
    return json_object_object_get_ex(o, key, &v) ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "absent";
}

static int64_t time_of(world *w, const char *ext, uint32_t field) {
    pfield f;
    profile_t *p = users_get(w->u, users_by_external_id(w->u, ext, strlen(ext)));
    return profile_get(p->blob, pkey(field, PK_ATTR), &f) ? pval_get_int(f.p, f.len) : -1;
}

static int64_t T(const char *s) {
    int64_t ms;
    int y;
    return timefmt_parse(s, strlen(s), &ms, &y) == 0 ? ms : -1;
}

static void track(world *w, const char *json) {
    api_track_result r = fixture_world_track(w, NOW, json);
    if (r.errors) printf("    track errors: %s\n", json_object_to_json_string(r.errors));
    json_object_put(r.errors);
}

TEST(merge_rules_follow_braze) {
    world w = fixture_world_new();
    track(&w, "{\"attributes\":["
              "{\"external_id\":\"keep\",\"first_name\":\"K\",\"a\":1,\"date_of_first_session\":\"2021-03-01\","
              "\"date_of_last_session\":\"2021-03-05\",\"subscription_groups\":[{\"subscription_group_id\":\"g1\",\"subscription_state\":\"subscribed\"}],"
              "\"push_tokens\":[{\"app_id\":\"app\",\"token\":\"t1\",\"device_id\":\"d1\"}]},"
              "{\"external_id\":\"old\",\"first_name\":\"O\",\"last_name\":\"L\",\"a\":9,\"b\":2,"
              "\"date_of_first_session\":\"2021-01-01\",\"date_of_last_session\":\"2021-04-01\","
              "\"subscription_groups\":[{\"subscription_group_id\":\"g1\",\"subscription_state\":\"unsubscribed\"},"
              "{\"subscription_group_id\":\"g2\",\"subscription_state\":\"subscribed\"}],"
              "\"push_tokens\":[{\"app_id\":\"app\",\"token\":\"t1\",\"device_id\":\"d1\"},{\"app_id\":\"app\",\"token\":\"t2\",\"device_id\":\"d2\"}]}],"
              "\"events\":[{\"external_id\":\"keep\",\"name\":\"e\",\"time\":\"2023-11-10T00:00:00Z\"},"
              "{\"external_id\":\"old\",\"name\":\"e\",\"time\":\"2023-11-01T00:00:00Z\"},"
              "{\"external_id\":\"old\",\"name\":\"e\",\"time\":\"2023-11-12T00:00:00Z\"}],"
              "\"purchases\":[{\"external_id\":\"keep\",\"product_id\":\"p\",\"currency\":\"USD\",\"price\":2,\"time\":\"2023-11-10\"},"
              "{\"external_id\":\"old\",\"product_id\":\"p\",\"currency\":\"USD\",\"price\":3,\"quantity\":2,\"time\":\"2023-11-11\"}]}");
    fixture_world_identity(&w, NOW, IDENTITY_ALIAS_NEW,
                           "{\"user_aliases\":[{\"external_id\":\"keep\",\"alias_name\":\"k\",\"alias_label\":\"l\"},"
                           "{\"external_id\":\"old\",\"alias_name\":\"x\",\"alias_label\":\"l\"},"
                           "{\"external_id\":\"old\",\"alias_name\":\"n2\",\"alias_label\":\"l2\"}]}");
    uint32_t old = users_by_external_id(w.u, "old", 3), keep = users_by_external_id(w.u, "keep", 4);
    uint8_t out[1] = {99};
    T_EQ_INT(fixture_world_merge(&w, NOW, "{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"old\"},"
                                          "\"identifier_to_keep\":{\"external_id\":\"keep\"}}]}",
                                 NULL, out),
             0);
    T_EQ_INT(out[0], IDO_OK);
    T_TRUE(users_get(w.u, old)->flags & PROFILE_DELETED);
    T_EQ_INT(users_by_external_id(w.u, "old", 3), USERS_NONE); /* its external id goes with it */
    json_object *x = export_of(&w, "keep");
    T_EQ_STR(key_of(x, "first_name", false), "\"K\""); /* the kept value wins */
    T_EQ_STR(key_of(x, "last_name", false), "\"L\""); /* what it lacks is copied */
    T_EQ_STR(key_of(x, "a", true), "1");
    T_EQ_STR(key_of(x, "b", true), "2");
    T_EQ_STR(key_of(x, "custom_events", false),
             "[{\"name\":\"e\",\"first\":\"2023-11-01T00:00:00.000Z\",\"last\":\"2023-11-12T00:00:00.000Z\",\"count\":3}]");
    T_EQ_STR(key_of(x, "purchases", false),
             "[{\"name\":\"p\",\"first\":\"2023-11-10T00:00:00.000Z\",\"last\":\"2023-11-11T00:00:00.000Z\",\"count\":3}]");
    T_EQ_STR(key_of(x, "total_revenue", false), "8.0");
    /* Tokens and devices: the union, each once. */
    T_EQ_STR(key_of(x, "push_tokens", false),
             "[{\"app\":\"app\",\"token\":\"t1\",\"device_id\":\"d1\"},{\"app\":\"app\",\"token\":\"t2\",\"device_id\":\"d2\"}]");
    T_EQ_STR(key_of(x, "devices", false), "[{\"device_id\":\"d1\"},{\"device_id\":\"d2\"}]");
    /* One name per label: the merged user's 'l' alias goes with it. */
    T_EQ_STR(key_of(x, "user_aliases", false),
             "[{\"alias_name\":\"k\",\"alias_label\":\"l\"},{\"alias_name\":\"n2\",\"alias_label\":\"l2\"}]");
    T_EQ_INT(users_by_alias(w.u, "l2", 2, "n2", 2), keep);
    T_EQ_INT(users_by_alias(w.u, "l", 1, "x", 1), USERS_NONE);
    json_object_put(x);
    /* Sessions: the earlier first, the later last. */
    T_EQ_INT(time_of(&w, "keep", PF_FIRST_SESSION), T("2021-01-01"));
    T_EQ_INT(time_of(&w, "keep", PF_LAST_SESSION), T("2021-04-01"));
    /* Subscription groups: the kept state of a group wins, new groups join. */
    pfield f;
    T_TRUE(profile_get(users_get(w.u, keep)->blob, pkey(PF_SUBSCRIPTION_GROUPS, PK_ATTR), &f));
    char groups[128];
    snprintf(groups, sizeof groups, "%.*s", (int)f.len, (const char *)f.p);
    T_EQ_STR(groups, "{\"g1\":\"subscribed\",\"g2\":\"subscribed\"}");
    fixture_world_free(&w);
}

TEST(merge_summary_keeps_the_window_of_days) {
    /* Two users whose events are 100 days apart: together more days than a
     * summary holds. The merge keeps the last 90 days' per-day counts (what
     * a summary always keeps) and every total. */
    world w = fixture_world_new();
    int64_t day = 86400000, t_old = NOW - 100 * day;
    char body[16384];
    for (int who = 0; who < 2; who++) {
        int64_t base = who ? NOW : t_old;
        for (int part = 0; part < 2; part++) {
            int n = snprintf(body, sizeof body, "{\"events\":[");
            for (int i = 0; i < 45; i++) {
                char t[40];
                timefmt_iso(base - (int64_t)(part * 45 + i) * day, t, sizeof t);
                n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"external_id\":\"%s\",\"name\":\"e\",\"time\":\"%s\"}",
                              i ? "," : "", who ? "new" : "old", t);
            }
            snprintf(body + n, sizeof body - (size_t)n, "]}");
            fixture_world_track(&w, base, body);
        }
    }
    uint8_t out[1];
    T_EQ_INT(fixture_world_merge(&w, NOW, "{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"old\"},"
                                          "\"identifier_to_keep\":{\"external_id\":\"new\"}}]}",
                                 NULL, out),
             0);
    T_EQ_INT(out[0], IDO_OK);
    uint32_t row = users_by_external_id(w.u, "new", 3);
    pfield f;
    T_TRUE(profile_get(users_get(w.u, row)->blob, pkey(names_find(w.n, "e", 1), PK_EVENT), &f));
    psummary s;
    psummary_decode(f.p, f.len, false, &s);
    T_EQ_INT(s.count, 180);
    T_EQ_INT(s.first_ms, t_old - 89 * day);
    T_EQ_INT(s.ndays, 90);
    T_EQ_INT(psummary_count_since(&s, NOW, 90), 90);
    fixture_world_free(&w);
}

TEST(merge_outcomes_by_email_prioritization_and_missing_users) {
    world w = fixture_world_new();
    track(&w, "{\"attributes\":[{\"email\":\"dup@x.io\",\"n\":1},{\"external_id\":\"k\",\"k\":1}]}");
    /* A second unidentified user with the same email, updated later. */
    fixture_world_track(&w, NOW + 5000, "{\"attributes\":[{\"external_id\":\"tmp\",\"email\":\"dup@x.io\",\"n\":2}]}");
    uint32_t tmp = users_by_external_id(w.u, "tmp", 3);
    pedit e;
    pedit_open(&e, users_get(w.u, tmp)->blob);
    pedit_del(&e, pkey(PF_EXTERNAL_ID, PK_ATTR));
    users_commit(w.u, tmp, &e, (uint32_t)(NOW / 1000) + 5);
    pedit_close(&e);
    uint8_t out[4];
    T_EQ_INT(fixture_world_merge(&w, NOW,
                                 "{\"merge_updates\":["
                                 "{\"identifier_to_merge\":{\"email\":\"dup@x.io\",\"prioritization\":[\"unidentified\"]},\"identifier_to_keep\":{\"external_id\":\"k\"}},"
                                 "{\"identifier_to_merge\":{\"external_id\":\"k\"},\"identifier_to_keep\":{\"external_id\":\"nobody\"}},"
                                 "{\"identifier_to_merge\":{\"external_id\":\"k\"},\"identifier_to_keep\":{\"external_id\":\"k\"}},"
                                 "{\"identifier_to_merge\":{\"email\":\"dup@x.io\",\"prioritization\":[\"unidentified\",\"most_recently_updated\"]},"
                                 "\"identifier_to_keep\":{\"external_id\":\"k\"}}]}",
                                 NULL, out),
             0);
    T_EQ_INT(out[0], IDO_MERGE_NONE); /* two unidentified users match: Braze merges neither */
    T_EQ_INT(out[1], IDO_KEEP_NONE);
    T_EQ_INT(out[2], IDO_MERGE_SAME);
    T_EQ_INT(out[3], IDO_OK);
    T_TRUE(users_get(w.u, tmp)->flags & PROFILE_DELETED); /* the most recently updated one */
    json_object *x = export_of(&w, "k");
    T_EQ_STR(key_of(x, "n", true), "2");
    T_EQ_STR(key_of(x, "email", false), "\"dup@x.io\"");
    json_object_put(x);
    fixture_world_free(&w);
}

TEST(merge_leaves_global_control_group_users_alone) {
    world w = fixture_world_new();
    track(&w, "{\"attributes\":[{\"external_id\":\"in\",\"a\":1},{\"external_id\":\"out\",\"b\":1}]}");
    uint32_t in = users_by_external_id(w.u, "in", 2), out_row = users_by_external_id(w.u, "out", 3);
    /* A group of 1% that starts at the bucket of "in" (and misses "out"'s). */
    char start[16], why[160];
    uint32_t bin = users_random_bucket(w.u, in), bout = users_random_bucket(w.u, out_row);
    snprintf(start, sizeof start, "%u", bin);
    gcg_t g;
    T_EQ_INT(gcg_parse("1", start, &g, why, sizeof why), 0);
    T_TRUE(gcg_has(&g, w.u, in));
    if ((bout + GCG_BUCKETS - bin) % GCG_BUCKETS < 100) {
        printf("    buckets %u and %u are too close for this test\n", bin, bout);
        fixture_world_free(&w);
        return;
    }
    T_TRUE(!gcg_has(&g, w.u, out_row));
    const char *both = "{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"out\"},\"identifier_to_keep\":{\"external_id\":\"in\"}},"
                       "{\"identifier_to_merge\":{\"external_id\":\"in\"},\"identifier_to_keep\":{\"external_id\":\"out\"}}]}";
    uint8_t out[2];
    T_EQ_INT(fixture_world_merge(&w, NOW, both, &g, out), 0);
    T_EQ_INT(out[0], IDO_MERGE_GCG);
    T_EQ_INT(out[1], IDO_MERGE_GCG);
    T_EQ_INT(users_live(w.u), 2);
    /* Without a group they merge. */
    T_EQ_INT(fixture_world_merge(&w, NOW, both, NULL, out), 0);
    T_EQ_INT(out[0], IDO_OK);
    T_EQ_INT(out[1], IDO_KEEP_NONE); /* "in" was kept: "out" is gone */
    T_EQ_INT(users_live(w.u), 1);
    fixture_world_free(&w);
}

/* The parser's code and message for a body. */
static int merge_error(const char *json, char *why, size_t n) {
    json_object *b = json_tokener_parse(json);
    merge_cmd m;
    why[0] = '\0';
    int rc = api_merge_parse(b, NULL, &m, why, n);
    if (rc == 0) merge_cmd_free(&m);
    json_object_put(b);
    return rc;
}

TEST(merge_parser_answers_braze_errors) {
    char why[400], body[8192];
    T_EQ_INT(merge_error("[]", why, sizeof why), BR_EINVAL);
    T_EQ_INT(merge_error("{}", why, sizeof why), BR_EMERGEARRAY);
    T_EQ_STR(why, "'merge_updates' is required");
    T_EQ_INT(merge_error("{\"merge_updates\":{}}", why, sizeof why), BR_EMERGEARRAY);
    T_EQ_INT(merge_error("{\"merge_updates\":[]}", why, sizeof why), BR_EMERGEARRAY);
    T_EQ_INT(merge_error("{\"merge_updates\":[1]}", why, sizeof why), BR_EMERGEARRAY);
    T_EQ_STR(why, "merge_updates[0] is not an object");
    int n = snprintf(body, sizeof body, "{\"merge_updates\":[");
    for (int i = 0; i < 51; i++)
        n += snprintf(body + n, sizeof body - (size_t)n,
                      "%s{\"identifier_to_merge\":{\"external_id\":\"a%d\"},\"identifier_to_keep\":{\"external_id\":\"b\"}}",
                      i ? "," : "", i);
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    T_EQ_INT(merge_error(body, why, sizeof why), BR_EMERGEMAX);
    T_EQ_STR(why, "this request has 51");
    T_EQ_INT(merge_error("{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"a\"}}]}", why, sizeof why), BR_EMERGEKEYS);
    T_EQ_STR(why, "merge_updates[0] has no 'identifier_to_keep'");
    T_EQ_INT(merge_error("{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"a\"},\"identifier_to_keep\":{\"external_id\":\"b\"},"
                         "\"x\":1}]}",
                         why, sizeof why),
             BR_EMERGEKEYS);
    T_EQ_STR(why, "merge_updates[0] has 'x'");
    static const struct {
        const char *ident, *why;
    } bad[] = {
        {"\"a\"", "merge_updates[0].identifier_to_keep is not an object"},
        {"{}", "merge_updates[0].identifier_to_keep has none of them"},
        {"{\"external_id\":\"a\",\"email\":\"a@b.c\"}", "merge_updates[0].identifier_to_keep has more than one of them"},
        {"{\"external_id\":5}", "merge_updates[0].identifier_to_keep: 'external_id' must be a string of 1-987 bytes"},
        {"{\"user_alias\":{\"alias_name\":\"n\"}}",
         "merge_updates[0].identifier_to_keep: 'user_alias' must be an object with non-empty string 'alias_name' and 'alias_label'"},
        {"{\"email\":\"\"}", "merge_updates[0].identifier_to_keep: 'email' must be a non-empty string"},
        {"{\"phone\":\"+1555\"}", "merge_updates[0].identifier_to_keep: 'prioritization' is required with 'email' or 'phone'"},
        {"{\"phone\":\"+1555\",\"prioritization\":[]}", "merge_updates[0].identifier_to_keep: 'prioritization' must be a non-empty array"},
        {"{\"email\":\"a@b.c\",\"prioritization\":[\"newest\"]}",
         "merge_updates[0].identifier_to_keep: 'prioritization' values are 'identified', 'unidentified', "
         "'most_recently_updated' and 'least_recently_updated'"},
        {"{\"email\":\"a@b.c\",\"prioritization\":[\"identified\",\"unidentified\"]}",
         "merge_updates[0].identifier_to_keep: 'prioritization' may have 'identified' or 'unidentified', not both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(body, sizeof body, "{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"a\"},\"identifier_to_keep\":%s}]}",
                 bad[i].ident);
        T_EQ_INT(merge_error(body, why, sizeof why), BR_EMERGEIDENT);
        T_EQ_STR(why, bad[i].why);
    }
    T_EQ_INT(merge_error("{\"merge_updates\":[{\"identifier_to_merge\":{\"user_alias\":{\"alias_name\":\"n\",\"alias_label\":\"l\"}},"
                         "\"identifier_to_keep\":{\"phone\":\"+1555\",\"prioritization\":[\"identified\",\"least_recently_updated\"]}}]}",
                         why, sizeof why),
             0);
    T_EQ_STR(br_err_message(BR_EMERGEIDENT),
             "identifiers must be objects with an 'external_id' property that is a string, 'user_alias' property that is an "
             "object, 'email' property that is a string, or 'phone' property that is a string");
}

TEST(alias_update_renames_only_what_it_may) {
    world w = fixture_world_new();
    fixture_world_identity(&w, NOW, IDENTITY_ALIAS_NEW,
                           "{\"user_aliases\":[{\"alias_name\":\"a1\",\"alias_label\":\"crm\"},{\"alias_name\":\"b1\",\"alias_label\":\"crm\"}]}");
    uint32_t a = users_by_alias(w.u, "crm", 3, "a1", 2), b = users_by_alias(w.u, "crm", 3, "b1", 2);
    uint8_t out[4];
    T_EQ_INT(fixture_world_identity_out(&w, NOW, IDENTITY_ALIAS_UPDATE,
                                        "{\"alias_updates\":["
                                        "{\"alias_label\":\"crm\",\"old_alias_name\":\"a1\",\"new_alias_name\":\"a2\"},"
                                        "{\"alias_label\":\"crm\",\"old_alias_name\":\"nope\",\"new_alias_name\":\"x\"},"
                                        "{\"alias_label\":\"crm\",\"old_alias_name\":\"b1\",\"new_alias_name\":\"a2\"},"
                                        "{\"alias_label\":\"crm\",\"old_alias_name\":\"b1\",\"new_alias_name\":\"b1\"}]}",
                                        out),
             0);
    T_EQ_INT(out[0], IDO_OK);
    T_EQ_INT(out[1], IDO_ALIAS_UNKNOWN);
    T_EQ_INT(out[2], IDO_ALIAS_TAKEN);
    T_EQ_INT(out[3], IDO_OK);
    T_EQ_INT(users_by_alias(w.u, "crm", 3, "a2", 2), a);
    T_EQ_INT(users_by_alias(w.u, "crm", 3, "a1", 2), USERS_NONE); /* the old name no longer finds anyone */
    T_EQ_INT(users_by_alias(w.u, "crm", 3, "b1", 2), b);
    /* Shape errors. */
    json_object *body = json_tokener_parse("{\"alias_updates\":[{\"alias_label\":\"crm\",\"old_alias_name\":\"a\"}]}");
    identity_cmd c;
    char why[256];
    T_EQ_INT(api_identity_parse(IDENTITY_ALIAS_UPDATE, body, &c, why, sizeof why), BR_EINVAL);
    T_EQ_STR(why, "'alias_updates' item 0 must be objects with string 'alias_label', 'old_alias_name' and 'new_alias_name'");
    json_object_put(body);
    fixture_world_free(&w);
}

TEST(gcg_membership_and_its_segment_agree) {
    gcg_t g;
    char why[160];
    T_EQ_INT(gcg_parse("10", NULL, &g, why, sizeof why), 0);
    T_EQ_INT(g.start, 9000);
    T_TRUE(gcg_has_bucket(&g, 9000) && gcg_has_bucket(&g, 9999) && !gcg_has_bucket(&g, 8999) && !gcg_has_bucket(&g, 0));
    T_EQ_INT(gcg_parse("0", NULL, &g, why, sizeof why), 0);
    T_TRUE(!gcg_enabled(&g) && !gcg_has_bucket(&g, 9999) && gcg_definition(&g) == NULL);
    T_EQ_INT(gcg_parse("5", "9800", &g, why, sizeof why), 0); /* wraps: 9800-9999 and 0-299 */
    T_TRUE(gcg_has_bucket(&g, 9800) && gcg_has_bucket(&g, 0) && gcg_has_bucket(&g, 299) && !gcg_has_bucket(&g, 300) &&
           !gcg_has_bucket(&g, 9799));
    json_object *def = gcg_definition(&g);
    T_EQ_STR(json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN),
             "{\"or\":[{\"type\":\"random_bucket\",\"op\":\"between\",\"value\":[9800,9999]},"
             "{\"type\":\"random_bucket\",\"op\":\"between\",\"value\":[0,299]}]}");
    /* The segment of the definition holds exactly the members. */
    world w = fixture_world_new();
    char body[128];
    for (int i = 0; i < 400; i++) {
        snprintf(body, sizeof body, "{\"attributes\":[{\"external_id\":\"u%d\"}]}", i);
        fixture_world_track(&w, NOW, body);
    }
    seg_def *d;
    T_EQ_INT(seg_compile(def, NULL, NULL, NULL, &d, why, sizeof why), 0);
    seg_env env = {w.u, w.n, w.c, NULL, NOW};
    int members = 0;
    for (uint32_t r = 0; r < users_rows(w.u); r++) {
        bool in = gcg_has(&g, w.u, r);
        members += in;
        T_EQ_INT(seg_match_row(d, &env, r), in);
    }
    T_TRUE(members > 0 && members < 100);
    seg_free(d);
    json_object_put(def);
    fixture_world_free(&w);
    static const char *const bad[][2] = {{"16", NULL}, {"-1", NULL}, {"x", NULL}, {"", NULL}, {"5", "10000"}, {"5", "-3"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) T_EQ_INT(gcg_parse(bad[i][0], bad[i][1], &g, why, sizeof why), BR_EINVAL);
    T_EQ_STR(why, "the Global Control Group's first bucket must be 0 to 9999 (got '-3')");
}

/* Events tracked over 75 days each for two users, one under a clock 200
 * days ahead: merged under the right clock, the days after today are
 * dropped (they used to be kept, and 150 days overflowed the summary's 128
 * slots on the stack). */
TEST(merge_drops_event_days_after_today) {
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    const int64_t day = 86400000;
    for (int u = 0; u < 2; u++) {
        int64_t now = NOW + (u ? 200 * day : 0);
        buf_reset(&b);
        buf_puts(&b, "{\"events\":[");
        for (int i = 0; i < 75; i++) {
            char iso[32];
            time_t t = (time_t)((now - i * day) / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
            buf_printf(&b, "%s{\"external_id\":\"%s\",\"name\":\"e\",\"time\":\"%s\"}", i ? "," : "", u ? "b" : "a", iso);
        }
        buf_puts(&b, "]}");
        T_EQ_INT(fixture_world_track(&w, now, b.data).processed[1], 75);
    }
    uint8_t out[1] = {99};
    T_EQ_INT(fixture_world_merge(&w, NOW, "{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"b\"},"
                                          "\"identifier_to_keep\":{\"external_id\":\"a\"}}]}",
                                 NULL, out),
             0);
    T_EQ_INT(out[0], IDO_OK);
    json_object *x = export_of(&w, "a"), *ev, *e0, *count;
    T_TRUE(json_object_object_get_ex(x, "custom_events", &ev));
    e0 = json_object_array_get_idx(ev, 0);
    T_TRUE(json_object_object_get_ex(e0, "count", &count));
    T_EQ_INT(json_object_get_int(count), 150);
    json_object_put(x);
    buf_free(&b);
    fixture_world_free(&w);
}
