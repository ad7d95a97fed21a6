/* conversions.c -- rows of campaign conversions (see conversions.h). */
#include "conversions.h"
#include "store.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

int store_conv_cursor(sqlite3 *db, int64_t *seq) {
    sqlite3_stmt *st = store_prep(db, "SELECT seq FROM conversion_cursor WHERE id = 0");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st);
    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_conv_outbox(sqlite3 *db, int64_t after, int limit, store_outbox_row **rows, int *n) {
    sqlite3_stmt *st = store_prep(db, "SELECT seq, events FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, limit);
    int cap = 0, rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 64) * sizeof **rows);
        store_outbox_row *r = &(*rows)[(*n)++];
        r->seq = sqlite3_column_int64(st, 0);
        r->events = store_col_text(st, 1);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_outbox_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

void store_outbox_rows_free(store_outbox_row *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].events);
    free(rows);
}

int store_conv_any_received(sqlite3 *db) {
    sqlite3_stmt *st = store_prep(db, "SELECT 1 FROM received LIMIT 1");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_conv_received(sqlite3 *db, const uint8_t braze_id[12], store_recv_row **rows, int *n) {
    sqlite3_stmt *st = store_prep(db, "SELECT campaign_id, variation_id, channel, in_control, at, send_id, dispatch_id FROM received "
                                      "WHERE braze_id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_blob(st, 1, braze_id, 12, SQLITE_STATIC);
    int cap = 0, rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 4) * sizeof **rows);
        store_recv_row *r = &(*rows)[(*n)++];
        r->campaign_id = store_col_text(st, 0);
        r->variation_id = store_col_text(st, 1);
        r->channel = store_col_text(st, 2);
        r->in_control = sqlite3_column_int(st, 3) != 0;
        r->at = sqlite3_column_int64(st, 4);
        r->send_id = store_col_text(st, 5);
        r->dispatch_id = store_col_text(st, 6);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_recv_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

void store_recv_rows_free(store_recv_row *rows, int n) {
    for (int i = 0; i < n; i++) {
        free(rows[i].campaign_id);
        free(rows[i].variation_id);
        free(rows[i].channel);
        free(rows[i].send_id);
        free(rows[i].dispatch_id);
    }
    free(rows);
}

int store_conv_op(sqlite3 *db, void *arg) {
    store_conv_batch *b = arg;
    b->counted = 0;
    sqlite3_stmt *st = store_prep(db, "INSERT INTO conversion_cursor (id, seq) VALUES (0, ?1) "
                                      "ON CONFLICT (id) DO UPDATE SET seq = ?1");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, b->cursor);
    int rc = store_done(db, st);
    if (rc < 0 || !b->n) return rc;
    sqlite3_stmt *ins = store_prep(db, "INSERT OR IGNORE INTO conversions (braze_id, campaign_id, idx, received_at, at) "
                                       "VALUES (?, ?, ?, ?, ?)");
    sqlite3_stmt *up = store_prep(db, "INSERT INTO message_stats (campaign_id, send_id, variation_id, channel, day, "
                                      "conversions, conversions1, conversions2, conversions3, revenue) "
                                      "VALUES (?1, ?10, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO UPDATE SET "
                                      "conversions = conversions + ?5, conversions1 = conversions1 + ?6, "
                                      "conversions2 = conversions2 + ?7, conversions3 = conversions3 + ?8, "
                                      "revenue = revenue + ?9");
    buf_t ev = BUF_INIT;
    buf_append(&ev, "[", 1);
    for (int i = 0; ins && up && i < b->n && rc == 0; i++) {
        const store_conversion *c = &b->v[i];
        if (c->idx >= 0) {
            sqlite3_reset(ins);
            sqlite3_bind_blob(ins, 1, c->braze_id, 12, SQLITE_STATIC);
            sqlite3_bind_text(ins, 2, c->campaign_id, -1, SQLITE_STATIC);
            sqlite3_bind_int(ins, 3, c->idx);
            sqlite3_bind_int64(ins, 4, c->received_at);
            sqlite3_bind_int64(ins, 5, c->at);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                rc = BR_ESTORE;
                break;
            }
            if (sqlite3_changes(db) == 0) continue; /* converted already for this message */
            b->counted++;
            if (c->event) {
                if (ev.len > 1) buf_append(&ev, ",", 1);
                buf_puts(&ev, c->event);
            }
        }
        sqlite3_reset(up);
        sqlite3_bind_text(up, 1, c->campaign_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 2, c->variation_id ? c->variation_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 3, c->channel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 4, c->at / DAY_MS);
        for (int k = 0; k < 4; k++) sqlite3_bind_int(up, 5 + k, c->idx == k);
        sqlite3_bind_double(up, 9, c->revenue);
        sqlite3_bind_text(up, 10, c->send_id ? c->send_id : "", -1, SQLITE_STATIC);
        if (sqlite3_step(up) != SQLITE_DONE) rc = BR_ESTORE;
    }
    if (!ins || !up) rc = BR_ESTORE;
    sqlite3_finalize(ins);
    sqlite3_finalize(up);
    if (rc == 0 && ev.len > 1) {
        buf_append(&ev, "]", 1);
        buf_append(&ev, "", 1);
        if (!(st = store_prep(db, "INSERT INTO message_outbox (at, events) VALUES (?, ?)"))) rc = BR_ESTORE;
        else {
            sqlite3_bind_int64(st, 1, b->now_ms);
            sqlite3_bind_text(st, 2, ev.data, -1, SQLITE_STATIC);
            rc = store_done(db, st);
        }
    }
    buf_free(&ev);
    return rc;
}
