/* journal.c -- SQL for the journal, the outbox and names (see journal.h). */
#include "journal.h"
#include "keys.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/secret.h"

#include <stdio.h>
#include <stdlib.h>

int store_journal_append(sqlite3 *db, int64_t seq, int64_t at, int format, int kind, const void *p, size_t n) {
    /* One row per engine batch, not per request: preparing it each time
     * costs microseconds against the commit's fsync. */
    sqlite3_stmt *st = store_prep(db, "INSERT INTO journal (seq, at, format, kind, body) VALUES (?, ?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_int(st, 3, format);
    sqlite3_bind_int(st, 4, kind);
    sqlite3_bind_blob(st, 5, n ? p : "", (int)n, SQLITE_STATIC);
    return store_done(db, st);
}

int store_journal_each(sqlite3 *db, int64_t after, store_journal_fn fn, void *arg) {
    sqlite3_stmt *st = store_prep(db, "SELECT seq, at, format, kind, body FROM journal WHERE seq > ? ORDER BY seq");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, after);
    int rc, frc = 0;
    while (frc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        frc = fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2),
                 sqlite3_column_int(st, 3), sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4));
    sqlite3_finalize(st);
    if (frc < 0) return frc;
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_journal_top(sqlite3 *db, int64_t *top) {
    /* AUTOINCREMENT keeps the highest seq in sqlite_sequence even when the
     * table is empty. */
    sqlite3_stmt *st = store_prep(db, "SELECT seq FROM sqlite_sequence WHERE name = 'journal'");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st);
    *top = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_journal_trim(sqlite3 *db, int64_t upto, int limit, int *deleted) {
    sqlite3_stmt *st = store_prep(db, "DELETE FROM journal WHERE seq IN "
                                      "(SELECT seq FROM journal WHERE seq <= ? ORDER BY seq LIMIT ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, upto);
    sqlite3_bind_int(st, 2, limit);
    int rc = store_done(db, st);
    *deleted = rc == 0 ? sqlite3_changes(db) : 0;
    return rc;
}

int store_outbox_put(sqlite3 *db, int64_t seq, int64_t at, const char *events, size_t n) {
    sqlite3_stmt *st = store_prep(db, "INSERT INTO outbox (seq, at, events) VALUES (?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_text(st, 3, events, (int)n, SQLITE_STATIC);
    return store_done(db, st);
}

int store_event_counts_add(sqlite3 *db, int64_t at, int64_t n) {
    int64_t start = at / 1000 / 900 * 900;
    sqlite3_stmt *st = store_prep(db, "INSERT INTO event_counts (start, events) VALUES (?, ?) "
                                      "ON CONFLICT (start) DO UPDATE SET events = events + excluded.events");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, start);
    sqlite3_bind_int64(st, 2, n);
    if (store_done(db, st) < 0) return BR_ESTORE;
    /* A range of the key: nothing to delete costs one seek. */
    if (!(st = store_prep(db, "DELETE FROM event_counts WHERE start < ?"))) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, start - STORE_EVENT_COUNTS_DAYS * 86400);
    return store_done(db, st);
}

int store_event_counts_sum(sqlite3 *db, int64_t from, int64_t to, int64_t step, int64_t *out) {
    int64_t n = (to - from) / step;
    for (int64_t i = 0; i < n; i++) out[i] = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT start, events FROM event_counts WHERE start >= ? AND start < ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, from + n * step);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        out[(sqlite3_column_int64(st, 0) - from) / step] += sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_names_put(sqlite3 *db, uint32_t id, const char *s, size_t n) {
    sqlite3_stmt *st = store_prep(db, "INSERT INTO names (id, name) VALUES (?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob(st, 2, s, (int)n, SQLITE_STATIC);
    return store_done(db, st);
}

int store_names_each(sqlite3 *db, int (*fn)(void *arg, uint32_t id, const char *s, size_t n), void *arg) {
    sqlite3_stmt *st = store_prep(db, "SELECT id, name FROM names ORDER BY id");
    if (!st) return BR_ESTORE;
    int rc, frc = 0;
    while (frc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        frc = fn(arg, (uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                 (size_t)sqlite3_column_bytes(st, 1));
    sqlite3_finalize(st);
    if (frc < 0) return frc;
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_instance_id(sqlite3 *db, uint32_t *id) {
    char *v = NULL;
    int rc = store_meta_get(db, "instance_id", &v);
    if (rc == 0) {
        *id = (uint32_t)strtoul(v, NULL, 16);
        free(v);
        return 0;
    }
    if (rc != BR_ENOTFOUND) return rc;
    secret_random(id, sizeof *id);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", *id);
    return store_meta_set(db, "instance_id", hex);
}
