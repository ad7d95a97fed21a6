/* lifecycle_test.c -- the user-lifecycle Currents events (src/core/
 * lifecycle.c): a cohort import's brasa.cohorts.Change per user added or
 * removed (src/core/cohort.c, one compact item expanded by
 * src/currents/outbox.c), users.UserDeleteRequest (src/core/
 * identity.c), users.UserOrphan (src/core/merge.c), and through the engine:
 * written with the change, never again by a replay of the journal. */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "core/lifecycle.h"
#include "currents/internal.h"
#include "lib/err.h"
#include "store/conversions.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000123LL
#define BASE 0x2a0007ULL

/* The outbox so far ("[" items) as the events Currents delivers (a
 * cohort import's compact item expanded); NULL when it does not parse. */
static json_object *events(const buf_t *b) {
    buf_t c = BUF_INIT;
    buf_append(&c, b->data, b->len);
    buf_append(&c, "]", 1);
    json_object *a = cur_outbox_events(c.data, c.len);
    buf_free(&c);
    return a;
}

static const char *field(json_object *ev, const char *k) {
    json_object *v;
    return json_object_object_get_ex(ev, k, &v) ? json_object_get_string(v) : NULL;
}

static const char *hex_of(fixture_world *w, const char *ext) {
    static char out[4][25];
    static int k;
    char *h = out[k++ % 4];
    users_braze_hex(w->u, users_by_external_id(w->u, ext, strlen(ext)), h);
    return h;
}

static void track(fixture_world *w, const char *json) { json_object_put(fixture_world_track(w, NOW, json).errors); }

/* A world with ext1, ext2 and an anonymous user (alias amp/anon-a, device
 * dev-a), and cohort heap/c1 named `Fans "A"` (escaped in the events). */
static fixture_world world(buf_t *out) {
    fixture_world w = fixture_world_new();
    track(&w, "{\"attributes\":[{\"external_id\":\"ext1\"},{\"external_id\":\"ext2\"},"
              "{\"user_alias\":{\"alias_name\":\"anon-a\",\"alias_label\":\"amp\"},\"_update_existing_only\":false,"
              "\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t1\",\"device_id\":\"dev-a\"}]}]}");
    fixture_world_cohort(&w, NOW, ENG_COHORT_NAME,
                         "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"Fans \\\"A\\\"\",\"created_at\":\"2021-01-21\"}", NULL);
    buf_append(out, "[", 1);
    w.outbox = out;
    w.event_base = BASE;
    return w;
}

TEST(lifecycle_head_writes_the_core_fields) {
    buf_t b = BUF_INIT;
    fixture_world w = world(&b);
    uint32_t r1 = users_by_external_id(w.u, "ext1", 4), anon = users_by_alias(w.u, "amp", 3, "anon-a", 6);
    char h1[25], ha[25];
    users_braze_hex(w.u, r1, h1);
    users_braze_hex(w.u, anon, ha);
    life_head(&b, w.u, r1, "x.Y", 0xabcdef0123456789ULL, 'z', 0x1234, true, 1999);
    buf_append(&b, "}", 1);
    life_head(&b, w.u, r1, "x.Y", 1, 'z', 0, false, 0); /* external id not wanted */
    buf_append(&b, "}", 1);
    life_head(&b, w.u, anon, "x.Y", 1, 'z', 1, true, 5000); /* wanted, but the user has none */
    buf_append(&b, "}", 1);
    char want[512];
    snprintf(want, sizeof want,
             "[{\"id\":\"abcdef0123456789-z1234\",\"event_type\":\"x.Y\",\"user_id\":\"%s\",\"external_user_id\":\"ext1\",\"time\":1},"
             "{\"id\":\"0000000000000001-z0000\",\"event_type\":\"x.Y\",\"user_id\":\"%s\",\"time\":0},"
             "{\"id\":\"0000000000000001-z0001\",\"event_type\":\"x.Y\",\"user_id\":\"%s\",\"time\":5}",
             h1, h1, ha);
    T_EQ_STR(b.data, want);
    buf_free(&b);
    fixture_world_free(&w);
}

TEST(lifecycle_cohort_change_per_user_added_or_removed) {
    buf_t out = BUF_INIT;
    fixture_world w = world(&out);
    cohort_result r;
    /* ext1 twice (the second unchanged), nobody (unmatched), the anonymous
     * user by device id. */
    T_EQ_INT(fixture_world_cohort(&w, NOW, ENG_COHORT_USERS,
                                  "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\",\"nobody\",\"ext1\"],"
                                  "\"device_ids\":[\"dev-a\"]}]}",
                                  &r),
             0);
    T_EQ_INT(r.added, 2);
    json_object *ev = events(&out);
    T_TRUE(ev != NULL);
    T_EQ_INT(json_object_array_length(ev), 2);
    json_object *a = json_object_array_get_idx(ev, 0), *b = json_object_array_get_idx(ev, 1);
    T_EQ_STR(field(a, "event_type"), "brasa.cohorts.Change");
    T_EQ_STR(field(a, "id"), "00000000002a0007-c0000"); /* ref 0 */
    T_EQ_STR(field(a, "user_id"), hex_of(&w, "ext1"));
    T_EQ_STR(field(a, "external_user_id"), "ext1");
    T_EQ_STR(field(a, "time"), "1700000000");
    T_EQ_STR(field(a, "cohort_id"), "c1");
    T_EQ_STR(field(a, "cohort_name"), "Fans \"A\"");
    T_EQ_STR(field(a, "partner"), "heap");
    T_EQ_STR(field(a, "change"), "added");
    T_EQ_INT(json_object_object_length(a), 9);
    T_EQ_STR(field(b, "id"), "00000000002a0007-c0003"); /* ref 3: the device id */
    T_TRUE(field(b, "external_user_id") == NULL);
    T_EQ_INT(json_object_object_length(b), 8);
    json_object_put(ev);

    /* Removing: an event per member removed, none for one who was not in. */
    buf_reset(&out);
    buf_append(&out, "[", 1);
    w.event_base = BASE + 1;
    T_EQ_INT(fixture_world_cohort(&w, NOW + 2000, ENG_COHORT_USERS,
                                  "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext2\",\"ext1\"],"
                                  "\"should_remove\":true}]}",
                                  &r),
             0);
    T_EQ_INT(r.removed, 1);
    ev = events(&out);
    T_EQ_INT(json_object_array_length(ev), 1);
    a = json_object_array_get_idx(ev, 0);
    T_EQ_STR(field(a, "id"), "00000000002a0008-c0001");
    T_EQ_STR(field(a, "change"), "removed");
    T_EQ_STR(field(a, "time"), "1700000002");
    json_object_put(ev);

    /* The same call again, a credentials check (no ids), an unknown
     * cohort: no event. */
    buf_reset(&out);
    buf_append(&out, "[", 1);
    fixture_world_cohort(&w, NOW, ENG_COHORT_USERS,
                         "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext2\",\"ext1\"],\"should_remove\":true}]}", &r);
    fixture_world_cohort(&w, NOW, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[]}", &r);
    T_EQ_INT(fixture_world_cohort(&w, NOW, ENG_COHORT_USERS,
                                  "{\"partner\":\"heap\",\"cohort_id\":\"c9\",\"cohort_changes\":[{\"user_ids\":[\"ext2\"]}]}", &r),
             BR_ENOCOHORT);
    T_EQ_INT(out.len, 1);
    buf_free(&out);

    /* Without an outbox (a replay) the members change all the same. */
    w.outbox = NULL;
    T_EQ_INT(fixture_world_cohort(&w, NOW, ENG_COHORT_USERS,
                                  "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext2\"]}]}", &r),
             0);
    T_EQ_INT(r.added, 1);
    fixture_world_free(&w);
}

TEST(lifecycle_user_delete_request) {
    buf_t out = BUF_INIT;
    fixture_world w = world(&out);
    char h1[25], h2[25], body[256];
    snprintf(h1, sizeof h1, "%s", hex_of(&w, "ext1"));
    snprintf(h2, sizeof h2, "%s", hex_of(&w, "ext2"));
    /* ext1 by external id, ext2 by braze_id, then ext1 again (gone by then)
     * and somebody unknown: two events. */
    snprintf(body, sizeof body, "{\"external_ids\":[\"ext1\",\"ext1\",\"nobody\"],\"braze_ids\":[\"%s\"]}", h2);
    fixture_world_identity(&w, NOW, IDENTITY_DELETE, body);
    T_TRUE(users_by_external_id(w.u, "ext1", 4) == USERS_NONE);
    char want[512];
    snprintf(want, sizeof want,
             "[{\"id\":\"00000000002a0007-d0000\",\"event_type\":\"users.UserDeleteRequest\",\"user_id\":\"%s\",\"time\":1700000000},"
             "{\"id\":\"00000000002a0007-d0001\",\"event_type\":\"users.UserDeleteRequest\",\"user_id\":\"%s\",\"time\":1700000000}",
             h1, h2);
    T_EQ_STR(out.data, want);
    /* Other identity commands write no event. */
    size_t len = out.len;
    fixture_world_identity(&w, NOW, IDENTITY_ALIAS_NEW, "{\"user_aliases\":[{\"alias_name\":\"n\",\"alias_label\":\"l\"}]}");
    T_EQ_INT(out.len, len);
    buf_free(&out);
    fixture_world_free(&w);
}

TEST(lifecycle_user_orphan_by_merge_and_identify) {
    buf_t out = BUF_INIT;
    fixture_world w = world(&out);
    track(&w, "{\"attributes\":[{\"external_id\":\"old\",\"email\":\"o@x.org\"},{\"external_id\":\"keep\"}]}");
    char old[25], keep[25], ext1[25];
    snprintf(old, sizeof old, "%s", hex_of(&w, "old"));
    snprintf(keep, sizeof keep, "%s", hex_of(&w, "keep"));
    snprintf(ext1, sizeof ext1, "%s", hex_of(&w, "ext1"));
    char anon[25];
    users_braze_hex(w.u, users_by_alias(w.u, "amp", 3, "anon-a", 6), anon);
    /* Pair 0 merges; pair 1 names nobody; pair 2 names one user twice. */
    uint8_t outcome[3];
    T_EQ_INT(fixture_world_merge(&w, NOW,
                                 "{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"old\"},\"identifier_to_keep\":{\"external_id\":\"keep\"}},"
                                 "{\"identifier_to_merge\":{\"external_id\":\"nobody\"},\"identifier_to_keep\":{\"external_id\":\"keep\"}},"
                                 "{\"identifier_to_merge\":{\"external_id\":\"keep\"},\"identifier_to_keep\":{\"external_id\":\"keep\"}}]}",
                                 NULL, outcome),
             0);
    T_EQ_INT(outcome[0], IDO_OK);
    T_EQ_INT(outcome[1], IDO_MERGE_NONE);
    char want[1024];
    snprintf(want, sizeof want,
             "[{\"id\":\"00000000002a0007-o0000\",\"event_type\":\"users.UserOrphan\",\"user_id\":\"%s\",\"external_user_id\":\"old\","
             "\"time\":1700000000,\"orphaned_by_id\":\"%s\"}",
             old, keep);
    T_EQ_STR(out.data, want);
    /* Identify: the anonymous user is merged into ext1 (it had no external id). */
    buf_reset(&out);
    buf_append(&out, "[", 1);
    w.event_base = 9;
    fixture_world_identity(&w, NOW, IDENTITY_IDENTIFY,
                           "{\"aliases_to_identify\":[{\"external_id\":\"ext1\",\"user_alias\":{\"alias_name\":\"anon-a\",\"alias_label\":\"amp\"}}]}");
    snprintf(want, sizeof want,
             "[{\"id\":\"0000000000000009-o0000\",\"event_type\":\"users.UserOrphan\",\"user_id\":\"%s\",\"time\":1700000000,"
             "\"orphaned_by_id\":\"%s\"}",
             anon, ext1);
    T_EQ_STR(out.data, want);
    /* Identifying a user nobody else has gives it the id: no merge, no event. */
    buf_reset(&out);
    buf_append(&out, "[", 1);
    track(&w, "{\"attributes\":[{\"user_alias\":{\"alias_name\":\"anon-b\",\"alias_label\":\"amp\"},\"_update_existing_only\":false}]}");
    fixture_world_identity(&w, NOW, IDENTITY_IDENTIFY,
                           "{\"aliases_to_identify\":[{\"external_id\":\"fresh\",\"user_alias\":{\"alias_name\":\"anon-b\",\"alias_label\":\"amp\"}}]}");
    T_EQ_INT(out.len, 1);
    buf_free(&out);
    fixture_world_free(&w);
}

/* ---- through the engine ---------------------------------------------------- */

typedef struct {
    int cohort, del, orphan;
    char ids[64][40];
    int nids;
} tally;

/* Counts the outbox's lifecycle events by type; every id must be new. */
static int count_outbox(store_t *s, tally *t) {
    memset(t, 0, sizeof *t);
    sqlite3 *db;
    store_outbox_row *rows;
    int n;
    if (store_open_reader(s, &db) < 0) return -1;
    int rc = store_conv_outbox(db, 0, 1000, &rows, &n);
    sqlite3_close(db);
    if (rc < 0) return rc;
    for (int i = 0; i < n; i++) {
        json_object *a = cur_outbox_events(rows[i].events, strlen(rows[i].events));
        for (size_t j = 0; a && j < json_object_array_length(a); j++) {
            json_object *ev = json_object_array_get_idx(a, j);
            const char *type = field(ev, "event_type"), *id = field(ev, "id");
            if (!strcmp(type, "brasa.cohorts.Change")) t->cohort++;
            else if (!strcmp(type, "users.UserDeleteRequest")) t->del++;
            else if (!strcmp(type, "users.UserOrphan")) t->orphan++;
            else continue;
            for (int k = 0; k < t->nids; k++)
                if (!strcmp(t->ids[k], id)) rc = -2; /* a duplicate */
            if (t->nids < 64) snprintf(t->ids[t->nids++], 40, "%s", id);
        }
        json_object_put(a);
    }
    store_outbox_rows_free(rows, n);
    return rc;
}

TEST(lifecycle_events_commit_with_the_change_and_never_replay) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\"},{\"external_id\":\"b\"},{\"external_id\":\"c\"},"
                              "{\"external_id\":\"d\"}]}"),
             0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"T\",\"created_at\":\"2021-01-21\"}", NULL), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"a\",\"b\",\"c\"]}]}", NULL), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS,
                            "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"c\"],\"should_remove\":true}]}", NULL),
             0);
    T_EQ_INT(fixture_identity(e, IDENTITY_DELETE, "{\"external_ids\":[\"a\"]}"), 0);
    tally t;
    T_EQ_INT(count_outbox(s, &t), 0);
    T_EQ_INT(t.cohort, 4);
    T_EQ_INT(t.del, 1);
    fixture_close(s, e, false); /* as after a crash: the journal is replayed */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(count_outbox(s, &t), 0);
    T_EQ_INT(t.cohort, 4);
    T_EQ_INT(t.del, 1);
    T_TRUE(users_by_external_id(engine_users(e), "a", 1) == USERS_NONE);
    /* New commands after the restart: new ids, apart from the old ones. */
    T_EQ_INT(fixture_identity(e, IDENTITY_DELETE, "{\"external_ids\":[\"b\"]}"), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"d\"]}]}", NULL), 0);
    fixture_close(s, e, true);

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(count_outbox(s, &t), 0);
    T_EQ_INT(t.cohort, 5);
    T_EQ_INT(t.del, 2);
    T_EQ_INT(t.orphan, 0);
    fixture_close(s, e, false);
    rmdir_r(d);
}
