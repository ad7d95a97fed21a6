/* backup_test.c -- store_backup copies brasa.db and profiles.db as of one
 * moment while the engine writes and checkpoints (and so trims the
 * journal) as fast as it can; store_integrity finds damage. */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "lib/err.h"
#include "store/backup.h"
#include "store/checkpoint.h"
#include "store/journal.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    engine_t *e;
    atomic_bool stop;
    int writes;
} writer;

static void *write_loop(void *arg) {
    writer *w = arg;
    char body[160];
    while (!atomic_load(&w->stop)) {
        snprintf(body, sizeof body, "{\"attributes\":[{\"external_id\":\"u%d\",\"n\":%d}]}", w->writes, w->writes);
        if (fixture_track(w->e, body) != 0) break;
        w->writes++;
    }
    return NULL;
}

static int count_after(void *arg, int64_t seq, int64_t at, int format, int kind, const void *p, size_t n) {
    (void)seq, (void)at, (void)format, (void)kind, (void)p, (void)n;
    ++*(int64_t *)arg;
    return 0;
}

TEST(store_backup_copies_a_pair_a_start_can_replay_while_checkpoints_trim) {
    setenv("BRASA_CHECKPOINT_MS", "1", 1); /* a checkpoint, and a trim, every turn */
    char *d = tmpdir(), *out = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    writer w = {.e = e};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, write_loop, &w), 0);
    int checkpointed = 0;
    for (int i = 0; i < 40; i++) {
        char b[512], p[512], why[512];
        snprintf(b, sizeof b, "%s/b%d.db", out, i);
        snprintf(p, sizeof p, "%s/p%d.db", out, i);
        store_pair_info info;
        T_EQ_INT(store_backup(d, b, p, &info, why, sizeof why), 0);
        /* The copies say what store_backup saw, and the journal after S is
         * whole: seqs are dense (one per journaled batch), so a trim past
         * S would show as fewer rows than top - S. */
        sqlite3 *bdb, *pdb;
        T_EQ_INT(sqlite3_open(b, &bdb), SQLITE_OK);
        T_EQ_INT(sqlite3_open(p, &pdb), SQLITE_OK);
        int64_t seq = -1, top = -1, rows = 0;
        T_EQ_INT(store_ckpt_seq(pdb, &seq), 0);
        T_EQ_INT(store_journal_top(bdb, &top), 0);
        T_EQ_INT(store_journal_each(bdb, seq, count_after, &rows), 0);
        T_EQ_INT(seq, info.checkpoint_seq);
        T_EQ_INT(top, info.journal_top);
        T_EQ_INT(rows, info.replay_rows);
        T_EQ_INT(rows, top - seq);
        T_TRUE(info.has_profiles_db && info.checkpointed);
        if (seq > 0) checkpointed++;
        sqlite3_close(bdb);
        sqlite3_close(pdb);
        char why2[256];
        T_EQ_INT(store_integrity(b, why2, sizeof why2), 0);
        usleep(2000);
    }
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    T_TRUE(w.writes > 40);
    T_TRUE(checkpointed > 0);
    fixture_close(s, e, false);
    unsetenv("BRASA_CHECKPOINT_MS");
    rmdir_r(d);
    rmdir_r(out);
}

TEST(store_backup_and_integrity_refusals) {
    char *d = tmpdir();
    store_pair_info info;
    char why[512], path[512];
    T_EQ_INT(store_backup(d, NULL, NULL, &info, why, sizeof why), BR_ENOTFOUND);
    T_TRUE(strstr(why, "holds no brasa data") != NULL);
    /* Not a database: both say so, neither crashes. */
    snprintf(path, sizeof path, "%s/brasa.db", d);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 2048; i++) fputs("garbage!", f);
    fclose(f);
    T_EQ_INT(store_backup(d, NULL, NULL, &info, why, sizeof why), BR_ESTORE);
    T_TRUE(strstr(why, "file is not a database") != NULL);
    T_EQ_INT(store_integrity(path, why, sizeof why), BR_EIO);
    T_TRUE(strstr(why, "file is not a database") != NULL);
    rmdir_r(d);
}
