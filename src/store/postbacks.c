/* postbacks.c -- the durable queue of transactional postbacks (see postbacks.h). */
#include "postbacks.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdlib.h>

int store_postbacks_put(sqlite3 *db, const store_postback *v, int n, int64_t now) {
    if (!n) return 0;
    sqlite3_stmt *st = store_prep(db, "INSERT INTO postbacks (dispatch_id, url, body, created_at) VALUES (?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, v[i].dispatch_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v[i].url, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v[i].body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        if (sqlite3_step(st) != SQLITE_DONE) rc = BR_ESTORE;
    }
    sqlite3_finalize(st);
    return rc;
}

int store_postbacks_due(sqlite3 *db, int64_t now, int limit, store_postback **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT id, dispatch_id, url, body, created_at, attempts FROM postbacks p "
                                      "WHERE next_at <= ? AND id = (SELECT MIN(id) FROM postbacks "
                                      "WHERE dispatch_id = p.dispatch_id) ORDER BY id LIMIT ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    int rc;
    *rows = xcalloc((size_t)(limit > 0 ? limit : 1), sizeof **rows);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_postback *r = &(*rows)[(*n)++];
        r->id = sqlite3_column_int64(st, 0);
        r->dispatch_id = store_col_text(st, 1);
        r->url = store_col_text(st, 2);
        r->body = store_col_text(st, 3);
        r->created_at = sqlite3_column_int64(st, 4);
        r->attempts = sqlite3_column_int(st, 5);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

void store_postbacks_free(store_postback *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].dispatch_id), free(rows[i].url), free(rows[i].body);
    free(rows);
}

int store_postback_done_op(sqlite3 *db, void *arg) {
    sqlite3_stmt *st = store_prep(db, "DELETE FROM postbacks WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, *(int64_t *)arg);
    return store_done(db, st);
}

int store_postback_retry_op(sqlite3 *db, void *arg) {
    const store_postback_retry *r = arg;
    sqlite3_stmt *st = store_prep(db, "UPDATE postbacks SET attempts = attempts + 1, next_at = ? WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, r->next_at);
    sqlite3_bind_int64(st, 2, r->id);
    return store_done(db, st);
}

int store_postbacks_pending(sqlite3 *db, int64_t *n) {
    sqlite3_stmt *st = store_prep(db, "SELECT count(*) FROM postbacks");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : BR_ESTORE;
}
