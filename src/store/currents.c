/* currents.c -- SQL for Currents connectors, their dead letter and the
 * outbox reads they deliver from (see currents.h). */
#include "currents.h"
#include "store.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdlib.h>
#include <string.h>

#define COLS                                                                                                        \
    "c.id, c.name, c.type, c.config, c.paused, c.gen, c.out_seq, c.out_idx, c.msg_id, c.msg_idx, c.sent, c.batches, " \
    "c.retries, c.errors, c.last_error, coalesce(c.last_error_at, 0), coalesce(c.last_sent_at, 0), c.created_at, "   \
    "(SELECT count(*) FROM currents_dead d WHERE d.connector = c.id)"

static void row_of(sqlite3_stmt *st, store_cur *c) {
    c->id = store_col_text(st, 0);
    c->name = store_col_text(st, 1);
    c->type = store_col_text(st, 2);
    c->config = store_col_text(st, 3);
    c->paused = sqlite3_column_int(st, 4) != 0;
    c->gen = sqlite3_column_int64(st, 5);
    c->pos = (store_cur_pos){sqlite3_column_int64(st, 6), sqlite3_column_int64(st, 7), sqlite3_column_int64(st, 8),
                             sqlite3_column_int64(st, 9)};
    c->sent = sqlite3_column_int64(st, 10);
    c->batches = sqlite3_column_int64(st, 11);
    c->retries = sqlite3_column_int64(st, 12);
    c->errors = store_col_text(st, 13);
    c->last_error = sqlite3_column_type(st, 14) == SQLITE_NULL ? NULL : store_col_text(st, 14);
    c->last_error_at = sqlite3_column_int64(st, 15);
    c->last_sent_at = sqlite3_column_int64(st, 16);
    c->created_at = sqlite3_column_int64(st, 17);
    c->dead = sqlite3_column_int64(st, 18);
}

void store_cur_free(store_cur *c) {
    if (!c) return;
    free(c->id), free(c->name), free(c->type), free(c->config), free(c->errors), free(c->last_error);
    memset(c, 0, sizeof *c);
}

void store_cur_rows_free(store_cur *rows, int n) {
    for (int i = 0; i < n; i++) store_cur_free(&rows[i]);
    free(rows);
}

int store_cur_list(sqlite3 *db, store_cur **rows, int *n) {
    sqlite3_stmt *st = store_prep(db, "SELECT " COLS " FROM currents c ORDER BY c.name");
    *rows = NULL;
    *n = 0;
    if (!st) return BR_ESTORE;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 8) * sizeof **rows);
        row_of(st, &(*rows)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_cur_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

int store_cur_get(sqlite3 *db, const char *key, store_cur *out) {
    sqlite3_stmt *st = store_prep(db, "SELECT " COLS " FROM currents c WHERE c.id = ?1 OR c.name = ?1");
    memset(out, 0, sizeof *out);
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row_of(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

/* One integer out of a query with one bound integer (dflt when no row or
 * NULL); -1 on a store error. */
static int query_int(sqlite3 *db, const char *sql, int64_t arg, int64_t dflt, int64_t *out) {
    sqlite3_stmt *st = store_prep(db, sql);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, arg);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0) : dflt;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The position start_ms names (see store_cur_new). Rows come in key order
 * with non-decreasing times (one writer stamps them as it commits), so
 * "the first row at or after t" is a range's start. */
static int position_at(sqlite3 *db, int64_t start_ms, store_cur_pos *p) {
    memset(p, 0, sizeof *p);
    if (start_ms == 0) return 0;
    if (start_ms < 0) {
        if (query_int(db, "SELECT max(seq) + 1 FROM outbox WHERE ?1 = ?1", 0, 1, &p->out_seq) < 0 ||
            query_int(db, "SELECT max(id) + 1 FROM message_outbox WHERE ?1 = ?1", 0, 1, &p->msg_id) < 0)
            return BR_ESTORE;
        /* the ids to come may also be above those of rows trimmed or never
         * kept: AUTOINCREMENT's own counter is the floor */
        int64_t next;
        if (query_int(db, "SELECT seq + 1 FROM sqlite_sequence WHERE name = 'message_outbox' AND ?1 = ?1", 0, 1,
                      &next) < 0)
            return BR_ESTORE;
        if (next > p->msg_id) p->msg_id = next;
        return 0;
    }
    if (query_int(db, "SELECT min(seq) FROM outbox WHERE at >= ?1", start_ms, INT64_MAX, &p->out_seq) < 0 ||
        query_int(db, "SELECT min(id) FROM message_outbox WHERE at >= ?1", start_ms, INT64_MAX, &p->msg_id) < 0)
        return BR_ESTORE;
    /* nothing that recent: from the end */
    if (p->out_seq == INT64_MAX || p->msg_id == INT64_MAX) {
        store_cur_pos end;
        if (position_at(db, -1, &end) < 0) return BR_ESTORE;
        if (p->out_seq == INT64_MAX) p->out_seq = end.out_seq;
        if (p->msg_id == INT64_MAX) p->msg_id = end.msg_id;
    }
    return 0;
}

int store_cur_insert_op(sqlite3 *db, void *arg) {
    const store_cur_new *c = arg;
    int64_t count;
    if (query_int(db, "SELECT count(*) FROM currents WHERE ?1 = ?1", 0, 0, &count) < 0) return BR_ESTORE;
    if (count >= STORE_CUR_MAX) return BR_ETOOMANY;
    store_cur_pos p;
    if (position_at(db, c->start_ms, &p) < 0) return BR_ESTORE;
    sqlite3_stmt *st = store_prep(db, "INSERT INTO currents (id, name, type, config, out_seq, out_idx, msg_id, msg_idx, "
                                      "created_at) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->config, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, p.out_seq);
    sqlite3_bind_int64(st, 6, p.msg_id);
    sqlite3_bind_int64(st, 7, clock_wall_ms());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT) return BR_EEXISTS;
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

/* The id of the connector a key names, into e->id: 0 or BR_ENOTFOUND. */
static int resolve(sqlite3 *db, store_cur_edit *e) {
    sqlite3_stmt *st = store_prep(db, "SELECT id FROM currents WHERE id = ?1 OR name = ?1");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        size_t n = strlen(id);
        if (n >= sizeof e->id) n = sizeof e->id - 1;
        memcpy(e->id, id, n);
        e->id[n] = 0;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

/* Runs sql with ?1 = the connector's id (and ?2.. = args). */
static int by_id(sqlite3 *db, const char *sql, const char *id, const int64_t *args, int nargs) {
    sqlite3_stmt *st = store_prep(db, sql);
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    for (int i = 0; i < nargs; i++) sqlite3_bind_int64(st, i + 2, args[i]);
    return store_done(db, st);
}

int store_cur_pause_op(sqlite3 *db, void *arg) {
    store_cur_edit *e = arg;
    int rc = resolve(db, e);
    if (rc < 0) return rc;
    int64_t p = e->paused;
    return by_id(db, "UPDATE currents SET paused = ?2 WHERE id = ?1", e->id, &p, 1);
}

int store_cur_delete_op(sqlite3 *db, void *arg) {
    store_cur_edit *e = arg;
    int rc = resolve(db, e);
    if (rc < 0) return rc;
    if ((rc = by_id(db, "DELETE FROM currents_dead WHERE connector = ?1", e->id, NULL, 0)) < 0) return rc;
    return by_id(db, "DELETE FROM currents WHERE id = ?1", e->id, NULL, 0);
}

int store_cur_replay_op(sqlite3 *db, void *arg) {
    store_cur_edit *e = arg;
    int rc = resolve(db, e);
    if (rc < 0) return rc;
    store_cur_pos p = e->pos;
    if (!e->use_pos && position_at(db, e->from_ms, &p) < 0) return BR_ESTORE;
    int64_t a[4] = {p.out_seq, p.out_idx, p.msg_id, p.msg_idx};
    return by_id(db, "UPDATE currents SET out_seq = ?2, out_idx = ?3, msg_id = ?4, msg_idx = ?5, gen = gen + 1 "
                     "WHERE id = ?1", e->id, a, 4);
}

int store_cur_progress_op(sqlite3 *db, void *arg) {
    const store_cur_progress *p = arg;
    sqlite3_stmt *st = store_prep(db, "UPDATE currents SET out_seq = ?, out_idx = ?, msg_id = ?, msg_idx = ?, sent = ?, "
                                      "batches = ?, retries = ?, errors = ?, last_error = ?, last_error_at = ?, "
                                      "last_sent_at = ? WHERE id = ? AND gen = ?");
    if (!st) return BR_ESTORE;
    int64_t v[] = {p->pos.out_seq, p->pos.out_idx, p->pos.msg_id, p->pos.msg_idx, p->sent, p->batches, p->retries};
    for (int i = 0; i < 7; i++) sqlite3_bind_int64(st, i + 1, v[i]);
    sqlite3_bind_text(st, 8, p->errors ? p->errors : "{}", -1, SQLITE_STATIC);
    if (p->last_error) sqlite3_bind_text(st, 9, p->last_error, -1, SQLITE_STATIC);
    if (p->last_error_at) sqlite3_bind_int64(st, 10, p->last_error_at);
    if (p->last_sent_at) sqlite3_bind_int64(st, 11, p->last_sent_at);
    sqlite3_bind_text(st, 12, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, p->gen);
    int rc = store_done(db, st);
    if (rc < 0) return rc;
    return sqlite3_changes(db) ? 0 : BR_ENOTFOUND;
}

/* ---- the dead letter ----------------------------------------------------- */

void store_cur_dead_rows_free(store_cur_dead *rows, int n) {
    for (int i = 0; i < n; i++)
        free(rows[i].connector), free(rows[i].event_id), free(rows[i].event_type), free(rows[i].event),
            free(rows[i].error);
    free(rows);
}

int store_cur_dead_put_op(sqlite3 *db, void *arg) {
    const store_cur_dead *d = arg;
    sqlite3_stmt *st = store_prep(db, "INSERT OR REPLACE INTO currents_dead (connector, event_id, event_type, event, "
                                      "status, error, at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, d->connector, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, d->event_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->event, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, d->status);
    sqlite3_bind_text(st, 6, d->error ? d->error : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, d->at ? d->at : clock_wall_ms());
    return store_done(db, st);
}

int store_cur_dead_list(sqlite3 *db, const char *connector_id, int64_t after, int limit, bool due,
                        store_cur_dead **rows, int *n) {
    sqlite3_stmt *st = store_prep(db, due ? "SELECT seq, connector, event_id, event_type, event, error, status, at, replay "
                                            "FROM currents_dead WHERE connector = ? AND seq > ? AND replay = 1 "
                                            "ORDER BY seq LIMIT ?"
                                          : "SELECT seq, connector, event_id, event_type, event, error, status, at, replay "
                                            "FROM currents_dead WHERE connector = ? AND seq > ? ORDER BY seq LIMIT ?");
    *rows = NULL;
    *n = 0;
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, connector_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, limit);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **rows);
        store_cur_dead *d = &(*rows)[(*n)++];
        d->seq = sqlite3_column_int64(st, 0);
        d->connector = store_col_text(st, 1);
        d->event_id = store_col_text(st, 2);
        d->event_type = store_col_text(st, 3);
        d->event = store_col_text(st, 4);
        d->error = store_col_text(st, 5);
        d->status = sqlite3_column_int(st, 6);
        d->at = sqlite3_column_int64(st, 7);
        d->replay = sqlite3_column_int(st, 8) != 0;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_cur_dead_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

int store_cur_dead_replay_op(sqlite3 *db, void *arg) {
    store_cur_dead_mark *m = arg;
    int rc = m->seq > 0 ? by_id(db, "UPDATE currents_dead SET replay = 1 WHERE connector = ?1 AND seq = ?2",
                                m->connector_id, &m->seq, 1)
                        : by_id(db, "UPDATE currents_dead SET replay = 1 WHERE connector = ?1", m->connector_id, NULL, 0);
    if (rc < 0) return rc;
    m->marked = sqlite3_changes(db);
    return m->seq > 0 && !m->marked ? BR_ENOTFOUND : 0;
}

int store_cur_dead_done_op(sqlite3 *db, void *arg) {
    const store_cur_dead *d = arg;
    return by_id(db, "DELETE FROM currents_dead WHERE connector = ?1 AND seq = ?2", d->connector, &d->seq, 1);
}

/* ---- the outboxes -------------------------------------------------------- */

void store_cur_rows_read_free(store_cur_row *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].events);
    free(rows);
}

int store_cur_read(sqlite3 *db, bool messages, int64_t from, int limit, store_cur_row **rows, int *n) {
    sqlite3_stmt *st = store_prep(db, messages ? "SELECT id, at, events FROM message_outbox WHERE id >= ? ORDER BY id LIMIT ?"
                                               : "SELECT seq, at, events FROM outbox WHERE seq >= ? ORDER BY seq LIMIT ?");
    *rows = NULL;
    *n = 0;
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int(st, 2, limit);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *rows = xrealloc(*rows, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **rows);
        store_cur_row *r = &(*rows)[(*n)++];
        r->key = sqlite3_column_int64(st, 0);
        r->at = sqlite3_column_int64(st, 1);
        r->events = store_col_text(st, 2);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_cur_rows_read_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

/* The events an outbox row holds: its items, a cohort import's compact
 * item counting as its changes (core/cohort.c). */
#define ROW_EVENTS                                                                                            \
    "CASE WHEN instr(events, '\"changes\":[') THEN (SELECT sum(coalesce(json_array_length(value, '$.changes'), 1)) " \
    "FROM json_each(events)) ELSE json_array_length(events) END"

/* One outbox's share of a lag: events from (key, idx) on, and the time of
 * the row holding the first of them (0: none). */
static int lag_of(sqlite3 *db, bool messages, int64_t key, int64_t idx, int64_t *events, int64_t *oldest) {
    /* the cursor's own row: the events before idx are done */
    int64_t first;
    if (query_int(db, messages ? "SELECT " ROW_EVENTS " FROM message_outbox WHERE id = ?1"
                               : "SELECT " ROW_EVENTS " FROM outbox WHERE seq = ?1",
                  key, 0, &first) < 0)
        return BR_ESTORE;
    if (!first) idx = 0;                   /* gone (trimmed, or a gap in seqs): the runner takes the next row whole */
    else if (idx >= first) key++, idx = 0; /* all of it (a batch ended with it): its age is no longer the lag's */
    sqlite3_stmt *st = store_prep(db, messages ? "SELECT coalesce(sum(" ROW_EVENTS "), 0), min(at) "
                                                 "FROM message_outbox WHERE id >= ?"
                                               : "SELECT coalesce(sum(" ROW_EVENTS "), 0), min(at) "
                                                 "FROM outbox WHERE seq >= ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, key);
    int rc = sqlite3_step(st);
    *events = *oldest = 0;
    if (rc == SQLITE_ROW) {
        *events = sqlite3_column_int64(st, 0) - idx;
        *oldest = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return BR_ESTORE;
    if (!*events) *oldest = 0;
    return 0;
}

int store_cur_lag(sqlite3 *db, const store_cur_pos *p, int64_t now_ms, int64_t *events, int64_t *seconds) {
    int64_t e1, o1, e2, o2;
    if (lag_of(db, false, p->out_seq, p->out_idx, &e1, &o1) < 0 || lag_of(db, true, p->msg_id, p->msg_idx, &e2, &o2) < 0)
        return BR_ESTORE;
    *events = e1 + e2;
    int64_t oldest = o1 && o2 ? (o1 < o2 ? o1 : o2) : o1 ? o1 : o2;
    *seconds = oldest && now_ms > oldest ? (now_ms - oldest) / 1000 : 0;
    return 0;
}

int store_cur_trim_op(sqlite3 *db, void *arg) {
    store_cur_trim *t = arg;
    int64_t out_bound, msg_bound, conv;
    /* the rows every connector has passed (one it is inside is kept) */
    if (query_int(db, "SELECT min(out_seq) FROM currents WHERE ?1 = ?1", 0, INT64_MAX, &out_bound) < 0 ||
        query_int(db, "SELECT min(msg_id) FROM currents WHERE ?1 = ?1", 0, INT64_MAX, &msg_bound) < 0 ||
        query_int(db, "SELECT seq + 1 FROM conversion_cursor WHERE id = ?1", 0, 0, &conv) < 0)
        return BR_ESTORE;
    if (conv < out_bound) out_bound = conv; /* the converter reads the outbox too */
    t->deleted = 0;
    /* the oldest `limit` rows below the bound, of which those past the
     * retention: a bounded scan, however long the outbox */
    const char *sql[2] = {"DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE seq < ?1 ORDER BY seq "
                          "LIMIT ?3) AND at < ?2",
                          "DELETE FROM message_outbox WHERE id IN (SELECT id FROM message_outbox WHERE id < ?1 "
                          "ORDER BY id LIMIT ?3) AND at < ?2"};
    int64_t bound[2] = {out_bound, msg_bound};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = store_prep(db, sql[i]);
        if (!st) return BR_ESTORE;
        sqlite3_bind_int64(st, 1, bound[i]);
        sqlite3_bind_int64(st, 2, t->cutoff_ms);
        sqlite3_bind_int(st, 3, t->limit);
        if (store_done(db, st) < 0) return BR_ESTORE;
        t->deleted += sqlite3_changes(db);
    }
    return 0;
}
