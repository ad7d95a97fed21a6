/* load.c -- engine start-up: names, the checkpoint (profiles.db, or
 * brasa.db's old tables), cohorts, then the journal tail (see engine.h).
 *
 * Format-2 journal rows are change records: applied, never validated.
 * Format-1 rows, written by versions before change records, hold request
 * bodies: the decoder api/ registers turns each into the command it was,
 * applied as of the time it ran. Both leave the state the live server had,
 * and the start-up checkpoint then folds it into profiles.db. */
#include "internal.h"
#include "records.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../store/email.h"
#include "../store/journal.h"

#include <stdlib.h>
#include <string.h>

static eng_legacy_fn legacy_decode;
static void (*legacy_free)(eng_cmd *c);

void engine_set_legacy(eng_legacy_fn decode, void (*free_cmd)(eng_cmd *c)) {
    legacy_decode = decode;
    legacy_free = free_cmd;
}

static int load_name(void *arg, uint32_t id, const char *s, size_t n) { return names_load_one(arg, id, s, n); }

static int load_kept(void *arg, const char *address, const char *state, int64_t at_ms) {
    int s = subs_state_parse(state, false);
    if (s >= 0) subs_kept_set(arg, address, strlen(address), (subs_state)s, at_ms, false);
    return 0;
}

static int load_profile(void *arg, const store_profile_row *r) {
    engine_t *e = arg;
    profile_t p = {.created = r->created, .updated = r->updated, .flags = r->flags & PROFILE_DELETED};
    if (r->blob && profile_blob_size(r->blob) != r->len) {
        log_error("engine: profile row %u does not decode", r->row);
        return BR_ESTORE;
    }
    if (!users_braze_born(e->users, r->row, r->braze_id, &p.born)) {
        log_error("engine: profile row %u has a braze_id of another store or row", r->row);
        return BR_ESTORE;
    }
    users_put(e->users, r->row, &p, r->blob, r->len);
    return 0;
}

static int load_cohort(const store_cohort_row *r, void *arg) {
    cohorts_t *c = arg;
    uint32_t idx = cohorts_count(c);
    int rc = cohorts_put(c, idx, &r->m);
    if (rc == 0 && r->members) rc = cohorts_put_members(c, idx, r->members, r->members_len);
    return rc;
}

typedef struct {
    engine_t *e;
    int64_t rows;
} replay_arg;

static int replay_row(void *arg, int64_t seq, int64_t at, int format, int kind, const void *p, size_t n) {
    replay_arg *ra = arg;
    engine_t *e = ra->e;
    int rc;
    if (format == STORE_JOURNAL_V2) {
        rc = rec_apply(p, n, e->users, e->cohorts, engine_touch, e);
    } else if (format == STORE_JOURNAL_V1 && legacy_decode) {
        eng_cmd c = {0};
        rc = legacy_decode(kind, p, n, &c);
        if (rc == 0) {
            c.now_ms = at;
            engine_apply(e, &c, NULL, 0);
        }
        if (legacy_free) legacy_free(&c);
    } else {
        log_error("engine: journal row %lld has format %d, which this version cannot read", (long long)seq, format);
        return BR_ESTORE;
    }
    if (rc < 0) {
        /* Never start on part of the data: a row that does not decode is
         * a corrupt journal (or a binary too old for it), not noise. */
        log_error("engine: journal row %lld (format %d) does not decode; refusing to start", (long long)seq, format);
        return BR_ESTORE;
    }
    e->last_seq = seq;
    ra->rows++;
    return 0;
}

int engine_drop_old_op(sqlite3 *db, void *arg) {
    (void)arg;
    return store_drop_old_ckpt(db);
}

/* Runs as a store op: brasa.db is read inside one transaction, so a CLI
 * writing at the same time cannot show half of its change. */
static int load_op(sqlite3 *db, void *arg) {
    engine_t *e = arg;
    sqlite3 *pdb = ckpt_db(e->ck);
    uint32_t inst;
    int64_t top;
    int rc;
    if ((rc = store_instance_id(db, &inst)) < 0 || (rc = store_journal_top(db, &top)) < 0) return rc;
    e->users = users_new(inst);
    if ((rc = store_names_each(db, load_name, e->names)) < 0) return rc;
    e->names_saved = names_next(e->names);
    if ((rc = store_email_states_each(db, load_kept, e->kept)) < 0) return rc;
    rc = ckpt_load_seq(e->ck, &e->loaded_seq);
    if (rc == 0) {
        /* profiles.db is the checkpoint. If it is ahead of this brasa.db
         * (the two files restored from different moments), new journal rows
         * would get seqs it already covers and the replay would skip them. */
        if (e->loaded_seq > top) {
            log_error("engine: profiles.db is at journal seq %lld but brasa.db has only reached %lld: "
                      "the two files are not from the same moment (restore both from one backup)",
                      (long long)e->loaded_seq, (long long)top);
            return BR_ESTORE;
        }
        uint32_t rows;
        if ((rc = store_profiles_top(pdb, &rows)) < 0) return rc;
        users_reserve(e->users, rows);
        if ((rc = store_profiles_each(pdb, load_profile, e)) < 0 || (rc = store_cohort_each(pdb, load_cohort, e->cohorts)) < 0)
            return rc;
    } else if (rc == BR_ENOTFOUND) {
        /* No checkpoint in profiles.db: a new store, or one written by a
         * version that kept profiles in brasa.db. Load from brasa.db's
         * tables; the start-up checkpoint then writes everything to
         * profiles.db, and only after that commits are the old rows cleared
         * (engine_open), so a crash in between just does this again. */
        if ((rc = store_profiles_each(db, load_profile, e)) < 0 || (rc = store_cohort_each(db, load_cohort, e->cohorts)) < 0)
            return rc;
        e->loaded_seq = 0;
        if ((rc = store_old_ckpt_seq(db, &e->loaded_seq)) < 0 && rc != BR_ENOTFOUND) return rc;
        e->upgrade = true;
    } else {
        return rc;
    }
    e->last_seq = e->snap_seq = e->loaded_seq;
    replay_arg ra = {e, 0};
    if ((rc = store_journal_each(db, e->loaded_seq, replay_row, &ra)) < 0) return rc;
    if (ra.rows) log_info("engine: replayed %lld journal rows", (long long)ra.rows);
    if (top > e->last_seq) e->last_seq = top; /* seqs are never given out twice */
    atomic_store(&e->durable, e->last_seq);
    /* What the replay marked for a batch was journaled long ago. */
    for (uint32_t i = 0; i < e->batch.n; i++) users_get(e->users, e->batch.v[i])->flags &= ~PROFILE_BATCH;
    e->batch.n = 0;
    cohorts_log_clear(e->cohorts);
    if (e->upgrade) {
        for (uint32_t r = 0; r < users_rows(e->users); r++)
            rowlist_add(&e->dirty, users_get(e->users, r), PROFILE_DIRTY, r);
        for (uint32_t i = 0; i < cohorts_count(e->cohorts); i++) cohorts_at(e->cohorts, i)->dirty = true;
    }
    /* Columns from the final state in one pass, not per replayed change. */
    e->cols = cols_new();
    cols_build(e->cols, e->users);
    return 0;
}

int engine_load(engine_t *e) { return store_exec(e->store, load_op, e); }
