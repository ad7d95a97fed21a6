/* store_test.c -- unit tests for the store: migrations, group commit, keys. */
#define _GNU_SOURCE
#include "test.h"
#include "core/apikey.h"
#include "lib/err.h"
#include "lib/clock.h"
#include "store/journal.h"
#include "store/keys.h"
#include "store/migrations.h"
#include "store/store.h"
#include "store/walckpt.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir(void) {
    char *d = strdup("/tmp/brasa-unit-XXXXXX");
    return mkdtemp(d);
}

static void rmdir_r(char *d) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) printf("    could not remove %s\n", d);
    free(d);
}

static int count_rows(store_t *s, const char *table) {
    sqlite3 *db;
    if (store_open_reader(s, &db) < 0) return -1;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

TEST(store_migrations_apply_once) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    store_close(s);
    T_EQ_INT(store_open(d, &s), 0); /* second open: nothing to apply, no error */
    T_EQ_INT(count_rows(s, "schema_migrations"), store_migrations_count);
    T_EQ_INT(count_rows(s, "api_keys"), 0);
    store_close(s);
    rmdir_r(d);
}

static int ins_op(sqlite3 *db, void *arg) {
    char sql[64];
    snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%d)", *(int *)arg);
    return store_sql(db, sql);
}

static int fail_op(sqlite3 *db, void *arg) {
    (void)arg;
    /* Writes, then fails: its write must be undone, the others kept. */
    store_sql(db, "INSERT INTO t VALUES (-1)");
    return BR_EINVAL;
}

TEST(store_exec_inline_and_through_writer) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(store_sql(store_db_for_tests(s), "CREATE TABLE t (v INTEGER)"), 0);
    int v = 1;
    T_EQ_INT(store_exec(s, ins_op, &v), 0); /* inline: writer not started */
    T_EQ_INT(store_exec(s, fail_op, NULL), BR_EINVAL);
    T_EQ_INT(store_start(s), 0);
    v = 2;
    T_EQ_INT(store_exec(s, ins_op, &v), 0);
    T_EQ_INT(store_exec(s, fail_op, NULL), BR_EINVAL);
    store_stop(s);
    T_EQ_INT(count_rows(s, "t"), 2);
    store_close(s);
    rmdir_r(d);
}

typedef struct {
    store_t *s;
    int base, n, failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        int v = w->base + i;
        int rc = (i % 10 == 9) ? store_exec(w->s, fail_op, NULL) : store_exec(w->s, ins_op, &v);
        if ((i % 10 == 9) != (rc < 0)) w->failures++;
    }
    return NULL;
}

TEST(store_group_commit_batches_and_isolates_failures) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(store_sql(store_db_for_tests(s), "CREATE TABLE t (v INTEGER)"), 0);
    T_EQ_INT(store_start(s), 0);
    enum { THREADS = 16, PER = 50 };
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){s, i * 1000, PER, 0};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        T_EQ_INT(w[i].failures, 0);
    }
    store_stats st = store_get_stats(s);
    store_stop(s);
    T_EQ_INT(count_rows(s, "t"), THREADS * PER * 9 / 10); /* no -1 row survived */
    T_EQ_INT(st.ops, THREADS * PER * 9 / 10);
    T_EQ_INT(st.failed, THREADS * PER / 10);
    T_TRUE(st.commits <= st.ops); /* never more commits than writes */
    store_close(s);
    rmdir_r(d);
}

/* Commits past WALCK_PAGES leave the checkpoint to walckpt's thread; the
 * WAL still stays bounded (the log restarts once a checkpoint caught up,
 * and a writer faster than the thread checkpoints itself), and everything
 * written reads back. */
static int blob_op(sqlite3 *db, void *arg) {
    static char blob[200000];
    int *i = arg;
    memset(blob, 'a' + *i % 26, sizeof blob);
    sqlite3_stmt *st = store_prep(db, "INSERT INTO b (i, v) VALUES (?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int(st, 1, *i);
    sqlite3_bind_blob(st, 2, blob, sizeof blob, SQLITE_STATIC);
    return store_done(db, st);
}

static long long file_size(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : 0;
}

TEST(store_wal_checkpoints_run_off_the_writer) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    sqlite3 *db = store_db_for_tests(s);
    T_EQ_INT(store_sql(db, "CREATE TABLE b (i INTEGER PRIMARY KEY, v BLOB); PRAGMA synchronous=OFF"), 0);
    T_EQ_INT(store_start(s), 0);
    long long most = 0;
    enum { N = 1200 }; /* 240 MB through a WAL bounded at ~64 MB */
    for (int i = 0; i < N; i++) {
        T_EQ_INT(store_exec(s, blob_op, &i), 0);
        long long w = file_size(d, "brasa.db-wal");
        if (w > most) most = w;
    }
    store_stop(s);
    store_stats st = store_get_stats(s);
    T_TRUE(most > (long long)WALCK_PAGES * 4096); /* commits went past the threshold... */
    T_TRUE(st.wal_checkpoints > 0);               /* ...the thread checkpointed... */
    T_TRUE(most < (long long)(WALCK_MAX_PAGES + 100) * (4096 + 24)); /* ...and the log stayed bounded (frames: page + 24-byte header) */
    T_EQ_INT(count_rows(s, "b"), N);
    /* The frames reached the database file (all but what the WAL holds). */
    T_TRUE(file_size(d, "brasa.db") > 200000LL * N - (long long)WALCK_MAX_PAGES * 4096);
    store_close(s);
    rmdir_r(d);
}

/* One batch every 6 s for STORE_EVENT_COUNTS_DAYS + 2 days: the table
 * keeps a quarter hour a row, and drops the old ones. */
#define EC_T0 1764806400LL /* 2025-12-04T00:00:00Z */
#define EC_BATCHES ((STORE_EVENT_COUNTS_DAYS + 2) * 86400LL / 6)
static int event_counts_op(sqlite3 *db, void *arg) {
    (void)arg;
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i < EC_BATCHES; i++) rc = store_event_counts_add(db, EC_T0 * 1000 + i * 6000, 2);
    return rc;
}

TEST(store_event_counts_by_quarter_hour) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(store_exec(s, event_counts_op, NULL), 0);
    T_EQ_INT(count_rows(s, "event_counts"), STORE_EVENT_COUNTS_DAYS * 96 + 1); /* the current quarter too */
    sqlite3 *db = store_db_for_tests(s);
    int64_t end = EC_T0 + EC_BATCHES * 6, v[24], day; /* end: midnight, the first batch not written */
    int64_t t0 = clock_mono_us();
    T_EQ_INT(store_event_counts_sum(db, end - 23 * 3600, end + 3600, 3600, v), 0);
    T_EQ_INT(store_event_counts_sum(db, end - 86400, end, 86400, &day), 0);
    printf("    24 hours and a day read in %lld us\n", (long long)(clock_mono_us() - t0));
    for (int i = 0; i < 23; i++) T_EQ_INT(v[i], 600 * 2); /* 600 batches of 2 an hour */
    T_EQ_INT(v[23], 0);                                  /* the hour from midnight: none */
    T_EQ_INT(day, 24 * 600 * 2);
    /* Nothing recorded: zeros, not missing. */
    T_EQ_INT(store_event_counts_sum(db, EC_T0 - 86400, EC_T0, 3600, v), 0);
    for (int i = 0; i < 24; i++) T_EQ_INT(v[i], 0);
    store_close(s);
    rmdir_r(d);
}

TEST(apikey_prepare_validates) {
    apikey_new k;
    char *why;
    T_EQ_INT(apikey_prepare(&k, "", "users.track", "", &why), BR_EINVAL);
    free(why);
    T_EQ_INT(apikey_prepare(&k, "a\nb", "users.track", "", &why), BR_EINVAL);
    free(why);
    T_EQ_INT(apikey_prepare(&k, "n", "", "", &why), BR_EINVAL);
    T_TRUE(strstr(why, "permission") != NULL);
    free(why);
    T_EQ_INT(apikey_prepare(&k, "n", "users.nope", "", &why), BR_EINVAL);
    T_TRUE(strstr(why, "users.nope") != NULL);
    free(why);
    T_EQ_INT(apikey_prepare(&k, "n", "users.track", "10.0.0.0/99", &why), BR_EINVAL);
    free(why);
    T_EQ_INT(apikey_prepare(&k, "n", "segments.list users.track", "10.0.0.0/8 ::1", &why), 0);
    T_EQ_STR(k.permissions, "users.track,segments.list");
    T_EQ_INT(strlen(k.key), 36);
    apikey_new_free(&k);
}

TEST(apikey_store_round_trip_and_bootstrap_once) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    apikey_new k, b1, b2;
    char *why;
    T_EQ_INT(apikey_prepare(&b1, "bootstrap", "all", "", &why), 0);
    T_EQ_INT(store_exec(s, store_key_bootstrap_op, &b1), 0);
    T_TRUE(b1.id > 0);
    T_EQ_INT(apikey_prepare(&b2, "bootstrap", "all", "", &why), 0);
    T_EQ_INT(store_exec(s, store_key_bootstrap_op, &b2), 0);
    T_EQ_INT(b2.id, 0); /* already bootstrapped: no second key */

    T_EQ_INT(apikey_prepare(&k, "track", "users.track", "127.0.0.1", &why), 0);
    T_EQ_INT(store_exec(s, store_key_insert_op, &k), 0);
    sqlite3 *db;
    T_EQ_INT(store_open_reader(s, &db), 0);
    store_key_row row;
    T_EQ_INT(store_key_by_hash(db, k.hash, &row), 0);
    T_EQ_STR(row.name, "track");
    T_EQ_STR(row.allow_ips, "127.0.0.1");
    T_EQ_INT(row.revoked_at, 0);
    store_key_row_free(&row);
    int64_t id = k.id, missing = 999;
    T_EQ_INT(store_exec(s, store_key_revoke_op, &id), 0);
    T_EQ_INT(store_exec(s, store_key_revoke_op, &id), BR_ENOTFOUND); /* already revoked */
    T_EQ_INT(store_exec(s, store_key_revoke_op, &missing), BR_ENOTFOUND);
    T_EQ_INT(store_key_by_hash(db, k.hash, &row), 0);
    T_TRUE(row.revoked_at > 0);
    store_key_row_free(&row);
    uint8_t zero[32] = {0};
    T_EQ_INT(store_key_by_hash(db, zero, &row), BR_ENOTFOUND);
    sqlite3_close(db);
    apikey_new_free(&k);
    apikey_new_free(&b1);
    apikey_new_free(&b2);
    store_close(s);
    rmdir_r(d);
}
