/* segments.c -- segment rows and daily sizes (see segments.h). */
#include "segments.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

void store_segment_row_free(store_segment_row *r) {
    free(r->name);
    free(r->tags);
    free(r->definition);
    free(r->description);
    r->name = r->tags = r->definition = r->description = NULL;
}

void store_segment_rows_free(store_segment_row *rows, int n) {
    for (int i = 0; i < n; i++) store_segment_row_free(&rows[i]);
    free(rows);
}

void store_segment_new_id(char out[SEG_ID_LEN + 1]) { secret_new_key(out); /* a UUID v4, as Braze's ids */ }

int store_segment_insert(sqlite3 *db, const store_segment_row *r) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO segments (id, name, tags, definition, description, created_at, updated_at) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->definition, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->description ? r->description : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->created_at);
    sqlite3_bind_int64(st, 7, r->updated_at);
    return store_done(db, st);
}

int store_segment_update(sqlite3 *db, const store_segment_row *r) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "UPDATE segments SET name = ?, tags = ?, definition = ?, description = ?, "
                               "updated_at = ?, archived_at = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->definition, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->description ? r->description : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->updated_at);
    sqlite3_bind_int64(st, 6, r->archived_at);
    sqlite3_bind_text(st, 7, r->id, -1, SQLITE_STATIC);
    return store_done(db, st);
}

#define COLS "id, name, tags, definition, description, created_at, updated_at, archived_at, size, size_at"

static void read_row(sqlite3_stmt *st, store_segment_row *r) {
    snprintf(r->id, sizeof r->id, "%s", (const char *)sqlite3_column_text(st, 0));
    r->name = store_col_text(st, 1);
    r->tags = store_col_text(st, 2);
    r->definition = store_col_text(st, 3);
    r->description = store_col_text(st, 4);
    r->created_at = sqlite3_column_int64(st, 5);
    r->updated_at = sqlite3_column_int64(st, 6);
    r->archived_at = sqlite3_column_int64(st, 7);
    r->size = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
    r->size_at = sqlite3_column_int64(st, 9);
}

int store_segment_get(sqlite3 *db, const char *id, store_segment_row *out) {
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM segments WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_row(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_segment_list(sqlite3 *db, bool archived, bool desc, int offset, int limit, store_segment_row **rows, int *n) {
    sqlite3_stmt *st;
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT " COLS " FROM segments %s ORDER BY created_at %s, id %s LIMIT ? OFFSET ?",
             archived ? "" : "WHERE archived_at = 0", desc ? "DESC" : "ASC", desc ? "DESC" : "ASC");
    *rows = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return BR_ESTORE;
    sqlite3_bind_int(st, 1, limit);
    sqlite3_bind_int(st, 2, offset);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *rows = xrealloc(*rows, (size_t)cap * sizeof **rows);
        }
        read_row(st, &(*rows)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_segment_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return BR_ESTORE;
    }
    return 0;
}

int store_segment_size_put(sqlite3 *db, const char *id, int64_t size, int64_t now_ms) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "UPDATE segments SET size = ?, size_at = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_int64(st, 1, size);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    if (store_done(db, st) < 0) return BR_ESTORE;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO segment_sizes (segment_id, day, size) VALUES (?, ?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms / DAY_MS);
    sqlite3_bind_int64(st, 3, size);
    return store_done(db, st);
}

int store_segment_count(sqlite3 *db, int64_t *n) {
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM segments WHERE archived_at = 0", -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : BR_ESTORE;
}

int store_segment_has_day(sqlite3 *db, const char *id, int64_t day, bool *has) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM segment_sizes WHERE segment_id = ? AND day = ?", -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, day);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    *has = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_segment_sizes(sqlite3 *db, const char *id, int64_t from, int64_t to, int64_t **days, int64_t **sizes, int *n) {
    sqlite3_stmt *st;
    *days = *sizes = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT day, size FROM segment_sizes WHERE segment_id = ? AND day BETWEEN ? AND ? ORDER BY day",
                           -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            *days = xrealloc(*days, (size_t)cap * sizeof **days);
            *sizes = xrealloc(*sizes, (size_t)cap * sizeof **sizes);
        }
        (*days)[*n] = sqlite3_column_int64(st, 0);
        (*sizes)[(*n)++] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}
