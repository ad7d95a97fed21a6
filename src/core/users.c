/* users.c -- rows of profiles and the identifier indexes (see users.h). */
#include "users.h"
#include "../lib/hash.h"
#include "../lib/mem.h"
#include "../lib/str.h"
#include "../lib/varint.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EMPTY UINT32_MAX
#define TOMB (UINT32_MAX - 1)

typedef struct {
    uint32_t tag, row;
} islot;

typedef struct {
    islot *s;
    uint32_t cap, used; /* used counts tombstones too */
} uidx;

/* What a lookup compares against a row: one or two byte strings. */
typedef struct {
    const char *a, *b;
    size_t an, bn;
} ukey;

typedef bool (*umatch)(users_t *u, uint32_t row, const ukey *k);

/* No braze_id index: a braze_id carries its row (users_create), so a
 * lookup decodes it and compares; an index would cost 16 bytes a profile. */
enum { IX_EXT, IX_ALIAS, IX_DEVICE, IX_EMAIL, IX_PHONE, IX__N };

struct users {
    profile_t *rows;
    uint32_t n, cap, live;
    uint32_t instance;
    uidx ix[IX__N];
    bool retain;    /* a snapshot holds blob pointers: retire, do not free */
    uint8_t **retired;
    size_t nretired, capretired;
};

static void retire(users_t *u, uint8_t *blob) {
    if (!blob) return;
    if (!u->retain) {
        free(blob);
        return;
    }
    if (u->nretired == u->capretired) {
        u->capretired = u->capretired ? u->capretired * 2 : 1024;
        u->retired = xrealloc(u->retired, u->capretired * sizeof *u->retired);
    }
    u->retired[u->nretired++] = blob;
}

void users_retain(users_t *u) { u->retain = true; }

void users_release(users_t *u) {
    for (size_t i = 0; i < u->nretired; i++) free(u->retired[i]);
    u->nretired = 0;
    u->retain = false;
}

/* ---- index --------------------------------------------------------------- */

static void ix_init(uidx *x) {
    x->cap = 1024;
    x->used = 0;
    x->s = xmalloc(x->cap * sizeof *x->s);
    for (uint32_t i = 0; i < x->cap; i++) x->s[i].row = EMPTY;
}

/* A key's 64-bit hash gives a slot its tag (the high half), and the tag
 * gives its place: growing the table then moves slots by their tags alone,
 * without reading each row's key back from its profile (which cost a
 * cache miss and a field search per entry, twice per doubling). Rows with
 * the same tag are told apart by their keys, as any match is. */
static void ix_put_raw(uidx *x, uint32_t tag, uint32_t row) {
    uint32_t mask = x->cap - 1;
    for (uint32_t i = tag & mask;; i = (i + 1) & mask)
        if (x->s[i].row == EMPTY || x->s[i].row == TOMB) {
            if (x->s[i].row == EMPTY) x->used++;
            x->s[i] = (islot){tag, row};
            return;
        }
}

static void ix_grow(uidx *x) {
    islot *old = x->s;
    uint32_t oldcap = x->cap;
    x->cap = x->used * 2 > oldcap ? oldcap * 2 : oldcap; /* many tombstones: rebuild same size */
    x->s = xmalloc(x->cap * sizeof *x->s);
    for (uint32_t i = 0; i < x->cap; i++) x->s[i].row = EMPTY;
    x->used = 0;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i].row != EMPTY && old[i].row != TOMB) ix_put_raw(x, old[i].tag, old[i].row);
    free(old);
}

static void ix_add(users_t *u, int which, uint64_t h, uint32_t row) {
    uidx *x = &u->ix[which];
    if ((x->used + 1) * 4 > x->cap * 3) ix_grow(x);
    ix_put_raw(x, (uint32_t)(h >> 32), row);
}

/* Visits rows whose slot matches h and k; stops when fn returns true. */
static uint32_t ix_scan(users_t *u, int which, uint64_t h, const ukey *k, umatch m,
                        bool (*fn)(users_t *, uint32_t, void *), void *arg) {
    uidx *x = &u->ix[which];
    uint32_t mask = x->cap - 1, tag = (uint32_t)(h >> 32);
    for (uint32_t i = tag & mask;; i = (i + 1) & mask) {
        islot *s = &x->s[i];
        if (s->row == EMPTY) return USERS_NONE;
        if (s->row == TOMB || s->tag != tag || !m(u, s->row, k)) continue;
        if (!fn || fn(u, s->row, arg)) return s->row;
    }
}

static void ix_del(users_t *u, int which, uint64_t h, uint32_t row) {
    uidx *x = &u->ix[which];
    uint32_t mask = x->cap - 1, tag = (uint32_t)(h >> 32);
    for (uint32_t i = tag & mask;; i = (i + 1) & mask) {
        islot *s = &x->s[i];
        if (s->row == EMPTY) return;
        if (s->row == row && s->tag == tag) {
            s->row = TOMB;
            return;
        }
    }
}

/* ---- keys of a row ------------------------------------------------------- */

static bool str_field(const profile_t *p, uint32_t id, ukey *k) {
    pfield f;
    if (!p->blob || !profile_get(p->blob, pkey(id, PK_ATTR), &f) || f.type != PT_STR) return false;
    k->a = (const char *)f.p;
    k->an = f.len;
    k->b = NULL;
    k->bn = 0;
    return true;
}

/* The idx-th element of an array field (aliases: label, name pairs). */
static bool arr_elem(const profile_t *p, uint32_t id, uint32_t idx, const uint8_t **s, size_t *n) {
    pfield f;
    if (!p->blob || !profile_get(p->blob, pkey(id, PK_ATTR), &f) || f.type != PT_ARR) return false;
    parr_iter it;
    parr_init(&it, f.p, f.len);
    for (uint32_t i = 0; parr_next(&it, NULL, s, n, NULL, NULL); i++)
        if (i == idx) return true;
    return false;
}

/* The idx-th key of row in index which (most indexes have one key). */
static bool row_key(users_t *u, int which, uint32_t row, uint32_t idx, ukey *k) {
    profile_t *p = &u->rows[row];
    if (p->flags & PROFILE_DELETED) return false;
    const uint8_t *a, *b;
    size_t an, bn;
    switch (which) {
    case IX_EXT:
        /* The primary id, then ids deprecated by a rename: they still find
         * the user until removed (Braze). */
        if (idx == 0) return str_field(p, PF_EXTERNAL_ID, k);
        if (!arr_elem(p, PF_OLD_EXTERNAL_IDS, idx - 1, &a, &an)) return false;
        *k = (ukey){(const char *)a, NULL, an, 0};
        return true;
    case IX_EMAIL: return idx == 0 && str_field(p, PF_EMAIL, k);
    case IX_PHONE: return idx == 0 && str_field(p, PF_PHONE, k);
    case IX_DEVICE:
        if (!arr_elem(p, PF_DEVICES, idx, &a, &an)) return false;
        *k = (ukey){(const char *)a, NULL, an, 0};
        return true;
    case IX_ALIAS:
        if (!arr_elem(p, PF_ALIASES, idx * 2, &a, &an) || !arr_elem(p, PF_ALIASES, idx * 2 + 1, &b, &bn))
            return false;
        *k = (ukey){(const char *)a, (const char *)b, an, bn};
        return true;
    }
    return false;
}

static uint64_t lower_hash(const char *s, size_t n) {
    char buf[256];
    if (n > sizeof buf) return hash_bytes(s, n); /* emails are far shorter */
    for (size_t i = 0; i < n; i++) buf[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    return hash_bytes(buf, n);
}

static uint64_t key_hash(int which, const ukey *k) {
    if (which == IX_EMAIL) return lower_hash(k->a, k->an);
    if (which == IX_ALIAS) return hash_mix(hash_bytes(k->a, k->an), hash_bytes(k->b, k->bn));
    return hash_bytes(k->a, k->an) ^ (uint64_t)which;
}

static bool same(const char *a, size_t an, const char *b, size_t bn) { return an == bn && (!an || memcmp(a, b, an) == 0); }

static bool match_key(users_t *u, int which, uint32_t row, const ukey *k) {
    ukey rk;
    for (uint32_t j = 0; row_key(u, which, row, j, &rk); j++) {
        if (which == IX_EMAIL ? (rk.an == k->an && strncasecmp(rk.a, k->a, k->an) == 0)
                              : same(rk.a, rk.an, k->a, k->an) && same(rk.b, rk.bn, k->b, k->bn))
            return true;
    }
    return false;
}

#define MATCHER(name, which) \
    static bool name(users_t *u, uint32_t row, const ukey *k) { return match_key(u, which, row, k); }
MATCHER(m_ext, IX_EXT)
MATCHER(m_alias, IX_ALIAS)
MATCHER(m_device, IX_DEVICE)
MATCHER(m_email, IX_EMAIL)
MATCHER(m_phone, IX_PHONE)
static const umatch matchers[IX__N] = {m_ext, m_alias, m_device, m_email, m_phone};

static void index_row(users_t *u, uint32_t row, bool add) {
    for (int w = 0; w < IX__N; w++) {
        ukey k;
        for (uint32_t j = 0; row_key(u, w, row, j, &k); j++) {
            if (add) ix_add(u, w, key_hash(w, &k), row);
            else ix_del(u, w, key_hash(w, &k), row);
        }
    }
}

/* ---- rows ---------------------------------------------------------------- */

users_t *users_new(uint32_t instance) {
    users_t *u = xcalloc(1, sizeof *u);
    u->instance = instance;
    for (int w = 0; w < IX__N; w++) ix_init(&u->ix[w]);
    return u;
}

void users_free(users_t *u) {
    if (!u) return;
    users_release(u);
    free(u->retired);
    for (uint32_t i = 0; i < u->n; i++) free(u->rows[i].blob);
    for (int w = 0; w < IX__N; w++) free(u->ix[w].s);
    free(u->rows);
    free(u);
}

uint32_t users_rows(const users_t *u) { return u->n; }
uint32_t users_live(const users_t *u) { return u->live; }
profile_t *users_get(users_t *u, uint32_t row) { return row < u->n ? &u->rows[row] : NULL; }

void users_reserve(users_t *u, uint32_t rows) {
    if (rows > u->cap) {
        u->cap = rows;
        u->rows = xrealloc(u->rows, (size_t)u->cap * sizeof *u->rows);
    }
    uidx *x = &u->ix[IX_EXT];
    uint32_t cap = x->cap;
    while ((uint64_t)rows * 4 > (uint64_t)cap * 3) cap *= 2;
    if (cap > x->cap && !x->used) {
        free(x->s);
        x->cap = cap;
        x->s = xmalloc(x->cap * sizeof *x->s);
        for (uint32_t i = 0; i < x->cap; i++) x->s[i].row = EMPTY;
    }
}

static uint32_t append(users_t *u, const profile_t *p) {
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 1024;
        u->rows = xrealloc(u->rows, (size_t)u->cap * sizeof *u->rows);
    }
    u->rows[u->n] = *p;
    if (!(p->flags & PROFILE_DELETED)) u->live++;
    return u->n++;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void users_braze_id(const users_t *u, uint32_t row, uint8_t out[12]) {
    put_be32(out, u->rows[row].born);
    put_be32(out + 4, u->instance);
    put_be32(out + 8, row);
}

bool users_braze_born(const users_t *u, uint32_t row, const uint8_t id[12], uint32_t *born) {
    *born = get_be32(id);
    return get_be32(id + 4) == u->instance && get_be32(id + 8) == row;
}

uint32_t users_create(users_t *u, uint32_t now_s) {
    profile_t p = {.born = now_s, .created = now_s, .updated = now_s};
    uint32_t row = append(u, &p);
    index_row(u, row, true);
    return row;
}

uint32_t users_load_row(users_t *u, const profile_t *p) {
    uint32_t row = append(u, p);
    index_row(u, row, true);
    return row;
}

static uint32_t find1(users_t *u, int w, const ukey *k) {
    return ix_scan(u, w, key_hash(w, k), k, matchers[w], NULL, NULL);
}

uint32_t users_by_external_id(users_t *u, const char *s, size_t n) {
    return find1(u, IX_EXT, &(ukey){s, NULL, n, 0});
}

void users_prefetch(users_t *u, const char *s, size_t n, bool email) {
    int w = email ? IX_EMAIL : IX_EXT;
    uidx *x = &u->ix[w];
    __builtin_prefetch(&x->s[(uint32_t)(key_hash(w, &(ukey){s, NULL, n, 0}) >> 32) & (x->cap - 1)]);
}

uint32_t users_by_braze_id(users_t *u, const char *hex, size_t n) {
    uint8_t b[12];
    if (n != 24) return USERS_NONE;
    for (int i = 0; i < 12; i++) {
        int hi = str_hexval(hex[2 * i]), lo = str_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return USERS_NONE;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    uint32_t row = get_be32(b + 8), born;
    if (row >= u->n || (u->rows[row].flags & PROFILE_DELETED) || !users_braze_born(u, row, b, &born) ||
        born != u->rows[row].born)
        return USERS_NONE;
    return row;
}

uint32_t users_by_alias(users_t *u, const char *label, size_t ll, const char *name, size_t nl) {
    return find1(u, IX_ALIAS, &(ukey){label, name, ll, nl});
}

typedef struct {
    uint32_t best, best_upd;
} latest;

/* Keeps the most recently updated anonymous match (then the highest row):
 * several anonymous users may share a device, and the winner must not
 * depend on index probe order, which differs after a restart, or a
 * replayed command would pick another user. */
static bool latest_anonymous(users_t *u, uint32_t row, void *arg) {
    latest *l = arg;
    ukey k;
    if (str_field(&u->rows[row], PF_EXTERNAL_ID, &k)) return false; /* identified users are not found by device */
    uint32_t upd = u->rows[row].updated;
    if (l->best == USERS_NONE || upd > l->best_upd || (upd == l->best_upd && row > l->best)) {
        l->best = row;
        l->best_upd = upd;
    }
    return false; /* keep scanning */
}

uint32_t users_by_device(users_t *u, const char *s, size_t n) {
    ukey k = {s, NULL, n, 0};
    latest l = {USERS_NONE, 0};
    ix_scan(u, IX_DEVICE, key_hash(IX_DEVICE, &k), &k, m_device, latest_anonymous, &l);
    return l.best;
}

typedef struct {
    uint32_t best, best_upd;
    bool best_ided;
} pick;

static bool pick_recent(users_t *u, uint32_t row, void *arg) {
    pick *pk = arg;
    ukey k;
    bool ided = str_field(&u->rows[row], PF_EXTERNAL_ID, &k);
    uint32_t upd = u->rows[row].updated;
    /* Prefer identified users, then the most recently updated (then the
     * newest row, so the choice is deterministic). */
    if (pk->best == USERS_NONE || (ided && !pk->best_ided) ||
        (ided == pk->best_ided && (upd > pk->best_upd || (upd == pk->best_upd && row > pk->best)))) {
        pk->best = row;
        pk->best_upd = upd;
        pk->best_ided = ided;
    }
    return false; /* keep scanning */
}

static uint32_t by_shared(users_t *u, int w, const char *s, size_t n) {
    ukey k = {s, NULL, n, 0};
    pick pk = {USERS_NONE, 0, false};
    ix_scan(u, w, key_hash(w, &k), &k, matchers[w], pick_recent, &pk);
    return pk.best;
}

uint32_t users_by_email(users_t *u, const char *s, size_t n) { return by_shared(u, IX_EMAIL, s, n); }
uint32_t users_by_phone(users_t *u, const char *s, size_t n) { return by_shared(u, IX_PHONE, s, n); }

typedef struct {
    void (*fn)(uint32_t, void *);
    void *arg;
} each_ctx;

static bool each_cb(users_t *u, uint32_t row, void *arg) {
    (void)u;
    each_ctx *c = arg;
    c->fn(row, c->arg);
    return false;
}

static void each(users_t *u, int w, const char *s, size_t n, void (*fn)(uint32_t, void *), void *arg) {
    ukey k = {s, NULL, n, 0};
    each_ctx c = {fn, arg};
    ix_scan(u, w, key_hash(w, &k), &k, matchers[w], each_cb, &c);
}

void users_each_email(users_t *u, const char *s, size_t n, void (*fn)(uint32_t, void *), void *arg) {
    each(u, IX_EMAIL, s, n, fn, arg);
}

void users_each_phone(users_t *u, const char *s, size_t n, void (*fn)(uint32_t, void *), void *arg) {
    each(u, IX_PHONE, s, n, fn, arg);
}

/* True when an identity field differs between the blob and the edit. */
static bool identity_changed(const uint8_t *blob, const pedit *e) {
    static const uint32_t ids[] = {PF_EXTERNAL_ID, PF_EMAIL, PF_PHONE, PF_ALIASES, PF_DEVICES, PF_OLD_EXTERNAL_IDS};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        uint32_t key = pkey(ids[i], PK_ATTR);
        pfield old;
        bool had = blob && profile_get(blob, key, &old);
        const pfield *nf = pedit_get(e, key);
        if (had != (nf != NULL)) return true;
        if (had && (old.len != nf->len || memcmp(old.p, pedit_payload(e, nf), old.len) != 0)) return true;
    }
    return false;
}

#define IDENTITY_FIELDS                                                                     \
    (1u << PF_EXTERNAL_ID | 1u << PF_EMAIL | 1u << PF_PHONE | 1u << PF_ALIASES | 1u << PF_DEVICES | \
     1u << PF_OLD_EXTERNAL_IDS)

void users_commit(users_t *u, uint32_t row, const pedit *e, uint32_t now_s) {
    profile_t *p = &u->rows[row];
    /* Most edits touch no identifier: skip the comparison then. */
    bool reindex = (e->std_touched & IDENTITY_FIELDS) && identity_changed(p->blob, e);
    if (reindex) index_row(u, row, false);
    uint8_t *blob = pedit_encode(e);
    retire(u, p->blob);
    p->blob = blob;
    p->updated = now_s;
    if (reindex) index_row(u, row, true);
}

void users_delete(users_t *u, uint32_t row) {
    profile_t *p = &u->rows[row];
    if (p->flags & PROFILE_DELETED) return;
    index_row(u, row, false);
    retire(u, p->blob);
    p->blob = NULL;
    p->flags |= PROFILE_DELETED;
    u->live--;
}

void users_put(users_t *u, uint32_t row, const profile_t *p, const uint8_t *blob, size_t len) {
    profile_t q = *p;
    q.blob = len ? xmalloc(len) : NULL;
    if (len) memcpy(q.blob, blob, len);
    q.flags &= PROFILE_DELETED;
    while (u->n < row) users_load_row(u, &(profile_t){.flags = PROFILE_DELETED}); /* holes: tombstones */
    if (row == u->n) {
        users_load_row(u, &q);
        return;
    }
    profile_t *cur = &u->rows[row];
    if (!(cur->flags & PROFILE_DELETED)) {
        index_row(u, row, false);
        u->live--;
    }
    retire(u, cur->blob);
    q.flags |= cur->flags & ~PROFILE_DELETED; /* the engine's own marks (dirty, ...) stay */
    *cur = q;
    if (!(q.flags & PROFILE_DELETED)) {
        u->live++;
        index_row(u, row, true);
    }
}

void users_braze_hex(const users_t *u, uint32_t row, char out[25]) {
    uint8_t id[12];
    users_braze_id(u, row, id);
    str_hex(id, sizeof id, out);
}

uint32_t users_random_bucket(const users_t *u, uint32_t row) {
    uint8_t id[12];
    users_braze_id(u, row, id);
    /* A fixed hash (not the per-process seed): the bucket must not change
     * across restarts, or A/B groups would reshuffle. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 12; i++) h = (h ^ id[i]) * 0x100000001b3ull;
    return (uint32_t)(h % 10000);
}

size_t users_memory(const users_t *u) {
    size_t m = sizeof *u + (size_t)u->cap * sizeof *u->rows;
    for (uint32_t i = 0; i < u->n; i++)
        if (u->rows[i].blob) m += (profile_blob_size(u->rows[i].blob) + 15) / 16 * 16 + 8; /* malloc overhead */
    for (int w = 0; w < IX__N; w++) m += (size_t)u->ix[w].cap * sizeof(islot);
    return m;
}
