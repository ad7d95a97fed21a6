/* cohort_test.c -- unit tests for partner cohort import: the bitmap wrapper
 * (src/lib/bitmap.c), request checks, Braze's matching rules, replay
 * safety and persistence of cohorts (src/core/cohort.c), partner names and
 * data import keys (src/core/partner.c, src/http/pauth.c). */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "core/cohort.h"
#include "core/command.h"
#include "core/identity.h"
#include "core/names.h"
#include "core/partner.h"
#include "core/track.h"
#include "core/users.h"
#include "http/pauth.h"
#include "lib/bitmap.h"
#include "lib/err.h"
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

static int check(int kind, const char *json) {
    json_object *body = json_tokener_parse(json);
    char why[256];
    int rc = kind == CMD_COHORT_NAME ? cohort_check_name(body, why, sizeof why) : cohort_check_users(body, why, sizeof why);
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
    /* Empty: nothing to change at all. */
    T_EQ_INT(check(CMD_COHORT_USERS, "{\"cohort_id\":\"c\",\"cohort_changes\":[]}"), BR_ECOHORTCHANGES);
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

TEST(cohort_body_keeps_no_secret) {
    json_object *req = json_tokener_parse("{\"partner_api_key\":\"pk\",\"client_secret\":\"cs\",\"cohort_id\":\"c\","
                                          "\"cohort_changes\":[{\"user_ids\":[\"a\"]}],\"extra\":1}");
    json_object *b = cohort_body(CMD_COHORT_USERS, "heap", req);
    T_EQ_STR(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN),
             "{\"partner\":\"heap\",\"cohort_id\":\"c\",\"cohort_changes\":[{\"user_ids\":[\"a\"]}]}");
    json_object_put(b);
    json_object_put(req);
}

/* ---- matching and applying ----------------------------------------------- */

typedef struct {
    users_t *u;
    names_t *n;
    cohorts_t *c;
} world;

static void no_touch(void *a, uint32_t r) { (void)a, (void)r; }

static void track(world *w, const char *json) {
    json_object *body = json_tokener_parse(json);
    track_ctx tc = {w->u, w->n, NULL, NOW, 1, NULL, no_touch, NULL};
    track_result r;
    track_apply(&tc, body, &r);
    json_object_put(r.errors);
    json_object_put(body);
}

static void identify(world *w, const char *json) {
    json_object *body = json_tokener_parse(json);
    identity_ctx ic = {w->u, w->n, NOW, no_touch, NULL};
    json_object_put(identity_apply(&ic, CMD_IDENTIFY, body));
    json_object_put(body);
}

/* Applies a command body; returns its answer as compact JSON (static). */
static const char *apply(world *w, int kind, const char *json) {
    static char out[256];
    json_object *body = json_tokener_parse(json);
    json_object *r = cohort_apply(w->c, w->u, kind, body, NOW);
    snprintf(out, sizeof out, "%s", r ? json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN) : "null");
    json_object_put(r);
    json_object_put(body);
    return out;
}

static world new_world(void) {
    world w = {users_new(3), names_new(), cohorts_new()};
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

static void free_world(world *w) {
    cohorts_free(w->c);
    users_free(w->u);
    names_free(w->n);
}

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
    json_object *b = json_tokener_parse("{\"partner\":\"amplitude\",\"cohort_id\":\"c1\"}");
    T_TRUE(!cohort_exists(w.c, b)); /* (partner, cohort_id) is the identity */
    json_object_put(b);
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

typedef struct {
    cohorts_t *c;
    bool members;
} ckpt_arg;

static int write_op(sqlite3 *db, void *arg) {
    ckpt_arg *a = arg;
    uint32_t n;
    if (!a->members) return cohorts_sync(a->c, db);
    int rc = cohorts_write_dirty(a->c, db, &n);
    if (rc == 0) cohorts_clean(a->c);
    return rc;
}

static int load_op(sqlite3 *db, void *arg) { return cohorts_load(arg, db); }

TEST(cohorts_persist_metadata_per_command_and_members_at_checkpoints) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    world w = new_world();
    apply(&w, CMD_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\",\"ext2\"]}]}");
    ckpt_arg meta = {w.c, false}, full = {w.c, true};
    T_EQ_INT(store_exec(s, write_op, &meta), 0);
    /* Metadata only: the size is there, the members are not yet. */
    cohorts_t *c2 = cohorts_new();
    T_EQ_INT(store_exec(s, load_op, c2), 0);
    T_EQ_INT(cohorts_count(c2), 1);
    T_EQ_INT(bitmap_cardinality(cohorts_at(c2, 0)->members), 0);
    sqlite3 *db;
    store_cohort_row *rows;
    int n;
    T_EQ_INT(store_open_reader(s, &db), 0);
    T_EQ_INT(store_cohort_list(db, "heap", &rows, &n), 0);
    T_EQ_INT(n, 1);
    T_EQ_INT(rows[0].size, 2);
    T_EQ_INT(rows[0].import_added, 2);
    store_cohort_rows_free(rows, n);
    T_EQ_INT(store_cohort_list(db, "amplitude", &rows, &n), 0);
    T_EQ_INT(n, 0);
    store_cohort_rows_free(rows, n);
    sqlite3_close(db);
    cohorts_free(c2);
    /* Checkpoint: members too; a reload has them. */
    T_EQ_INT(store_exec(s, write_op, &full), 0);
    T_TRUE(!cohorts_at(w.c, 0)->dirty);
    c2 = cohorts_new();
    T_EQ_INT(store_exec(s, load_op, c2), 0);
    cohort_t *k = cohorts_find(c2, "heap", "c1", 2);
    T_TRUE(k != NULL);
    T_EQ_STR(k->name, "Test");
    T_EQ_INT(bitmap_cardinality(k->members), 2);
    T_TRUE(bitmap_contains(k->members, users_by_external_id(w.u, "ext2", 4)));
    T_EQ_INT(k->import_at, NOW);
    /* A later metadata write leaves the stored members alone. */
    apply(&w, CMD_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"ext1\"],\"should_remove\":true}]}");
    T_EQ_INT(store_exec(s, write_op, &meta), 0);
    cohorts_t *c3 = cohorts_new();
    T_EQ_INT(store_exec(s, load_op, c3), 0);
    T_EQ_INT(bitmap_cardinality(cohorts_at(c3, 0)->members), 2);
    T_EQ_INT(cohorts_at(c3, 0)->import_removed, 1);
    cohorts_free(c3);
    cohorts_free(c2);
    free_world(&w);
    store_close(s);
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

static int pcheck(pauth_t *a, const char *partner, const char *api_key, const char *secret) {
    return pauth_check(a, partner, api_key, api_key ? strlen(api_key) : 0, secret, secret ? strlen(secret) : 0);
}

TEST(partner_keys_generate_rotate_invalidate) {
    char *d = tmpdir();
    store_t *s;
    pauth_t *a;
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(pauth_new(s, 0, &a), 0); /* no caching: every check reads the store */
    partner_keygen k1 = {.partner = "heap"};
    T_EQ_INT(store_exec(s, partner_keygen_op, &k1), 0);
    T_EQ_INT(strlen(k1.key), SECRET_KEY_LEN);
    partner_keygen again = {.partner = "heap"};
    T_EQ_INT(store_exec(s, partner_keygen_op, &again), BR_EEXISTS); /* one key unless rotating */
    T_EQ_INT(pcheck(a, "heap", "anything", k1.key), 0);
    T_EQ_INT(pcheck(a, "heap", NULL, k1.key), 0); /* no partner_api_key set: any value, or none */
    T_EQ_INT(pcheck(a, "tinyclues", "x", k1.key), BR_EPARTNEROFF);
    T_EQ_INT(pcheck(a, "heap", "x", "not-a-key"), BR_ECLIENTSECRET);
    T_EQ_INT(pcheck(a, "heap", "x", NULL), BR_ECLIENTSECRET);
    /* Rotation with an overlap: both work; with none, the old one ends. */
    partner_keygen k2 = {.partner = "heap", .rotate = true, .overlap_ms = 3600000};
    T_EQ_INT(store_exec(s, partner_keygen_op, &k2), 0);
    T_EQ_INT(k2.old_keys, 1);
    T_EQ_INT(pcheck(a, "heap", "x", k1.key), 0);
    T_EQ_INT(pcheck(a, "heap", "x", k2.key), 0);
    partner_keygen k3 = {.partner = "heap", .rotate = true, .overlap_ms = 0};
    T_EQ_INT(store_exec(s, partner_keygen_op, &k3), 0);
    T_EQ_INT(k3.old_keys, 2);
    T_EQ_INT(pcheck(a, "heap", "x", k1.key), BR_ECLIENTSECRET);
    T_EQ_INT(pcheck(a, "heap", "x", k2.key), BR_ECLIENTSECRET);
    T_EQ_INT(pcheck(a, "heap", "x", k3.key), 0);
    /* Invalidation ends the rest at once; a second one finds nothing. */
    partner_invalidate inv = {.partner = "heap"};
    T_EQ_INT(store_exec(s, partner_invalidate_op, &inv), 0);
    T_EQ_INT(inv.n, 1);
    T_EQ_INT(pcheck(a, "heap", "x", k3.key), BR_ECLIENTSECRET);
    T_EQ_INT(store_exec(s, partner_invalidate_op, &inv), BR_ENOTFOUND);
    /* Then a new key can be generated without --rotate. */
    partner_keygen k4 = {.partner = "heap"};
    T_EQ_INT(store_exec(s, partner_keygen_op, &k4), 0);
    T_EQ_INT(pcheck(a, "heap", "x", k4.key), 0);
    /* An expected partner_api_key. */
    partner_setting set = {.partner = "heap", .api_key = "pk-heap"};
    T_EQ_INT(store_exec(s, partner_set_api_key_op, &set), 0);
    T_EQ_INT(pcheck(a, "heap", "wrong", k4.key), BR_EPARTNERKEY);
    T_EQ_INT(pcheck(a, "heap", NULL, k4.key), BR_EPARTNERKEY);
    T_EQ_INT(pcheck(a, "heap", "pk-heap", k4.key), 0);
    set.api_key = NULL;
    T_EQ_INT(store_exec(s, partner_set_api_key_op, &set), 0);
    T_EQ_INT(pcheck(a, "heap", "wrong", k4.key), 0);
    /* The listing never shows key text. */
    sqlite3 *db;
    json_object *list;
    T_EQ_INT(store_open_reader(s, &db), 0);
    T_EQ_INT(partner_list_json(db, &list), 0);
    sqlite3_close(db);
    const char *txt = json_object_to_json_string(list);
    T_TRUE(strstr(txt, k4.key) == NULL);
    T_EQ_INT(json_object_array_length(list), 1);
    json_object *p = json_object_array_get_idx(list, 0), *v;
    T_TRUE(json_object_object_get_ex(p, "valid_keys", &v) && json_object_get_int(v) == 1);
    T_TRUE(json_object_object_get_ex(p, "keys", &v) && json_object_array_length(v) == 4);
    json_object_put(list);
    pauth_free(a);
    store_close(s);
    rmdir_r(d);
}

TEST(partner_key_cache_forgets_on_invalidation_here) {
    char *d = tmpdir();
    store_t *s;
    pauth_t *a;
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(pauth_new(s, 3600 * 1000, &a), 0); /* an hour: only pauth_forget can refresh it */
    partner_keygen k = {.partner = "tinyclues"};
    T_EQ_INT(store_exec(s, partner_keygen_op, &k), 0);
    T_EQ_INT(pcheck(a, "tinyclues", "x", k.key), 0);
    partner_invalidate inv = {.partner = "tinyclues"};
    T_EQ_INT(store_exec(s, partner_invalidate_op, &inv), 0);
    T_EQ_INT(pcheck(a, "tinyclues", "x", k.key), 0); /* still cached */
    pauth_forget(a, "tinyclues");
    T_EQ_INT(pcheck(a, "tinyclues", "x", k.key), BR_ECLIENTSECRET);
    pauth_free(a);
    store_close(s);
    rmdir_r(d);
}
