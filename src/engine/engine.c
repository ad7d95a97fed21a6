/* engine.c -- the working set: load, journaled commands, checkpoints
 * (see engine.h). */
#include "engine.h"
#include "../core/cohort.h"
#include "../core/columns.h"
#include "../core/identity.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../store/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_DIRTY 2u
#define PROFILE_COLS_STALE 4u /* its segment columns wait for engine_columns() */
/* Checkpoint when this many profiles are dirty, this many journal rows are
 * pending, or this long has passed with anything pending. */
#define CKPT_DIRTY 100000
#define CKPT_JOURNAL 20000
#define CKPT_AGE_MS 10000

struct engine {
    users_t *users;
    names_t *names;
    cohorts_t *cohorts; /* partner cohorts (core/cohort.h) */
    cols_t *cols;       /* segment columns (core/columns.h); built after load + replay */
    uint32_t *dirty; /* rows changed since the last checkpoint */
    uint32_t ndirty, capdirty;
    uint32_t *stale; /* rows whose segment columns are behind their profile */
    uint32_t nstale, capstale;
    int64_t last_seq;       /* newest journal row applied */
    int64_t checkpoint_seq; /* journal rows up to here are in `profiles` */
    int64_t checkpoint_ms;  /* when the last checkpoint ran */
    sqlite3_stmt *ins;      /* journal insert, on the writer's connection */
};

/* Appends row to a row list once; the profile flag bit records membership. */
static void mark(profile_t *p, uint32_t flag, uint32_t row, uint32_t **v, uint32_t *n, uint32_t *cap) {
    if (p->flags & flag) return;
    p->flags |= flag;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = row;
}

static void touch(void *arg, uint32_t row) {
    engine_t *e = arg;
    profile_t *p = users_get(e->users, row);
    /* Segment columns are brought up to date when a segment is evaluated
     * (engine_columns), once per row however often it changed: on the
     * ingest path a change only marks the row. */
    if (e->cols) mark(p, PROFILE_COLS_STALE, row, &e->stale, &e->nstale, &e->capstale);
    if (p->flags & PROFILE_DELETED) cohorts_forget_row(e->cohorts, row); /* a deleted user leaves every cohort */
    mark(p, PROFILE_DIRTY, row, &e->dirty, &e->ndirty, &e->capdirty);
}

users_t *engine_users(engine_t *e) { return e->users; }
names_t *engine_names(engine_t *e) { return e->names; }
cohorts_t *engine_cohorts(engine_t *e) { return e->cohorts; }
/* Applies the column updates that touch() deferred. */
static void refresh_columns(engine_t *e) {
    for (uint32_t i = 0; i < e->nstale; i++) {
        users_get(e->users, e->stale[i])->flags &= ~PROFILE_COLS_STALE;
        cols_update(e->cols, e->users, e->stale[i]);
    }
    e->nstale = 0;
}

cols_t *engine_columns(engine_t *e) {
    if (e->cols) refresh_columns(e);
    return e->cols;
}

/* Applies one command; db is NULL on replay (names and outbox are already
 * stored). Live results go to c when not NULL. */
static int apply(engine_t *e, sqlite3 *db, int64_t seq, int kind, json_object *body, int64_t now, eng_command *c) {
    buf_t outbox = BUF_INIT;
    int rc = 0;
    if (kind == CMD_TRACK) {
        track_result tmp, *r = c ? &c->track : &tmp;
        if (db) buf_append(&outbox, "[", 1);
        track_ctx tc = {e->users, e->names, db, now, seq, db ? &outbox : NULL, touch, e};
        rc = track_apply(&tc, body, r);
        if (!c) json_object_put(tmp.errors);
    } else if (kind == CMD_COHORT_NAME || kind == CMD_COHORT_USERS) {
        json_object *res = cohort_apply(e->cohorts, e->users, kind, body, now);
        if (c) c->result = res;
        else json_object_put(res);
    } else {
        identity_ctx ic = {e->users, e->names, now, touch, e};
        json_object *res = identity_apply(&ic, kind, body);
        if (c) c->result = res;
        else json_object_put(res);
    }
    if (rc == 0 && db && outbox.len > 1) {
        buf_append(&outbox, "]", 1);
        sqlite3_stmt *st;
        rc = BR_ESTORE;
        if (sqlite3_prepare_v2(db, "INSERT INTO outbox (seq, at, events) VALUES (?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, seq);
            sqlite3_bind_int64(st, 2, now);
            sqlite3_bind_text(st, 3, outbox.data, (int)outbox.len, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_DONE) rc = 0;
            sqlite3_finalize(st);
        }
    }
    buf_free(&outbox);
    /* Cohort metadata rows changed by this command (a users call, or a
     * deletion that left cohorts) are written in its transaction. */
    if (rc == 0) rc = cohorts_sync(e->cohorts, db);
    return rc;
}

int engine_command_op(sqlite3 *db, void *arg) {
    eng_command *c = arg;
    engine_t *e = c->eng;
    c->now_ms = clock_wall_ms();
    /* A users call for a cohort nobody created is refused before anything
     * is journaled. */
    if (c->kind == CMD_COHORT_USERS && !cohort_exists(e->cohorts, c->body)) return BR_ENOCOHORT;
    /* Journal first: if that fails nothing in memory has changed yet. */
    if (!e->ins && sqlite3_prepare_v3(db, "INSERT INTO journal (at, kind, body) VALUES (?, ?, ?)", -1,
                                      SQLITE_PREPARE_PERSISTENT, &e->ins, NULL) != SQLITE_OK)
        return BR_ESTORE;
    sqlite3_stmt *ins = e->ins;
    sqlite3_bind_int64(ins, 1, c->now_ms);
    sqlite3_bind_int(ins, 2, c->kind);
    sqlite3_bind_blob(ins, 3, c->raw, (int)c->rawlen, SQLITE_STATIC);
    int rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    if (rc != SQLITE_DONE) return BR_ESTORE;
    int64_t seq = sqlite3_last_insert_rowid(db);
    if (apply(e, db, seq, c->kind, c->body, c->now_ms, c) < 0) {
        /* Memory may be half-changed and cannot be rolled back with the
         * savepoint: stop, and let the restart replay the durable journal. */
        log_error("engine: storage failed in the middle of a command; exiting to recover from the journal");
        abort();
    }
    e->last_seq = seq;
    return 0;
}

void eng_command_free(eng_command *c) {
    json_object_put(c->track.errors);
    json_object_put(c->result);
    c->track.errors = c->result = NULL;
}

/* ---- checkpoint ---------------------------------------------------------- */

int engine_checkpoint_op(sqlite3 *db, void *arg) {
    eng_checkpoint *ck = arg;
    engine_t *e = ck->eng;
    int64_t now = clock_wall_ms();
    int64_t pending = e->last_seq - e->checkpoint_seq;
    ck->written = 0;
    if (!pending && !e->ndirty) return 0;
    if (!ck->force && e->ndirty < CKPT_DIRTY && pending < CKPT_JOURNAL && now - e->checkpoint_ms < CKPT_AGE_MS)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO profiles (row, braze_id, created, updated, flags, data) "
                               "VALUES (?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    for (uint32_t i = 0; i < e->ndirty; i++) {
        profile_t *p = users_get(e->users, e->dirty[i]);
        sqlite3_bind_int64(st, 1, e->dirty[i]);
        sqlite3_bind_blob(st, 2, p->braze_id, 12, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, p->created);
        sqlite3_bind_int64(st, 4, p->updated);
        sqlite3_bind_int64(st, 5, p->flags & PROFILE_DELETED);
        if (p->blob) sqlite3_bind_blob(st, 6, p->blob, (int)profile_blob_size(p->blob), SQLITE_STATIC);
        else sqlite3_bind_null(st, 6);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return BR_ESTORE;
        }
    }
    sqlite3_finalize(st);
    uint32_t ncohorts;
    if (cohorts_write_dirty(e->cohorts, db, &ncohorts) < 0) return BR_ESTORE;
    char seq[32];
    snprintf(seq, sizeof seq, "%lld", (long long)e->last_seq);
    /* The journal rows up to here are now dead weight; engine_trim_op
     * deletes them a few at a time, so freeing hundreds of megabytes of
     * bodies does not stall every request behind this checkpoint. */
    if (store_meta_set(db, "checkpoint_seq", seq) < 0) return BR_ESTORE;
    /* Only now, with everything written in this transaction, forget the
     * dirty set (if the commit fails the store aborts the process). */
    for (uint32_t i = 0; i < e->ndirty; i++) users_get(e->users, e->dirty[i])->flags &= ~PROFILE_DIRTY;
    cohorts_clean(e->cohorts);
    ck->written = e->ndirty;
    e->ndirty = 0;
    e->checkpoint_seq = e->last_seq;
    e->checkpoint_ms = now;
    return 0;
}

int engine_trim_op(sqlite3 *db, void *arg) {
    eng_trim *t = arg;
    engine_t *e = t->eng;
    t->deleted = 0;
    sqlite3_stmt *st = store_prep(db, "DELETE FROM journal WHERE seq IN "
                                      "(SELECT seq FROM journal WHERE seq <= ? ORDER BY seq LIMIT ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, e->checkpoint_seq);
    sqlite3_bind_int(st, 2, ENG_TRIM_CHUNK);
    int rc = store_done(db, st);
    if (rc == 0) t->deleted = (uint32_t)sqlite3_changes(db);
    return rc;
}

/* ---- start-up ------------------------------------------------------------ */

static int instance_id(sqlite3 *db, uint32_t *id) {
    char *v = NULL;
    int rc = store_meta_get(db, "instance_id", &v);
    if (rc == 0) {
        *id = (uint32_t)strtoul(v, NULL, 16);
        free(v);
        return 0;
    }
    if (rc != BR_ENOTFOUND) return rc;
    secret_random(id, sizeof *id);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", *id);
    return store_meta_set(db, "instance_id", hex);
}

static int load_profiles(engine_t *e, sqlite3 *db) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT row, braze_id, created, updated, flags, data FROM profiles ORDER BY row", -1,
                           &st, NULL) != SQLITE_OK)
        return BR_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint32_t row = (uint32_t)sqlite3_column_int64(st, 0);
        profile_t p = {.flags = PROFILE_DELETED};
        while (users_rows(e->users) < row) users_load_row(e->users, &p); /* holes: tombstones */
        memcpy(p.braze_id, sqlite3_column_blob(st, 1), 12);
        p.created = (uint32_t)sqlite3_column_int64(st, 2);
        p.updated = (uint32_t)sqlite3_column_int64(st, 3);
        p.flags = (uint32_t)sqlite3_column_int64(st, 4) & PROFILE_DELETED;
        int n = sqlite3_column_bytes(st, 5);
        p.blob = n ? xmalloc((size_t)n) : NULL;
        if (n) memcpy(p.blob, sqlite3_column_blob(st, 5), (size_t)n);
        users_load_row(e->users, &p);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

static int replay(engine_t *e, sqlite3 *db) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT seq, at, kind, body FROM journal WHERE seq > ? ORDER BY seq", -1, &st, NULL) !=
        SQLITE_OK)
        return BR_ESTORE;
    sqlite3_bind_int64(st, 1, e->checkpoint_seq);
    int rc, n = 0;
    json_tokener *tok = json_tokener_new_ex(64);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        json_tokener_reset(tok);
        json_object *body = json_tokener_parse_ex(tok, sqlite3_column_blob(st, 3), sqlite3_column_bytes(st, 3));
        if (body) apply(e, NULL, seq, sqlite3_column_int(st, 2), body, sqlite3_column_int64(st, 1), NULL);
        else log_warn("engine: journal row %lld does not parse; skipped", (long long)seq);
        json_object_put(body);
        e->last_seq = seq;
        n++;
    }
    json_tokener_free(tok);
    sqlite3_finalize(st);
    if (n) log_info("engine: replayed %d journal rows", n);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

typedef struct {
    engine_t *e;
} load_arg;

static int load_op(sqlite3 *db, void *arg) {
    engine_t *e = ((load_arg *)arg)->e;
    uint32_t inst;
    char *v = NULL;
    int rc = instance_id(db, &inst);
    if (rc < 0) return rc;
    e->users = users_new(inst);
    if ((rc = names_load(e->names, db)) < 0 || (rc = load_profiles(e, db)) < 0) return rc;
    if ((rc = cohorts_load(e->cohorts, db)) < 0) return rc; /* before the replay, which builds on them */
    if (store_meta_get(db, "checkpoint_seq", &v) == 0) e->checkpoint_seq = strtoll(v, NULL, 10);
    free(v);
    e->last_seq = e->checkpoint_seq;
    if ((rc = replay(e, db)) < 0) return rc;
    /* Columns from the final state in one pass, not per replayed change. */
    e->cols = cols_new();
    cols_build(e->cols, e->users);
    return 0;
}

int engine_open(store_t *store, engine_t **out) {
    engine_t *e = xcalloc(1, sizeof *e);
    e->names = names_new();
    e->cohorts = cohorts_new();
    int64_t t0 = clock_mono_us();
    load_arg la = {e};
    int rc = store_exec(store, load_op, &la);
    if (rc == 0) {
        eng_checkpoint ck = {e, true, 0};
        rc = store_exec(store, engine_checkpoint_op, &ck); /* fold a replayed tail in now */
    }
    if (rc < 0) {
        engine_free(e);
        return rc;
    }
    e->checkpoint_ms = clock_wall_ms();
    log_info("engine: loaded %u profiles (%u rows) in %.3f s", users_live(e->users), users_rows(e->users),
             (double)(clock_mono_us() - t0) / 1e6);
    *out = e;
    return 0;
}

void engine_free(engine_t *e) {
    if (!e) return;
    sqlite3_finalize(e->ins); /* before the store closes its connection */
    users_free(e->users);
    names_free(e->names);
    cohorts_free(e->cohorts);
    cols_free(e->cols);
    free(e->dirty);
    free(e->stale);
    free(e);
}

eng_stats engine_stats(engine_t *e) {
    eng_stats s = {users_rows(e->users), users_live(e->users), e->ndirty, e->last_seq - e->checkpoint_seq,
                   users_memory(e->users) + names_memory(e->names) + cohorts_memory(e->cohorts) +
                       (e->cols ? cols_memory(e->cols) : 0)};
    return s;
}
