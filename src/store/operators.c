/* operators.c -- SQL for operators, sessions and the audit log
 * (operators.h). */
#include "operators.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPERATOR_COLS "id, name, role, pwhash, created_at, last_login_at"

static void read_operator(sqlite3_stmt *st, store_operator *o) {
    o->id = sqlite3_column_int64(st, 0);
    store_col_copy(st, 1, o->name, sizeof o->name);
    store_col_copy(st, 2, o->role, sizeof o->role);
    store_col_copy(st, 3, o->pwhash, sizeof o->pwhash);
    o->created_at = sqlite3_column_int64(st, 4);
    o->last_login_at = sqlite3_column_int64(st, 5);
}

int store_operator_insert_op(sqlite3 *db, void *arg) {
    store_operator *o = arg;
    /* DO NOTHING and count the change: a taken name is an answer, not a
     * constraint failure to log. */
    sqlite3_stmt *st = store_prep(db, "INSERT INTO operators (name, role, pwhash, created_at) VALUES (?, ?, ?, ?) "
                                      "ON CONFLICT (name) DO NOTHING");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, o->created_at);
    int rc = store_done(db, st);
    if (rc < 0) return rc;
    if (!sqlite3_changes(db)) return BR_EEXISTS;
    o->id = sqlite3_last_insert_rowid(db);
    return 0;
}

int store_operator_get(sqlite3 *db, const char *name, store_operator *out) {
    sqlite3_stmt *st = store_prep(db, "SELECT " OPERATOR_COLS " FROM operators WHERE name = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_operator(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_operator_list(sqlite3 *db, store_operator **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT id, name, role, '', created_at, last_login_at FROM operators ORDER BY name");
    if (!st) return BR_ESTORE;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? 2 * cap : 8) * sizeof **rows);
        read_operator(st, &(*rows)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*rows);
        *rows = NULL;
        *n = 0;
        return BR_ESTORE;
    }
    return 0;
}

int store_operator_delete_op(sqlite3 *db, void *arg) {
    sqlite3_stmt *st = store_prep(db, "DELETE FROM operators WHERE name = ?"); /* sessions: ON DELETE CASCADE */
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int rc = store_done(db, st);
    return rc < 0 ? rc : sqlite3_changes(db) ? 0 : BR_ENOTFOUND;
}

int store_operator_update_op(sqlite3 *db, void *arg) {
    store_operator *o = arg;
    sqlite3_stmt *st = store_prep(db, "UPDATE operators SET pwhash = ?, role = IIF(? = '', role, ?) WHERE name = ? "
                                      "RETURNING id");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, o->pwhash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, o->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) o->id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
    /* A new password ends the sessions the old one opened. */
    st = store_prep(db, "DELETE FROM operator_sessions WHERE operator_id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, o->id);
    return store_done(db, st);
}

int store_session_insert_op(sqlite3 *db, void *arg) {
    store_session *s = arg;
    sqlite3_stmt *st = store_prep(db, "DELETE FROM operator_sessions WHERE expires_at <= ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, s->now_ms);
    int rc = store_done(db, st);
    if (rc < 0) return rc;
    if (!(st = store_prep(db, "INSERT INTO operator_sessions (hash, operator_id, created_at, expires_at) VALUES (?, ?, ?, ?)")))
        return BR_ESTORE;
    sqlite3_bind_blob(st, 1, s->hash, sizeof s->hash, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->operator_id);
    sqlite3_bind_int64(st, 3, s->now_ms);
    sqlite3_bind_int64(st, 4, s->expires_at);
    if ((rc = store_done(db, st)) < 0) return rc;
    if (!(st = store_prep(db, "UPDATE operators SET last_login_at = ? WHERE id = ?"))) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, s->now_ms);
    sqlite3_bind_int64(st, 2, s->operator_id);
    return store_done(db, st);
}

int store_session_delete_op(sqlite3 *db, void *arg) {
    sqlite3_stmt *st = store_prep(db, "DELETE FROM operator_sessions WHERE hash = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_blob(st, 1, arg, 32, SQLITE_STATIC);
    return store_done(db, st);
}

int store_session_find(sqlite3 *db, const uint8_t hash[32], int64_t now_ms, store_operator *out,
                       int64_t *expires_at) {
    sqlite3_stmt *st = store_prep(db, "SELECT o.id, o.name, o.role, '', o.created_at, o.last_login_at, s.expires_at "
                                      "FROM operator_sessions s JOIN operators o ON o.id = s.operator_id "
                                      "WHERE s.hash = ? AND s.expires_at > ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_operator(st, out);
        *expires_at = sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_audit_insert_op(sqlite3 *db, void *arg) {
    store_audit *a = arg;
    sqlite3_stmt *st = store_prep(db, "INSERT INTO audit_log (at, who, ip, method, path, status) VALUES (?, ?, ?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, a->at);
    sqlite3_bind_text(st, 2, a->who, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->method, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, a->status);
    int rc = store_done(db, st);
    if (rc == 0) a->id = sqlite3_last_insert_rowid(db);
    return rc;
}

int store_audit_list(sqlite3 *db, int64_t before_id, int limit, store_audit **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT id, at, who, ip, method, path, status FROM audit_log "
                                      "WHERE id < ? ORDER BY id DESC LIMIT ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, before_id > 0 ? before_id : INT64_MAX);
    sqlite3_bind_int(st, 2, limit);
    int rc;
    *rows = xcalloc((size_t)(limit > 0 ? limit : 1), sizeof **rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_audit *a = &(*rows)[(*n)++];
        a->id = sqlite3_column_int64(st, 0);
        a->at = sqlite3_column_int64(st, 1);
        a->who = store_col_text(st, 2);
        a->ip = store_col_text(st, 3);
        a->method = store_col_text(st, 4);
        a->path = store_col_text(st, 5);
        a->status = sqlite3_column_int(st, 6);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_audit_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return BR_ESTORE;
    }
    return 0;
}

void store_audit_rows_free(store_audit *rows, int n) {
    for (int i = 0; i < n; i++) {
        free(rows[i].who);
        free(rows[i].ip);
        free(rows[i].method);
        free(rows[i].path);
    }
    free(rows);
}
