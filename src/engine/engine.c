/* engine.c -- the working set: load, journaled commands, checkpoint
 * snapshots (see engine.h; ckpt.c writes them to profiles.db). */
#include "engine.h"
#include "ckpt.h"
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
    int64_t last_seq;      /* newest journal row applied */
    int64_t loaded_seq;    /* start-up: the checkpoint loaded, replay after it */
    int64_t snap_seq;      /* S of the last snapshot taken (maybe not yet written) */
    int64_t checkpoint_ms; /* when the last checkpoint ran */
    sqlite3_stmt *ins;     /* journal insert, on the writer's connection */
    store_t *store;
    ckpt_t *ck;       /* profiles.db and its thread (ckpt.h) */
    ckpt_snap *snap;  /* taken by this transaction's checkpoint op, not yet handed over */
    bool upgrade;     /* loaded from brasa.db's old tables: write everything once */
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

/* ---- checkpoint ----------------------------------------------------------
 *
 * The op runs on the writer thread and only copies: every dirty profile
 * into one snapshot (ckpt.h), the dirty cohorts serialized, S = last_seq.
 * The snapshot goes to the checkpoint thread once this transaction has
 * committed (store_on_commit): S's journal rows must be durable before a
 * profiles.db that includes them can be, or a crash in between would leave
 * profiles.db ahead of brasa.db's journal, whose next rows would reuse
 * seqs at or below S and be skipped by the replay. */

/* Marks the rows and cohorts of a snapshot that was not written dirty
 * again: they go out with the next one, as they are by then. */
static void reclaim_failed(engine_t *e) {
    ckpt_snap *s = ckpt_take_failed(e->ck);
    if (!s) return;
    for (uint32_t i = 0; i < s->nprofiles; i++) {
        uint32_t row = s->profiles[i].row;
        mark(users_get(e->users, row), PROFILE_DIRTY, row, &e->dirty, &e->ndirty, &e->capdirty);
    }
    for (uint32_t i = 0; i < s->ncohorts; i++) cohorts_at(e->cohorts, s->cohorts[i].idx)->dirty = true;
    e->snap_seq = ckpt_durable(e->ck); /* the journal since then is pending again */
    ckpt_snap_free(s);
}

static ckpt_snap *take_snapshot(engine_t *e) {
    ckpt_snap *s = xcalloc(1, sizeof *s);
    s->seq = e->last_seq;
    s->nprofiles = e->ndirty;
    s->profiles = xmalloc((e->ndirty ? e->ndirty : 1) * sizeof *s->profiles);
    size_t total = 0;
    for (uint32_t i = 0; i < e->ndirty; i++) {
        profile_t *p = users_get(e->users, e->dirty[i]);
        ckpt_profile *c = &s->profiles[i];
        c->row = e->dirty[i];
        memcpy(c->braze_id, p->braze_id, 12);
        c->created = p->created;
        c->updated = p->updated;
        c->flags = p->flags & PROFILE_DELETED;
        c->len = p->blob ? (uint32_t)profile_blob_size(p->blob) : 0;
        c->off = total;
        total += c->len;
    }
    s->data = xmalloc(total ? total : 1);
    for (uint32_t i = 0; i < e->ndirty; i++) {
        profile_t *p = users_get(e->users, e->dirty[i]);
        if (s->profiles[i].len) memcpy(s->data + s->profiles[i].off, p->blob, s->profiles[i].len);
        p->flags &= ~PROFILE_DIRTY;
    }
    e->ndirty = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < cohorts_count(e->cohorts); i++) n += cohorts_at(e->cohorts, i)->dirty;
    s->cohorts = xcalloc(n ? n : 1, sizeof *s->cohorts);
    for (uint32_t i = 0; i < cohorts_count(e->cohorts); i++) {
        cohort_t *k = cohorts_at(e->cohorts, i);
        if (!k->dirty) continue;
        ckpt_cohort *c = &s->cohorts[s->ncohorts++];
        bitmap_optimize(k->members);
        size_t len = bitmap_serialized_size(k->members);
        void *buf = xmalloc(len ? len : 1);
        bitmap_serialize(k->members, buf);
        c->r = cohort_row(k);
        c->r.partner = xstrdup(k->partner);
        c->r.cohort_id = xstrdup(k->id);
        c->r.name = xstrdup(k->name);
        c->r.members = buf;
        c->r.members_len = len;
        c->idx = i;
    }
    cohorts_clean(e->cohorts);
    return s;
}

/* After the op's transaction: hand the snapshot over (or give it back). */
static void hand_over(void *arg, bool committed) {
    engine_t *e = arg;
    ckpt_snap *s = e->snap;
    e->snap = NULL;
    ckpt_submit(e->ck, s, committed);
}

int engine_checkpoint_op(sqlite3 *db, void *arg) {
    (void)db;
    eng_checkpoint *ck = arg;
    engine_t *e = ck->eng;
    int64_t now = clock_wall_ms();
    ck->written = 0;
    ck->snapshot_us = 0;
    reclaim_failed(e);
    /* A snapshot taken in this same transaction is not handed over yet:
     * waiting for it here would wait forever. */
    if (e->snap) return 0;
    int64_t pending = e->last_seq - e->snap_seq;
    if (!pending && !e->ndirty && !e->upgrade) return 0;
    if (!ck->force && e->ndirty < CKPT_DIRTY && pending < CKPT_JOURNAL && now - e->checkpoint_ms < CKPT_AGE_MS)
        return 0;
    if (!ckpt_reserve(e->ck)) {
        if (!ck->force) return 0; /* one in flight: the next tick tries again */
        /* Forced (start-up, shutdown): wait for it, holding the writer. */
        ckpt_wait(e->ck);
        reclaim_failed(e);
        ckpt_reserve(e->ck);
    }
    int64_t t0 = clock_mono_us();
    e->snap = take_snapshot(e);
    ck->snapshot_us = clock_mono_us() - t0;
    ck->written = e->snap->nprofiles;
    ck->seq = e->snap->seq;
    store_on_commit(e->store, hand_over, e);
    e->snap_seq = e->last_seq;
    e->checkpoint_ms = now;
    e->upgrade = false;
    return 0;
}

void engine_checkpoint_wait(engine_t *e) { ckpt_wait(e->ck); }

int64_t engine_checkpoint_durable(engine_t *e) { return ckpt_durable(e->ck); }

int engine_trim_op(sqlite3 *db, void *arg) {
    eng_trim *t = arg;
    engine_t *e = t->eng;
    t->deleted = 0;
    sqlite3_stmt *st = store_prep(db, "DELETE FROM journal WHERE seq IN "
                                      "(SELECT seq FROM journal WHERE seq <= ? ORDER BY seq LIMIT ?)");
    if (!st) return BR_ESTORE;
    /* Only what profiles.db has committed, never what a snapshot in
     * flight will cover. */
    sqlite3_bind_int64(st, 1, ckpt_durable(e->ck));
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
    sqlite3_bind_int64(st, 1, e->loaded_seq);
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

/* The highest journal seq brasa.db ever gave out (AUTOINCREMENT keeps it
 * in sqlite_sequence even when the table is empty). */
static int64_t journal_top(sqlite3 *db) {
    sqlite3_stmt *st;
    int64_t top = 0;
    if (sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = 'journal'", -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW) top = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return top;
}

typedef struct {
    engine_t *e;
} load_arg;

static int load_op(sqlite3 *db, void *arg) {
    engine_t *e = ((load_arg *)arg)->e;
    sqlite3 *pdb = ckpt_db(e->ck);
    uint32_t inst;
    int rc = instance_id(db, &inst);
    if (rc < 0) return rc;
    e->users = users_new(inst);
    if ((rc = names_load(e->names, db)) < 0) return rc;
    rc = ckpt_load_seq(e->ck, &e->loaded_seq);
    if (rc == 0) {
        /* profiles.db is the checkpoint. If it is ahead of this brasa.db
         * (the two files restored from different moments), new journal rows
         * would get seqs it already covers and the replay would skip them. */
        if (e->loaded_seq > journal_top(db)) {
            log_error("engine: profiles.db is at journal seq %lld but brasa.db has only reached %lld: "
                      "the two files are not from the same moment (restore both from one backup)",
                      (long long)e->loaded_seq, (long long)journal_top(db));
            return BR_ESTORE;
        }
        if ((rc = load_profiles(e, pdb)) < 0 || (rc = cohorts_load(e->cohorts, pdb)) < 0) return rc;
    } else if (rc == BR_ENOTFOUND) {
        /* No checkpoint in profiles.db: a new store, or one written by a
         * version that kept profiles in brasa.db. Load from brasa.db's
         * tables; the start-up checkpoint then writes everything to
         * profiles.db, and only after that commits are the old rows cleared
         * (engine_open), so a crash in between just does this again. */
        char *v = NULL;
        if ((rc = load_profiles(e, db)) < 0 || (rc = cohorts_load(e->cohorts, db)) < 0) return rc;
        if (store_meta_get(db, "checkpoint_seq", &v) == 0) e->loaded_seq = strtoll(v, NULL, 10);
        free(v);
        e->upgrade = true;
    } else {
        return rc;
    }
    e->last_seq = e->snap_seq = e->loaded_seq;
    if ((rc = replay(e, db)) < 0) return rc;
    if (e->upgrade) {
        for (uint32_t r = 0; r < users_rows(e->users); r++)
            mark(users_get(e->users, r), PROFILE_DIRTY, r, &e->dirty, &e->ndirty, &e->capdirty);
        for (uint32_t i = 0; i < cohorts_count(e->cohorts); i++) cohorts_at(e->cohorts, i)->dirty = true;
    }
    /* Columns from the final state in one pass, not per replayed change. */
    e->cols = cols_new();
    cols_build(e->cols, e->users);
    return 0;
}

/* Empties brasa.db's old checkpoint (profiles, cohort members, its seq)
 * once profiles.db holds everything; cheap when already empty. Cohort
 * metadata stays: `brasa cohorts list` reads it there. */
static int drop_old_op(sqlite3 *db, void *arg) {
    (void)arg;
    return store_sql(db, "DELETE FROM profiles; UPDATE cohorts SET members = NULL WHERE members IS NOT NULL; "
                         "DELETE FROM meta WHERE key = 'checkpoint_seq';");
}

int engine_open(store_t *store, engine_t **out) {
    engine_t *e = xcalloc(1, sizeof *e);
    e->store = store;
    e->names = names_new();
    e->cohorts = cohorts_new();
    int64_t t0 = clock_mono_us();
    int rc = ckpt_open(store_dir(store), &e->ck);
    if (rc < 0) {
        names_free(e->names);
        cohorts_free(e->cohorts);
        free(e);
        return rc;
    }
    load_arg la = {e};
    rc = store_exec(store, load_op, &la);
    if (rc == 0) rc = ckpt_start(e->ck);
    if (rc == 0) {
        /* Fold a replayed tail (or, after an upgrade, everything) into
         * profiles.db now, and wait for it. */
        eng_checkpoint ck = {.eng = e, .force = true};
        rc = store_exec(store, engine_checkpoint_op, &ck);
        ckpt_wait(e->ck);
        ckpt_snap *failed = ckpt_take_failed(e->ck);
        if (failed) rc = BR_ESTORE; /* the write failed (logged); brasa.db's old tables stay */
        ckpt_snap_free(failed);
    }
    if (rc == 0) rc = store_exec(store, drop_old_op, NULL);
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
    ckpt_close(e->ck); /* finishes a snapshot it was handed */
    ckpt_snap_free(e->snap);
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
    eng_stats s = {users_rows(e->users), users_live(e->users), e->ndirty, e->last_seq - ckpt_durable(e->ck),
                   users_memory(e->users) + names_memory(e->names) + cohorts_memory(e->cohorts) +
                       (e->cols ? cols_memory(e->cols) : 0)};
    return s;
}
