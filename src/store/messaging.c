/* messaging.c -- rows of the messaging tables (see messaging.h). */
#include "messaging.h"
#include "email.h"
#include "postbacks.h"
#include "store.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) { return store_prep(db, sql); }

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* The one-row answer of st: 0 with the row current, BR_ENOTFOUND, or BR_ESTORE. */
static int one_row(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 0;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

static int64_t col_ms(sqlite3_stmt *st, int i) { return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i); }

/* ---- apps ---------------------------------------------------------------- */

int store_app_insert(sqlite3 *db, const char *app_id, const char *name, const char *platform, int64_t now_ms) {
    sqlite3_stmt *st = prep(db, "INSERT INTO apps (app_id, name, platform, created_at) VALUES (?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, app_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, platform, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    return store_done(db, st);
}

int store_app_exists(sqlite3 *db, const char *app_id) {
    sqlite3_stmt *st = prep(db, "SELECT 1 FROM apps WHERE app_id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, app_id, -1, SQLITE_STATIC);
    int rc = one_row(st);
    if (rc == 0) sqlite3_finalize(st);
    return rc;
}

int store_app_list(sqlite3 *db, char **json) {
    sqlite3_stmt *st = prep(db, "SELECT json_group_array(json_object('app_id', app_id, 'name', name, 'platform', platform, "
                                "'created_at', created_at)) FROM (SELECT * FROM apps ORDER BY created_at, app_id)");
    if (!st) return BR_ESTORE;
    int rc = one_row(st);
    if (rc < 0) return rc;
    *json = store_col_text(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* ---- campaigns ----------------------------------------------------------- */

int store_campaign_put(sqlite3 *db, const char *id, const char *name, const char *kind, bool archived, const char *doc,
                       int64_t created_at, int64_t updated_at) {
    sqlite3_stmt *st = prep(db, "INSERT INTO campaigns (id, name, kind, archived, doc, created_at, updated_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET name = ?2, "
                                "archived = ?4, doc = ?5, updated_at = ?7");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, archived);
    sqlite3_bind_text(st, 5, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, created_at);
    sqlite3_bind_int64(st, 7, updated_at);
    return store_done(db, st);
}

#define CAMP_COLS "id, doc, created_at, updated_at, first_sent, last_sent, archived"

static void read_campaign(sqlite3_stmt *st, store_campaign_row *r) {
    r->id = store_col_text(st, 0);
    r->doc = store_col_text(st, 1);
    r->created_at = col_ms(st, 2);
    r->updated_at = col_ms(st, 3);
    r->first_sent = col_ms(st, 4);
    r->last_sent = col_ms(st, 5);
    r->archived = sqlite3_column_int(st, 6);
}

int store_campaign_get(sqlite3 *db, const char *id, store_campaign_row *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = prep(db, "SELECT " CAMP_COLS " FROM campaigns WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = one_row(st);
    if (rc < 0) return rc;
    read_campaign(st, out);
    sqlite3_finalize(st);
    return 0;
}

int store_campaign_list(sqlite3 *db, bool archived, bool desc, int64_t edited_after, int offset, int limit,
                        store_campaign_row **rows, int *n) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT " CAMP_COLS " FROM campaigns WHERE (?1 OR archived = 0) AND updated_at > ?2 "
                              "ORDER BY seq %s LIMIT ?3 OFFSET ?4", desc ? "DESC" : "ASC");
    sqlite3_stmt *st = prep(db, sql);
    if (!st) return BR_ESTORE;
    sqlite3_bind_int(st, 1, archived);
    sqlite3_bind_int64(st, 2, edited_after);
    sqlite3_bind_int(st, 3, limit);
    sqlite3_bind_int(st, 4, offset);
    int cap = 0, rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **rows);
        read_campaign(st, &(*rows)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_campaign_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return BR_ESTORE;
    }
    return 0;
}

int store_campaign_count(sqlite3 *db, int64_t *n) {
    sqlite3_stmt *st = prep(db, "SELECT count(*) FROM campaigns WHERE archived = 0");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : BR_ESTORE;
}

void store_campaign_row_free(store_campaign_row *r) {
    free(r->id);
    free(r->doc);
    r->id = r->doc = NULL;
}

void store_campaign_rows_free(store_campaign_row *rows, int n) {
    for (int i = 0; i < n; i++) store_campaign_row_free(&rows[i]);
    free(rows);
}

/* ---- send ids ------------------------------------------------------------ */

int store_send_id_create(sqlite3 *db, const char *campaign_id, const char *send_id, int64_t now_ms, int64_t day_start_ms,
                         int per_day) {
    int rc = store_send_id_exists(db, campaign_id, send_id);
    if (rc == 0) return BR_EEXISTS;
    if (rc != BR_ENOTFOUND) return rc;
    sqlite3_stmt *st = prep(db, "SELECT count(*) FROM send_ids WHERE created_at >= ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, day_start_ms);
    if ((rc = one_row(st)) < 0) return rc;
    int64_t today = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (today >= per_day) return BR_ERATE;
    if (!(st = prep(db, "INSERT INTO send_ids (campaign_id, send_id, created_at) VALUES (?, ?, ?)"))) return BR_ESTORE;
    sqlite3_bind_text(st, 1, campaign_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, send_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    return store_done(db, st);
}

int store_send_id_exists(sqlite3 *db, const char *campaign_id, const char *send_id) {
    sqlite3_stmt *st = prep(db, "SELECT 1 FROM send_ids WHERE campaign_id = ?1 AND send_id = ?2 "
                                "UNION ALL SELECT 1 FROM dispatches WHERE campaign_id = ?1 AND send_id = ?2 LIMIT 1");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, campaign_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, send_id, -1, SQLITE_STATIC);
    int rc = one_row(st);
    if (rc == 0) sqlite3_finalize(st);
    return rc;
}

/* ---- schedules ----------------------------------------------------------- */

int store_schedule_insert(sqlite3 *db, const store_schedule_row *r) {
    sqlite3_stmt *st = prep(db, "INSERT INTO schedules (id, campaign_id, send_id, request, at, state, dispatch_id, "
                                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, r->campaign_id);
    bind_text_or_null(st, 3, r->send_id);
    sqlite3_bind_text(st, 4, r->request, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->at);
    sqlite3_bind_text(st, 6, r->dispatch_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->created_at);
    sqlite3_bind_int64(st, 8, r->created_at);
    return store_done(db, st);
}

static int changed_one(sqlite3 *db, sqlite3_stmt *st) {
    int rc = store_done(db, st);
    return rc < 0 ? rc : sqlite3_changes(db) ? 0 : BR_ENOTFOUND;
}

int store_schedule_update(sqlite3 *db, const char *id, const char *request, int64_t at, int64_t now_ms) {
    sqlite3_stmt *st = prep(db, "UPDATE schedules SET request = ?, at = ?, updated_at = ? WHERE id = ? AND state = 0");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, request, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    return changed_one(db, st);
}

int store_schedule_set_state(sqlite3 *db, const char *id, int state, int64_t now_ms) {
    sqlite3_stmt *st = prep(db, "UPDATE schedules SET state = ?, updated_at = ? WHERE id = ? AND state = 0");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int(st, 1, state);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    return changed_one(db, st);
}

int store_schedule_fire(sqlite3 *db, const char *id, int64_t updated_at, int64_t now_ms, const store_schedule_wave *w) {
    sqlite3_stmt *st = prep(db, "UPDATE schedules SET state = ?, at = coalesce(?, at), sent = coalesce(?, sent), "
                                "fallback_hour = coalesce(?, fallback_hour), updated_at = ? "
                                "WHERE id = ? AND state = 0 AND updated_at = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int(st, 1, w && w->next ? SCHED_PENDING : SCHED_FIRED);
    if (w && w->next) sqlite3_bind_int64(st, 2, w->next);
    if (w && w->sent) sqlite3_bind_blob(st, 3, w->sent, (int)w->sent_len, SQLITE_STATIC);
    if (w) sqlite3_bind_int(st, 4, w->fallback_hour);
    sqlite3_bind_int64(st, 5, now_ms);
    sqlite3_bind_text(st, 6, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, updated_at);
    return changed_one(db, st);
}

#define SCHED_COLS "id, campaign_id, send_id, request, dispatch_id, at, created_at, updated_at, state, sent, fallback_hour"

static void read_schedule(sqlite3_stmt *st, store_schedule_row *r) {
    r->id = store_col_text(st, 0);
    r->campaign_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : store_col_text(st, 1);
    r->send_id = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : store_col_text(st, 2);
    r->request = store_col_text(st, 3);
    r->dispatch_id = store_col_text(st, 4);
    r->at = sqlite3_column_int64(st, 5);
    r->created_at = sqlite3_column_int64(st, 6);
    r->updated_at = sqlite3_column_int64(st, 7);
    r->state = sqlite3_column_int(st, 8);
    r->sent = NULL;
    r->sent_len = 0;
    if (sqlite3_column_type(st, 9) == SQLITE_BLOB) {
        r->sent_len = (size_t)sqlite3_column_bytes(st, 9);
        r->sent = xmalloc(r->sent_len + 1);
        memcpy(r->sent, sqlite3_column_blob(st, 9), r->sent_len);
    }
    r->has_fallback = sqlite3_column_type(st, 10) != SQLITE_NULL;
    r->fallback_hour = sqlite3_column_int(st, 10);
}

int store_schedule_get(sqlite3 *db, const char *id, store_schedule_row *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = prep(db, "SELECT " SCHED_COLS " FROM schedules WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = one_row(st);
    if (rc < 0) return rc;
    read_schedule(st, out);
    sqlite3_finalize(st);
    return 0;
}

int store_schedule_due(sqlite3 *db, int64_t until, int limit, store_schedule_row **rows, int *n) {
    sqlite3_stmt *st = prep(db, "SELECT " SCHED_COLS " FROM schedules WHERE state = 0 AND at <= ? ORDER BY at LIMIT ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, until);
    sqlite3_bind_int(st, 2, limit);
    int cap = 0, rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 8) * sizeof **rows);
        read_schedule(st, &(*rows)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_schedule_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

int store_schedule_next(sqlite3 *db, int64_t *at) {
    sqlite3_stmt *st = prep(db, "SELECT min(at) FROM schedules WHERE state = 0");
    if (!st) return BR_ESTORE;
    int rc = one_row(st);
    if (rc < 0) return rc;
    rc = sqlite3_column_type(st, 0) == SQLITE_NULL ? BR_ENOTFOUND : 0;
    *at = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

void store_schedule_row_free(store_schedule_row *r) {
    free(r->id);
    free(r->campaign_id);
    free(r->send_id);
    free(r->request);
    free(r->dispatch_id);
    free(r->sent);
    memset(r, 0, sizeof *r);
}

void store_schedule_rows_free(store_schedule_row *rows, int n) {
    for (int i = 0; i < n; i++) store_schedule_row_free(&rows[i]);
    free(rows);
}

/* ---- dispatches ---------------------------------------------------------- */

int store_dispatch_insert(sqlite3 *db, const store_dispatch_row *r) {
    sqlite3_stmt *st = prep(db, "INSERT INTO dispatches (id, campaign_id, send_id, request, audience, total, skipped, "
                                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, r->campaign_id);
    bind_text_or_null(st, 3, r->send_id);
    sqlite3_bind_text(st, 4, r->request, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, r->audience, (int)r->audience_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->total);
    sqlite3_bind_int64(st, 7, r->skipped);
    sqlite3_bind_int64(st, 8, r->created_at);
    int rc = store_done(db, st);
    if (rc < 0 || !r->campaign_id) return rc;
    if (!(st = prep(db, "UPDATE campaigns SET first_sent = coalesce(first_sent, ?1), last_sent = ?1 WHERE id = ?2")))
        return BR_ESTORE;
    sqlite3_bind_int64(st, 1, r->created_at);
    sqlite3_bind_text(st, 2, r->campaign_id, -1, SQLITE_STATIC);
    return store_done(db, st);
}

int store_dispatch_get(sqlite3 *db, const char *id, bool with_audience, store_dispatch_row *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = prep(db, "SELECT id, campaign_id, send_id, request, total, cursor, sent, errors, skipped, aborted, "
                                "created_at, done_at, state, audience FROM dispatches WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = one_row(st);
    if (rc < 0) return rc;
    out->id = store_col_text(st, 0);
    out->campaign_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : store_col_text(st, 1);
    out->send_id = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : store_col_text(st, 2);
    out->request = store_col_text(st, 3);
    int64_t *f[] = {&out->total, &out->cursor, &out->sent, &out->errors, &out->skipped, &out->aborted, &out->created_at,
                    &out->done_at};
    for (int i = 0; i < 8; i++) *f[i] = col_ms(st, 4 + i);
    out->state = sqlite3_column_int(st, 12);
    if (with_audience) {
        out->audience_len = (size_t)sqlite3_column_bytes(st, 13);
        out->audience = xmalloc(out->audience_len + 1);
        memcpy(out->audience, sqlite3_column_blob(st, 13), out->audience_len);
    }
    sqlite3_finalize(st);
    return 0;
}

int store_dispatch_total(sqlite3 *db, const char *id, store_dispatch_row *out, int *rows) {
    memset(out, 0, sizeof *out);
    /* the dispatch itself, or the waves "<id>.<k>" of a local-time or optimal-time schedule */
    sqlite3_stmt *st = prep(db, "SELECT count(*), min(campaign_id), min(send_id), sum(total), sum(cursor), sum(sent), "
                                "sum(errors), sum(skipped), sum(aborted), min(created_at), max(done_at), min(state) "
                                "FROM dispatches WHERE id = ?1 OR (id > ?1 || '.' AND id < ?1 || '/')");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = one_row(st);
    if (rc < 0) return rc;
    *rows = sqlite3_column_int(st, 0);
    if (*rows) {
        out->id = xstrdup(id);
        out->campaign_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : store_col_text(st, 1);
        out->send_id = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : store_col_text(st, 2);
        int64_t *f[] = {&out->total, &out->cursor, &out->sent, &out->errors, &out->skipped, &out->aborted, &out->created_at,
                        &out->done_at};
        for (int i = 0; i < 8; i++) *f[i] = col_ms(st, 3 + i);
        out->state = sqlite3_column_int(st, 11);
        if (out->state != DISPATCH_DONE) out->done_at = 0;
    }
    sqlite3_finalize(st);
    return *rows ? 0 : BR_ENOTFOUND;
}

int store_dispatch_active(sqlite3 *db, char ***ids, int *n) {
    sqlite3_stmt *st = prep(db, "SELECT id FROM dispatches WHERE state = 0 ORDER BY seq");
    if (!st) return BR_ESTORE;
    int cap = 0, rc;
    *ids = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *ids = xrealloc(*ids, (size_t)(cap = cap ? cap * 2 : 8) * sizeof **ids);
        (*ids)[(*n)++] = store_col_text(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_dispatch_pending(sqlite3 *db, int64_t *dispatches, int64_t *recipients) {
    sqlite3_stmt *st = prep(db, "SELECT count(*), coalesce(sum(total - cursor), 0) FROM dispatches WHERE state = 0");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st);
    *dispatches = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *recipients = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : BR_ESTORE;
}

void store_dispatch_row_free(store_dispatch_row *r) {
    free(r->id);
    free(r->campaign_id);
    free(r->send_id);
    free(r->request);
    free(r->audience);
    memset(r, 0, sizeof *r);
}

/* ---- progress ------------------------------------------------------------ */

static int add_stat(sqlite3_stmt *st, const store_stat_delta *d, int64_t unique) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, d->campaign_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->send_id ? d->send_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, d->variation_id ? d->variation_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->channel, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, d->day);
    sqlite3_bind_int64(st, 6, d->sent);
    sqlite3_bind_int64(st, 7, d->errors);
    sqlite3_bind_int64(st, 8, d->enrolled);
    sqlite3_bind_int64(st, 9, unique);
    sqlite3_bind_int64(st, 10, d->bounces);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_progress_op(sqlite3 *db, void *arg) {
    store_progress *p = arg;
    int rc = 0;
    sqlite3_stmt *st = prep(db, "UPDATE dispatches SET cursor = ?, sent = sent + ?, errors = errors + ?, "
                                "skipped = skipped + ?, aborted = aborted + ?, state = ?, done_at = ? WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, p->cursor);
    sqlite3_bind_int64(st, 2, p->sent);
    sqlite3_bind_int64(st, 3, p->errors);
    sqlite3_bind_int64(st, 4, p->skipped);
    sqlite3_bind_int64(st, 5, p->aborted);
    sqlite3_bind_int(st, 6, p->done ? DISPATCH_DONE : DISPATCH_SENDING);
    if (p->done) sqlite3_bind_int64(st, 7, p->now_ms);
    else sqlite3_bind_null(st, 7);
    sqlite3_bind_text(st, 8, p->dispatch_id, -1, SQLITE_STATIC);
    if ((rc = store_done(db, st)) < 0) return rc;

    /* What each user received; whether it is their first of this campaign today. */
    if (p->nreceived) {
        sqlite3_stmt *get = prep(db, "SELECT at FROM received WHERE braze_id = ? AND campaign_id = ?");
        sqlite3_stmt *put = prep(db, "INSERT OR REPLACE INTO received (braze_id, campaign_id, variation_id, channel, "
                                     "in_control, at, send_id, dispatch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        for (int i = 0; get && put && i < p->nreceived && rc == 0; i++) {
            store_received *r = &p->received[i];
            sqlite3_reset(get);
            sqlite3_bind_blob(get, 1, r->braze_id, 12, SQLITE_STATIC);
            sqlite3_bind_text(get, 2, p->campaign_id, -1, SQLITE_STATIC);
            int s = sqlite3_step(get);
            r->first_today = s == SQLITE_DONE || sqlite3_column_int64(get, 0) / DAY_MS != r->at / DAY_MS;
            if (s != SQLITE_DONE && s != SQLITE_ROW) rc = BR_ESTORE;
            sqlite3_reset(put);
            sqlite3_bind_blob(put, 1, r->braze_id, 12, SQLITE_STATIC);
            sqlite3_bind_text(put, 2, p->campaign_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(put, 3, r->variation_id ? r->variation_id : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(put, 4, r->channel, -1, SQLITE_STATIC);
            sqlite3_bind_int(put, 5, r->in_control);
            sqlite3_bind_int64(put, 6, r->at);
            sqlite3_bind_text(put, 7, p->send_id ? p->send_id : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(put, 8, p->dispatch_id, (int)strcspn(p->dispatch_id, "."), SQLITE_STATIC);
            if (sqlite3_step(put) != SQLITE_DONE) rc = BR_ESTORE;
        }
        if (!get || !put) rc = BR_ESTORE;
        sqlite3_finalize(get);
        sqlite3_finalize(put);
        if (rc < 0) return rc;
    }

    if (p->ndelivered) {
        sqlite3_stmt *ins = prep(db, "INSERT INTO deliveries (braze_id, channel, at) VALUES (?, ?, ?)");
        for (int i = 0; ins && i < p->ndelivered && rc == 0; i++) {
            sqlite3_reset(ins);
            sqlite3_bind_blob(ins, 1, p->delivered[i].braze_id, 12, SQLITE_STATIC);
            sqlite3_bind_text(ins, 2, p->delivered[i].channel, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 3, p->delivered[i].at);
            if (sqlite3_step(ins) != SQLITE_DONE) rc = BR_ESTORE;
        }
        if (!ins) rc = BR_ESTORE;
        sqlite3_finalize(ins);
        if (rc < 0) return rc;
    }
    if (p->done) {
        if (!(st = prep(db, "DELETE FROM deliveries WHERE at < ?"))) return BR_ESTORE;
        sqlite3_bind_int64(st, 1, p->now_ms - (int64_t)STORE_CAP_HOURS_MAX * 3600000);
        if ((rc = store_done(db, st)) < 0) return rc;
    }

    if (p->nstats) {
        sqlite3_stmt *up = prep(db, "INSERT INTO message_stats (campaign_id, send_id, variation_id, channel, day, sent, "
                                    "errors, enrolled, unique_recipients, bounces) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                                    "ON CONFLICT DO UPDATE SET sent = sent + ?6, errors = errors + ?7, "
                                    "enrolled = enrolled + ?8, unique_recipients = unique_recipients + ?9, bounces = bounces + ?10");
        if (!up) return BR_ESTORE;
        for (int i = 0; i < p->nstats && rc == 0; i++) {
            const store_stat_delta *d = &p->stats[i];
            int64_t unique = 0;
            for (int j = 0; j < p->nreceived; j++) {
                const store_received *r = &p->received[j];
                unique += r->first_today && !strcmp(r->channel, d->channel) && r->at / DAY_MS == d->day &&
                          !strcmp(r->variation_id ? r->variation_id : "", d->variation_id ? d->variation_id : "");
            }
            rc = add_stat(up, d, unique);
        }
        sqlite3_finalize(up);
        if (rc < 0) return rc;
    }

    for (int i = 0; i < p->nbounced && rc == 0; i++) rc = store_email_bounce_add(db, p->bounced[2 * i], p->bounced[2 * i + 1], p->now_ms);
    if (rc < 0) return rc;

    if (p->events) {
        if (!(st = prep(db, "INSERT INTO message_outbox (at, events) VALUES (?, ?)"))) return BR_ESTORE;
        sqlite3_bind_int64(st, 1, p->now_ms);
        sqlite3_bind_text(st, 2, p->events, -1, SQLITE_STATIC);
        rc = store_done(db, st);
    }
    if (rc == 0) rc = store_postbacks_put(db, p->postbacks, p->npostbacks, p->now_ms);
    return rc;
}

/* ---- frequency capping ----------------------------------------------------- */

int store_caps_get(sqlite3 *db, store_cap *caps, int *n) {
    sqlite3_stmt *st = prep(db, "SELECT channel, max_messages, period_hours FROM frequency_caps ORDER BY id LIMIT ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int(st, 1, STORE_CAPS_MAX);
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_cap *c = &caps[(*n)++];
        snprintf(c->channel, sizeof c->channel, "%s", (const char *)sqlite3_column_text(st, 0));
        c->max_messages = sqlite3_column_int64(st, 1);
        c->period_hours = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_caps_set(sqlite3 *db, const store_cap *caps, int n) {
    int rc = store_sql(db, "DELETE FROM frequency_caps");
    for (int i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = prep(db, "INSERT INTO frequency_caps (channel, max_messages, period_hours) VALUES (?, ?, ?)");
        if (!st) return BR_ESTORE;
        sqlite3_bind_text(st, 1, caps[i].channel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, caps[i].max_messages);
        sqlite3_bind_int64(st, 3, caps[i].period_hours);
        rc = store_done(db, st);
    }
    return rc;
}

int store_deliveries_count(sqlite3 *db, const uint8_t braze_id[12], const char *channel, int64_t since_ms, int64_t *n) {
    sqlite3_stmt *st = prep(db, "SELECT count(*) FROM deliveries WHERE braze_id = ?1 AND at > ?2 AND (?3 IS NULL OR channel = ?3)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_blob(st, 1, braze_id, 12, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since_ms);
    bind_text_or_null(st, 3, channel);
    int rc = one_row(st);
    if (rc < 0) return rc;
    *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* ---- statistics ---------------------------------------------------------- */

int store_msg_stats(sqlite3 *db, const char *campaign_id, const char *send_id, int64_t from_day, int64_t to_day,
                store_stat_row **rows, int *n) {
    sqlite3_stmt *st = prep(db, "SELECT variation_id, channel, day, sum(sent), sum(errors), sum(enrolled), "
                                "sum(unique_recipients), sum(conversions), sum(conversions1), sum(conversions2), "
                                "sum(conversions3), sum(revenue), sum(bounces), sum(opens), sum(unique_opens), sum(machine_opens), "
                                "sum(clicks), sum(unique_clicks), sum(unsubscribes) FROM message_stats WHERE campaign_id = ?1 AND "
                                "(?2 IS NULL OR send_id = ?2) AND day BETWEEN ?3 AND ?4 "
                                "GROUP BY day, variation_id, channel ORDER BY day, variation_id");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, campaign_id, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, send_id);
    sqlite3_bind_int64(st, 3, from_day);
    sqlite3_bind_int64(st, 4, to_day);
    int cap = 0, rc;
    *rows = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **rows);
        store_stat_row *r = &(*rows)[(*n)++];
        r->variation_id = store_col_text(st, 0);
        r->channel = store_col_text(st, 1);
        r->day = sqlite3_column_int64(st, 2);
        r->sent = sqlite3_column_int64(st, 3);
        r->errors = sqlite3_column_int64(st, 4);
        r->enrolled = sqlite3_column_int64(st, 5);
        r->unique_recipients = sqlite3_column_int64(st, 6);
        for (int i = 0; i < 4; i++) r->conversions[i] = sqlite3_column_int64(st, 7 + i);
        r->revenue = sqlite3_column_double(st, 11);
        r->bounces = sqlite3_column_int64(st, 12);
        for (int i = 0; i < 6; i++) r->email[i] = sqlite3_column_int64(st, 13 + i);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_stat_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

void store_stat_rows_free(store_stat_row *rows, int n) {
    for (int i = 0; i < n; i++) {
        free(rows[i].variation_id);
        free(rows[i].channel);
    }
    free(rows);
}

/* What a user received, oldest first (or the latest `limit`, newest
 * first): one query for the export and the console. */
static int received_json(sqlite3 *db, const uint8_t braze_id[12], bool latest, int limit, char **json) {
    /* Braze's shape, with the campaign's and the variation's current names */
    sqlite3_stmt *st = prep(db, "SELECT json_group_array(json_object('name', c.name, 'api_campaign_id', r.campaign_id, "
                                "'last_received', strftime('%Y-%m-%dT%H:%M:%fZ', r.at / 1000.0, 'unixepoch'), "
                                "'variation_api_id', r.variation_id, 'variation_name', "
                                "(SELECT json_extract(v.value, '$.name') FROM json_each(c.doc, '$.variations') v "
                                "WHERE json_extract(v.value, '$.id') = r.variation_id), 'channel', r.channel, "
                                "'in_control', json(CASE WHEN r.in_control THEN 'true' ELSE 'false' END), "
                                "'converted', json(CASE WHEN EXISTS (SELECT 1 FROM conversions v WHERE v.braze_id = r.braze_id AND "
                                "v.campaign_id = r.campaign_id AND v.received_at = r.at) THEN 'true' ELSE 'false' END), 'engaged', json_object('opened_email', json(CASE WHEN r.opened THEN "
                                "'true' ELSE 'false' END), 'clicked_email', json(CASE WHEN r.clicked THEN 'true' ELSE 'false' "
                                "END)))) FROM (SELECT * FROM received WHERE braze_id = ?1 "
                                "ORDER BY CASE WHEN ?2 THEN -at ELSE at END LIMIT ?3) r "
                                "LEFT JOIN campaigns c ON c.id = r.campaign_id");
    if (!st) return BR_ESTORE;
    sqlite3_bind_blob(st, 1, braze_id, 12, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, latest);
    sqlite3_bind_int(st, 3, limit);
    int rc = one_row(st);
    if (rc < 0) return rc;
    *json = store_col_text(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int store_received_of(sqlite3 *db, const uint8_t braze_id[12], char **json) {
    return received_json(db, braze_id, false, -1, json);
}

int store_received_latest(sqlite3 *db, const uint8_t braze_id[12], int limit, char **json) {
    return received_json(db, braze_id, true, limit, json);
}

void store_received_export(sqlite3 *db, json_object *user, const uint8_t braze_id[12]) {
    json_object *v;
    char *text;
    if (!json_object_object_get_ex(user, "campaigns_received", &v) || store_received_of(db, braze_id, &text) < 0) return;
    json_object *list = json_tokener_parse(text);
    free(text);
    if (list) json_object_object_add(user, "campaigns_received", list);
}
