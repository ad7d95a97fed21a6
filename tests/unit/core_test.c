/* core_test.c -- unit tests for profiles, indexes, time strings and
 * /users/track semantics (src/core, src/lib/timefmt.c). */
#include "test.h"
#include "fixture.h"
#include "core/attrs.h"
#include "core/export.h"
#include "core/identity.h"
#include "core/names.h"
#include "core/profile.h"
#include "core/track.h"
#include "core/users.h"
#include "lib/err.h"
#include "lib/timefmt.h"

#include <stdlib.h>

static int64_t T(const char *s) {
    int64_t ms;
    int y;
    return timefmt_parse(s, strlen(s), &ms, &y) == 0 ? ms : -1;
}

TEST(timefmt_accepts_braze_forms) {
    T_EQ_INT(T("1970-01-01"), 0);
    T_EQ_INT(T("2021-06-28T17:02:43.032Z"), 1624899763032LL);
    T_EQ_INT(T("2021-06-28T17:02:43:032Z"), 1624899763032LL); /* colon before millis */
    T_EQ_INT(T("2021-06-28 17:02:43"), 1624899763000LL);
    T_EQ_INT(T("2021-06-28T19:02:43+02:00"), 1624899763000LL);
    T_EQ_INT(T("2021-06-28T12:02:43-0500"), 1624899763000LL);
    T_EQ_INT(T("06/28/2021"), T("2021-06-28"));
    T_EQ_INT(T("12-1-2021"), T("2021-12-01"));
    T_EQ_INT(T("2020-02-29"), 1582934400000LL);
    T_EQ_INT(T("2021-06-28T17:02"), 1624899720000LL); /* ISO 8601 allows hh:mm */
}

TEST(timefmt_rejects_non_dates) {
    const char *bad[] = {"", "hello", "2021-02-30", "2021-13-01", "2021-06-28T25:00:00Z", "2021-06-28X",
                         "2021-06-28T17", "12345", "1/2/3", "2019-02-29", "2021-06-28T17:02:43+25:00"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (T(bad[i]) != -1) T_FAIL_("accepted '%s'", bad[i]);
}

TEST(timefmt_formats_round_trip) {
    char b[40];
    timefmt_iso(1624899763032LL, b, sizeof b);
    T_EQ_STR(b, "2021-06-28T17:02:43.032Z");
    timefmt_iso(-1000, b, sizeof b);
    T_EQ_STR(b, "1969-12-31T23:59:59.000Z");
    timefmt_date(18806, b, sizeof b);
    T_EQ_STR(b, "2021-06-28");
}

TEST(timefmt_rfc5322_names_the_weekday_and_month) {
    char b[40];
    timefmt_rfc5322(1624899763032LL, b, sizeof b);
    T_EQ_STR(b, "Mon, 28 Jun 2021 17:02:43 +0000");
    timefmt_rfc5322(-1000, b, sizeof b);
    T_EQ_STR(b, "Wed, 31 Dec 1969 23:59:59 +0000");
    timefmt_rfc5322(1782896400000LL, b, sizeof b); /* 2026-07-01T09:00:00Z */
    T_EQ_STR(b, "Wed, 01 Jul 2026 09:00:00 +0000");
}

TEST(profile_edit_keeps_fields_sorted_and_canonical) {
    pedit e;
    pedit_open(&e, NULL);
    pedit_set(&e, pkey(70, PK_ATTR), PT_STR, "b", 1);
    pedit_set(&e, pkey(65, PK_ATTR), PT_STR, "a", 1);
    pedit_set(&e, pkey(70, PK_EVENT), PT_STR, "c", 1);
    uint8_t *blob = pedit_encode(&e);
    pedit_close(&e);
    piter it;
    pfield f;
    uint32_t last = 0;
    int n = 0;
    piter_init(&it, blob);
    while (piter_next(&it, &f)) {
        T_TRUE(f.key > last);
        last = f.key;
        n++;
    }
    T_EQ_INT(n, 3);
    /* Re-encoding an unchanged edit gives the same bytes. */
    pedit_open(&e, blob);
    T_TRUE(!e.changed);
    pedit_set(&e, pkey(65, PK_ATTR), PT_STR, "a", 1); /* same value: no change */
    T_TRUE(!e.changed);
    uint8_t *again = pedit_encode(&e);
    T_EQ_INT(profile_blob_size(again), profile_blob_size(blob));
    T_TRUE(memcmp(again, blob, profile_blob_size(blob)) == 0);
    T_TRUE(pedit_del(&e, pkey(70, PK_ATTR)));
    T_TRUE(!pedit_del(&e, pkey(70, PK_ATTR)));
    T_TRUE(pedit_get(&e, pkey(70, PK_EVENT)) != NULL);
    pedit_close(&e);
    free(again);
    free(blob);
}

TEST(summary_counts_days_and_prunes_old_ones) {
    psummary s;
    memset(&s, 0, sizeof s);
    int64_t day = 86400000, now = 20000 * day + 3600000;
    psummary_add(&s, now - 2 * day, 1, 0, now);
    psummary_add(&s, now - 2 * day, 2, 0, now);
    psummary_add(&s, now, 1, 0, now);
    psummary_add(&s, now - 200 * day, 5, 0, now); /* counted, but too old for per-day */
    T_EQ_INT(s.count, 9);
    T_EQ_INT(s.first_ms, now - 200 * day);
    T_EQ_INT(s.last_ms, now);
    T_EQ_INT(psummary_count_since(&s, now, 1), 1);
    T_EQ_INT(psummary_count_since(&s, now, 3), 4);
    T_EQ_INT(psummary_count_since(&s, now, 90), 4);
    buf_t b = BUF_INIT;
    psummary_encode(&s, true, &b);
    psummary r;
    psummary_decode((const uint8_t *)b.data, (uint32_t)b.len, true, &r);
    T_EQ_INT(r.count, 9);
    T_EQ_INT(r.ndays, 2);
    T_EQ_INT(psummary_count_since(&r, now, 3), 4);
    /* 100 days later the per-day counts are gone, the totals stay. */
    psummary_add(&r, now + 100 * day, 1, 0, now + 100 * day);
    T_EQ_INT(r.ndays, 1);
    T_EQ_INT(r.count, 10);
    buf_free(&b);
}

static uint32_t mk(users_t *u, uint32_t field, const char *v) {
    uint32_t row = users_create(u, 1000);
    pedit e;
    pedit_open(&e, NULL);
    pedit_set(&e, pkey(field, PK_ATTR), PT_STR, v, strlen(v));
    users_commit(u, row, &e, 1000);
    pedit_close(&e);
    return row;
}

TEST(users_indexes_find_update_and_forget) {
    users_t *u = users_new(0x01020304);
    uint32_t a = mk(u, PF_EXTERNAL_ID, "alice"), b = mk(u, PF_EMAIL, "Bob@Example.com");
    T_EQ_INT(users_by_external_id(u, "alice", 5), a);
    T_EQ_INT(users_by_external_id(u, "bob", 3), USERS_NONE);
    T_EQ_INT(users_by_email(u, "bob@example.com", 15), b); /* emails match without case */
    char hex[25];
    users_braze_hex(u, a, hex);
    T_EQ_INT(users_by_braze_id(u, hex, 24), a);
    T_EQ_INT(users_by_braze_id(u, "zz", 2), USERS_NONE);
    /* Changing the external id moves the index entry. */
    pedit e;
    pedit_open(&e, users_get(u, a)->blob);
    pedit_set(&e, pkey(PF_EXTERNAL_ID, PK_ATTR), PT_STR, "alice2", 6);
    users_commit(u, a, &e, 1001);
    pedit_close(&e);
    T_EQ_INT(users_by_external_id(u, "alice", 5), USERS_NONE);
    T_EQ_INT(users_by_external_id(u, "alice2", 6), a);
    users_delete(u, a);
    T_EQ_INT(users_by_external_id(u, "alice2", 6), USERS_NONE);
    T_EQ_INT(users_live(u), 1);
    T_EQ_INT(users_rows(u), 2);
    users_free(u);
}

TEST(users_index_survives_growth) {
    users_t *u = users_new(7);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "user-%d", i);
        mk(u, PF_EXTERNAL_ID, id);
    }
    for (int i = 0; i < 20000; i += 997) {
        snprintf(id, sizeof id, "user-%d", i);
        T_EQ_INT(users_by_external_id(u, id, strlen(id)), i);
    }
    users_free(u);
}

TEST(users_email_prefers_identified_then_recent) {
    users_t *u = users_new(1);
    uint32_t anon = mk(u, PF_EMAIL, "x@y.io");
    uint32_t ided = users_create(u, 500);
    pedit e;
    pedit_open(&e, NULL);
    pedit_set(&e, pkey(PF_EMAIL, PK_ATTR), PT_STR, "x@y.io", 6);
    pedit_set(&e, pkey(PF_EXTERNAL_ID, PK_ATTR), PT_STR, "id1", 3);
    users_commit(u, ided, &e, 500); /* older, but identified */
    pedit_close(&e);
    T_TRUE(anon != ided);
    T_EQ_INT(users_by_email(u, "x@y.io", 6), ided);
    users_free(u);
}

/* A tiny engine for track tests: no store, no outbox. */
typedef fixture_world world;

static api_track_result run_track(world *w, const char *json, int64_t now) { return fixture_world_track(w, now, json); }

static json_object *export_of(world *w, const char *ext) {
    export_fields f = {0};
    uint32_t row = users_by_external_id(w->u, ext, strlen(ext));
    return row == USERS_NONE ? NULL : export_user(w->u, w->n, row, &f);
}

static const char *ca(json_object *user, const char *name) {
    json_object *c, *v;
    json_object_object_get_ex(user, "custom_attributes", &c);
    return json_object_object_get_ex(c, name, &v) ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "absent";
}

TEST(track_array_operators_follow_braze) {
    world w = fixture_world_new();
    api_track_result r = run_track(&w, "{\"attributes\":[{\"external_id\":\"u\",\"a\":[\"x\",\"y\",\"x\"]}]}", 1000);
    T_EQ_INT(r.processed[0], 1);
    json_object *x = export_of(&w, "u");
    T_EQ_STR(ca(x, "a"), "[\"x\",\"y\"]");
    json_object_put(x);
    run_track(&w, "{\"attributes\":[{\"external_id\":\"u\",\"a\":{\"add\":[\"x\",\"z\"],\"remove\":[\"y\"]}}]}", 1000);
    x = export_of(&w, "u");
    T_EQ_STR(ca(x, "a"), "[\"x\",\"z\"]");
    json_object_put(x);
    /* More than 25: the oldest go first. */
    char body[2048] = "{\"attributes\":[{\"external_id\":\"u\",\"a\":{\"add\":[";
    for (int i = 0; i < 30; i++) snprintf(body + strlen(body), sizeof body - strlen(body), "%s%d", i ? "," : "", i);
    strcat(body, "]}}]}");
    run_track(&w, body, 1000);
    x = export_of(&w, "u");
    json_object *c, *a;
    json_object_object_get_ex(x, "custom_attributes", &c);
    json_object_object_get_ex(c, "a", &a);
    T_EQ_INT(json_object_array_length(a), 25);
    T_EQ_INT(json_object_get_int(json_object_array_get_idx(a, 24)), 29);
    json_object_put(x);
    fixture_world_free(&w);
}

TEST(track_rejects_bad_objects_whole) {
    world w = fixture_world_new();
    api_track_result r = run_track(&w,
                               "{\"attributes\":[{\"external_id\":\"u\",\"ok\":1,\"email\":\"nope\"},"
                               "{\"external_id\":\"u\",\"$bad\":1},{\"external_id\":\"u\",\"fine\":true}]}",
                               1000);
    T_EQ_INT(r.processed[0], 1);
    T_EQ_INT(json_object_array_length(r.errors), 2);
    json_object *x = export_of(&w, "u");
    T_EQ_STR(ca(x, "ok"), "absent"); /* nothing of the bad object applied */
    T_EQ_STR(ca(x, "fine"), "true");
    json_object_put(x);
    json_object_put(r.errors);
    fixture_world_free(&w);
}

TEST(track_is_deterministic_for_replay) {
    const char *body = "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":3},\"s\":\"x\"},"
                       "{\"user_alias\":{\"alias_name\":\"n\",\"alias_label\":\"l\"},\"_update_existing_only\":false}],"
                       "\"events\":[{\"external_id\":\"b\",\"name\":\"e\",\"time\":\"2020-01-01\"}],"
                       "\"purchases\":[{\"email\":\"p@q.io\",\"product_id\":\"p\",\"currency\":\"EUR\",\"price\":2.5,\"quantity\":3,\"time\":\"2020-01-02\"}]}";
    world w1 = fixture_world_new(), w2 = fixture_world_new();
    run_track(&w1, body, 1600000000000LL);
    run_track(&w2, body, 1600000000000LL);
    T_EQ_INT(users_rows(w1.u), 4);
    T_EQ_INT(users_rows(w2.u), users_rows(w1.u));
    for (uint32_t i = 0; i < users_rows(w1.u); i++) {
        profile_t *a = users_get(w1.u, i), *b = users_get(w2.u, i);
        T_EQ_INT(a->born, b->born);
        T_EQ_INT(profile_blob_size(a->blob), profile_blob_size(b->blob));
        T_TRUE(memcmp(a->blob, b->blob, profile_blob_size(a->blob)) == 0);
    }
    fixture_world_free(&w1);
    fixture_world_free(&w2);
}

TEST(identify_merges_alias_user_into_identified) {
    world w = fixture_world_new();
    run_track(&w, "{\"attributes\":[{\"external_id\":\"known\",\"tier\":\"gold\"},"
                  "{\"user_alias\":{\"alias_name\":\"anon\",\"alias_label\":\"amp\"},\"_update_existing_only\":false,"
                  "\"tier\":\"silver\",\"color\":\"red\"}],"
                  "\"events\":[{\"external_id\":\"known\",\"name\":\"e\",\"time\":\"2020-01-01\"}]}",
              1600000000000LL);
    uint32_t alias_row = users_by_alias(w.u, "amp", 3, "anon", 4);
    T_TRUE(alias_row != USERS_NONE);
    fixture_world_identity(&w, 1600000000000LL, IDENTITY_IDENTIFY,
        "{\"aliases_to_identify\":[{\"external_id\":\"known\",\"user_alias\":{\"alias_name\":\"anon\",\"alias_label\":\"amp\"}}]}");
    uint32_t known = users_by_external_id(w.u, "known", 5);
    T_EQ_INT(users_by_alias(w.u, "amp", 3, "anon", 4), known); /* the alias follows */
    T_TRUE(users_get(w.u, alias_row)->flags & PROFILE_DELETED);
    json_object *x = export_of(&w, "known");
    T_EQ_STR(ca(x, "tier"), "\"gold\""); /* the target's value wins */
    T_EQ_STR(ca(x, "color"), "\"red\""); /* absent ones are copied */
    json_object_put(x);
    fixture_world_free(&w);
}
