/* engine_test.c -- unit tests for the engine: change records, the journal
 * and its format versions, checkpoints and trimming, replay, profiles.db
 * and the upgrade from brasa.db's old tables, and what the engine does when
 * the disk fails (src/engine, src/store/fault.c). */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "cli/cli.h"
#include "core/export.h"
#include "engine/internal.h"
#include "lib/bitmap.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "store/fault.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int sql_int(const char *dir, const char *file, const char *sql) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
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

static int sql_exec(const char *dir, const char *file, const char *sql) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static int journal_rows(const char *dir) { return sql_int(dir, "brasa.db", "SELECT COUNT(*) FROM journal"); }

typedef struct {
    const char *ext;
    int64_t n;
} counter_arg;

static int counter_read(engine_t *e, void *arg) {
    counter_arg *c = arg;
    uint32_t row = users_by_external_id(engine_users(e), c->ext, strlen(c->ext));
    uint32_t id = names_find(engine_names(e), "n", 1);
    pfield f;
    c->n = -1;
    if (row == USERS_NONE) return 0;
    profile_t *p = users_get(engine_users(e), row);
    c->n = id && profile_get(p->blob, pkey(id, PK_ATTR), &f) ? pval_get_int(f.p, f.len) : -2;
    return 0;
}

static int64_t counter(engine_t *e, const char *ext) {
    counter_arg c = {ext, 0};
    eng_exec_read(e, counter_read, &c);
    return c.n;
}

/* Every profile's stored bytes and every cohort, as hex: two engines with
 * the same state give the same string. */
static void hex(buf_t *b, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) buf_printf(b, "%02x", ((const uint8_t *)p)[i]);
}

static int dump_read(engine_t *e, void *arg) {
    buf_t *b = arg;
    users_t *u = engine_users(e);
    for (uint32_t r = 0; r < users_rows(u); r++) {
        profile_t *p = users_get(u, r);
        buf_printf(b, "%u:", r);
        uint8_t id[12];
        users_braze_id(u, r, id);
        hex(b, id, 12);
        buf_printf(b, ":%u:%u:%u:", p->created, p->updated, p->flags & PROFILE_DELETED);
        if (p->blob) hex(b, p->blob, profile_blob_size(p->blob));
        buf_puts(b, "\n");
    }
    cohorts_t *c = engine_cohorts(e);
    for (uint32_t i = 0; i < cohorts_count(c); i++) {
        cohort_t *k = cohorts_at(c, i);
        buf_printf(b, "cohort %s/%s %s %lld %lld %lld %u %u %u %u:", k->partner, k->id, k->name,
                   (long long)k->created_at, (long long)k->updated_at, (long long)k->import_at, k->import_added,
                   k->import_removed, k->import_unchanged, k->import_unmatched);
        bitmap_optimize(k->members);
        size_t n = bitmap_serialized_size(k->members);
        uint8_t *m = malloc(n ? n : 1);
        bitmap_serialize(k->members, m);
        hex(b, m, n);
        free(m);
        buf_puts(b, "\n");
    }
    return 0;
}

static char *dump(engine_t *e) {
    buf_t b = BUF_INIT;
    eng_exec_read(e, dump_read, &b);
    return buf_take(&b);
}

/* What a user looks like from outside (no ids or times): the same whether
 * it was made by live commands or by a replay of their request bodies. */
static int view_read(engine_t *e, void *arg) {
    buf_t *b = arg;
    export_fields f;
    json_object *list = json_tokener_parse("[\"external_id\",\"user_aliases\",\"email\",\"custom_attributes\","
                                           "\"custom_events\",\"purchases\",\"total_revenue\",\"cohorts\"]");
    char why[100];
    export_fields_parse(list, &f, why, sizeof why);
    json_object_put(list);
    users_t *u = engine_users(e);
    for (uint32_t r = 0; r < users_rows(u); r++) {
        if (users_get(u, r)->flags & PROFILE_DELETED) continue;
        json_object *o = export_user(u, engine_names(e), r, &f);
        export_cohorts(o, engine_cohorts(e), r, &f);
        buf_printf(b, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    }
    return 0;
}

static char *view(engine_t *e) {
    buf_t b = BUF_INIT;
    eng_exec_read(e, view_read, &b);
    return buf_take(&b);
}

/* A track body for users u{from} .. : a counter, an attribute, an event. */
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

static int noop_op(sqlite3 *db, void *arg) {
    (void)db, (void)arg;
    return 0;
}

TEST(engine_checkpoint_trim_and_replay_keep_every_change) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 3; i++) T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_EQ_INT(journal_rows(d), 3); /* one change record batch each, sent one by one */
    T_EQ_INT(engine_checkpoint_now(e, true), 0);
    T_EQ_INT(eng_exec_store(e, noop_op, NULL), 0); /* a batch after it carries the trim */
    T_EQ_INT(journal_rows(d), 0);
    /* New rows after an emptied table must still be replayed (their seq
     * must not restart at or below the checkpoint's). */
    for (int i = 0; i < 2; i++)
        T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}},{\"external_id\":\"b\",\"n\":5}]}"), 0);
    T_EQ_INT(counter(e, "a"), 5);
    T_EQ_INT(journal_rows(d), 2);
    char *before = dump(e);
    fixture_close(s, e, false); /* as after a crash: no checkpoint at the end */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(counter(e, "a"), 5);
    T_EQ_INT(counter(e, "b"), 5);
    char *after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    free(before);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* The snapshot is written by the checkpoint thread while the engine goes
 * on changing the same rows: the reload must give exactly the state at the
 * end, every counter counted once. */
TEST(engine_snapshot_under_changes_reloads_exactly) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 20; i++) {
        char *b = batch(i * 75, 75, 0);
        T_EQ_INT(fixture_track(e, b), 0);
        free(b);
    }
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"One\",\"created_at\":\"2024-01-01T00:00:00Z\"}", NULL), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u1\",\"u2\"]}]}", NULL), 0);
    T_EQ_INT(engine_checkpoint_now(e, false), 0);
    /* No waiting: these run while profiles.db is being written. */
    for (int round = 1; round <= 3; round++)
        for (int i = 0; i < 20; i++) {
            char *b = batch(i * 75, 40, round);
            T_EQ_INT(fixture_track(e, b), 0);
            free(b);
        }
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u2\"],\"should_remove\":true},{\"user_ids\":[\"u3\"]}]}", NULL), 0);
    /* A second checkpoint while the first may still be in flight is
     * skipped or taken: either way nothing is lost. */
    T_EQ_INT(engine_checkpoint_now(e, false), 0);
    T_EQ_INT(counter(e, "u1"), 4);
    T_EQ_INT(counter(e, "u50"), 1);
    char *before = dump(e);
    fixture_close(s, e, false); /* no final checkpoint: the journal tail is replayed */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    T_EQ_INT(counter(e, "u1"), 4);
    free(after);
    fixture_close(s, e, false);
    /* And once more, from the start-up checkpoint alone. */
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    free(before);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* A change record says what a row became: replaying a journal over a
 * checkpoint that already holds some of it changes nothing (a crash
 * between profiles.db's commit and the trim). */
TEST(engine_records_are_idempotent_over_a_newer_checkpoint) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 4; i++) T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"One\",\"created_at\":\"2024-01-01\"}", NULL), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"a\"]}]}", NULL), 0);
    char *before = dump(e);
    fixture_close(s, e, true);
    /* Put the journal back under the checkpoint: every row is replayed
     * onto a state that already has it. */
    T_EQ_INT(sql_exec(d, "profiles.db", "UPDATE meta SET value = '0' WHERE key = 'checkpoint_seq'"), SQLITE_OK);
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    T_EQ_INT(counter(e, "a"), 4);
    free(after);
    free(before);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* Format 1: journals written before change records held request bodies.
 * They replay, through the request parsers, to the state the same commands
 * make live. */
TEST(engine_replays_a_format_1_journal_like_the_live_commands) {
    static const struct {
        int kind;
        const char *body;
    } rows[] = {
        {1, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":2},\"tags\":[\"x\",\"y\"],\"email\":\"a@b.io\"},"
            "{\"user_alias\":{\"alias_name\":\"anon\",\"alias_label\":\"amp\"},\"_update_existing_only\":false,\"c\":\"red\"}],"
            "\"events\":[{\"external_id\":\"a\",\"name\":\"e\",\"time\":\"2024-01-01T00:00:00Z\",\"properties\":{\"p\":1}}],"
            "\"purchases\":[{\"external_id\":\"b\",\"product_id\":\"p\",\"currency\":\"EUR\",\"price\":2.5,\"quantity\":2,"
            "\"time\":\"2024-01-02\"}]}"},
        {2, "{\"user_aliases\":[{\"alias_name\":\"n2\",\"alias_label\":\"crm\",\"external_id\":\"a\"}]}"},
        {3, "{\"aliases_to_identify\":[{\"external_id\":\"c\",\"user_alias\":{\"alias_name\":\"anon\",\"alias_label\":\"amp\"}}]}"},
        {7, "{\"partner\":\"heap\",\"cohort_id\":\"h1\",\"name\":\"H\",\"created_at\":\"2024-01-01\"}"},
        {8, "{\"partner\":\"heap\",\"cohort_id\":\"h1\",\"cohort_changes\":[{\"user_ids\":[\"a\",\"c\",\"zz\"]}]}"},
        {5, "{\"external_id_renames\":[{\"current_external_id\":\"b\",\"new_external_id\":\"b2\"}]}"},
        {4, "{\"external_ids\":[\"c\"]}"},
    };
    int n = (int)(sizeof rows / sizeof *rows);
    /* Live. */
    char *d1 = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d1, &s, &e), 0);
    for (int i = 0; i < n; i++) {
        int k = rows[i].kind, rc;
        if (k == 1) rc = fixture_track(e, rows[i].body);
        else if (k == 7 || k == 8) rc = fixture_cohort(e, k == 7 ? ENG_COHORT_NAME : ENG_COHORT_USERS, rows[i].body, NULL);
        else rc = fixture_identity(e, k - 2, rows[i].body); /* 2..6 are IDENTITY_ALIAS_NEW..REMOVE */
        T_EQ_INT(rc, 0);
    }
    char *live = view(e);
    fixture_close(s, e, false);
    /* A data directory whose journal holds the bodies, as the old version
     * wrote them (format 1, the names already stored). */
    char *d2 = tmpdir();
    T_EQ_INT(fixture_open(d2, &s, &e), 0);
    fixture_close(s, e, false);
    char sql[4096];
    snprintf(sql, sizeof sql, "ATTACH '%s/brasa.db' AS live; INSERT INTO names SELECT * FROM live.names; DETACH live;", d1);
    T_EQ_INT(sql_exec(d2, "brasa.db", sql), SQLITE_OK);
    for (int i = 0; i < n; i++) {
        sqlite3 *db;
        char path[512];
        snprintf(path, sizeof path, "%s/brasa.db", d2);
        T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *st;
        T_EQ_INT(sqlite3_prepare_v2(db, "INSERT INTO journal (at, kind, body, format) VALUES (?, ?, ?, 1)", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int64(st, 1, clock_wall_ms() + i); /* "now" when it ran */
        sqlite3_bind_int(st, 2, rows[i].kind);
        sqlite3_bind_blob(st, 3, rows[i].body, (int)strlen(rows[i].body), SQLITE_STATIC);
        T_EQ_INT(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    T_EQ_INT(fixture_open(d2, &s, &e), 0);
    char *replayed = view(e);
    T_EQ_STR(replayed, live);
    fixture_close(s, e, false);
    /* Once more: from profiles.db, which the start-up checkpoint wrote;
     * the old rows are below it (or trimmed): nothing is applied twice. */
    T_EQ_INT(fixture_open(d2, &s, &e), 0);
    char *again = view(e);
    T_EQ_STR(again, live);
    fixture_close(s, e, false);
    free(live);
    free(replayed);
    free(again);
    rmdir_r(d1);
    rmdir_r(d2);
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
        T_EQ_INT(fixture_track(e, b), 0);
        free(b);
    }
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"One\",\"created_at\":\"2024-01-01T00:00:00Z\"}", NULL), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u1\",\"u7\"]}]}", NULL), 0);
    T_EQ_INT(engine_checkpoint_now(e, true), 0);
    /* After the checkpoint: journal only, as the old version left it. */
    char *b = batch(0, 30, 1);
    T_EQ_INT(fixture_track(e, b), 0);
    free(b);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"u9\"]}]}", NULL), 0);
    char *before = dump(e);
    fixture_close(s, e, false);

    /* Move the checkpoint into brasa.db's old tables; drop profiles.db. */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "ATTACH '%s/profiles.db' AS p; BEGIN;"
             "INSERT INTO profiles SELECT * FROM p.profiles;"
             "UPDATE cohorts SET members = (SELECT members FROM p.cohorts k WHERE k.partner = cohorts.partner "
             "AND k.cohort_id = cohorts.cohort_id);"
             "INSERT INTO meta SELECT * FROM p.meta WHERE key = 'checkpoint_seq'; COMMIT; DETACH p;",
             d);
    T_EQ_INT(sql_exec(d, "brasa.db", sql), SQLITE_OK);
    snprintf(sql, sizeof sql, "rm -f '%s/profiles.db' '%s/profiles.db-wal' '%s/profiles.db-shm'", d, d, d);
    T_EQ_INT(system(sql), 0);
    T_EQ_INT(sql_int(d, "brasa.db", "SELECT COUNT(*) FROM profiles"), 200);

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    T_EQ_INT(counter(e, "u1"), 2);
    fixture_close(s, e, false);
    /* The old tables are empty now; profiles.db has it all. */
    T_EQ_INT(sql_int(d, "brasa.db", "SELECT COUNT(*) FROM profiles"), 0);
    T_EQ_INT(sql_int(d, "brasa.db", "SELECT COUNT(*) FROM cohorts WHERE members IS NOT NULL"), 0);
    T_EQ_INT(sql_int(d, "brasa.db", "SELECT COUNT(*) FROM meta WHERE key = 'checkpoint_seq'"), 0);
    T_EQ_INT(sql_int(d, "brasa.db", "SELECT size FROM cohorts"), 3); /* metadata stays for `cohorts list` */
    T_EQ_INT(sql_int(d, "profiles.db", "SELECT COUNT(*) FROM profiles"), 200);
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    free(before);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* profiles.db from a later moment than brasa.db would make the replay skip
 * new rows: refused. */
TEST(engine_refuses_a_profiles_db_ahead_of_the_journal) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":1}]}"), 0);
    fixture_close(s, e, true);
    T_EQ_INT(sql_exec(d, "profiles.db", "UPDATE meta SET value = '99' WHERE key = 'checkpoint_seq'"), SQLITE_OK);
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), BR_ESTORE);
    store_close(s);
    rmdir_r(d);
}

/* A journal row that does not decode is a corrupt journal: the engine
 * refuses to start on part of the data rather than skip it. */
TEST(engine_refuses_a_journal_row_it_cannot_decode) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":1}]}"), 0);
    fixture_close(s, e, false);
    T_EQ_INT(sql_exec(d, "brasa.db", "UPDATE journal SET body = x'01ff'"), SQLITE_OK);
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), BR_ESTORE);
    store_close(s);
    T_EQ_INT(sql_exec(d, "brasa.db", "UPDATE journal SET format = 9"), SQLITE_OK); /* a format from the future */
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), BR_ESTORE);
    store_close(s);
    rmdir_r(d);
}

/* Reads run on the engine thread at once: a read submitted behind writes
 * still sees them (they were applied first), and the answer does not wait
 * for their commit. */
TEST(engine_reads_see_applied_writes_in_order) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 50; i++) T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_EQ_INT(counter(e, "a"), 50);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* A gate the engine thread waits at (an ENG_READ), so the test can queue
 * commands behind it. */
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int state; /* 1: the engine is inside, 2: let it go, 3: a read finished */
} gate_t;

static int gate_read(engine_t *e, void *arg) {
    (void)e;
    gate_t *g = arg;
    pthread_mutex_lock(&g->m);
    g->state = 1;
    pthread_cond_broadcast(&g->c);
    while (g->state != 2) pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
    return 0;
}

static void gate_done(eng_cmd *c) { (void)c; }

static void read_done(eng_cmd *c) {
    gate_t *g = c->done_arg;
    pthread_mutex_lock(&g->m);
    g->state = 3;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

static void *track_a(void *arg) {
    return (void *)(intptr_t)fixture_track(arg, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}");
}

static int queued(engine_t *e) {
    int n = 0;
    pthread_mutex_lock(&e->lock);
    for (eng_cmd *c = e->head; c; c = c->next) n++;
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* A read queued behind writes does not wait for them to be applied (it
 * may overtake writes nobody has an answer for), and --commit-batch caps
 * the writes in one batch: with 1, each write is its own transaction. */
TEST(engine_reads_overtake_queued_writes_and_batches_follow_commit_batch) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    store_set_max_batch(s, 1);
    uint64_t batches = engine_stats(e).batches;
    gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    eng_cmd gate = {.kind = ENG_READ, .read = gate_read, .arg = &g, .done = gate_done};
    eng_submit(e, &gate);
    pthread_mutex_lock(&g.m);
    while (g.state != 1) pthread_cond_wait(&g.c, &g.m);
    pthread_mutex_unlock(&g.m);
    enum { W = 4 };
    pthread_t th[W];
    for (int i = 0; i < W; i++) pthread_create(&th[i], NULL, track_a, e);
    for (int i = 0; i < 5000 && queued(e) < W; i++) usleep(1000);
    T_EQ_INT(queued(e), W);
    counter_arg c = {"a", 0};
    eng_cmd read = {.kind = ENG_READ, .read = counter_read, .arg = &c, .done = read_done, .done_arg = &g};
    eng_submit(e, &read);
    pthread_mutex_lock(&g.m);
    g.state = 2;
    pthread_cond_broadcast(&g.c);
    while (g.state != 3) pthread_cond_wait(&g.c, &g.m);
    pthread_mutex_unlock(&g.m);
    T_EQ_INT(c.n, -1); /* answered before any of the four was applied: no user "a" yet */
    for (int i = 0; i < W; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        T_EQ_INT((int)(intptr_t)rc, 0);
    }
    T_EQ_INT(counter(e, "a"), W);
    T_EQ_INT((int)(engine_stats(e).batches - batches), W);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* ---- storage failures (fault injection) ---------------------------------- */

/* Tracks n+1 on "f" until a command fails; returns how many succeeded. */
static int write_until_failure(engine_t *e, int max) {
    for (int i = 0; i < max; i++)
        if (fixture_track(e, "{\"attributes\":[{\"external_id\":\"f\",\"n\":{\"inc\":1}}]}") < 0) return i;
    return max;
}

/* An fsync that fails during the group commit: the batch's commands and
 * every later one are answered BR_ESTORE, none acknowledged; the store
 * refuses all writes; after a restart every acknowledged write is there. */
TEST(engine_fsync_failure_fails_the_batch_and_the_store) {
    T_TRUE(store_fault_set(""));
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_TRUE(store_fault_set("sync:brasa.db-wal:5"));
    int acked = write_until_failure(e, 50);
    T_TRUE(acked >= 3 && acked < 50);
    T_TRUE(engine_failed(e));
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"g\",\"n\":1}]}"), BR_ESTORE);
    counter_arg c = {"f", 0};
    T_EQ_INT(eng_exec_read(e, counter_read, &c), BR_ESTORE); /* reads refused too: memory is ahead of the disk */
    fixture_close(s, e, true);    /* no checkpoint from a failed store */
    T_TRUE(store_fault_set(""));
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    int64_t n = counter(e, "f");
    /* The failed commit may or may not have reached the disk (it was not
     * acknowledged); what was acknowledged is all there. */
    T_TRUE(n == acked || n == acked + 1);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* A full disk while journaling: the same outcome as a failed fsync. */
TEST(engine_disk_full_while_journaling_answers_errors_and_loses_nothing) {
    T_TRUE(store_fault_set(""));
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_TRUE(store_fault_set("write:brasa.db-wal:30:0:full"));
    int acked = write_until_failure(e, 50);
    T_TRUE(acked >= 1 && acked < 50);
    T_TRUE(engine_failed(e));
    fixture_close(s, e, true);
    T_TRUE(store_fault_set(""));
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(counter(e, "f"), acked);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* A checkpoint write that fails: requests go on, the rows stay dirty and
 * the next checkpoint writes them; nothing is lost. */
TEST(engine_checkpoint_write_failure_recovers) {
    T_TRUE(store_fault_set(""));
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 5; i++) T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_TRUE(store_fault_set("write:profiles.db-wal:1:1"));
    unsigned hits = store_fault_hits();
    T_EQ_INT(engine_checkpoint_now(e, true), BR_ESTORE);
    T_TRUE(store_fault_hits() > hits);
    T_TRUE(!engine_failed(e)); /* the journal still has it all */
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_EQ_INT(engine_checkpoint_now(e, true), 0); /* the rule is spent: this one is written */
    T_EQ_INT(sql_int(d, "profiles.db", "SELECT COUNT(*) FROM profiles"), 1);
    fixture_close(s, e, false);
    T_TRUE(store_fault_set(""));
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(counter(e, "a"), 6);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* A read error at start-up: the engine does not start on part of the data,
 * and the failed start changed nothing: the next one has everything. */
TEST(engine_read_error_at_start_up_refuses_to_start) {
    T_TRUE(store_fault_set(""));
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 3; i++) {
        char *b = batch(i * 75, 75, 0);
        T_EQ_INT(fixture_track(e, b), 0);
        free(b);
    }
    char *before = dump(e);
    fixture_close(s, e, true);
    T_TRUE(store_fault_set("read:profiles.db:3"));
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), BR_ESTORE);
    store_close(s);
    T_TRUE(store_fault_set(""));
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    free(after);
    free(before);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* ---- cohorts in one batch ------------------------------------------------- */

typedef struct {
    engine_t *e;
    eng_kind kind;
    const char *json;
    int rc;
} cohort_job;

static void *cohort_thread(void *arg) {
    cohort_job *j = arg;
    j->rc = fixture_cohort(j->e, j->kind, j->json, NULL);
    return NULL;
}

/* Runs the jobs in one engine batch: the engine waits at a gate until all
 * of them are queued, in order, behind it. */
static void run_in_one_batch(engine_t *e, cohort_job *jobs, int n) {
    gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    eng_cmd gate = {.kind = ENG_READ, .read = gate_read, .arg = &g, .done = gate_done};
    eng_submit(e, &gate);
    pthread_mutex_lock(&g.m);
    while (g.state != 1) pthread_cond_wait(&g.c, &g.m);
    pthread_mutex_unlock(&g.m);
    pthread_t th[8];
    for (int i = 0; i < n; i++) {
        jobs[i].e = e;
        pthread_create(&th[i], NULL, cohort_thread, &jobs[i]);
        for (int k = 0; k < 5000 && queued(e) < i + 1; k++) usleep(1000);
    }
    pthread_mutex_lock(&g.m);
    g.state = 2;
    pthread_cond_broadcast(&g.c);
    pthread_mutex_unlock(&g.m);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
}

/* A batch that creates a cohort and adds its members replays: the cohort's
 * record comes before its members' (a members record of a cohort the
 * replay does not know yet is a row that does not decode). */
TEST(engine_replays_a_batch_that_creates_a_cohort_and_fills_it) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\"},{\"external_id\":\"b\"}]}"), 0);
    uint64_t batches = engine_stats(e).batches;
    cohort_job jobs[] = {
        {NULL, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"One\",\"created_at\":\"2024-01-01\"}", -1},
        {NULL, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"a\",\"b\"]}]}", -1},
    };
    run_in_one_batch(e, jobs, 2);
    T_EQ_INT(jobs[0].rc, 0);
    T_EQ_INT(jobs[1].rc, 0);
    T_EQ_INT((int)(engine_stats(e).batches - batches), 1); /* one journal row holds both */
    char *before = dump(e);
    fixture_close(s, e, false); /* as after a crash: the journal row is replayed */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    cohort_t *k = cohorts_find(engine_cohorts(e), "heap", "c1", 2);
    T_TRUE(k != NULL);
    T_EQ_INT(bitmap_cardinality(k->members), 2);
    free(after);
    free(before);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* A row that leaves and enters the same cohort within one batch (one
 * request here) ends as it did live after a replay: a member after
 * remove-then-add, not one after add-then-remove. */
TEST(engine_replays_a_cohort_row_removed_then_added_in_one_batch) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\"},{\"external_id\":\"b\"},{\"external_id\":\"c\"},{\"external_id\":\"x\"}]}"), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"One\",\"created_at\":\"2024-01-01\"}", NULL), 0);
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[\"a\",\"x\"]}]}", NULL), 0);
    cohort_result r;
    /* a: member, removed then added; b: not, added then removed; c: not,
     * added, removed, added; x: member, removed, added, removed. */
    T_EQ_INT(fixture_cohort(e, ENG_COHORT_USERS,
                            "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":["
                            "{\"user_ids\":[\"a\",\"x\"],\"should_remove\":true},{\"user_ids\":[\"a\",\"b\",\"c\",\"x\"]},"
                            "{\"user_ids\":[\"b\",\"c\",\"x\"],\"should_remove\":true},{\"user_ids\":[\"c\"]}]}",
                            &r),
             0);
    T_EQ_INT(r.added, 5);
    T_EQ_INT(r.removed, 5);
    users_t *u = engine_users(e);
    cohort_t *k = cohorts_find(engine_cohorts(e), "heap", "c1", 2);
    T_TRUE(bitmap_contains(k->members, users_by_external_id(u, "a", 1)));
    T_TRUE(!bitmap_contains(k->members, users_by_external_id(u, "b", 1)));
    T_TRUE(bitmap_contains(k->members, users_by_external_id(u, "c", 1)));
    T_TRUE(!bitmap_contains(k->members, users_by_external_id(u, "x", 1)));
    char *before = dump(e);
    fixture_close(s, e, false); /* as after a crash: the journal is replayed */

    T_EQ_INT(fixture_open(d, &s, &e), 0);
    char *after = dump(e);
    T_EQ_STR(after, before);
    u = engine_users(e);
    k = cohorts_find(engine_cohorts(e), "heap", "c1", 2);
    T_TRUE(bitmap_contains(k->members, users_by_external_id(u, "a", 1)));
    T_TRUE(!bitmap_contains(k->members, users_by_external_id(u, "b", 1)));
    T_TRUE(bitmap_contains(k->members, users_by_external_id(u, "c", 1)));
    T_TRUE(!bitmap_contains(k->members, users_by_external_id(u, "x", 1)));
    T_EQ_INT(bitmap_cardinality(k->members), 2);
    free(after);
    free(before);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* ---- trimming after a failed transaction --------------------------------- */

/* A trim whose transaction does not commit (here its COMMIT cannot write
 * the WAL; a BEGIN that times out or another op's storage error are the
 * same to it) is tried again: the journal is still emptied. */
TEST(engine_trim_that_did_not_commit_is_retried) {
    T_TRUE(store_fault_set(""));
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    for (int i = 0; i < 3; i++) T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_EQ_INT(journal_rows(d), 3);
    /* The next write to brasa.db's WAL is the trim's COMMIT (the checkpoint
     * writes profiles.db): it fails, once. */
    T_TRUE(store_fault_set("write:brasa.db-wal:1:1"));
    unsigned hits = store_fault_hits();
    T_EQ_INT(engine_checkpoint_now(e, true), 0);
    for (int i = 0; i < 5000 && store_fault_hits() == hits; i++) usleep(1000);
    T_TRUE(store_fault_hits() > hits);
    T_TRUE(!engine_failed(e)); /* a trim is not critical */
    int rows = -1;
    for (int i = 0; i < 300 && (rows = journal_rows(d)) != 0; i++) {
        T_EQ_INT(eng_exec_store(e, noop_op, NULL), 0);
        usleep(10000);
    }
    T_EQ_INT(rows, 0);
    T_EQ_INT(counter(e, "a"), 3);
    fixture_close(s, e, false);
    T_TRUE(store_fault_set(""));
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(counter(e, "a"), 3);
    fixture_close(s, e, false);
    rmdir_r(d);
}

/* ---- --commit-batch ------------------------------------------------------ */

/* Currents event ids are seq << 16 | the command's index in its batch: a
 * batch of more than 65535 writes would give two events one id. serve
 * refuses such a --commit-batch as it refuses any bad option. */
TEST(engine_serve_refuses_a_commit_batch_above_65535) {
    char *d = tmpdir();
    alarm(30); /* a serve that accepted it would run until killed: end the test instead */
    char *argv[] = {"--data-dir", d, "--listen", "127.0.0.1", "--port", "0", "--commit-batch", "65536", NULL};
    T_EQ_INT(cli_serve(8, argv), 2);
    char *argv2[] = {"--data-dir", d, "--listen", "127.0.0.1", "--port", "0", "--commit-batch", "1048576", NULL};
    T_EQ_INT(cli_serve(8, argv2), 2);
    alarm(0);
    rmdir_r(d);
}
