/* cohort.c -- the cohort registry, the import commands and their change
 * log (see cohort.h). */
#include "cohort.h"
#include "profile.h"
#include "users.h"
#include "../lib/err.h"
#include "../lib/hash.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY UINT32_MAX

struct cohorts {
    cohort_t **v; /* creation order; pointers stay put */
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: index into v */
    uint32_t nslots;
    uint32_t *meta; /* indexes of meta-dirty cohorts */
    uint32_t nmeta, capmeta;
    cohort_delta *log; /* member changes not yet drained by the engine */
    uint32_t nlog, caplog;
};

/* ---- registry ------------------------------------------------------------ */

cohorts_t *cohorts_new(void) {
    cohorts_t *c = xcalloc(1, sizeof *c);
    c->nslots = 64;
    c->slots = xmalloc(c->nslots * sizeof *c->slots);
    for (uint32_t i = 0; i < c->nslots; i++) c->slots[i] = SLOT_EMPTY;
    return c;
}

static void cohort_free(cohort_t *k) {
    free(k->partner);
    free(k->id);
    free(k->name);
    bitmap_free(k->members);
    free(k);
}

void cohorts_free(cohorts_t *c) {
    if (!c) return;
    for (uint32_t i = 0; i < c->n; i++) cohort_free(c->v[i]);
    free(c->v);
    free(c->slots);
    free(c->meta);
    free(c->log);
    free(c);
}

uint32_t cohorts_count(const cohorts_t *c) { return c->n; }
cohort_t *cohorts_at(cohorts_t *c, uint32_t i) { return i < c->n ? c->v[i] : NULL; }

static uint64_t key_hash(const char *partner, const char *id, size_t idlen) {
    return hash_mix(hash_bytes(partner, strlen(partner)), hash_bytes(id, idlen));
}

static void slot_put(cohorts_t *c, uint64_t h, uint32_t idx) {
    uint32_t mask = c->nslots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask)
        if (c->slots[i] == SLOT_EMPTY) {
            c->slots[i] = idx;
            return;
        }
}

cohort_t *cohorts_find(cohorts_t *c, const char *partner, const char *id, size_t idlen) {
    uint32_t mask = c->nslots - 1;
    for (uint32_t i = (uint32_t)key_hash(partner, id, idlen) & mask;; i = (i + 1) & mask) {
        if (c->slots[i] == SLOT_EMPTY) return NULL;
        cohort_t *k = c->v[c->slots[i]];
        if (strlen(k->id) == idlen && memcmp(k->id, id, idlen) == 0 && !strcmp(k->partner, partner)) return k;
    }
}

static cohort_t *add(cohorts_t *c, const char *partner, const char *id, const char *name) {
    if ((c->n + 1) * 2 > c->nslots) { /* keep the table at most half full */
        free(c->slots);
        c->nslots *= 2;
        c->slots = xmalloc(c->nslots * sizeof *c->slots);
        for (uint32_t i = 0; i < c->nslots; i++) c->slots[i] = SLOT_EMPTY;
        for (uint32_t i = 0; i < c->n; i++) slot_put(c, key_hash(c->v[i]->partner, c->v[i]->id, strlen(c->v[i]->id)), i);
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    cohort_t *k = xcalloc(1, sizeof *k);
    k->partner = xstrdup(partner);
    k->id = xstrdup(id);
    k->name = xstrdup(name);
    k->members = bitmap_new();
    k->idx = c->n;
    c->v[c->n] = k;
    slot_put(c, key_hash(partner, id, strlen(id)), c->n);
    c->n++;
    return k;
}

/* Marks k changed: written whole at the next checkpoint, and its metadata
 * row with the current command. */
static void mark(cohorts_t *c, cohort_t *k) {
    k->dirty = true;
    if (k->meta_dirty) return;
    k->meta_dirty = true;
    if (c->nmeta == c->capmeta) {
        c->capmeta = c->capmeta ? c->capmeta * 2 : 16;
        c->meta = xrealloc(c->meta, c->capmeta * sizeof *c->meta);
    }
    c->meta[c->nmeta++] = k->idx;
}

static void log_delta(cohorts_t *c, uint32_t idx, uint32_t row, bool added) {
    if (c->nlog == c->caplog) {
        c->caplog = c->caplog ? c->caplog * 2 : 256;
        c->log = xrealloc(c->log, c->caplog * sizeof *c->log);
    }
    c->log[c->nlog++] = (cohort_delta){idx, row, added};
}

void cohorts_forget_row(cohorts_t *c, uint32_t row) {
    for (uint32_t i = 0; i < c->n; i++)
        if (bitmap_remove(c->v[i]->members, row)) {
            mark(c, c->v[i]);
            log_delta(c, i, row, false);
        }
}

size_t cohorts_memory(const cohorts_t *c) {
    size_t m = sizeof *c + c->cap * sizeof *c->v + c->nslots * sizeof *c->slots + c->capmeta * sizeof *c->meta +
               c->caplog * sizeof *c->log;
    for (uint32_t i = 0; i < c->n; i++) {
        const cohort_t *k = c->v[i];
        m += sizeof *k + strlen(k->partner) + strlen(k->id) + strlen(k->name) + 3 + bitmap_memory(k->members);
    }
    return m;
}

/* ---- commands ------------------------------------------------------------ */

void cohort_apply_name(cohorts_t *c, const cohort_cmd *cmd, int64_t now_ms, cohort_result *r) {
    memset(r, 0, sizeof *r);
    cohort_t *k = cohorts_find(c, cmd->partner, cmd->cohort_id, cmd->idlen);
    if (!k) {
        k = add(c, cmd->partner, cmd->cohort_id, cmd->name);
        k->created_at = cmd->created_at;
        k->updated_at = now_ms;
        mark(c, k);
        r->created = true;
    } else if (strcmp(k->name, cmd->name) != 0) {
        free(k->name);
        k->name = xstrdup(cmd->name);
        k->updated_at = now_ms;
        mark(c, k);
    }
}

/* A command's events, written compactly: one outbox item per command,
 *
 *   {"event_type":"brasa.cohorts.Change","id":"<base>-c","time":T,
 *    "cohort_id":..,"cohort_name":..,"partner":..,
 *    "changes":[[i,"<braze_id>","<external id>"|null,1 (added)|0], ...]}
 *
 * which Currents expands into one flat event per change (id "<base>-c" +
 * i as 4+ hex digits: currents/outbox.c). Writing the full events made
 * imports 3x slower at 1M profiles (~250 bytes of outbox per change,
 * written twice by the WAL); this is ~45. */
typedef struct {
    buf_t *outbox, head;
    bool open;
} cohort_events;

static void events_open(cohort_events *ev, const cohort_t *k, buf_t *outbox, uint64_t base, int64_t now_ms) {
    *ev = (cohort_events){outbox, BUF_INIT, false};
    if (!outbox) return;
    buf_printf(&ev->head, "{\"event_type\":\"brasa.cohorts.Change\",\"id\":\"%016" PRIx64 "-c\",\"time\":%" PRId64,
               base, now_ms / 1000);
    buf_puts(&ev->head, ",\"cohort_id\":");
    buf_json_str(&ev->head, k->id, strlen(k->id));
    buf_puts(&ev->head, ",\"cohort_name\":"); /* never empty (the name call) */
    buf_json_str(&ev->head, k->name, strlen(k->name));
    buf_puts(&ev->head, ",\"partner\":");
    buf_json_str(&ev->head, k->partner, strlen(k->partner));
    buf_puts(&ev->head, ",\"changes\":[");
}

/* One change: row, by the command's ref i. */
static void event(cohort_events *ev, users_t *u, uint32_t row, uint32_t i, bool added) {
    buf_t *b = ev->outbox;
    if (!b) return;
    if (!ev->open) {
        if (b->len > 1) buf_append(b, ",", 1);
        buf_append(b, ev->head.data, ev->head.len);
        ev->open = true;
    } else buf_append(b, ",", 1);
    char num[16], bz[25];
    int n = snprintf(num, sizeof num, "[%u,\"", i);
    buf_append(b, num, (size_t)n);
    users_braze_hex(u, row, bz);
    buf_append(b, bz, 24);
    buf_append(b, "\",", 2);
    const uint8_t *blob = users_get(u, row)->blob;
    pfield f;
    if (blob && profile_get(blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f)) buf_json_str(b, (const char *)f.p, f.len);
    else buf_append(b, "null", 4);
    buf_append(b, added ? ",1]" : ",0]", 3);
}

static void events_close(cohort_events *ev) {
    if (ev->open) buf_append(ev->outbox, "]}", 2);
    buf_free(&ev->head);
}

/* Applies a ref to row (its user); true when the membership changed. */
static bool change(cohorts_t *c, cohort_t *k, uint32_t row, bool remove, cohort_result *t) {
    if (row == USERS_NONE) {
        t->unmatched++;
        return false;
    }
    if (remove ? !bitmap_remove(k->members, row) : !bitmap_add(k->members, row)) {
        t->unchanged++;
        return false;
    }
    if (remove) t->removed++;
    else t->added++;
    log_delta(c, k->idx, row, !remove);
    return true;
}

static uint32_t find_ref(users_t *u, const cohort_ref *r) {
    switch (r->kind) {
    case COHORT_REF_USER: return users_by_external_id(u, r->a, r->an);
    case COHORT_REF_DEVICE: return users_by_device(u, r->a, r->an);
    default: return users_by_alias(u, r->a, r->an, r->b, r->bn);
    }
}

int cohort_apply_users(cohorts_t *c, users_t *u, const cohort_cmd *cmd, int64_t now_ms, buf_t *outbox,
                       uint64_t event_base, cohort_result *r) {
    memset(r, 0, sizeof *r);
    cohort_t *k = cohorts_find(c, cmd->partner, cmd->cohort_id, cmd->idlen);
    if (!k) return BR_ENOCOHORT;
    if (!cmd->nrefs) return 0; /* a credentials check (Segment's destination set-up) changes nothing */
    cohort_events ev;
    events_open(&ev, k, outbox, event_base, now_ms);
    for (uint32_t i = 0; i < cmd->nrefs; i++) {
        uint32_t row = find_ref(u, &cmd->refs[i]);
        if (change(c, k, row, cmd->refs[i].remove, r)) event(&ev, u, row, i, !cmd->refs[i].remove);
    }
    events_close(&ev);
    k->import_at = now_ms;
    k->import_added = r->added;
    k->import_removed = r->removed;
    k->import_unchanged = r->unchanged;
    k->import_unmatched = r->unmatched;
    if (r->added || r->removed) k->updated_at = now_ms;
    mark(c, k);
    return 0;
}

const cohort_delta *cohorts_log(const cohorts_t *c, uint32_t *n) {
    *n = c->nlog;
    return c->log;
}

void cohorts_log_clear(cohorts_t *c) {
    c->nlog = 0;
    for (uint32_t i = 0; i < c->nmeta; i++) c->v[c->meta[i]]->meta_dirty = false;
    c->nmeta = 0;
}

/* ---- loading, replay, views --------------------------------------------- */

cohort_meta cohort_meta_of(const cohort_t *k) {
    return (cohort_meta){k->partner, k->id, k->name, k->created_at, k->updated_at, k->import_at,
                         k->import_added, k->import_removed, k->import_unchanged, k->import_unmatched,
                         (int64_t)bitmap_cardinality(k->members)};
}

json_object *cohort_meta_json(const cohort_meta *m) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "partner", json_object_new_string(m->partner));
    json_object_object_add(o, "cohort_id", json_object_new_string(m->cohort_id));
    json_object_object_add(o, "name", json_object_new_string(m->name));
    json_object_object_add(o, "size", json_object_new_int64(m->size));
    json_object_object_add(o, "created_at", json_time(m->created_at));
    json_object_object_add(o, "updated_at", json_time(m->updated_at));
    json_object *imp = NULL;
    if (m->import_at) {
        imp = json_object_new_object();
        json_object_object_add(imp, "at", json_time(m->import_at));
        json_object_object_add(imp, "added", json_object_new_int64(m->import_added));
        json_object_object_add(imp, "removed", json_object_new_int64(m->import_removed));
        json_object_object_add(imp, "unchanged", json_object_new_int64(m->import_unchanged));
        json_object_object_add(imp, "unmatched", json_object_new_int64(m->import_unmatched));
    }
    json_object_object_add(o, "last_import", imp);
    return o;
}

int cohorts_put(cohorts_t *c, uint32_t idx, const cohort_meta *m) {
    cohort_t *k;
    if (idx == c->n) {
        if (cohorts_find(c, m->partner, m->cohort_id, strlen(m->cohort_id))) goto bad;
        k = add(c, m->partner, m->cohort_id, m->name);
    } else if (idx < c->n && !strcmp(c->v[idx]->partner, m->partner) && !strcmp(c->v[idx]->id, m->cohort_id)) {
        k = c->v[idx];
        free(k->name);
        k->name = xstrdup(m->name);
    } else {
        goto bad;
    }
    k->created_at = m->created_at;
    k->updated_at = m->updated_at;
    k->import_at = m->import_at;
    k->import_added = (uint32_t)m->import_added;
    k->import_removed = (uint32_t)m->import_removed;
    k->import_unchanged = (uint32_t)m->import_unchanged;
    k->import_unmatched = (uint32_t)m->import_unmatched;
    k->dirty = true;
    return 0;
bad:
    log_error("cohorts: cohort %u (%s/%s) contradicts the registry", idx, m->partner, m->cohort_id);
    return BR_ESTORE;
}

int cohorts_put_members(cohorts_t *c, uint32_t idx, const void *members, size_t len) {
    bitmap_t *b = bitmap_deserialize(members, len);
    if (idx >= c->n || !b) {
        log_error("cohorts: the members of cohort %u do not parse", idx);
        bitmap_free(b);
        return BR_ESTORE;
    }
    bitmap_free(c->v[idx]->members);
    c->v[idx]->members = b;
    return 0;
}

void cohorts_clean(cohorts_t *c) {
    for (uint32_t i = 0; i < c->n; i++) c->v[i]->dirty = false;
}
