/* keys.c -- SQL for REST API keys and the meta table (see keys.h). */
#include "keys.h"
#include "store.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLUMNS "id, name, permissions, allow_ips, created_at, last_used_at, revoked_at"

static void read_row(sqlite3_stmt *st, store_key_row *r) {
    r->id = sqlite3_column_int64(st, 0);
    r->name = store_col_text(st, 1);
    r->permissions = store_col_text(st, 2);
    r->allow_ips = store_col_text(st, 3);
    r->created_at = sqlite3_column_int64(st, 4);
    r->last_used_at = sqlite3_column_int64(st, 5);
    r->revoked_at = sqlite3_column_int64(st, 6);
}

int store_key_insert(sqlite3 *db, const char *name, const uint8_t hash[32], const char *perms,
                     const char *allow_ips, int64_t now_ms, int64_t *id) {
    sqlite3_stmt *st = store_prep(db, "INSERT INTO api_keys (name, hash, permissions, allow_ips, created_at) "
                                "VALUES (?, ?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, perms, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, allow_ips, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    int rc = store_done(db, st);
    if (rc == 0) *id = sqlite3_last_insert_rowid(db);
    return rc;
}

int store_key_by_hash(sqlite3 *db, const uint8_t hash[32], store_key_row *out) {
    sqlite3_stmt *st = store_prep(db, "SELECT " KEY_COLUMNS " FROM api_keys WHERE hash = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_row(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_key_list(sqlite3 *db, store_key_row **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY id");
    if (!st) return BR_ESTORE;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *rows = xrealloc(*rows, (size_t)cap * sizeof **rows);
        }
        read_row(st, &(*rows)[(*n)++]);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_key_revoke(sqlite3 *db, int64_t id, int64_t now_ms) {
    sqlite3_stmt *st = store_prep(db, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, id);
    int rc = store_done(db, st);
    if (rc == 0 && sqlite3_changes(db) == 0) rc = BR_ENOTFOUND;
    return rc;
}

int store_key_touch(sqlite3 *db, int64_t id, int64_t ts_ms) {
    sqlite3_stmt *st = store_prep(db, "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 "
                                "AND (last_used_at IS NULL OR last_used_at < ?1)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, ts_ms);
    sqlite3_bind_int64(st, 2, id);
    return store_done(db, st);
}

int store_key_count(sqlite3 *db, int64_t *n) {
    sqlite3_stmt *st = store_prep(db, "SELECT COUNT(*) FROM api_keys");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : BR_ESTORE;
    *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

void store_key_row_free(store_key_row *r) {
    free(r->name);
    free(r->permissions);
    free(r->allow_ips);
    memset(r, 0, sizeof *r);
}

void store_key_rows_free(store_key_row *rows, int n) {
    for (int i = 0; i < n; i++) store_key_row_free(&rows[i]);
    free(rows);
}

int store_meta_get(sqlite3 *db, const char *key, char **value) {
    sqlite3_stmt *st = store_prep(db, "SELECT value FROM meta WHERE key = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *value = store_col_text(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_time_zone(sqlite3 *db, char *out, size_t outlen) {
    char *v = NULL;
    int rc = store_meta_get(db, "time_zone", &v);
    snprintf(out, outlen, "%s", v ? v : "UTC");
    free(v);
    return rc == BR_ENOTFOUND ? 0 : rc;
}

int store_meta_set(sqlite3 *db, const char *key, const char *value) {
    sqlite3_stmt *st = store_prep(db, "INSERT INTO meta (key, value) VALUES (?, ?) "
                                "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return store_done(db, st);
}

int store_key_insert_op(sqlite3 *db, void *arg) {
    apikey_new *k = arg;
    return store_key_insert(db, k->name, k->hash, k->permissions, k->allow_ips, k->created_at, &k->id);
}

int store_key_bootstrap_op(sqlite3 *db, void *arg) {
    char *v = NULL;
    int rc = store_meta_get(db, "bootstrapped", &v);
    free(v);
    if (rc == 0) return 0;
    if (rc != BR_ENOTFOUND) return rc;
    int64_t n;
    if ((rc = store_key_count(db, &n)) < 0) return rc;
    if (n == 0 && (rc = store_key_insert_op(db, arg)) < 0) return rc;
    return store_meta_set(db, "bootstrapped", "1");
}

int store_key_revoke_op(sqlite3 *db, void *arg) { return store_key_revoke(db, *(int64_t *)arg, clock_wall_ms()); }
