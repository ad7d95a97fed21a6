/* engine_test.c -- unit tests for the engine: journal, checkpoint, trim,
 * replay, profiles.db and the upgrade from brasa.db's old tables
 * (src/engine/engine.c, src/engine/ckpt.c). */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "core/cohort.h"
#include "engine/engine.h"
#include "lib/buf.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int journal_rows(store_t *s) {
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;
    if (store_open_reader(s, &db) < 0) return -1;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM journal", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int64_t counter(engine_t *e, const char *ext) {
    uint32_t row = users_by_external_id(engine_users(e), ext, strlen(ext));
    if (row == USERS_NONE) return -1;
    uint32_t id = names_find(engine_names(e), "n", 1);
    pfield f;
    profile_t *p = users_get(engine_users(e), row);
    if (!id || !profile_get(p->blob, pkey(id, PK_ATTR), &f)) return -2;
    return pval_get_int(f.p, f.len);
}


/* Every profile's stored bytes and every cohort, as hex: two engines with
 * the same state give the same string. */
static void hex(buf_t *b, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) buf_printf(b, "%02x", ((const uint8_t *)p)[i]);
}

static char *dump(engine_t *e) {
    buf_t b = BUF_INIT;
    users_t *u = engine_users(e);
    for (uint32_t r = 0; r < users_rows(u); r++) {
        profile_t *p = users_get(u, r);
        buf_printf(&b, "%u:", r);
        hex(&b, p->braze_id, 12);
        buf_printf(&b, ":%u:%u:%u:", p->created, p->updated, p->flags & PROFILE_DELETED);
        if (p->blob) hex(&b, p->blob, profile_blob_size(p->blob));
        buf_puts(&b, "\n");
    }
    cohorts_t *c = engine_cohorts(e);
    for (uint32_t i = 0; i < cohorts_count(c); i++) {
        cohort_t *k = cohorts_at(c, i);
        buf_printf(&b, "cohort %s/%s %s %lld %lld %lld %u %u %u %u:", k->partner, k->id, k->name,
                   (long long)k->created_at, (long long)k->updated_at, (long long)k->import_at, k->import_added,
                   k->import_removed, k->import_unchanged, k->import_unmatched);
        bitmap_optimize(k->members);
        size_t n = bitmap_serialized_size(k->members);
        uint8_t *m = malloc(n ? n : 1);
        bitmap_serialize(k->members, m);
        hex(&b, m, n);
        free(m);
        buf_puts(&b, "\n");
    }
    return buf_take(&b);
}

static int command(store_t *s, engine_t *e, int kind, const char *json) {
    eng_command c = {.eng = e, .kind = kind, .body = json_tokener_parse(json), .raw = json, .rawlen = strlen(json)};
    int rc = store_exec(s, engine_command_op, &c);
    json_object_put(c.body);
    eng_command_free(&c);
    return rc;
}

/* A track body for users u0 .. u{n-1}: a counter, an attribute, an event. */
static char *batch(int from, int n, int round) {
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"attributes\":[");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s{\"external_id\":\"u%d\",\"n\":{\"inc\":1},\"r\":%d}", i ? "," : "", from + i, round);
    buf_puts(&b, "],\"events\":[");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s{\"external_id\":\"u%d\",\"name\":\"e\",\"time\":\"2024-01-01T00:00:00Z\"}", i ? "," : "",
                   from + i);
    buf_puts(&b, "]}");
    return buf_take(&b);
}

static int sql_int(const char *path, const char *sql) {
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

TEST(engine_checkpoint_trim_and_replay_keep_every_change) {
    char *d = tmpdir();
    T_TRUE(d != NULL);
    store_t *s;
    engine_t *e;
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), 0);
    for (int i = 0; i < 3; i++) T_EQ_INT(fixture_track(s, e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_EQ_INT(journal_rows(s), 3);
    eng_checkpoint ck = {.eng = e, .force = true};
    T_EQ_INT(store_exec(s, engine_checkpoint_op, &ck), 0);
    T_EQ_INT(ck.written, 1);
    engine_checkpoint_wait(e); /* profiles.db is written by its own thread */
    T_EQ_INT(journal_rows(s), 3); /* dead rows stay until trimmed */
    eng_trim tr = {e, 0};
    T_EQ_INT(store_exec(s, engine_trim_op, &tr), 0);
    T_EQ_INT(tr.deleted, 3);
    T_EQ_INT(journal_rows(s), 0);
    /* New rows after an emptied table must still be replayed (their seq
     * must not restart at or below the checkpoint's). */
    for (int i = 0; i < 2; i++) T_EQ_INT(fixture_track(s, e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}},{\"external_id\":\"b\",\"n\":5}]}"), 0);
    T_EQ_INT(counter(e, "a"), 5);
    T_EQ_INT(store_exec(s, engine_trim_op, &tr), 0);
    T_EQ_INT(tr.deleted, 0); /* nothing after the checkpoint is trimmed */
    char *before = dump(e);
    engine_free(e); /* as after a crash: no checkpoint at the end */
    store_close(s);

    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), 0);
    T_EQ_INT(counter(e, "a"), 5);
    T_EQ_INT(counter(e, "b"), 5);
    T_EQ_INT(users_live(engine_users(e)), 2);
    /* Checkpoint then more writes then a reload: the same bytes. */
    char *after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    free(before);
    engine_free(e);
    store_close(s);
    rmdir_r(d);
}

/* The snapshot is written by the checkpoint thread while the writer goes
 * on changing the same rows: the reload must give exactly the state at the
 * end, every counter counted once. */
TEST(engine_snapshot_under_changes_reloads_exactly) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 20; i++) {
        char *b = batch(i * 75, 75, 0);
        T_EQ_INT(fixture_track(s, e, b), 0);
        free(b);
    }
    T_EQ_INT(command(s, e, CMD_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"One\",\"created_at\":\"2024-01-01T00:00:00Z\"}"), 0);
    T_EQ_INT(command(s, e, CMD_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u1\",\"u2\"]}]}"), 0);
    eng_checkpoint ck = {.eng = e, .force = true};
    T_EQ_INT(store_exec(s, engine_checkpoint_op, &ck), 0);
    T_EQ_INT(ck.written, 1500);
    /* No waiting: these run while profiles.db is being written. */
    for (int round = 1; round <= 3; round++)
        for (int i = 0; i < 20; i++) {
            char *b = batch(i * 75, 40, round);
            T_EQ_INT(fixture_track(s, e, b), 0);
            free(b);
        }
    T_EQ_INT(command(s, e, CMD_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u2\"],\"should_remove\":true},{\"user_ids\":[\"u3\"]}]}"), 0);
    /* A second checkpoint while the first may still be in flight is
     * skipped or taken: either way nothing is lost. */
    eng_checkpoint ck2 = {.eng = e};
    T_EQ_INT(store_exec(s, engine_checkpoint_op, &ck2), 0);
    T_EQ_INT(counter(e, "u1"), 4);
    T_EQ_INT(counter(e, "u50"), 1);
    char *before = dump(e);
    engine_checkpoint_wait(e);
    T_TRUE(engine_checkpoint_durable(e) >= ck.seq);
    fixture_close(s, e); /* no final checkpoint: the journal tail is replayed */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    T_EQ_INT(counter(e, "u1"), 4);
    free(after);
    fixture_close(s, e);
    /* And once more, from the start-up checkpoint alone. */
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    free(before);
    fixture_close(s, e);
    rmdir_r(d);
}

/* A data directory from before profiles.db: profiles, cohort members and
 * checkpoint_seq in brasa.db. It loads from there, moves everything to
 * profiles.db, and empties the old tables. */
TEST(engine_upgrades_a_brasa_db_only_directory) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 4; i++) {
        char *b = batch(i * 50, 50, 0);
        T_EQ_INT(fixture_track(s, e, b), 0);
        free(b);
    }
    T_EQ_INT(command(s, e, CMD_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"One\",\"created_at\":\"2024-01-01T00:00:00Z\"}"), 0);
    T_EQ_INT(command(s, e, CMD_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u1\",\"u7\"]}]}"), 0);
    eng_checkpoint ck = {.eng = e, .force = true};
    T_EQ_INT(store_exec(s, engine_checkpoint_op, &ck), 0);
    engine_checkpoint_wait(e);
    /* After the checkpoint: journal only, as the old version left it. */
    char *b = batch(0, 30, 1);
    T_EQ_INT(fixture_track(s, e, b), 0);
    free(b);
    T_EQ_INT(command(s, e, CMD_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u9\"]}]}"), 0);
    char *before = dump(e);
    fixture_close(s, e);

    /* Move the checkpoint into brasa.db's old tables; drop profiles.db. */
    char path[512], sql[1024];
    snprintf(path, sizeof path, "%s/brasa.db", d);
    sqlite3 *db;
    T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "ATTACH '%s/profiles.db' AS p; BEGIN;"
             "INSERT INTO profiles SELECT * FROM p.profiles;"
             "UPDATE cohorts SET members = (SELECT members FROM p.cohorts k WHERE k.partner = cohorts.partner "
             "AND k.cohort_id = cohorts.cohort_id);"
             "INSERT INTO meta SELECT * FROM p.meta WHERE key = 'checkpoint_seq'; COMMIT; DETACH p;",
             d);
    T_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    snprintf(sql, sizeof sql, "rm -f '%s/profiles.db' '%s/profiles.db-wal' '%s/profiles.db-shm'", d, d, d);
    T_EQ_INT(system(sql), 0);
    T_TRUE(sql_int(path, "SELECT COUNT(*) FROM profiles") == 200);

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    T_EQ_INT(counter(e, "u1"), 2);
    fixture_close(s, e);
    /* The old tables are empty now; profiles.db has it all. */
    T_EQ_INT(sql_int(path, "SELECT COUNT(*) FROM profiles"), 0);
    T_EQ_INT(sql_int(path, "SELECT COUNT(*) FROM cohorts WHERE members IS NOT NULL"), 0);
    T_EQ_INT(sql_int(path, "SELECT COUNT(*) FROM meta WHERE key = 'checkpoint_seq'"), 0);
    T_EQ_INT(sql_int(path, "SELECT size FROM cohorts"), 3); /* metadata stays for `cohorts list` */
    snprintf(path, sizeof path, "%s/profiles.db", d);
    T_EQ_INT(sql_int(path, "SELECT COUNT(*) FROM profiles"), 200);
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    free(before);
    fixture_close(s, e);
    rmdir_r(d);
}

/* profiles.db from a later moment than brasa.db would make the replay skip
 * new rows: refused. */
TEST(engine_refuses_a_profiles_db_ahead_of_the_journal) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(s, e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":1}]}"), 0);
    fixture_close(s, e);
    char path[512];
    snprintf(path, sizeof path, "%s/profiles.db", d);
    sqlite3 *db;
    T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    T_EQ_INT(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'checkpoint_seq'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), BR_ESTORE);
    store_close(s);
    rmdir_r(d);
}
