/* content_blocks.c -- Content Block rows (see content_blocks.h). */
#include "content_blocks.h"
#include "store.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_block_row_free(store_block_row *r) {
    free(r->name);
    free(r->description);
    free(r->tags);
    free(r->content);
    r->name = r->description = r->tags = r->content = NULL;
}

void store_block_rows_free(store_block_row *rows, int n) {
    for (int i = 0; i < n; i++) store_block_row_free(&rows[i]);
    free(rows);
}

#define COLS "id, name, description, tags, content_type, state, created_at, updated_at, archived_at"

/* Columns of COLS, then content when with_content. */
static void read_row(sqlite3_stmt *st, store_block_row *r, bool with_content) {
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", (const char *)sqlite3_column_text(st, 0));
    r->name = store_col_text(st, 1);
    r->description = store_col_text(st, 2);
    r->tags = store_col_text(st, 3);
    snprintf(r->content_type, sizeof r->content_type, "%s", (const char *)sqlite3_column_text(st, 4));
    const unsigned char *state = sqlite3_column_text(st, 5);
    r->state = state && !strcmp((const char *)state, "draft") ? CBLOCK_DRAFT : CBLOCK_ACTIVE;
    r->created_at = sqlite3_column_int64(st, 6);
    r->updated_at = sqlite3_column_int64(st, 7);
    r->archived_at = sqlite3_column_int64(st, 8);
    if (with_content) r->content = store_col_text(st, 9);
}

int store_block_by_id(sqlite3 *db, const char *id, store_block_row *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_prep(db, "SELECT " COLS ", content FROM content_blocks WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_row(st, out, true);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_block_list(sqlite3 *db, int64_t after, int64_t before, int offset, int limit, store_block_row **rows,
                     int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT " COLS " FROM content_blocks WHERE archived_at = 0 AND "
                                      "updated_at BETWEEN ? AND ? ORDER BY created_at, rowid LIMIT ? OFFSET ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int(st, 3, limit);
    sqlite3_bind_int(st, 4, offset);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *rows = xrealloc(*rows, (size_t)cap * sizeof **rows);
        }
        read_row(st, &(*rows)[(*n)++], false);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_block_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return BR_ESTORE;
    }
    return 0;
}

/* Whether a block other than `except` (NULL: any) has this name. */
static int name_taken(sqlite3 *db, const char *name, const char *except, bool *taken) {
    sqlite3_stmt *st = store_prep(db, "SELECT 1 FROM content_blocks WHERE name = ? AND id <> ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, except ? except : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    *taken = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

static int write_row(sqlite3 *db, const store_block_row *r, const char *content, bool insert) {
    sqlite3_stmt *st = store_prep(db, insert ? "INSERT INTO content_blocks (name, description, tags, content_type, "
                                               "state, created_at, updated_at, content, id) "
                                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                             : "UPDATE content_blocks SET name = ?, description = ?, tags = ?, "
                                               "content_type = ?, state = ?, created_at = ?, updated_at = ?, "
                                               "content = ? WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, cblock_state_name(r->state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->created_at);
    sqlite3_bind_int64(st, 7, r->updated_at);
    sqlite3_bind_text(st, 8, content, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, r->id, -1, SQLITE_STATIC);
    return store_done(db, st);
}

static void replace(char **field, const char *v) {
    free(*field);
    *field = xstrdup(v);
}

int store_block_write_op(sqlite3 *db, void *arg) {
    store_block_write *w = arg;
    store_block_row *r = &w->row;
    int64_t now = clock_wall_ms();
    int rc;
    if (w->id) {
        if ((rc = store_block_by_id(db, w->id, r)) < 0) return rc == BR_ENOTFOUND ? BR_ECBID : rc;
        if (r->archived_at) return BR_ECBDELETED;
        if ((rc = cblock_check_update(r->state, r->name, w->name, w->state)) < 0) return rc;
    } else {
        memset(r, 0, sizeof *r);
        secret_new_key(r->id); /* a UUID v4 */
        r->created_at = now;
        r->description = xstrdup("");
        r->tags = xstrdup("[]");
        r->state = CBLOCK_ACTIVE;
    }
    r->updated_at = now;
    if (w->name) replace(&r->name, w->name);
    if (w->description) replace(&r->description, w->description);
    if (w->tags) replace(&r->tags, w->tags);
    if (w->content) replace(&r->content, w->content);
    if (w->state) r->state = *w->state;
    if (w->name) {
        bool taken;
        if ((rc = name_taken(db, r->name, w->id, &taken)) < 0) return rc;
        if (taken) return BR_ECBNAMETAKEN;
    }
    if (cblock_refers_to(r->content, strlen(r->content), r->name)) return BR_ECBSELFREF;
    snprintf(r->content_type, sizeof r->content_type, "%s", cblock_content_type(r->content, strlen(r->content)));
    if ((rc = write_row(db, r, r->content, !w->id)) < 0) return rc;
    free(r->content); /* the caller has it; the answer does not carry it */
    r->content = NULL;
    return 0;
}

int store_block_memo(sqlite3 *db, json_object *memo, const char *name, const char **src, size_t *len) {
    json_object *v;
    if (!json_object_object_get_ex(memo, name, &v)) {
        char *content = NULL;
        int rc = store_block_get(db, name, &content);
        if (rc < 0) return rc;
        v = rc == 1 ? json_object_new_string(content) : NULL;
        json_object_object_add(memo, name, v);
        free(content);
    }
    if (!v) return 0;
    *src = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return 1;
}

int store_block_get(sqlite3 *db, const char *name, char **content) {
    *content = NULL;
    sqlite3_stmt *st = store_prep(db, "SELECT content FROM content_blocks "
                                      "WHERE name = ? AND state = 'active' AND archived_at = 0");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *content = store_col_text(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : BR_ESTORE;
}
