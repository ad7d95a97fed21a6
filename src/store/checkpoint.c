/* checkpoint.c -- SQL for profiles.db (see checkpoint.h). */
#include "checkpoint.h"
#include "keys.h"
#include "migrations.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_ckpt_open(const char *dir, sqlite3 **db) {
    char path[4096];
    snprintf(path, sizeof path, "%s/profiles.db", dir);
    return store_open_file(path, store_profiles_migrations, store_profiles_migrations_count, db);
}

static int seq_of(sqlite3 *db, int64_t *seq) {
    char *v = NULL;
    int rc = store_meta_get(db, "checkpoint_seq", &v);
    if (rc == 0) *seq = strtoll(v, NULL, 10);
    free(v);
    return rc;
}

int store_ckpt_seq(sqlite3 *db, int64_t *seq) { return seq_of(db, seq); }
int store_old_ckpt_seq(sqlite3 *db, int64_t *seq) { return seq_of(db, seq); }

int store_ckpt_write(sqlite3 *db, const store_snapshot *s) {
    if (store_sql(db, "BEGIN IMMEDIATE") < 0) return BR_ESTORE;
    sqlite3_stmt *st = store_prep(db, "INSERT OR REPLACE INTO profiles (row, braze_id, created, updated, flags, data) "
                                      "VALUES (?, ?, ?, ?, ?, ?)");
    int rc = st ? 0 : BR_ESTORE;
    for (uint32_t i = 0; rc == 0 && i < s->nprofiles; i++) {
        const store_profile_row *p = &s->profiles[i];
        sqlite3_bind_int64(st, 1, p->row);
        sqlite3_bind_blob(st, 2, p->braze_id, 12, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, p->created);
        sqlite3_bind_int64(st, 4, p->updated);
        sqlite3_bind_int64(st, 5, p->flags);
        if (p->blob) sqlite3_bind_blob(st, 6, p->blob, (int)p->len, SQLITE_STATIC);
        else sqlite3_bind_null(st, 6);
        if (sqlite3_step(st) != SQLITE_DONE) {
            log_error("store: profiles.db: %s", sqlite3_errmsg(db));
            rc = BR_ESTORE;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    for (uint32_t i = 0; rc == 0 && i < s->ncohorts; i++) rc = store_cohort_put(db, &s->cohorts[i]);
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

int store_profiles_top(sqlite3 *db, uint32_t *rows) {
    sqlite3_stmt *st = store_prep(db, "SELECT COALESCE(MAX(row) + 1, 0) FROM profiles");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : BR_ESTORE;
    if (rc == 0) *rows = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int store_profiles_each(sqlite3 *db, int (*fn)(void *arg, const store_profile_row *p), void *arg) {
    sqlite3_stmt *st = store_prep(db, "SELECT row, braze_id, created, updated, flags, data FROM profiles ORDER BY row");
    if (!st) return BR_ESTORE;
    int rc, frc = 0;
    while (frc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_profile_row p = {.row = (uint32_t)sqlite3_column_int64(st, 0)};
        if (sqlite3_column_bytes(st, 1) != 12) {
            log_error("store: profile row %u has a braze_id of %d bytes", p.row, sqlite3_column_bytes(st, 1));
            frc = BR_ESTORE;
            break;
        }
        memcpy(p.braze_id, sqlite3_column_blob(st, 1), 12);
        p.created = (uint32_t)sqlite3_column_int64(st, 2);
        p.updated = (uint32_t)sqlite3_column_int64(st, 3);
        p.flags = (uint32_t)sqlite3_column_int64(st, 4);
        p.len = (uint32_t)sqlite3_column_bytes(st, 5);
        p.blob = p.len ? sqlite3_column_blob(st, 5) : NULL;
        frc = fn(arg, &p);
    }
    if (frc == 0 && rc != SQLITE_DONE) log_error("store: reading profiles: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (frc < 0) return frc;
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_drop_old_ckpt(sqlite3 *db) {
    return store_sql(db, "DELETE FROM profiles; UPDATE cohorts SET members = NULL WHERE members IS NOT NULL; "
                         "DELETE FROM meta WHERE key = 'checkpoint_seq';");
}
