/* email.c -- the email channel's state in SQL (see email.h). */
#include "email.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The key of an address: lower-cased (into out, STORE_EMAIL_MAX + 1). */
static const char *key(const char *address, char *out) {
    size_t i = 0;
    for (; address[i] && i < STORE_EMAIL_MAX; i++) out[i] = (char)tolower((unsigned char)address[i]);
    out[i] = '\0';
    return out;
}

int store_email_bounced(sqlite3 *db, const char *address, bool *yes) {
    char k[STORE_EMAIL_MAX + 1];
    sqlite3_stmt *st = store_prep(db, address ? "SELECT 1 FROM email_bounces WHERE address = ?"
                                              : "SELECT 1 FROM email_bounces LIMIT 1");
    if (!st) return BR_ESTORE;
    if (address) sqlite3_bind_text(st, 1, key(address, k), -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    *yes = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_email_bounce_add(sqlite3 *db, const char *address, const char *reason, int64_t at_ms) {
    char k[STORE_EMAIL_MAX + 1];
    sqlite3_stmt *st = store_prep(db, "INSERT OR REPLACE INTO email_bounces (address, at, reason) VALUES (?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, key(address, k), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at_ms);
    sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
    return store_done(db, st);
}

/* Deletes address's row with sql; BR_ENOTFOUND when there was none. */
static int remove_address(sqlite3 *db, const char *sql, const char *address) {
    char k[STORE_EMAIL_MAX + 1];
    sqlite3_stmt *st = store_prep(db, sql);
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, key(address, k), -1, SQLITE_STATIC);
    int rc = store_done(db, st);
    return rc < 0 ? rc : sqlite3_changes(db) ? 0 : BR_ENOTFOUND;
}

int store_email_bounce_remove(sqlite3 *db, const char *address) {
    return remove_address(db, "DELETE FROM email_bounces WHERE address = ?", address);
}

/* Collects (address, at) rows from a prepared statement. */
static int collect(sqlite3_stmt *st, store_bounce_row **rows, int *n) {
    int cap = 0, rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **rows);
        (*rows)[*n].address = store_col_text(st, 0);
        (*rows)[(*n)++].at = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_bounce_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

int store_email_bounces(sqlite3 *db, const char *address, int64_t from_ms, int64_t to_ms, int limit, int offset,
                        store_bounce_row **rows, int *n) {
    char k[STORE_EMAIL_MAX + 1];
    sqlite3_stmt *st = store_prep(db, address ? "SELECT address, at FROM email_bounces WHERE address = ?1 LIMIT ?4 OFFSET ?5"
                                              : "SELECT address, at FROM email_bounces WHERE at >= ?2 AND at < ?3 "
                                                "ORDER BY at DESC, address LIMIT ?4 OFFSET ?5");
    if (!st) return BR_ESTORE;
    if (address) sqlite3_bind_text(st, 1, key(address, k), -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 2, from_ms), sqlite3_bind_int64(st, 3, to_ms);
    sqlite3_bind_int(st, 4, limit);
    sqlite3_bind_int(st, 5, offset);
    return collect(st, rows, n);
}

/* ---- global states and spam ------------------------------------------------ */

int store_email_state_put(sqlite3 *db, const char *address, const char *state, int64_t at_ms) {
    char k[STORE_EMAIL_MAX + 1];
    sqlite3_stmt *st = store_prep(db, "INSERT OR REPLACE INTO email_states (address, state, at) VALUES (?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, key(address, k), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, at_ms);
    return store_done(db, st);
}

int store_email_states_each(sqlite3 *db, int (*fn)(void *arg, const char *address, const char *state, int64_t at_ms),
                            void *arg) {
    sqlite3_stmt *st = store_prep(db, "SELECT address, state, at FROM email_states");
    if (!st) return BR_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int frc = fn(arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                     sqlite3_column_int64(st, 2));
        if (frc < 0) {
            sqlite3_finalize(st);
            return frc;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_email_unsubscribes(sqlite3 *db, const char *address, int64_t from_ms, int64_t to_ms, int limit, int offset,
                             bool asc, store_bounce_row **rows, int *n) {
    char k[STORE_EMAIL_MAX + 1];
    const char *sql = address ? "SELECT address, at FROM email_states WHERE address = ?1 AND state = 'unsubscribed' "
                                "LIMIT ?4 OFFSET ?5"
                      : asc ? "SELECT address, at FROM email_states WHERE state = 'unsubscribed' AND at >= ?2 AND at < ?3 "
                              "ORDER BY at, address LIMIT ?4 OFFSET ?5"
                            : "SELECT address, at FROM email_states WHERE state = 'unsubscribed' AND at >= ?2 AND at < ?3 "
                              "ORDER BY at DESC, address LIMIT ?4 OFFSET ?5";
    sqlite3_stmt *st = store_prep(db, sql);
    if (!st) return BR_ESTORE;
    if (address) sqlite3_bind_text(st, 1, key(address, k), -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 2, from_ms), sqlite3_bind_int64(st, 3, to_ms);
    sqlite3_bind_int(st, 4, limit);
    sqlite3_bind_int(st, 5, offset);
    return collect(st, rows, n);
}

int store_email_spam_remove(sqlite3 *db, const char *address) {
    return remove_address(db, "DELETE FROM email_spam WHERE address = ?", address);
}

void store_bounce_rows_free(store_bounce_row *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].address);
    free(rows);
}
