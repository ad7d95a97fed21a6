/* profile.c -- the compact profile encoding and its editor (see profile.h). */
#include "profile.h"
#include "names.h"
#include "../lib/mem.h"
#include "../lib/varint.h"

#include <stdlib.h>
#include <string.h>

static const char *const std_names[NAMES_FIRST] = {
#define XX(id, num, name) [num] = name,
    PF_MAP(XX)
#undef XX
};

/* Their lengths: the lookup runs for every attribute of every object, and
 * a strlen of each name was 4% of the ingest CPU. */
static const uint8_t std_lens[NAMES_FIRST] = {
#define XX(id, num, name) [num] = sizeof name - 1,
    PF_MAP(XX)
#undef XX
};

const char *profile_std_name(uint32_t id) { return id < NAMES_FIRST ? std_names[id] : NULL; }

uint32_t profile_std_lookup(const char *s, size_t len) {
    for (uint32_t i = 1; len && i < NAMES_FIRST; i++)
        if (std_lens[i] == len && memcmp(std_names[i], s, len) == 0) return i;
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

void piter_init(piter *it, const uint8_t *blob) {
    it->p = it->end = NULL;
    if (!blob) return;
    const uint8_t *p = blob;
    uint64_t n = 0;
    varint_get(&p, p + VARINT_MAX, &n);
    it->p = p;
    it->end = p + n;
}

bool piter_next(piter *it, pfield *f) {
    uint64_t key, len;
    if (!it->p || it->p >= it->end) return false;
    if (varint_get(&it->p, it->end, &key) < 0 || it->p >= it->end) return false;
    f->key = (uint32_t)key;
    f->type = *it->p++;
    if (varint_get(&it->p, it->end, &len) < 0 || len > (uint64_t)(it->end - it->p)) return false;
    f->len = (uint32_t)len;
    f->p = it->p;
    f->off = 0;
    it->p += len;
    return true;
}

bool profile_get(const uint8_t *blob, uint32_t key, pfield *f) {
    piter it;
    piter_init(&it, blob);
    while (piter_next(&it, f)) {
        if (f->key == key) return true;
        if (f->key > key) break;
    }
    return false;
}

size_t profile_blob_size(const uint8_t *blob) {
    if (!blob) return 0;
    const uint8_t *p = blob;
    uint64_t n = 0;
    varint_get(&p, p + VARINT_MAX, &n);
    return (size_t)(p - blob) + n;
}

bool parr_next(parr_iter *it, uint8_t *type, const uint8_t **s, size_t *n, const uint8_t **raw, size_t *rawlen) {
    if (it->p >= it->end) return false;
    const uint8_t *start = it->p;
    uint8_t t = *it->p++;
    uint64_t l;
    if (varint_get(&it->p, it->end, &l) < 0 || l > (uint64_t)(it->end - it->p)) {
        it->p = it->end;
        return false;
    }
    if (type) *type = t;
    *s = it->p;
    *n = (size_t)l;
    it->p += l;
    if (raw) *raw = start;
    if (rawlen) *rawlen = (size_t)(it->p - start);
    return true;
}

void parr_put(buf_t *b, uint8_t type, const void *s, size_t n) {
    uint8_t tmp[VARINT_MAX];
    buf_append(b, &type, 1);
    buf_append(b, tmp, varint_put(tmp, n));
    buf_append(b, s, n);
}

/* ---- editing ------------------------------------------------------------- */

int pedit_open(pedit *e, const uint8_t *blob) {
    memset(e, 0, sizeof *e);
    piter it;
    pfield f;
    piter_init(&it, blob);
    while (piter_next(&it, &f)) {
        if (e->n == e->cap) {
            e->cap = e->cap ? e->cap * 2 : 16;
            e->f = xrealloc(e->f, (size_t)e->cap * sizeof *e->f);
        }
        e->f[e->n++] = f;
    }
    return it.p == it.end ? 0 : -1;
}

void pedit_close(pedit *e) {
    free(e->f);
    buf_free(&e->arena);
    memset(e, 0, sizeof *e);
}

/* Index of the first field with key >= k. */
static int lower(const pedit *e, uint32_t k) {
    int lo = 0, hi = e->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (e->f[mid].key < k) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

const pfield *pedit_get(const pedit *e, uint32_t key) {
    int i = lower(e, key);
    return i < e->n && e->f[i].key == key ? &e->f[i] : NULL;
}

const uint8_t *pedit_payload(const pedit *e, const pfield *f) {
    return f->p ? f->p : (const uint8_t *)e->arena.data + f->off;
}

void pedit_set(pedit *e, uint32_t key, uint8_t type, const void *payload, size_t len) {
    int i = lower(e, key);
    if (i < e->n && e->f[i].key == key && e->f[i].type == type && e->f[i].len == len &&
        memcmp(pedit_payload(e, &e->f[i]), payload, len) == 0)
        return; /* unchanged: keeps "changed" honest for dirty tracking */
    size_t off = e->arena.len;
    buf_append(&e->arena, payload, len);
    pfield nf = {key, type, (uint32_t)len, NULL, (uint32_t)off};
    if (key / 4 < 32) e->std_touched |= 1u << (key / 4);
    if (i < e->n && e->f[i].key == key) {
        e->f[i] = nf;
    } else {
        if (e->n == e->cap) {
            e->cap = e->cap ? e->cap * 2 : 16;
            e->f = xrealloc(e->f, (size_t)e->cap * sizeof *e->f);
        }
        memmove(&e->f[i + 1], &e->f[i], (size_t)(e->n - i) * sizeof *e->f);
        e->f[i] = nf;
        e->n++;
    }
    e->changed = true;
}

bool pedit_del(pedit *e, uint32_t key) {
    int i = lower(e, key);
    if (i >= e->n || e->f[i].key != key) return false;
    memmove(&e->f[i], &e->f[i + 1], (size_t)(e->n - i - 1) * sizeof *e->f);
    e->n--;
    e->changed = true;
    if (key / 4 < 32) e->std_touched |= 1u << (key / 4);
    return true;
}

uint8_t *pedit_encode(const pedit *e) {
    if (e->n == 0) return NULL;
    size_t body = 0;
    uint8_t tmp[VARINT_MAX];
    for (int i = 0; i < e->n; i++)
        body += varint_put(tmp, e->f[i].key) + 1 + varint_put(tmp, e->f[i].len) + e->f[i].len;
    uint8_t *blob = xmalloc(body + VARINT_MAX), *w = blob;
    w += varint_put(w, body);
    for (int i = 0; i < e->n; i++) {
        const pfield *f = &e->f[i];
        w += varint_put(w, f->key);
        *w++ = f->type;
        w += varint_put(w, f->len);
        memcpy(w, pedit_payload(e, f), f->len);
        w += f->len;
    }
    /* Trim the slack of the length prefix estimate. */
    return xrealloc(blob, (size_t)(w - blob));
}

/* ---- values -------------------------------------------------------------- */

size_t pval_int(uint8_t *out, int64_t v) { return varint_put(out, zigzag(v)); }

int64_t pval_get_int(const uint8_t *p, uint32_t len) {
    uint64_t v = 0;
    varint_get(&p, p + len, &v);
    return unzigzag(v);
}

double pval_get_dbl(const uint8_t *p) {
    double d;
    memcpy(&d, p, sizeof d);
    return d;
}

/* ---- summaries ----------------------------------------------------------- */

void psummary_decode(const uint8_t *p, uint32_t len, bool purchase, psummary *s) {
    const uint8_t *end = p + len;
    uint64_t v;
    memset(s, 0, sizeof *s);
    if (varint_get(&p, end, &v) == 0) s->count = v;
    if (varint_get(&p, end, &v) == 0) s->first_ms = unzigzag(v);
    if (varint_get(&p, end, &v) == 0) s->last_ms = unzigzag(v);
    if (purchase && end - p >= 8) {
        memcpy(&s->revenue, p, 8);
        p += 8;
    }
    uint64_t d, c;
    while (s->ndays < sizeof s->days / sizeof *s->days && varint_get(&p, end, &d) == 0 &&
           varint_get(&p, end, &c) == 0) {
        s->days[s->ndays].day = (uint32_t)d;
        s->days[s->ndays].count = (uint32_t)c;
        s->ndays++;
    }
}

size_t psummary_encode(const psummary *s, bool purchase, buf_t *out) {
    uint8_t tmp[VARINT_MAX * 3 + 8];
    size_t start = out->len, n = 0;
    n += varint_put(tmp + n, s->count);
    n += varint_put(tmp + n, zigzag(s->first_ms));
    n += varint_put(tmp + n, zigzag(s->last_ms));
    if (purchase) {
        memcpy(tmp + n, &s->revenue, 8);
        n += 8;
    }
    buf_append(out, tmp, n);
    for (uint32_t i = 0; i < s->ndays; i++) {
        n = varint_put(tmp, s->days[i].day);
        n += varint_put(tmp + n, s->days[i].count);
        buf_append(out, tmp, n);
    }
    return out->len - start;
}

static uint32_t day_of(int64_t ms) { return ms < 0 ? 0 : (uint32_t)(ms / 86400000); }

void psummary_add(psummary *s, int64_t t_ms, uint64_t n, double revenue, int64_t now_ms) {
    if (s->count == 0 || t_ms < s->first_ms) s->first_ms = t_ms;
    if (s->count == 0 || t_ms > s->last_ms) s->last_ms = t_ms;
    s->count += n;
    s->revenue += revenue;
    uint32_t today = day_of(now_ms), day = day_of(t_ms);
    uint32_t oldest = today >= SUMMARY_DAYS - 1 ? today - (SUMMARY_DAYS - 1) : 0;
    /* Drop days that fell out of the window. */
    uint32_t keep = 0;
    for (uint32_t i = 0; i < s->ndays; i++)
        if (s->days[i].day >= oldest) s->days[keep++] = s->days[i];
    s->ndays = keep;
    if (day < oldest || day > today) return; /* too old to count per day */
    uint32_t i = 0;
    while (i < s->ndays && s->days[i].day < day) i++;
    if (i < s->ndays && s->days[i].day == day) {
        s->days[i].count += (uint32_t)n;
        return;
    }
    if (s->ndays == sizeof s->days / sizeof *s->days) return; /* cannot happen: window < capacity */
    memmove(&s->days[i + 1], &s->days[i], (s->ndays - i) * sizeof *s->days);
    s->days[i].day = day;
    s->days[i].count = (uint32_t)n;
    s->ndays++;
}

uint64_t psummary_count_since(const psummary *s, int64_t now_ms, uint32_t days) {
    uint32_t today = day_of(now_ms);
    uint32_t from = today + 1 >= days ? today + 1 - days : 0;
    uint64_t c = 0;
    for (uint32_t i = 0; i < s->ndays; i++)
        if (s->days[i].day >= from && s->days[i].day <= today) c += s->days[i].count;
    return c;
}
