/* engine.c -- the engine thread: its queue, batches of commands, change
 * records handed to the store, checkpoints and journal trimming (see
 * engine.h; load.c is start-up). */
#define _GNU_SOURCE
#include "internal.h"
#include "records.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"
#include "../store/email.h"
#include "../store/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Checkpoint when this many profiles are dirty, this many bytes of change
 * records were journaled, or this long has passed with anything pending. */
#define CKPT_DIRTY 100000
#define CKPT_JOURNAL_BYTES (64u << 20)
#define CKPT_AGE_MS 10000
#define TRIM_CHUNK 64 /* journal rows per trim op: rows are batches, some large */
#define IDLE_WAKE_MS 1000

/* An op queued with engine_write_later() (or later_add()). */
struct later {
    store_op_fn op;
    void *arg;
    void (*free_arg)(void *);
    /* Called once, whatever happened, before free_arg: rc 0 when the op
     * ran and returned 0 and its transaction committed, else < 0 (it did
     * not run, failed, or was rolled back, or the engine was freed first). */
    void (*done)(void *arg, int rc);
    int rc; /* the op's own result; BR_ESTORE until it runs */
    struct later *next;
};

/* Commands applied in one turn of the loop, and what they changed: one
 * store op, one transaction, one journal row. */
typedef struct {
    engine_t *e;
    int64_t seq; /* 0: nothing journaled */
    int64_t at;
    int64_t recorded; /* custom events and purchases in the outbox row (event_counts) */
    bool critical; /* memory changed: its failure fails the store */
    bool kept;     /* kept email states changed (memory too) */
    buf_t rec;     /* change records */
    buf_t outbox;  /* Currents events: "[" item, ... */
    buf_t names;   /* new names: u32 id, u32 len, bytes */
    store_cohort_row *cohorts; /* metadata rows for brasa.db (`cohorts list`) */
    uint32_t ncohorts;
    eng_cmd **stores; /* ENG_STORE commands, in order */
    uint32_t nstores, capstores;
    eng_cmd *waiters, **tail; /* every write command, answered after the commit */
    struct later *later;
    store_op op;
} batch;

/* ---- rows and hooks ------------------------------------------------------ */

void rowlist_add(rowlist *l, profile_t *p, uint32_t flag, uint32_t row) {
    if (p->flags & flag) return;
    p->flags |= flag;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = row;
}

void engine_touch(void *arg, uint32_t row) {
    engine_t *e = arg;
    profile_t *p = users_get(e->users, row);
    /* Segment columns are brought up to date when a segment is evaluated
     * (engine_columns), once per row however often it changed. */
    if (e->cols) rowlist_add(&e->stale, p, PROFILE_COLS_STALE, row);
    if (p->flags & PROFILE_DELETED) cohorts_forget_row(e->cohorts, row); /* a deleted user leaves every cohort */
    rowlist_add(&e->dirty, p, PROFILE_DIRTY, row);
    rowlist_add(&e->batch, p, PROFILE_BATCH, row);
}

users_t *engine_users(engine_t *e) { return e->users; }
names_t *engine_names(engine_t *e) { return e->names; }
cohorts_t *engine_cohorts(engine_t *e) { return e->cohorts; }
sqlite3 *engine_reader(engine_t *e) { return e->reader; }
store_t *engine_store(engine_t *e) { return e->store; }
bool engine_failed(engine_t *e) { return store_failed(e->store); }

cols_t *engine_columns(engine_t *e) {
    if (!e->cols) return NULL;
    for (uint32_t i = 0; i < e->stale.n; i++) {
        users_get(e->users, e->stale.v[i])->flags &= ~PROFILE_COLS_STALE;
        cols_update(e->cols, e->users, e->stale.v[i]);
    }
    e->stale.n = 0;
    return e->cols;
}

/* ---- batches ------------------------------------------------------------- */

static batch *batch_new(engine_t *e) {
    batch *b = xcalloc(1, sizeof *b);
    b->e = e;
    b->tail = &b->waiters;
    b->at = clock_wall_ms();
    b->seq = e->last_seq + 1; /* given up in batch_close when nothing is journaled */
    buf_append(&b->outbox, "[", 1);
    return b;
}

static void batch_free(batch *b) {
    buf_free(&b->rec);
    buf_free(&b->outbox);
    buf_free(&b->names);
    for (uint32_t i = 0; i < b->ncohorts; i++) {
        free((void *)b->cohorts[i].m.partner);
        free((void *)b->cohorts[i].m.cohort_id);
        free((void *)b->cohorts[i].m.name);
    }
    free(b->cohorts);
    free(b->stores);
    for (struct later *l = b->later, *n; l; l = n) {
        n = l->next;
        if (l->free_arg) l->free_arg(l->arg);
        free(l);
    }
    free(b);
}

static void wait_for(batch *b, eng_cmd *c) {
    c->next = NULL;
    *b->tail = c;
    b->tail = &c->next;
}

/* The batch's store op, on the store's writer thread. */
static int batch_write(sqlite3 *db, void *arg) {
    batch *b = arg;
    int rc = 0;
    if (b->rec.len) rc = store_journal_append(db, b->seq, b->at, STORE_JOURNAL_V2, 0, b->rec.data, b->rec.len);
    if (rc == 0 && b->outbox.len > 1) rc = store_outbox_put(db, b->seq, b->at, b->outbox.data, b->outbox.len);
    if (rc == 0 && b->recorded) rc = store_event_counts_add(db, b->at, b->recorded);
    for (size_t off = 0; rc == 0 && off < b->names.len;) {
        uint32_t id, len;
        memcpy(&id, b->names.data + off, 4);
        memcpy(&len, b->names.data + off + 4, 4);
        rc = store_names_put(db, id, b->names.data + off + 8, len);
        off += 8 + len;
    }
    for (uint32_t i = 0; rc == 0 && i < b->ncohorts; i++) rc = store_cohort_put(db, &b->cohorts[i]);
    /* Each ENG_STORE command in a savepoint of its own: a logical refusal
     * (BR_EINVAL, BR_ENOTFOUND, ...) undoes its writes only. */
    for (uint32_t i = 0; rc == 0 && i < b->nstores; i++)
        rc = store_nested(db, b->stores[i]->op, b->stores[i]->arg, &b->stores[i]->rc);
    for (struct later *l = b->later; rc == 0 && l; l = l->next) {
        int lrc = l->rc = l->op(db, l->arg);
        if (lrc == BR_ESTORE) rc = lrc; /* a refusal of a later op is its own business */
    }
    return rc;
}

/* After the commit (the store's writer thread): answer the commands. */
static void batch_done(void *arg, int rc) {
    batch *b = arg;
    engine_t *e = b->e;
    if (rc == 0 && b->seq) atomic_store(&e->durable, b->seq);
    for (eng_cmd *c = b->waiters, *next; c; c = next) {
        next = c->next; /* done() may free c */
        if (rc < 0) c->rc = rc; /* nothing of the transaction is durable */
        c->done(c);
    }
    for (struct later *l = b->later; l; l = l->next)
        if (l->done) l->done(l->arg, rc < 0 ? rc : l->rc);
    pthread_mutex_lock(&e->lock);
    e->inflight--;
    pthread_cond_broadcast(&e->drained);
    pthread_cond_signal(&e->wake); /* room for the writes the engine left queued */
    pthread_mutex_unlock(&e->lock);
    batch_free(b);
}

typedef struct {
    subs_kept_row *rows;
    int n;
} kept_write;

static int kept_write_op(sqlite3 *db, void *arg) {
    kept_write *kw = arg;
    for (int i = 0; i < kw->n; i++) {
        int rc = store_email_state_put(db, kw->rows[i].address, subs_state_name(kw->rows[i].state), kw->rows[i].at_ms);
        if (rc < 0) return BR_ESTORE; /* memory is ahead of the disk: the batch fails */
    }
    return 0;
}

static void kept_write_free(void *arg) {
    kept_write *kw = arg;
    subs_kept_rows_free(kw->rows, kw->n);
    free(kw);
}

static void later_add(engine_t *e, store_op_fn op, void *arg, void (*free_arg)(void *), void (*done)(void *, int));

/* Turns what the commands changed into records and rows to write. */
static void batch_collect(engine_t *e, batch *b) {
    for (uint32_t i = 0; i < e->batch.n; i++) {
        profile_t *p = users_get(e->users, e->batch.v[i]);
        p->flags &= ~PROFILE_BATCH;
        rec_profile(&b->rec, e->users, e->batch.v[i]);
    }
    e->batch.n = 0;
    /* Cohort metadata first: a cohort created in this batch must exist on
     * replay before a members record names it. */
    for (uint32_t i = 0, n = cohorts_count(e->cohorts); i < n; i++) {
        cohort_t *k = cohorts_at(e->cohorts, i);
        if (!k->meta_dirty) continue;
        rec_cohort(&b->rec, k);
        b->cohorts = xrealloc(b->cohorts, (b->ncohorts + 1) * sizeof *b->cohorts);
        cohort_meta m = cohort_meta_of(k);
        m.partner = xstrdup(m.partner);
        m.cohort_id = xstrdup(m.cohort_id);
        m.name = xstrdup(m.name);
        b->cohorts[b->ncohorts++] = (store_cohort_row){m, NULL, 0};
    }
    uint32_t nlog;
    const cohort_delta *log = cohorts_log(e->cohorts, &nlog);
    /* One record per run of the same cohort, cut where an add follows a
     * remove: a record is replayed as its adds, then its removes
     * (records.c), so one holding remove-then-add of a row would end
     * without the row that live memory has. Within a record every add
     * precedes every remove in the log, and replay is the log's order. */
    for (uint32_t i = 0; i < nlog;) {
        uint32_t j = i, na = 0, nr = 0;
        uint32_t *add = xmalloc((nlog - i) * sizeof *add), *rem = xmalloc((nlog - i) * sizeof *rem);
        for (; j < nlog && log[j].idx == log[i].idx && !(log[j].added && nr); j++) {
            if (log[j].added) add[na++] = log[j].row;
            else rem[nr++] = log[j].row;
        }
        rec_members(&b->rec, log[i].idx, add, na, rem, nr);
        free(add);
        free(rem);
        i = j;
    }
    cohorts_log_clear(e->cohorts);
    for (uint32_t id = e->names_saved; id < names_next(e->names); id++) {
        size_t len;
        const char *s = names_str(e->names, id, &len);
        uint32_t l = (uint32_t)len;
        buf_append(&b->names, &id, 4);
        buf_append(&b->names, &l, 4);
        buf_append(&b->names, s, len);
    }
    e->names_saved = names_next(e->names);
    /* The kept email states this batch changed (core/subs.h). */
    kept_write *kw = xmalloc(sizeof *kw);
    if ((kw->rows = subs_kept_take(e->kept, &kw->n))) later_add(e, kept_write_op, kw, kept_write_free, NULL), b->kept = true;
    else free(kw);
}

/* Hands the batch to the store (or, with nothing in it, drops it). */
static void batch_close(engine_t *e, batch *b) {
    batch_collect(e, b);
    b->later = e->later;
    e->later = NULL;
    b->recorded = e->recorded;
    e->recorded = 0;
    b->critical = b->rec.len || b->outbox.len > 1 || b->names.len || b->ncohorts || b->kept;
    if (b->rec.len || b->outbox.len > 1) {
        e->last_seq = b->seq;
        e->journal_bytes += b->rec.len;
        e->batches++;
    } else {
        b->seq = 0;
    }
    if (!b->critical && !b->waiters && !b->nstores && !b->later) {
        batch_free(b);
        return;
    }
    if (b->outbox.len > 1) buf_append(&b->outbox, "]", 1);
    b->op = (store_op){.fn = batch_write, .arg = b, .done = batch_done, .done_arg = b, .critical = b->critical};
    pthread_mutex_lock(&e->lock);
    /* Back-pressure: a store that cannot keep up slows the engine down
     * rather than letting batches pile up in memory. */
    while (e->started && e->inflight >= ENG_MAX_INFLIGHT) pthread_cond_wait(&e->drained, &e->lock);
    e->inflight++;
    pthread_mutex_unlock(&e->lock);
    if (e->started) {
        store_submit(e->store, &b->op);
    } else { /* inline (start-up, CLI, tests): commit now */
        int rc = store_exec(e->store, batch_write, b);
        if (rc < 0 && b->critical) log_error("engine: a batch failed to commit inline");
        batch_done(b, rc);
    }
}

void engine_apply(engine_t *e, eng_cmd *c, buf_t *outbox, uint64_t event_base) {
    switch (c->kind) {
    case ENG_TRACK: {
        track_ctx tc = {e->users, e->names, c->now_ms, outbox, event_base, engine_touch, e, e->kept, 0, 0};
        track_cmd *tr = c->arg;
        track_apply(&tc, tr);
        e->recorded += tc.recorded;
        if (outbox) e->objects += tr->nattrs + tr->nevents + tr->npurchases; /* live, not replayed */
        break;
    }
    case ENG_SUBSCRIPTION: {
        subs_cmd *sc = c->arg;
        track_ctx tc = {e->users, e->names, c->now_ms, outbox, event_base, engine_touch, e, e->kept, 0, 0};
        subs_apply(&tc, sc);
        for (; sc; sc = sc->next)
            if (sc->op) later_add(e, sc->op, sc->op_arg, NULL, NULL); /* in this batch, with the change */
        break;
    }
    case ENG_IDENTITY: {
        identity_ctx ic = {e->users, e->names, c->now_ms, engine_touch, e, outbox, event_base, 0};
        identity_apply(&ic, c->arg, c->outcome);
        break;
    }
    case ENG_MERGE: {
        identity_ctx ic = {e->users, e->names, c->now_ms, engine_touch, e, outbox, event_base, 0};
        merge_apply(&ic, c->arg, c->outcome);
        break;
    }
    case ENG_COHORT_NAME: cohort_apply_name(e->cohorts, c->arg, c->now_ms, &c->cohort); break;
    case ENG_COHORT_USERS:
        c->rc = cohort_apply_users(e->cohorts, e->users, c->arg, c->now_ms, outbox, event_base, &c->cohort);
        break;
    default: break;
    }
}

/* Takes the commands to run now (under e->lock): every read (but, when
 * !writes, i.e. in the middle of a batch, those marked `between`), then, when
 * `writes`, the writes in arrival order while the store has room for
 * another batch (ENG_MAX_INFLIGHT), at most its batch size
 * (--commit-batch). A read never waits for a batch, neither one being
 * applied (run_list serves it between two writes) nor one at the store;
 * that it may overtake writes not yet answered is no loss (their clients
 * have no answer yet). */
static eng_cmd *take(engine_t *e, bool writes) {
    bool room = writes && e->inflight < ENG_MAX_INFLIGHT;
    unsigned left = store_max_batch(e->store);
    if (left > ENG_MAX_BATCH) left = ENG_MAX_BATCH; /* event ids: see run_list */
    eng_cmd *reads = NULL, **rt = &reads, *ws = NULL, **wt = &ws, **pp = &e->head, *c;
    e->tail = NULL;
    while ((c = *pp)) {
        bool read = c->kind == ENG_READ && (writes || !c->between); /* mid-batch: not a `between` one */
        if (read || (c->kind != ENG_READ && room && left)) {
            *pp = c->next; /* unlink */
            c->next = NULL;
            if (c->kind == ENG_READ) {
                if (!c->between) atomic_fetch_sub(&e->reads, 1);
                *rt = c;
                rt = &c->next;
            } else {
                *wt = c;
                wt = &c->next;
                left--;
            }
        } else {
            e->tail = c;
            pp = &c->next;
        }
    }
    *rt = ws;
    return reads;
}

/* Answers the reads queued meanwhile (a batch's writes are being applied). */
static void serve_reads(engine_t *e) {
    pthread_mutex_lock(&e->lock);
    eng_cmd *list = take(e, false);
    pthread_mutex_unlock(&e->lock);
    for (eng_cmd *c = list, *next; c; c = next) {
        next = c->next;
        c->rc = store_failed(e->store) ? BR_ESTORE : c->read(e, c->arg);
        c->done(c);
    }
}

/* Runs a list of commands: reads answered as they come, writes applied
 * and answered once their batch is durable. */
static void run_list(engine_t *e, eng_cmd *list) {
    batch *b = batch_new(e);
    uint32_t index = 0;
    for (eng_cmd *c = list, *next; c; c = next) {
        next = c->next;
        c->now_ms = b->at;
        c->rc = 0;
        e->commands++;
        if (store_failed(e->store)) {
            /* Memory may hold changes the disk lacks: answer nothing from it. */
            c->rc = BR_ESTORE;
            c->done(c);
        } else if (c->kind == ENG_READ) {
            c->rc = c->read(e, c->arg);
            c->done(c);
        } else if (c->kind == ENG_STORE) {
            if (b->nstores == b->capstores) {
                b->capstores = b->capstores ? b->capstores * 2 : 8;
                b->stores = xrealloc(b->stores, b->capstores * sizeof *b->stores);
            }
            b->stores[b->nstores++] = c;
            wait_for(b, c);
        } else {
            /* Unique: take() gives a batch at most ENG_MAX_BATCH writes. */
            engine_apply(e, c, &b->outbox, (uint64_t)b->seq << 16 | (index++ & 0xffff));
            wait_for(b, c);
            if (atomic_load_explicit(&e->reads, memory_order_relaxed)) serve_reads(e);
        }
    }
    batch_close(e, b);
}

static void later_add(engine_t *e, store_op_fn op, void *arg, void (*free_arg)(void *), void (*done)(void *, int)) {
    struct later *l = xmalloc(sizeof *l);
    *l = (struct later){op, arg, free_arg, done, BR_ESTORE, e->later};
    e->later = l;
}

void engine_write_later(engine_t *e, store_op_fn op, void *arg, void (*free_arg)(void *)) {
    later_add(e, op, arg, free_arg, NULL);
}

/* ---- checkpoints and trimming -------------------------------------------- */

/* Marks the rows and cohorts of a snapshot that was not written dirty
 * again: they go out with the next one, as they are by then. */
static void reclaim(engine_t *e, ckpt_snap *s) {
    for (uint32_t i = 0; i < s->s.nprofiles; i++) {
        uint32_t row = s->profiles[i].row;
        rowlist_add(&e->dirty, users_get(e->users, row), PROFILE_DIRTY, row);
    }
    for (uint32_t i = 0; i < s->s.ncohorts; i++) cohorts_at(e->cohorts, s->cohort_idx[i])->dirty = true;
    e->snap_seq = ckpt_durable(e->ck); /* the journal since then is pending again */
    ckpt_snap_free(s);
}

/* After a write ended: releases the blobs it held; true when it failed. */
static bool poll_checkpoint(engine_t *e) {
    ckpt_snap *failed;
    if (!ckpt_poll(e->ck, &failed)) return false;
    if (e->retained) users_release(e->users);
    e->retained = false;
    if (!failed) return false;
    reclaim(e, failed);
    return true;
}

static ckpt_snap *take_snapshot(engine_t *e) {
    ckpt_snap *s = xcalloc(1, sizeof *s);
    s->s.seq = e->last_seq;
    s->profiles = xmalloc((e->dirty.n ? e->dirty.n : 1) * sizeof *s->profiles);
    /* Pointers, not copies: blobs are immutable, and the ones replaced
     * while the snapshot is written are kept until it ends. */
    users_retain(e->users);
    e->retained = true;
    for (uint32_t i = 0; i < e->dirty.n; i++) {
        uint32_t row = e->dirty.v[i];
        profile_t *p = users_get(e->users, row);
        store_profile_row *r = &s->profiles[i];
        r->row = row;
        users_braze_id(e->users, row, r->braze_id);
        r->created = p->created;
        r->updated = p->updated;
        r->flags = p->flags & PROFILE_DELETED;
        r->blob = p->blob;
        r->len = p->blob ? (uint32_t)profile_blob_size(p->blob) : 0;
        p->flags &= ~PROFILE_DIRTY;
    }
    s->s.profiles = s->profiles;
    s->s.nprofiles = e->dirty.n;
    e->dirty.n = 0;
    uint32_t n = 0, total = cohorts_count(e->cohorts);
    for (uint32_t i = 0; i < total; i++) n += cohorts_at(e->cohorts, i)->dirty;
    s->cohorts = xcalloc(n ? n : 1, sizeof *s->cohorts);
    s->cohort_idx = xcalloc(n ? n : 1, sizeof *s->cohort_idx);
    for (uint32_t i = 0; i < total; i++) {
        cohort_t *k = cohorts_at(e->cohorts, i);
        if (!k->dirty) continue;
        store_cohort_row *r = &s->cohorts[s->s.ncohorts];
        bitmap_optimize(k->members);
        size_t len = bitmap_serialized_size(k->members);
        void *members = xmalloc(len ? len : 1);
        bitmap_serialize(k->members, members);
        r->m = cohort_meta_of(k);
        r->m.partner = xstrdup(k->partner);
        r->m.cohort_id = xstrdup(k->id);
        r->m.name = xstrdup(k->name);
        r->members = members;
        r->members_len = len;
        s->cohort_idx[s->s.ncohorts++] = i;
    }
    s->s.cohorts = s->cohorts;
    cohorts_clean(e->cohorts);
    return s;
}

void engine_checkpoint(engine_t *e, bool force) {
    /* Whether one is in flight first, then its end: polled the other way
     * round, a write ending between the two would be reported only after
     * the next snapshot was taken, and its users_release would free blobs
     * that snapshot points to (and a failed one's rows would be reclaimed
     * after it, so the next checkpoint would cover a seq without them).
     * With none in flight, what the poll reads cannot change. */
    if (ckpt_busy(e->ck)) {
        if (!force) return; /* one in flight: the next turn tries again */
        ckpt_wait(e->ck);   /* forced (start-up, shutdown): wait for it */
    }
    poll_checkpoint(e);
    int64_t now = clock_wall_ms(), pending = e->last_seq - e->snap_seq;
    if (!pending && !e->dirty.n && !e->upgrade) return;
    if (!force && e->dirty.n < CKPT_DIRTY && e->journal_bytes < CKPT_JOURNAL_BYTES &&
        now - e->checkpoint_ms < e->checkpoint_age_ms)
        return;
    int64_t t0 = clock_mono_us();
    ckpt_snap *s = take_snapshot(e);
    if (s->s.nprofiles || s->s.ncohorts || pending)
        log_info("engine: checkpoint snapshot of %u profiles up to seq %lld: %.2f ms on the engine thread",
                 s->s.nprofiles, (long long)s->s.seq, (double)(clock_mono_us() - t0) / 1000);
    e->snap_seq = e->last_seq;
    e->checkpoint_ms = now;
    e->journal_bytes = 0;
    e->upgrade = false;
    ckpt_submit(e->ck, s);
}

static int checkpoint_read(engine_t *e, void *arg) {
    engine_checkpoint(e, true);
    if (!*(bool *)arg) return 0;
    ckpt_wait(e->ck);
    return poll_checkpoint(e) ? BR_ESTORE : 0;
}

int engine_checkpoint_now(engine_t *e, bool wait) {
    /* Between batches only: a snapshot taken between two writes of a batch
     * would hold half of it under the seq before it. */
    eng_cmd c = {.kind = ENG_READ, .read = checkpoint_read, .arg = &wait, .between = true};
    return eng_exec(e, &c);
}

typedef struct {
    engine_t *e;
    int64_t upto;
    int deleted;
} trim_arg;

/* Deletes journal rows covered by a committed checkpoint, a chunk at a
 * time so no transaction holds the writer long. */
static int trim_op(sqlite3 *db, void *arg) {
    trim_arg *t = arg;
    t->deleted = 0;
    return store_journal_trim(db, t->upto, TRIM_CHUNK, &t->deleted);
}

/* The trim op's end, whatever it was (it may never have run: a BEGIN that
 * timed out, another op's storage error): the next trim may be queued, and
 * one that did not commit, or stopped at its chunk, is tried again. */
static void trim_done(void *arg, int rc) {
    trim_arg *t = arg;
    if (rc < 0 || t->deleted == TRIM_CHUNK) atomic_store(&t->e->trim_more, true);
    atomic_store(&t->e->trim_busy, false);
}

/* The periodic work of the engine thread, between batches. */
static void chores(engine_t *e) {
    if (store_failed(e->store)) return;
    engine_checkpoint(e, false);
    int64_t durable = ckpt_durable(e->ck);
    if (!atomic_load(&e->trim_busy) && (durable > e->trimmed || atomic_exchange(&e->trim_more, false))) {
        trim_arg *t = xmalloc(sizeof *t);
        *t = (trim_arg){e, durable, 0};
        e->trimmed = durable;
        atomic_store(&e->trim_busy, true);
        later_add(e, trim_op, t, free, trim_done);
    }
    if (e->later) run_list(e, NULL); /* nothing else will carry it */
}

/* ---- the thread ---------------------------------------------------------- */

static void *engine_main(void *arg) {
    thread_name("brasa-engine");
    engine_t *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        eng_cmd *list = take(e, true);
        if (!list && e->stopping && !e->head) break;
        if (!list) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += IDLE_WAKE_MS / 1000;
            pthread_cond_timedwait(&e->wake, &e->lock, &ts);
            list = take(e, true);
        }
        pthread_mutex_unlock(&e->lock);
        if (list) run_list(e, list);
        chores(e);
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

int engine_start(engine_t *e) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&e->wake);
    pthread_cond_init(&e->wake, &ca);
    pthread_condattr_destroy(&ca);
    e->started = true;
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        e->started = false;
        log_error("engine: cannot start the engine thread");
        return BR_EINTERNAL;
    }
    return 0;
}

void eng_submit(engine_t *e, eng_cmd *c) {
    c->next = NULL;
    pthread_mutex_lock(&e->lock);
    if (e->tail) e->tail->next = c;
    else e->head = c;
    e->tail = c;
    if (c->kind == ENG_READ && !c->between) atomic_fetch_add(&e->reads, 1);
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
} exec_wait;

static void exec_done(eng_cmd *c) {
    exec_wait *w = c->done_arg;
    pthread_mutex_lock(&w->m);
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

int eng_exec(engine_t *e, eng_cmd *c) {
    exec_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    void (*done)(eng_cmd *) = c->done;
    void *done_arg = c->done_arg;
    c->done = exec_done;
    c->done_arg = &w;
    c->next = NULL;
    if (e->started) eng_submit(e, c);
    else run_list(e, c);
    pthread_mutex_lock(&w.m);
    while (!w.done) pthread_cond_wait(&w.c, &w.m);
    pthread_mutex_unlock(&w.m);
    c->done = done;
    c->done_arg = done_arg;
    return c->rc;
}

int eng_exec_read(engine_t *e, int (*fn)(engine_t *e, void *arg), void *arg) {
    eng_cmd c = {.kind = ENG_READ, .read = fn, .arg = arg};
    return eng_exec(e, &c);
}

int eng_exec_store(engine_t *e, store_op_fn op, void *arg) {
    eng_cmd c = {.kind = ENG_STORE, .op = op, .arg = arg};
    return eng_exec(e, &c);
}

/* Waits until every batch handed to the store is answered. */
static void drain(engine_t *e) {
    pthread_mutex_lock(&e->lock);
    while (e->inflight) pthread_cond_wait(&e->drained, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

void engine_stop(engine_t *e, bool checkpoint) {
    if (!e || !e->started) return;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    e->started = false;
    drain(e);
    if (checkpoint && !store_failed(e->store)) {
        /* A clean stop leaves no journal to replay. */
        engine_checkpoint(e, true);
        ckpt_wait(e->ck);
        poll_checkpoint(e);
    }
}

/* The checkpoint thread's wait for the journal to be durable up to seq. */
static bool journal_durable(void *arg, int64_t seq) {
    engine_t *e = arg;
    pthread_mutex_lock(&e->lock);
    while (atomic_load(&e->durable) < seq && !store_failed(e->store)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1; /* store failure is not signalled: look again */
        pthread_cond_timedwait(&e->drained, &e->lock, &ts);
    }
    bool ok = atomic_load(&e->durable) >= seq;
    pthread_mutex_unlock(&e->lock);
    return ok;
}

int engine_open(store_t *store, engine_t **out) {
    engine_t *e = xcalloc(1, sizeof *e);
    e->store = store;
    e->names = names_new();
    e->cohorts = cohorts_new();
    e->kept = subs_kept_new();
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->drained, NULL);
    int64_t t0 = clock_mono_us();
    int rc = ckpt_open(store_dir(store), &e->ck);
    if (rc == 0) rc = store_open_reader(store, &e->reader);
    if (rc == 0) {
        ckpt_set_journal(e->ck, journal_durable, e);
        rc = engine_load(e);
    }
    if (rc == 0) rc = ckpt_start(e->ck);
    if (rc == 0) {
        /* Fold a replayed tail (or, after an upgrade, everything) into
         * profiles.db now, and wait for it. */
        engine_checkpoint(e, true);
        ckpt_wait(e->ck);
        if (poll_checkpoint(e)) rc = BR_ESTORE; /* the write failed (logged); brasa.db's old tables stay */
    }
    if (rc == 0 && (rc = store_exec(store, engine_drop_old_op, NULL)) < 0)
        log_error("engine: cannot empty brasa.db's old checkpoint tables");
    if (rc < 0) {
        engine_free(e);
        return rc;
    }
    e->trimmed = 0;
    e->checkpoint_ms = clock_wall_ms();
    /* Operators may checkpoint more often (a shorter replay at start, for
     * more writes to profiles.db); tests do, to see checkpoints happen. */
    const char *age = getenv("BRASA_CHECKPOINT_MS");
    e->checkpoint_age_ms = age && atoll(age) > 0 ? atoll(age) : CKPT_AGE_MS;
    mem_trim(); /* start-up's transient arrays */
    log_info("engine: loaded %u profiles (%u rows) in %.3f s", users_live(e->users), users_rows(e->users),
             (double)(clock_mono_us() - t0) / 1e6);
    *out = e;
    return 0;
}

void engine_free(engine_t *e) {
    if (!e) return;
    engine_stop(e, false);
    ckpt_close(e->ck); /* finishes a snapshot it was handed */
    for (struct later *l = e->later, *n; l; l = n) {
        n = l->next;
        if (l->done) l->done(l->arg, BR_ESTORE); /* never handed to the store */
        if (l->free_arg) l->free_arg(l->arg);
        free(l);
    }
    if (e->reader) sqlite3_close(e->reader);
    users_free(e->users);
    names_free(e->names);
    cohorts_free(e->cohorts);
    subs_kept_free(e->kept);
    cols_free(e->cols);
    free(e->dirty.v);
    free(e->stale.v);
    free(e->batch.v);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->drained);
    free(e);
}

eng_stats engine_stats(engine_t *e) {
    int64_t durable = ckpt_durable(e->ck);
    eng_stats s = {users_rows(e->users), users_live(e->users), e->dirty.n, e->last_seq - durable, e->last_seq, durable,
                   ckpt_durable_ms(e->ck),
                   users_memory(e->users) + names_memory(e->names) + cohorts_memory(e->cohorts) +
                       (e->cols ? cols_memory(e->cols) : 0),
                   e->commands, e->batches, e->objects};
    return s;
}
