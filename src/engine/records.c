/* records.c -- encoding and applying change records (see records.h). */
#include "records.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/varint.h"

#include <string.h>

static void put_v(buf_t *b, uint64_t v) {
    uint8_t t[VARINT_MAX];
    buf_append(b, t, varint_put(t, v));
}

static void put_s(buf_t *b, const char *s) {
    size_t n = strlen(s);
    put_v(b, n);
    buf_append(b, s, n);
}

void rec_profile(buf_t *b, const users_t *u, uint32_t row) {
    const profile_t *p = users_get((users_t *)u, row);
    uint8_t t = REC_PROFILE, id[12];
    size_t len = p->blob ? profile_blob_size(p->blob) : 0;
    buf_append(b, &t, 1);
    put_v(b, row);
    users_braze_id(u, row, id);
    buf_append(b, id, 12);
    put_v(b, p->created);
    put_v(b, p->updated);
    put_v(b, p->flags & PROFILE_DELETED);
    put_v(b, len);
    buf_append(b, p->blob, len);
}

void rec_cohort(buf_t *b, const cohort_t *k) {
    uint8_t t = REC_COHORT;
    buf_append(b, &t, 1);
    put_v(b, k->idx);
    put_s(b, k->partner);
    put_s(b, k->id);
    put_s(b, k->name);
    put_v(b, zigzag(k->created_at));
    put_v(b, zigzag(k->updated_at));
    put_v(b, zigzag(k->import_at));
    put_v(b, k->import_added);
    put_v(b, k->import_removed);
    put_v(b, k->import_unchanged);
    put_v(b, k->import_unmatched);
}

void rec_members(buf_t *b, uint32_t idx, const uint32_t *added, uint32_t nadded, const uint32_t *removed,
                 uint32_t nremoved) {
    uint8_t t = REC_MEMBERS;
    buf_append(b, &t, 1);
    put_v(b, idx);
    put_v(b, nadded);
    for (uint32_t i = 0; i < nadded; i++) put_v(b, added[i]);
    put_v(b, nremoved);
    for (uint32_t i = 0; i < nremoved; i++) put_v(b, removed[i]);
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} rd;

static uint64_t get_v(rd *r) {
    uint64_t v = 0;
    if (r->bad || varint_get(&r->p, r->end, &v) < 0) r->bad = true;
    return v;
}

static const uint8_t *get_bytes(rd *r, size_t n) {
    if (r->bad || n > (size_t)(r->end - r->p)) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *s = r->p;
    r->p += n;
    return s;
}

/* A string field as a NUL-terminated copy in buf (names are short). */
static const char *get_s(rd *r, char *buf, size_t cap) {
    size_t n = (size_t)get_v(r);
    const uint8_t *s = get_bytes(r, n);
    if (!s || n >= cap || memchr(s, 0, n)) {
        r->bad = true;
        return "";
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

static void apply_profile(rd *r, users_t *u, void (*touch)(void *, uint32_t), void *arg) {
    profile_t p = {0};
    uint32_t row = (uint32_t)get_v(r);
    const uint8_t *id = get_bytes(r, 12);
    p.created = (uint32_t)get_v(r);
    p.updated = (uint32_t)get_v(r);
    p.flags = (uint32_t)get_v(r) & PROFILE_DELETED;
    size_t len = (size_t)get_v(r);
    const uint8_t *blob = get_bytes(r, len);
    if (r->bad || (len && profile_blob_size(blob) != len) || !users_braze_born(u, row, id, &p.born)) {
        r->bad = true;
        return;
    }
    users_put(u, row, &p, len ? blob : NULL, len);
    touch(arg, row);
}

static void apply_cohort(rd *r, cohorts_t *c) {
    char partner[128], id[512], name[2048];
    uint32_t idx = (uint32_t)get_v(r);
    cohort_meta m;
    m.partner = get_s(r, partner, sizeof partner);
    m.cohort_id = get_s(r, id, sizeof id);
    m.name = get_s(r, name, sizeof name);
    m.created_at = unzigzag(get_v(r));
    m.updated_at = unzigzag(get_v(r));
    m.import_at = unzigzag(get_v(r));
    m.import_added = get_v(r);
    m.import_removed = get_v(r);
    m.import_unchanged = get_v(r);
    m.import_unmatched = get_v(r);
    if (!r->bad && cohorts_put(c, idx, &m) < 0) r->bad = true;
}

static void apply_members(rd *r, cohorts_t *c) {
    cohort_t *k = cohorts_at(c, (uint32_t)get_v(r));
    for (int pass = 0; pass < 2; pass++) {
        uint64_t n = get_v(r);
        for (uint64_t i = 0; i < n && !r->bad; i++) {
            uint32_t row = (uint32_t)get_v(r);
            if (!k) r->bad = true;
            else if (pass == 0) bitmap_add(k->members, row);
            else bitmap_remove(k->members, row);
        }
    }
    if (k) k->dirty = true;
}

int rec_apply(const uint8_t *p, size_t n, users_t *u, cohorts_t *c, void (*touch)(void *, uint32_t), void *arg) {
    rd r = {p, p + n, false};
    while (r.p < r.end && !r.bad) {
        uint8_t type = *r.p++;
        switch (type) {
        case REC_PROFILE: apply_profile(&r, u, touch, arg); break;
        case REC_COHORT: apply_cohort(&r, c); break;
        case REC_MEMBERS: apply_members(&r, c); break;
        default: r.bad = true;
        }
    }
    if (r.bad) {
        log_error("engine: a change record at byte %zu does not decode", (size_t)(r.p - p));
        return BR_ESTORE;
    }
    return 0;
}
