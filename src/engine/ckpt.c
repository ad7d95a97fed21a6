/* ckpt.c -- profiles.db and the checkpoint thread (see ckpt.h). */
#define _GNU_SOURCE
#include "ckpt.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../store/keys.h"
#include "../store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same columns as brasa.db's tables (sql/001, 002, 003), so that the
 * load code and store_cohort_put/each/store_meta_* serve both files. The
 * file has no migrations of its own yet: user_version would number them. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS profiles ("
    "  row INTEGER PRIMARY KEY, braze_id BLOB NOT NULL, created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL, flags INTEGER NOT NULL, data BLOB);"
    "CREATE TABLE IF NOT EXISTS cohorts ("
    "  partner TEXT NOT NULL, cohort_id TEXT NOT NULL, name TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  import_at INTEGER, import_added INTEGER NOT NULL DEFAULT 0,"
    "  import_removed INTEGER NOT NULL DEFAULT 0, import_unchanged INTEGER NOT NULL DEFAULT 0,"
    "  import_unmatched INTEGER NOT NULL DEFAULT 0, members BLOB,"
    "  PRIMARY KEY (partner, cohort_id));";

struct ckpt {
    sqlite3 *db; /* the thread's once started; the opener's before */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* thread: a snapshot or stop */
    pthread_cond_t idle; /* ckpt_wait: the slot is free */
    bool reserved;       /* a snapshot is in flight (reserve .. write end) */
    bool stop;
    ckpt_snap *todo;   /* handed over, not yet taken by the thread */
    ckpt_snap *failed; /* for ckpt_take_failed */
    _Atomic int64_t durable;
    int64_t last_us;
    uint32_t last_n;
};

void ckpt_snap_free(ckpt_snap *s) {
    if (!s) return;
    for (uint32_t i = 0; i < s->ncohorts; i++) {
        store_cohort_row *r = &s->cohorts[i].r;
        free((void *)r->partner);
        free((void *)r->cohort_id);
        free((void *)r->name);
        free((void *)r->members);
    }
    free(s->cohorts);
    free(s->profiles);
    free(s->data);
    free(s);
}

int ckpt_open(const char *dir, ckpt_t **out) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/profiles.db", dir);
    sqlite3 *db;
    int rc = store_open_file(path, &db);
    if (rc < 0) return rc;
    if (store_sql(db, schema) < 0) {
        sqlite3_close(db);
        return BR_ESTORE;
    }
    ckpt_t *c = xcalloc(1, sizeof *c);
    c->db = db;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_cond_init(&c->idle, NULL);
    *out = c;
    return 0;
}

sqlite3 *ckpt_db(ckpt_t *c) { return c->db; }

int ckpt_load_seq(ckpt_t *c, int64_t *seq) {
    char *v = NULL;
    int rc = store_meta_get(c->db, "checkpoint_seq", &v);
    if (rc == 0) {
        *seq = strtoll(v, NULL, 10);
        atomic_store(&c->durable, *seq);
    }
    free(v);
    return rc;
}

/* Writes s and its seq in one transaction. */
static int write_snap(sqlite3 *db, const ckpt_snap *s) {
    if (store_sql(db, "BEGIN IMMEDIATE") < 0) return BR_ESTORE;
    sqlite3_stmt *st = store_prep(db, "INSERT OR REPLACE INTO profiles (row, braze_id, created, updated, flags, data) "
                                      "VALUES (?, ?, ?, ?, ?, ?)");
    int rc = st ? 0 : BR_ESTORE;
    for (uint32_t i = 0; rc == 0 && i < s->nprofiles; i++) {
        const ckpt_profile *p = &s->profiles[i];
        sqlite3_bind_int64(st, 1, p->row);
        sqlite3_bind_blob(st, 2, p->braze_id, 12, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, p->created);
        sqlite3_bind_int64(st, 4, p->updated);
        sqlite3_bind_int64(st, 5, p->flags);
        if (p->len) sqlite3_bind_blob(st, 6, s->data + p->off, (int)p->len, SQLITE_STATIC);
        else sqlite3_bind_null(st, 6);
        if (sqlite3_step(st) != SQLITE_DONE) {
            log_error("ckpt: %s", sqlite3_errmsg(db));
            rc = BR_ESTORE;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    for (uint32_t i = 0; rc == 0 && i < s->ncohorts; i++) rc = store_cohort_put(db, &s->cohorts[i].r);
    char seq[32];
    snprintf(seq, sizeof seq, "%lld", (long long)s->seq);
    if (rc == 0) rc = store_meta_set(db, "checkpoint_seq", seq);
    if (rc == 0) rc = store_sql(db, "COMMIT");
    /* A failed COMMIT may or may not have reached the disk; either is
     * safe, because the file is whole either way: the state as of the old
     * S or of this one. Only the trim must not assume the new S. */
    if (rc < 0 && !sqlite3_get_autocommit(db)) store_sql(db, "ROLLBACK");
    return rc;
}

static void *ckpt_main(void *arg) {
    ckpt_t *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->todo && !c->stop) pthread_cond_wait(&c->wake, &c->lock);
        if (!c->todo) break; /* stop, and nothing left to write */
        ckpt_snap *s = c->todo;
        c->todo = NULL;
        pthread_mutex_unlock(&c->lock);

        int64_t t0 = clock_mono_us();
        int rc = write_snap(c->db, s);
        int64_t us = clock_mono_us() - t0;
        if (rc == 0) {
            atomic_store(&c->durable, s->seq);
            log_info("ckpt: wrote %u profiles and %u cohorts up to journal seq %lld in %lld ms", s->nprofiles,
                     s->ncohorts, (long long)s->seq, (long long)us / 1000);
        } else {
            log_error("ckpt: writing profiles.db failed; its %u profiles stay dirty for the next checkpoint",
                      s->nprofiles);
        }

        pthread_mutex_lock(&c->lock);
        if (rc == 0) {
            c->last_us = us;
            c->last_n = s->nprofiles;
            ckpt_snap_free(s);
        } else {
            c->failed = s;
        }
        c->reserved = false;
        pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int ckpt_start(ckpt_t *c) {
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        log_error("ckpt: cannot start the checkpoint thread");
        return BR_EINTERNAL;
    }
    c->started = true;
    return 0;
}

void ckpt_close(ckpt_t *c) {
    if (!c) return;
    if (c->started) {
        /* The thread writes a snapshot it was handed before it stops:
         * a clean stop leaves profiles.db as current as it can be. */
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    ckpt_snap_free(c->todo);
    ckpt_snap_free(c->failed);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->idle);
    free(c);
}

bool ckpt_reserve(ckpt_t *c) {
    pthread_mutex_lock(&c->lock);
    bool ok = !c->reserved;
    c->reserved = true;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void ckpt_submit(ckpt_t *c, ckpt_snap *s, bool ok) {
    pthread_mutex_lock(&c->lock);
    if (ok) {
        c->todo = s;
        pthread_cond_signal(&c->wake);
    } else {
        c->failed = s;
        c->reserved = false;
        pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->lock);
}

void ckpt_wait(ckpt_t *c) {
    pthread_mutex_lock(&c->lock);
    while (c->reserved) pthread_cond_wait(&c->idle, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

ckpt_snap *ckpt_take_failed(ckpt_t *c) {
    pthread_mutex_lock(&c->lock);
    ckpt_snap *s = c->failed;
    c->failed = NULL;
    pthread_mutex_unlock(&c->lock);
    return s;
}

int64_t ckpt_durable(ckpt_t *c) { return atomic_load(&c->durable); }

void ckpt_last_write(ckpt_t *c, int64_t *us, uint32_t *profiles) {
    pthread_mutex_lock(&c->lock);
    *us = c->last_us;
    *profiles = c->last_n;
    pthread_mutex_unlock(&c->lock);
}
