/* cohort_test.c -- unit tests for partner cohort import: the bitmap wrapper
 * (src/lib/bitmap.c), request checks (src/api/partners.c), Braze's matching
 * rules, replay safety and persistence of cohorts (src/core/cohort.c, the
 * engine), partner names and data import keys (src/core/partner.c,
 * src/store/partners.c, the credential cache src/http/auth.c). */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "api/api.h"
#include "core/partner.h"
#include "http/auth.h"
#include "lib/bitmap.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "store/partners.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

#define NOW 1700000000000LL

/* ---- bitmap -------------------------------------------------------------- */

static bool collect(uint32_t v, void *arg) {
    uint32_t *a = arg;
    a[++a[0]] = v;
    return a[0] < 3; /* stop after three */
}

TEST(bitmap_add_remove_contains_count) {
    bitmap_t *b = bitmap_new();
    T_TRUE(bitmap_add(b, 7));
    T_TRUE(!bitmap_add(b, 7)); /* already there */
    T_TRUE(bitmap_add(b, 70000));
    T_TRUE(bitmap_add(b, 4000000000u));
    T_TRUE(bitmap_contains(b, 70000));
    T_TRUE(!bitmap_contains(b, 8));
    T_EQ_INT(bitmap_cardinality(b), 3);
    T_TRUE(bitmap_remove(b, 70000));
    T_TRUE(!bitmap_remove(b, 70000));
    T_EQ_INT(bitmap_cardinality(b), 2);
    bitmap_add(b, 1);
    bitmap_add(b, 3);
    uint32_t seen[8] = {0};
    T_TRUE(!bitmap_iterate(b, collect, seen)); /* stopped early */
    T_EQ_INT(seen[0], 3);
    T_EQ_INT(seen[1], 1);
    T_EQ_INT(seen[2], 3);
    T_EQ_INT(seen[3], 7);
    bitmap_free(b);
}

TEST(bitmap_serializes_and_refuses_garbage) {
    bitmap_t *b = bitmap_new();
    for (uint32_t i = 0; i < 100000; i += 3) bitmap_add(b, i);
    for (uint32_t i = 1u << 20; i < (1u << 20) + 5000; i++) bitmap_add(b, i); /* a run */
    size_t n = bitmap_serialized_size(b);
    char *buf = malloc(n);
    T_EQ_INT(bitmap_serialize(b, buf), n);
    bitmap_t *c = bitmap_deserialize(buf, n);
    T_TRUE(c != NULL);
    T_EQ_INT(bitmap_cardinality(c), bitmap_cardinality(b));
    T_TRUE(bitmap_contains(c, 99999) && bitmap_contains(c, (1u << 20) + 4999) && !bitmap_contains(c, 1));
    bitmap_free(c);
    T_TRUE(bitmap_deserialize(buf, n - 1) == NULL); /* truncated */
    T_TRUE(bitmap_deserialize("not a bitmap at all", 19) == NULL);
    c = bitmap_deserialize("", 0);
    T_EQ_INT(bitmap_cardinality(c), 0);
    bitmap_free(c);
    free(buf);
    /* Optimizing keeps the set and does not grow it. */
    size_t before = bitmap_memory(b);
    bitmap_optimize(b);
    T_TRUE(bitmap_memory(b) <= before);
    T_EQ_INT(bitmap_cardinality(b), 33334 + 5000);
    bitmap_free(b);
}

TEST(bitmap_million_members_memory) {
    /* One million of two million rows: bitset containers, ~256 KB. */
    bitmap_t *b = bitmap_new();
    for (uint32_t i = 0; i < 2000000; i += 2) bitmap_add(b, i);
    T_EQ_INT(bitmap_cardinality(b), 1000000);
    size_t m = bitmap_memory(b);
    T_TRUE(m >= 250000 && m < 300000);
    bitmap_free(b);
}

/* ---- request checks ------------------------------------------------------ */

enum { CMD_COHORT_NAME, CMD_COHORT_USERS };

static int check(int kind, const char *json) {
    json_object *body = json_tokener_parse(json);
    char why[256];
    cohort_cmd cmd;
    cohort_ref *refs = xmalloc(COHORT_MAX_IDS * sizeof *refs);
    int rc = kind == CMD_COHORT_NAME ? api_cohort_parse_name(body, "heap", &cmd, why, sizeof why)
                                     : api_cohort_parse_users(body, "heap", &cmd, refs, why, sizeof why);
    free(refs);
    json_object_put(body);
    return rc;
}

TEST(cohort_name_call_checks) {
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":\"N\",\"created_at\":\"2021-01-21T19:20:30+05:00\"}"), 0);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":\"N\",\"created_at\":\"2022-12-01T17:40:04.055Z\"}"), 0);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"name\":\"N\",\"created_at\":\"2021-01-21\"}"), BR_ECOHORTID);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":5,\"name\":\"N\",\"created_at\":\"2021-01-21\"}"), BR_ECOHORTID);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"\",\"name\":\"N\",\"created_at\":\"2021-01-21\"}"), BR_ECOHORTID);
    char big[600] = "{\"cohort_id\":\"";
    memset(big + strlen(big), 'x', 300);
    strcpy(big + 14 + 300, "\",\"name\":\"N\",\"created_at\":\"2021-01-21\"}");
    T_EQ_INT(check(CMD_COHORT_NAME, big), BR_ECOHORTID);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"created_at\":\"2021-01-21\"}"), BR_ECOHORTNAME);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":\"\",\"created_at\":\"2021-01-21\"}"), BR_ECOHORTNAME);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":[],\"created_at\":\"2021-01-21\"}"), BR_ECOHORTNAME);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":\"N\"}"), BR_ECOHORTTIME);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":\"N\",\"created_at\":\"06/28/2021\"}"), BR_ECOHORTTIME);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":\"N\",\"created_at\":\"2021-02-30\"}"), BR_ECOHORTTIME);
    T_EQ_INT(check(CMD_COHORT_NAME, "{\"cohort_id\":\"c\",\"name\":\"N\",\"created_at\":1611256830}"), BR_ECOHORTTIME);
}

TEST(cohort_users_call_checks) {
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[\"a\"]}]}"), 0);
    /* Segment's shape: all three arrays, some empty, should_remove absent or a boolean. */
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[],\"device_ids\":[\"d\"],"
                                     "\"aliases\":[{\"alias_name\":\"n\",\"alias_label\":\"l\"}],\"should_remove\":true},"
                                     "{\"user_ids\":[\"x\"],\"device_ids\":[],\"aliases\":[]}]}"),
             0);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_changes\":[{\"user_ids\":[\"a\"]}]}"), BR_ECOHORTID);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\"}"), BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":{\"user_ids\":[\"a\"]}}"), BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[\"a\"]}"), BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":\"a\"}]}"), BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[\"a\",5]}]}"), BR_ECOHORTCHANGES);
    /* Mixed identifier types: an alias among external ids, an id among aliases. */
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[\"a\",{\"alias_name\":\"n\",\"alias_label\":\"l\"}]}]}"),
             BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"aliases\":[\"a\"]}]}"), BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"aliases\":[{\"alias_name\":\"n\"}]}]}"), BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[\"a\"],\"should_remove\":\"yes\"}]}"),
             BR_ECOHORTCHANGES);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"external_ids\":[\"a\"]}]}"), BR_ECOHORTCHANGES);
    /* An empty list is a valid no-op (Segment's destination checks its
     * credentials so); changes with no ids at all are not. */
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[]}"), 0);
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[],\"aliases\":[]}]}"), BR_ECOHORTCHANGES);
    /* 1,000 ids in total across changes and kinds; 1,001 is too many. */
    for (int extra = 0; extra < 2; extra++) {
        char *b = malloc(20000);
        strcpy(b, "{\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[");
        for (int i = 0; i < 600; i++) sprintf(b + strlen(b), "%s\"u%d\"", i ? "," : "", i);
        strcat(b, "]},{\"device_ids\":[");
        for (int i = 0; i < 399 + extra; i++) sprintf(b + strlen(b), "%s\"d%d\"", i ? "," : "", i);
        strcat(b, "],\"aliases\":[{\"alias_name\":\"n\",\"alias_label\":\"l\"}],\"should_remove\":true}]}");
        T_EQ_INT(check(CMD_COHORT_USERS, b), extra ? BR_ECOHORTMAX : 0);
        free(b);
    }
}

/* ---- matching and applying ----------------------------------------------- */

typedef fixture_world world;

static void track(world *w, const char *json) { json_object_put(fixture_world_track(w, NOW, json).errors); }

static void identify(world *w, const char *json) { fixture_world_identity(w, NOW, IDENTITY_IDENTIFY, json); }

/* Applies a command body; returns its answer as compact JSON (static). */
static const char *apply(world *w, int kind, const char *json) {
    static char out[256];
    cohort_result r;
    int rc = fixture_world_cohort(w, NOW, kind == CMD_COHORT_NAME ? ENG_COHORT_NAME : ENG_COHORT_USERS, json, &r);
    if (rc < 0) snprintf(out, sizeof out, "null");
    else if (kind == CMD_COHORT_NAME) snprintf(out, sizeof out, "{\"created\":%s}", r.created ? "true" : "false");
    else snprintf(out, sizeof out, "{\"added\":%u,\"removed\":%u,\"unchanged\":%u,\"unmatched\":%u}", r.added, r.removed,
                  r.unchanged, r.unmatched);
    return out;
}

static world new_world(void) {
    world w = fixture_world_new();
    /* identified: ext1 (with a device of its own), ext2; alias-only anonymous
     * users with devices dev-a and dev-b; an anonymous user identified later
     * (dev-c) and one merged into ext2 (dev-d). */
    track(&w, "{\"attributes\":["
              "{\"external_id\":\"ext1\",\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t0\",\"device_id\":\"dev-x\"}]},"
              "{\"external_id\":\"ext2\"},"
              "{\"user_alias\":{\"alias_name\":\"anon-a\",\"alias_label\":\"amp\"},\"_update_existing_only\":false,"
              "\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t1\",\"device_id\":\"dev-a\"}]},"
              "{\"user_alias\":{\"alias_name\":\"anon-b\",\"alias_label\":\"amp\"},\"_update_existing_only\":false,"
              "\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t2\",\"device_id\":\"dev-b\"}]},"
              "{\"user_alias\":{\"alias_name\":\"anon-c\",\"alias_label\":\"amp\"},\"_update_existing_only\":false,"
              "\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t3\",\"device_id\":\"dev-c\"}]},"
              "{\"user_alias\":{\"alias_name\":\"anon-d\",\"alias_label\":\"amp\"},\"_update_existing_only\":false,"
              "\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t4\",\"device_id\":\"dev-d\"}]}]}");
    identify(&w, "{\"aliases_to_identify\":["
                 "{\"external_id\":\"ext3\",\"user_alias\":{\"alias_name\":\"anon-c\",\"alias_label\":\"amp\"}},"
                 "{\"external_id\":\"ext2\",\"user_alias\":{\"alias_name\":\"anon-d\",\"alias_label\":\"amp\"}}]}");
    apply(&w, CMD_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"Test\",\"created_at\":\"2021-01-21\"}");
    return w;
}

static void free_world(world *w) { fixture_world_free(w); }

static bool member(world *w, uint32_t row) {
    cohort_t *k = cohorts_find(w->c, "heap", "c1", 2);
    return k && row != USERS_NONE && bitmap_contains(k->members, row);
}

TEST(cohort_matching_follows_braze) {
    world w = new_world();
    uint32_t rows = users_rows(w.u);
    /* The identified users do hold those devices (so the rule, not a
     * missing device, is what keeps them out). */
    static const char *const holders[][2] = {{"ext1", "dev-x"}, {"ext3", "dev-c"}, {"ext2", "dev-d"}};
    for (int i = 0; i < 3; i++) {
        pfield f;
        profile_t *p = users_get(w.u, users_by_external_id(w.u, holders[i][0], 4));
        T_TRUE(p->blob && profile_get(p->blob, pkey(PF_DEVICES, PK_ATTR), &f));
        T_TRUE(memmem(f.p, f.len, holders[i][1], 5) != NULL);
    }
    /* Devices: anonymous users only. dev-x belongs to identified ext1, dev-c
     * to a user identified after being anonymous, dev-d was merged into
     * ext2: none of them match. */
    T_EQ_STR(apply(&w, CMD_COHORT_USERS,
                   "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"device_ids\":[\"dev-a\",\"dev-x\",\"dev-c\",\"dev-d\",\"nope\"]}]}"),
             "{\"added\":1,\"removed\":0,\"unchanged\":0,\"unmatched\":4}");
    T_TRUE(member(&w, users_by_alias(w.u, "amp", 3, "anon-a", 6)));
    T_TRUE(!member(&w, users_by_external_id(w.u, "ext1", 4)));
    T_TRUE(!member(&w, users_by_external_id(w.u, "ext3", 4)));
    /* External ids and aliases match identified and alias-only users alike. */
    T_EQ_STR(apply(&w, CMD_COHORT_USERS,
                   "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\",\"ext3\",\"ghost\"],"
                   "\"aliases\":[{\"alias_name\":\"anon-b\",\"alias_label\":\"amp\"},{\"alias_name\":\"anon-d\",\"alias_label\":\"amp\"},"
                   "{\"alias_name\":\"x\",\"alias_label\":\"y\"}]}]}"),
             "{\"added\":4,\"removed\":0,\"unchanged\":0,\"unmatched\":2}");
    T_TRUE(member(&w, users_by_external_id(w.u, "ext2", 4))); /* by its alias anon-d, moved by the merge */
    T_TRUE(member(&w, users_by_external_id(w.u, "ext3", 4)));
    T_EQ_INT(users_rows(w.u), rows); /* cohort import never creates users */
    cohort_t *k = cohorts_find(w.c, "heap", "c1", 2);
    T_EQ_INT(bitmap_cardinality(k->members), 5);
    T_EQ_INT(k->import_added, 4);
    T_EQ_INT(k->import_unmatched, 2);
    /* Removing, in order within one request: add then remove is a removal. */
    T_EQ_STR(apply(&w, CMD_COHORT_USERS,
                   "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\"],\"should_remove\":true},"
                   "{\"device_ids\":[\"dev-a\"],\"should_remove\":true},{\"user_ids\":[\"ext1\"],\"should_remove\":false},"
                   "{\"user_ids\":[\"ext1\"],\"should_remove\":true}]}"),
             "{\"added\":1,\"removed\":3,\"unchanged\":0,\"unmatched\":0}");
    T_EQ_INT(bitmap_cardinality(k->members), 3);
    /* A deleted profile leaves every cohort. */
    cohorts_forget_row(w.c, users_by_external_id(w.u, "ext3", 4));
    T_EQ_INT(bitmap_cardinality(k->members), 2);
    /* Unknown cohort: no answer, nothing created. */
    T_EQ_STR(apply(&w, CMD_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c2\",\"cohort_changes\":[{\"user_ids\":[\"ext1\"]}]}"),
             "null");
    T_TRUE(!cohorts_find(w.c, "amplitude", "c1", 2)); /* (partner, cohort_id) is the identity */
    T_EQ_INT(cohorts_count(w.c), 1);
    free_world(&w);
}

TEST(cohort_calls_are_replay_safe) {
    const char *add = "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\",\"ext2\"],"
                      "\"device_ids\":[\"dev-a\"]}]}";
    world w = new_world();
    T_EQ_STR(apply(&w, CMD_COHORT_USERS, add), "{\"added\":3,\"removed\":0,\"unchanged\":0,\"unmatched\":0}");
    T_EQ_STR(apply(&w, CMD_COHORT_USERS, add), "{\"added\":0,\"removed\":0,\"unchanged\":3,\"unmatched\":0}");
    cohort_t *k = cohorts_find(w.c, "heap", "c1", 2);
    T_EQ_INT(bitmap_cardinality(k->members), 3);
    /* The name call twice is one cohort; a new name renames it and keeps
     * the creation time. */
    T_EQ_STR(apply(&w, CMD_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"Test\",\"created_at\":\"2021-01-21\"}"),
             "{\"created\":false}");
    T_EQ_STR(apply(&w, CMD_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"Renamed\",\"created_at\":\"2022-01-01\"}"),
             "{\"created\":false}");
    T_EQ_STR(k->name, "Renamed");
    T_EQ_INT(k->created_at, 1611187200000LL);
    T_EQ_INT(cohorts_count(w.c), 1);
    /* A second world fed the same commands ends in the same state. */
    world v = new_world();
    apply(&v, CMD_COHORT_USERS, add);
    apply(&v, CMD_COHORT_USERS, add);
    cohort_t *kv = cohorts_find(v.c, "heap", "c1", 2);
    T_EQ_INT(bitmap_cardinality(kv->members), bitmap_cardinality(k->members));
    for (uint32_t r = 0; r < users_rows(w.u); r++) T_EQ_INT(bitmap_contains(kv->members, r), bitmap_contains(k->members, r));
    free_world(&v);
    free_world(&w);
}

/* ---- persistence --------------------------------------------------------- */

static int list_cohorts(store_t *s, const char *partner, store_cohort_row **rows, int *n) {
    sqlite3 *db;
    if (store_open_reader(s, &db) < 0) return -1;
    int rc = store_cohort_list(db, partner, rows, n);
    sqlite3_close(db);
    return rc;
}

/* Metadata rows in brasa.db follow every command (for `brasa cohorts
 * list`); members reach profiles.db at checkpoints, and the journal holds
 * what came after: a restart has everything. */
TEST(cohorts_persist_metadata_per_command_and_members_through_restarts) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"ext1\"},{\"external_id\":\"ext2\"}]}"), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"Test\",\"created_at\":\"2021-01-21\"}", NULL), 0);
    cohort_result r;
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\",\"ext2\"]}]}", &r), 0);
    T_EQ_INT(r.added, 2);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c9\",\"cohort_changes\":[{\"user_ids\":[\"ext1\"]}]}", &r), BR_ENOCOHORT);
    store_cohort_row *rows;
    int n;
    T_EQ_INT(list_cohorts(s, "heap", &rows, &n), 0);
    T_EQ_INT(n, 1);
    T_EQ_INT(rows[0].m.size, 2);
    T_EQ_INT(rows[0].m.import_added, 2);
    store_cohort_rows_free(rows, n);
    T_EQ_INT(list_cohorts(s, "amplitude", &rows, &n), 0);
    T_EQ_INT(n, 0);
    store_cohort_rows_free(rows, n);
    fixture_close(s, e, true); /* a clean stop: checkpointed */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\"],\"should_remove\":true}]}", &r), 0);
    T_EQ_INT(r.removed, 1);
    fixture_close(s, e, false); /* as after a crash: the removal is in the journal only */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    cohort_t *k = cohorts_find(engine_cohorts(e), "heap", "c1", 2);
    T_TRUE(k != NULL);
    T_EQ_STR(k->name, "Test");
    T_EQ_INT(bitmap_cardinality(k->members), 1);
    T_TRUE(bitmap_contains(k->members, users_by_external_id(engine_users(e), "ext2", 4)));
    T_EQ_INT(k->import_removed, 1);
    T_EQ_INT(list_cohorts(s, "heap", &rows, &n), 0);
    T_EQ_INT(rows[0].m.size, 1);
    store_cohort_rows_free(rows, n);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* ---- partners and data import keys --------------------------------------- */

TEST(partner_names_and_durations) {
    char n[PARTNER_NAME_MAX + 1];
    T_EQ_INT(partner_name("Heap", n), 0);
    T_EQ_STR(n, "heap");
    T_EQ_INT(partner_name("growth-loop_2.0", n), 0);
    T_EQ_INT(partner_name("", n), BR_EINVAL);
    T_EQ_INT(partner_name("-heap", n), BR_EINVAL);
    T_EQ_INT(partner_name("he ap", n), BR_EINVAL);
    T_EQ_INT(partner_name("hé", n), BR_EINVAL);
    char long_name[80];
    memset(long_name, 'a', 65);
    long_name[65] = 0;
    T_EQ_INT(partner_name(long_name, n), BR_EINVAL);
    int64_t ms;
    T_EQ_INT(partner_duration("90", &ms), 0);
    T_EQ_INT(ms, 90000);
    T_EQ_INT(partner_duration("2h", &ms), 0);
    T_EQ_INT(ms, 7200000);
    T_EQ_INT(partner_duration("0", &ms), 0);
    T_EQ_INT(ms, 0);
    T_EQ_INT(partner_duration("1w", &ms), BR_EINVAL);
    T_EQ_INT(partner_duration("-1", &ms), BR_EINVAL);
    T_EQ_INT(partner_duration("366d", &ms), BR_EINVAL);
    T_EQ_INT(partner_duration("h", &ms), BR_EINVAL);
}

static int pcheck(auth_t *a, const char *partner, const char *api_key, const char *secret) {
    return auth_partner_check(a, partner, api_key, api_key ? strlen(api_key) : 0, secret, secret ? strlen(secret) : 0);
}

/* The server's credential cache over a reader of s, with a TTL. */
static auth_t *cache(store_t *s, sqlite3 **db, int64_t ttl_ms) {
    if (store_open_reader(s, db) < 0) return NULL;
    auth_loader l = api_creds_loader(*db);
    return auth_new(&l, ttl_ms);
}

TEST(partner_keys_generate_rotate_invalidate) {
    char *d = tmpdir();
    store_t *s;
    sqlite3 *rdb;
    T_EQ_INT(store_open(d, &s), 0);
    auth_t *a = cache(s, &rdb, 0); /* no caching: every check reads the store */
    T_TRUE(a != NULL);
    partner_keygen k1 = {.partner = "heap"};
    T_EQ_INT(store_exec(s, store_partner_keygen_op, &k1), 0);
    T_EQ_INT(strlen(k1.key), SECRET_KEY_LEN);
    partner_keygen again = {.partner = "heap"};
    T_EQ_INT(store_exec(s, store_partner_keygen_op, &again), BR_EEXISTS); /* one key unless rotating */
    T_EQ_INT(pcheck(a, "heap", "anything", k1.key), 0);
    T_EQ_INT(pcheck(a, "heap", NULL, k1.key), 0); /* no partner_api_key set: any value, or none */
    T_EQ_INT(pcheck(a, "tinyclues", "x", k1.key), BR_EPARTNEROFF);
    T_EQ_INT(pcheck(a, "heap", "x", "not-a-key"), BR_ECLIENTSECRET);
    T_EQ_INT(pcheck(a, "heap", "x", NULL), BR_ECLIENTSECRET);
    /* Rotation with an overlap: both work; with none, the old one ends. */
    partner_keygen k2 = {.partner = "heap", .rotate = true, .overlap_ms = 3600000};
    T_EQ_INT(store_exec(s, store_partner_keygen_op, &k2), 0);
    T_EQ_INT(k2.old_keys, 1);
    T_EQ_INT(pcheck(a, "heap", "x", k1.key), 0);
    T_EQ_INT(pcheck(a, "heap", "x", k2.key), 0);
    partner_keygen k3 = {.partner = "heap", .rotate = true, .overlap_ms = 0};
    T_EQ_INT(store_exec(s, store_partner_keygen_op, &k3), 0);
    T_EQ_INT(k3.old_keys, 2);
    T_EQ_INT(pcheck(a, "heap", "x", k1.key), BR_ECLIENTSECRET);
    T_EQ_INT(pcheck(a, "heap", "x", k2.key), BR_ECLIENTSECRET);
    T_EQ_INT(pcheck(a, "heap", "x", k3.key), 0);
    /* Invalidation ends the rest at once; a second one finds nothing. */
    partner_invalidate inv = {.partner = "heap"};
    T_EQ_INT(store_exec(s, store_partner_invalidate_op, &inv), 0);
    T_EQ_INT(inv.n, 1);
    T_EQ_INT(pcheck(a, "heap", "x", k3.key), BR_ECLIENTSECRET);
    T_EQ_INT(store_exec(s, store_partner_invalidate_op, &inv), BR_ENOTFOUND);
    /* Then a new key can be generated without --rotate. */
    partner_keygen k4 = {.partner = "heap"};
    T_EQ_INT(store_exec(s, store_partner_keygen_op, &k4), 0);
    T_EQ_INT(pcheck(a, "heap", "x", k4.key), 0);
    /* An expected partner_api_key. */
    partner_setting set = {.partner = "heap", .api_key = "pk-heap"};
    T_EQ_INT(store_exec(s, store_partner_set_api_key_op, &set), 0);
    T_EQ_INT(pcheck(a, "heap", "wrong", k4.key), BR_EPARTNERKEY);
    T_EQ_INT(pcheck(a, "heap", NULL, k4.key), BR_EPARTNERKEY);
    T_EQ_INT(pcheck(a, "heap", "pk-heap", k4.key), 0);
    set.api_key = NULL;
    T_EQ_INT(store_exec(s, store_partner_set_api_key_op, &set), 0);
    T_EQ_INT(pcheck(a, "heap", "wrong", k4.key), 0);
    /* The listing never shows key text. */
    partner_listing l;
    T_EQ_INT(store_partner_listing(rdb, &l), 0);
    json_object *list = partner_list_json(&l, clock_wall_ms());
    partner_listing_free(&l);
    const char *txt = json_object_to_json_string(list);
    T_TRUE(strstr(txt, k4.key) == NULL);
    T_EQ_INT(json_object_array_length(list), 1);
    json_object *p = json_object_array_get_idx(list, 0), *v;
    T_TRUE(json_object_object_get_ex(p, "valid_keys", &v) && json_object_get_int(v) == 1);
    T_TRUE(json_object_object_get_ex(p, "keys", &v) && json_object_array_length(v) == 4);
    json_object_put(list);
    auth_free(a);
    sqlite3_close(rdb);
    store_close(s);
    rmdir_r(d);
}

TEST(partner_key_cache_forgets_on_invalidation_here) {
    char *d = tmpdir();
    store_t *s;
    sqlite3 *rdb;
    T_EQ_INT(store_open(d, &s), 0);
    auth_t *a = cache(s, &rdb, 3600 * 1000); /* an hour: only auth_forget_partner can refresh it */
    T_TRUE(a != NULL);
    partner_keygen k = {.partner = "tinyclues"};
    T_EQ_INT(store_exec(s, store_partner_keygen_op, &k), 0);
    T_EQ_INT(pcheck(a, "tinyclues", "x", k.key), 0);
    partner_invalidate inv = {.partner = "tinyclues"};
    T_EQ_INT(store_exec(s, store_partner_invalidate_op, &inv), 0);
    T_EQ_INT(pcheck(a, "tinyclues", "x", k.key), 0); /* still cached */
    auth_forget_partner(a, "tinyclues");
    T_EQ_INT(pcheck(a, "tinyclues", "x", k.key), BR_ECLIENTSECRET);
    auth_free(a);
    sqlite3_close(rdb);
    store_close(s);
    rmdir_r(d);
}

TEST(bitmap_from_words_makes_array_and_bitset_chunks) {
    /* 3 chunks and a bit: chunk 0 sparse (an array container), chunk 1
     * dense (a bitset), chunk 2 empty, the short last chunk sparse. */
    size_t nwords = 3 * 1024 + 5;
    uint64_t *w = calloc(nwords, sizeof *w);
    bitmap_t *want = bitmap_new();
    for (uint32_t v = 0; v < 65536; v += 97) w[v / 64] |= 1ull << (v % 64), bitmap_add(want, v);
    for (uint32_t v = 65536; v < 131072; v++)
        if (v % 3) w[v / 64] |= 1ull << (v % 64), bitmap_add(want, v);
    for (uint32_t v = 3 * 65536; v < 3 * 65536 + 5 * 64; v += 7) w[v / 64] |= 1ull << (v % 64), bitmap_add(want, v);
    bitmap_t *got = bitmap_from_words(w, nwords);
    T_EQ_INT(bitmap_cardinality(got), bitmap_cardinality(want));
    bitmap_t *both = bitmap_and(got, want);
    T_EQ_INT(bitmap_cardinality(both), bitmap_cardinality(want));
    T_TRUE(bitmap_contains(got, 65537) && !bitmap_contains(got, 65538) /* 65538 % 3 == 0 */ && !bitmap_contains(got, 2 * 65536));
    bitmap_free(both);
    bitmap_free(got);
    memset(w, 0, nwords * sizeof *w);
    got = bitmap_from_words(w, nwords);
    T_EQ_INT(bitmap_cardinality(got), 0);
    bitmap_free(got);
    got = bitmap_from_words(w, 0);
    T_EQ_INT(bitmap_cardinality(got), 0);
    bitmap_free(got);
    bitmap_free(want);
    free(w);
}

/* Words to a bitmap and back, over chunks of every density the array
 * path writes differently (under 1.3, under 2.8 and more bits a word, with
 * words holding more than that), bitsets, runs, and values past the end. */
TEST(bitmap_words_round_trip) {
    size_t nwords = 6 * 1024 + 3;
    uint64_t *w = calloc(nwords, sizeof *w), *back = calloc(nwords, sizeof *back);
    uint32_t seed = 7;
    for (int k = 0; k < 4; k++) /* ~0.5, ~2, ~3.5 and ~60 bits a word, with clusters */
        for (uint32_t v = (uint32_t)k * 65536; v < (uint32_t)(k + 1) * 65536; v++) {
            seed = seed * 1103515245u + 12345u;
            uint32_t per = k == 0 ? 128 : k == 1 ? 32 : k == 2 ? 18 : 1;
            if ((seed >> 8) % per == 0 || (v % 4096 < 24 && k < 3)) w[v / 64] |= 1ull << (v % 64);
        }
    for (uint32_t v = 5 * 65536; v < 5 * 65536 + 3 * 64; v += 5) w[v / 64] |= 1ull << (v % 64);
    bitmap_t *b = bitmap_from_words(w, nwords);
    uint64_t want = 0;
    for (size_t i = 0; i < nwords; i++) want += (uint64_t)__builtin_popcountll(w[i]);
    T_EQ_INT(bitmap_cardinality(b), want);
    bitmap_to_words(b, back, nwords);
    T_TRUE(memcmp(w, back, nwords * sizeof *w) == 0);
    /* Runs (after optimize), and members past nwords are left out. */
    bitmap_t *r = bitmap_new();
    bitmap_add_range(r, 100, 70000);
    bitmap_add_range(r, 4 * 65536 + 3, 4 * 65536 + 64);
    bitmap_add(r, (uint32_t)(nwords * 64 + 10));
    bitmap_optimize(r);
    bitmap_to_words(r, back, nwords);
    uint64_t n = 0;
    for (size_t i = 0; i < nwords; i++) n += (uint64_t)__builtin_popcountll(back[i]);
    T_EQ_INT(n, (70000 - 100) + 61);
    T_TRUE(!(back[1] & 1ull << 35) && (back[1] & 1ull << 36) && back[2] == ~0ull && !(back[70000 / 64] >> (70000 % 64) & 1));
    T_TRUE((back[4 * 1024] & 7) == 0 && back[4 * 1024] >> 3 == (~0ull >> 3));
    bitmap_free(r);
    bitmap_free(b);
    free(w);
    free(back);
}
