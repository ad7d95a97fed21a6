/* templates.c -- email template rows and transactional send ids (see
 * templates.h). */
#include "templates.h"
#include "store.h"
#include "../core/content_block.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_template_row_free(store_template_row *r) {
    free(r->name);
    free(r->description);
    free(r->tags);
    free(r->subject);
    free(r->body);
    free(r->plaintext_body);
    free(r->preheader);
    r->name = r->description = r->tags = r->subject = r->body = r->plaintext_body = r->preheader = NULL;
}

void store_template_rows_free(store_template_row *rows, int n) {
    for (int i = 0; i < n; i++) store_template_row_free(&rows[i]);
    free(rows);
}

#define COLS "id, name, description, tags, created_at, updated_at"
#define CONTENT ", subject, body, plaintext_body, preheader, should_inline_css"

/* Columns of COLS, then CONTENT's when with_content. */
static void read_row(sqlite3_stmt *st, store_template_row *r, bool with_content) {
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", (const char *)sqlite3_column_text(st, 0));
    r->name = store_col_text(st, 1);
    r->description = store_col_text(st, 2);
    r->tags = store_col_text(st, 3);
    r->created_at = sqlite3_column_int64(st, 4);
    r->updated_at = sqlite3_column_int64(st, 5);
    r->inline_css = -1;
    if (!with_content) return;
    r->subject = store_col_text(st, 6);
    r->body = store_col_text(st, 7);
    r->plaintext_body = sqlite3_column_type(st, 8) == SQLITE_NULL ? NULL : store_col_text(st, 8);
    r->preheader = sqlite3_column_type(st, 9) == SQLITE_NULL ? NULL : store_col_text(st, 9);
    if (sqlite3_column_type(st, 10) != SQLITE_NULL) r->inline_css = sqlite3_column_int(st, 10) != 0;
}

int store_template_get(sqlite3 *db, const char *id, store_template_row *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_prep(db, "SELECT " COLS CONTENT " FROM email_templates WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_row(st, out, true);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_template_list(sqlite3 *db, int64_t after, int64_t before, int offset, int limit, store_template_row **rows,
                        int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT " COLS " FROM email_templates WHERE updated_at BETWEEN ? AND ? "
                                      "ORDER BY created_at, rowid LIMIT ? OFFSET ?");
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
        store_template_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return BR_ESTORE;
    }
    return 0;
}

/* ---- the write ----------------------------------------------------------- */

typedef struct {
    sqlite3_stmt *st;
    int rc;
    char *why;
    size_t whylen;
} block_check;

/* cblock_ref_fn: stops at the first name that is no live Content Block. */
static int block_exists(void *ud, const char *name, size_t len) {
    block_check *c = ud;
    sqlite3_reset(c->st);
    sqlite3_bind_text(c->st, 1, name, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(c->st);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) return c->rc = BR_ESTORE;
    snprintf(c->why, c->whylen, "no Content Block named '%.*s'", len > 100 ? 100 : (int)len, name);
    return c->rc = BR_ETPLBLOCKS;
}

static int check_blocks(sqlite3 *db, const store_template_row *r, char *why, size_t whylen) {
    block_check c = {store_prep(db, "SELECT 1 FROM content_blocks WHERE name = ? AND archived_at = 0"), 0, why, whylen};
    if (!c.st) return BR_ESTORE;
    const char *fields[] = {r->subject, r->body, r->plaintext_body, r->preheader};
    for (size_t i = 0; i < 4 && !c.rc; i++)
        if (fields[i]) cblock_refs(fields[i], strlen(fields[i]), block_exists, &c);
    sqlite3_finalize(c.st);
    return c.rc;
}

static void bind_or_null(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

static int write_row(sqlite3 *db, const store_template_row *r, bool insert) {
    sqlite3_stmt *st = store_prep(db, insert ? "INSERT INTO email_templates (name, description, tags, created_at, "
                                               "updated_at, subject, body, plaintext_body, preheader, "
                                               "should_inline_css, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                             : "UPDATE email_templates SET name = ?, description = ?, tags = ?, "
                                               "created_at = ?, updated_at = ?, subject = ?, body = ?, "
                                               "plaintext_body = ?, preheader = ?, should_inline_css = ? WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->tags, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->created_at);
    sqlite3_bind_int64(st, 5, r->updated_at);
    sqlite3_bind_text(st, 6, r->subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->body, -1, SQLITE_STATIC);
    bind_or_null(st, 8, r->plaintext_body);
    bind_or_null(st, 9, r->preheader);
    if (r->inline_css < 0) sqlite3_bind_null(st, 10);
    else sqlite3_bind_int(st, 10, r->inline_css);
    sqlite3_bind_text(st, 11, r->id, -1, SQLITE_STATIC);
    return store_done(db, st);
}

static void replace(char **field, const char *v) {
    if (!v) return;
    free(*field);
    *field = xstrdup(v);
}

int store_template_write_op(sqlite3 *db, void *arg) {
    store_template_write *w = arg;
    store_template_row *r = &w->row;
    int rc;
    w->why[0] = '\0';
    if (w->id) {
        if ((rc = store_template_get(db, w->id, r)) < 0) return rc == BR_ENOTFOUND ? BR_ETPLID : rc;
    } else {
        memset(r, 0, sizeof *r);
        secret_new_key(r->id); /* a UUID v4 */
        r->created_at = clock_wall_ms();
        r->description = xstrdup("");
        r->tags = xstrdup("[]");
        r->inline_css = -1;
    }
    r->updated_at = clock_wall_ms();
    replace(&r->name, w->name);
    replace(&r->description, w->description);
    replace(&r->tags, w->tags);
    replace(&r->subject, w->subject);
    replace(&r->body, w->body);
    replace(&r->plaintext_body, w->plaintext_body);
    replace(&r->preheader, w->preheader);
    if (w->inline_css) r->inline_css = *w->inline_css;
    if ((rc = check_blocks(db, r, w->why, sizeof w->why)) < 0) return rc;
    return write_row(db, r, !w->id);
}

/* ---- transactional sends -------------------------------------------------- */

int store_txsend_get(sqlite3 *db, const char *campaign_id, const char *external_send_id, int64_t since,
                     char *dispatch_id, size_t len) {
    sqlite3_stmt *st = store_prep(db, "SELECT dispatch_id FROM transactional_sends "
                                      "WHERE campaign_id = ? AND external_send_id = ? AND at >= ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, campaign_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, external_send_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(dispatch_id, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_txsend_put(sqlite3 *db, const char *campaign_id, const char *external_send_id, const char *dispatch_id,
                     int64_t at, int64_t since) {
    sqlite3_stmt *st = store_prep(db, "DELETE FROM transactional_sends WHERE at < ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, since);
    int rc = store_done(db, st);
    if (rc < 0) return rc;
    st = store_prep(db, "INSERT OR REPLACE INTO transactional_sends (campaign_id, external_send_id, dispatch_id, at) "
                        "VALUES (?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, campaign_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, external_send_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dispatch_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, at);
    return store_done(db, st);
}
