/* attrs.c -- applying an attributes plan (see attrs.h). */
#include "attrs.h"
#include "../lib/err.h"
#include "../lib/hash.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../lib/varint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_object *attrs_parse_stored(const uint8_t *p, uint32_t len) {
    /* At the depth requests are admitted with: a value that read back as
     * missing would be silently replaced. */
    return json_parse((const char *)p, len);
}

bool attrs_valid_email(const char *s, size_t n) {
    if (n > 254) return false; /* RFC 5321's limit; also keeps index hashing case-insensitive */
    const char *at = memchr(s, '@', n);
    if (!at || at == s || at == s + n - 1 || memchr(at + 1, '@', (size_t)(s + n - at - 1))) return false;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]) || (unsigned char)s[i] < 0x20) return false;
    const char *dot = memchr(at + 1, '.', (size_t)(s + n - at - 1));
    return dot && dot != at + 1 && dot != s + n - 1 && s[n - 1] != '.';
}

bool attrs_value_of(json_object *v, attrs_value *out) {
    *out = (attrs_value){.type = v ? json_object_get_type(v) : json_type_null};
    switch (out->type) {
    case json_type_string:
        out->s = json_object_get_string(v);
        out->n = (size_t)json_object_get_string_len(v);
        return true;
    case json_type_int: out->i = json_object_get_int64(v); return true;
    case json_type_double: out->d = json_object_get_double(v); return true;
    case json_type_boolean: out->i = json_object_get_boolean(v); return true;
    case json_type_null: return true;
    default: return false;
    }
}

/* A string custom attribute is a time when it parses as one Braze accepts
 * and its year is within 0..3000 (Braze keeps other years as strings);
 * array elements never are (detect_time false). */
bool attrs_scalar_value(const attrs_value *v, bool detect_time, uint8_t *type, buf_t *payload) {
    uint8_t tmp[VARINT_MAX];
    int64_t ms;
    int year;
    switch (v->type) {
    case json_type_string:
        if (detect_time && timefmt_parse(v->s, v->n, &ms, &year) == 0 && year >= 0 && year <= 3000) {
            *type = PT_TIME;
            buf_append(payload, tmp, pval_int(tmp, ms));
        } else {
            *type = PT_STR;
            buf_append(payload, v->s, v->n);
        }
        return true;
    case json_type_int:
        *type = PT_INT;
        buf_append(payload, tmp, pval_int(tmp, v->i));
        return true;
    case json_type_double:
        *type = PT_DBL;
        buf_append(payload, &v->d, sizeof v->d);
        return true;
    case json_type_boolean: *type = v->i ? PT_TRUE : PT_FALSE; return true;
    default: return false;
    }
}

bool attrs_scalar(json_object *v, bool detect_time, uint8_t *type, buf_t *payload) {
    attrs_value x;
    return attrs_value_of(v, &x) && attrs_scalar_value(&x, detect_time, type, payload);
}

/* ---- plans --------------------------------------------------------------- */

attrs_plan *attrs_plan_new(void) { return xcalloc(1, sizeof(attrs_plan)); }

void attrs_plan_reserve(attrs_plan *p, int changes, size_t bytes) {
    if (changes > p->cap) {
        p->cap = changes;
        p->c = xrealloc(p->c, (size_t)p->cap * sizeof *p->c);
    }
    buf_reserve(&p->bytes, bytes);
}

attrs_change *attrs_add(attrs_plan *p, uint32_t key, attrs_kind kind) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->c = xrealloc(p->c, (size_t)p->cap * sizeof *p->c);
    }
    attrs_change *c = &p->c[p->n++];
    memset(c, 0, sizeof *c);
    c->key = key;
    c->kind = kind;
    p->json += kind == CH_ARR || kind == CH_OBJ || kind == CH_OBJARR || kind == CH_TOKENS;
    return c;
}

void attrs_add_set(attrs_plan *p, uint32_t key, uint8_t type, const void *bytes, size_t len) {
    attrs_change *c = attrs_add(p, key, CH_SET);
    c->type = type;
    c->off = p->bytes.len;
    c->len = len;
    buf_append(&p->bytes, bytes, len);
}

void attrs_add_value(attrs_plan *p, uint32_t key, const attrs_value *v, bool detect_time) {
    attrs_change *c = attrs_add(p, key, CH_SET);
    c->off = p->bytes.len;
    attrs_scalar_value(v, detect_time, &c->type, &p->bytes);
    c->len = p->bytes.len - c->off;
}

void attrs_plan_free(attrs_plan *p) {
    if (!p) return;
    for (int i = 0; p->json && i < p->n; i++) {
        json_object_put(p->c[i].a);
        json_object_put(p->c[i].b);
        json_object_put(p->c[i].c);
    }
    free(p->c);
    buf_free(&p->bytes);
    free(p);
}

/* ---- applying ------------------------------------------------------------ */

/* An array element: its type and payload, kept as an offset into one
 * buffer that holds every payload (so appends cannot leave it dangling). */
typedef struct {
    uint8_t type;
    size_t off;
    uint32_t len;
} elem;

typedef struct {
    elem *v;
    int n, cap;
    buf_t bytes;
} elems;

static void elems_push(elems *l, uint8_t type, const void *p, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (elem){type, l->bytes.len, (uint32_t)len};
    buf_append(&l->bytes, p, len);
}

static void elems_decode(elems *l, const uint8_t *p, uint32_t len) {
    parr_iter it;
    uint8_t t;
    const uint8_t *s;
    size_t n;
    parr_init(&it, p, len);
    while (parr_next(&it, &t, &s, &n, NULL, NULL)) elems_push(l, t, s, n);
}

/* Sets key to the array of l's elements from `first` on. */
static void elems_store(pedit *e, uint32_t key, const elems *l, int first) {
    buf_t enc = BUF_INIT;
    for (int i = first; i < l->n; i++) parr_put(&enc, l->v[i].type, l->bytes.data + l->v[i].off, l->v[i].len);
    pedit_set(e, key, PT_ARR, enc.data ? enc.data : "", enc.len);
    buf_free(&enc);
}

static void elems_push_json(elems *l, json_object *arr) {
    size_t cnt = arr ? json_object_array_length(arr) : 0;
    buf_t tmp = BUF_INIT;
    for (size_t i = 0; i < cnt; i++) {
        uint8_t t;
        buf_reset(&tmp);
        attrs_scalar(json_object_array_get_idx(arr, i), false, &t, &tmp);
        elems_push(l, t, tmp.data ? tmp.data : "", tmp.len);
    }
    buf_free(&tmp);
}

static bool elem_eq(const elems *a, const elem *x, const elems *b, const elem *y) {
    return x->type == y->type && x->len == y->len &&
           (!x->len || memcmp(a->bytes.data + x->off, b->bytes.data + y->off, x->len) == 0);
}

static void elems_free(elems *l) {
    free(l->v);
    buf_free(&l->bytes);
}

/* A set of a list's elements (open addressing over their indexes): a
 * request may send an array of any length, and each element is looked up
 * once, so applying it stays linear. */
typedef struct {
    const elems *l;
    int *slot; /* index into l, -1 empty */
    size_t mask;
} eset;

static uint64_t elem_hash(const elems *l, const elem *x) {
    uint64_t t = (uint64_t)x->type * 0x9E3779B97F4A7C15ull;
    return x->len ? hash_bytes(l->bytes.data + x->off, x->len) ^ t : t; /* booleans have no bytes */
}

static void eset_init(eset *s, const elems *l) {
    size_t cap = 8;
    while (cap < (size_t)l->n * 2) cap *= 2;
    s->l = l;
    s->mask = cap - 1;
    s->slot = xmalloc(cap * sizeof *s->slot);
    memset(s->slot, 0xff, cap * sizeof *s->slot);
}

/* Whether x (of list from) is in the set; adds l's element i when absent
 * and i >= 0. */
static bool eset_has(eset *s, const elems *from, const elem *x, int add) {
    size_t i = (size_t)elem_hash(from, x) & s->mask;
    for (; s->slot[i] >= 0; i = (i + 1) & s->mask)
        if (elem_eq(s->l, &s->l->v[s->slot[i]], from, x)) return true;
    if (add >= 0) s->slot[i] = add;
    return false;
}

/* Sets of all of l's elements. */
static void eset_of(eset *s, const elems *l) {
    eset_init(s, l);
    for (int i = 0; i < l->n; i++) eset_has(s, l, &l->v[i], i);
}

/* A set (c->inc) or an add/remove on an array of scalars. The result is
 * the elements kept from before (neither added again nor removed), then
 * the new ones once each (a set keeps an element's first occurrence, an
 * add its last: an element added again moves to the end), minus the
 * removed ones; past ATTR_ARRAY_MAX the oldest drop first (Braze). */
static void arr_apply(pedit *e, const attrs_change *c) {
    elems cur = {0}, add = {0}, rm = {0}, out = {0};
    const pfield *f = pedit_get(e, c->key);
    if (f && f->type == PT_ARR && !c->inc) elems_decode(&cur, pedit_payload(e, f), f->len);
    elems_push_json(&add, c->a);
    elems_push_json(&rm, c->b);
    eset rms, adds, seen;
    eset_of(&rms, &rm);
    eset_of(&adds, &add);
    eset_init(&seen, &add);
    int *pick = xmalloc((size_t)(add.n ? add.n : 1) * sizeof *pick), np = 0;
    for (int k = 0; k < add.n; k++) {
        int i = c->inc ? k : add.n - 1 - k;
        if (!eset_has(&rms, &add, &add.v[i], -1) && !eset_has(&seen, &add, &add.v[i], i)) pick[np++] = i;
    }
    for (int j = 0; j < cur.n; j++)
        if (!eset_has(&rms, &cur, &cur.v[j], -1) && !eset_has(&adds, &cur, &cur.v[j], -1))
            elems_push(&out, cur.v[j].type, cur.bytes.data + cur.v[j].off, cur.v[j].len);
    for (int k = 0; k < np; k++) {
        const elem *x = &add.v[pick[c->inc ? k : np - 1 - k]];
        elems_push(&out, x->type, add.bytes.data + x->off, x->len);
    }
    elems_store(e, c->key, &out, out.n > ATTR_ARRAY_MAX ? out.n - ATTR_ARRAY_MAX : 0); /* oldest dropped first */
    free(pick);
    free(rms.slot);
    free(adds.slot);
    free(seen.slot);
    elems_free(&cur);
    elems_free(&add);
    elems_free(&rm);
    elems_free(&out);
}

/* Deep merge of src into dst (objects merge key by key; anything else replaces). */
static void deep_merge(json_object *dst, json_object *src) {
    json_object_object_foreach(src, k, v) {
        json_object *d;
        if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(dst, k, &d) &&
            json_object_is_type(d, json_type_object)) {
            deep_merge(d, v);
        } else {
            json_object *copy = NULL;
            json_object_deep_copy(v, &copy, NULL);
            json_object_object_add(dst, k, copy);
        }
    }
}

static json_object *current_json(const pedit *e, uint32_t key, json_type want) {
    const pfield *f = pedit_get(e, key);
    if (!f || f->type != PT_JSON) return NULL;
    json_object *j = attrs_parse_stored(pedit_payload(e, f), f->len);
    if (j && !json_object_is_type(j, want)) {
        json_object_put(j);
        j = NULL;
    }
    return j;
}

/* Sets key to j's text; refuses (false) a value over ATTR_OBJECT_MAX
 * bytes that is larger than the one it replaces, when enforce. */
static bool set_json(pedit *e, uint32_t key, json_object *j, bool enforce) {
    size_t len;
    const char *s = json_object_to_json_string_length(j, JSON_PLAIN, &len);
    const pfield *f = pedit_get(e, key);
    size_t before = f ? f->len : 0;
    if (enforce && len > ATTR_OBJECT_MAX && len > before) return false;
    char *copy = xstrndup(s, len);
    pedit_set(e, key, PT_JSON, copy, len);
    free(copy);
    return true;
}

/* A selector's $identifier_key; its $identifier_value in *v. */
static json_object *sel_key(json_object *sel, json_object **v) {
    json_object *k;
    json_object_object_get_ex(sel, "$identifier_key", &k);
    json_object_object_get_ex(sel, "$identifier_value", v);
    return k;
}

static bool item_matches(json_object *item, json_object *sel) {
    json_object *v, *iv, *k = sel_key(sel, &v);
    return json_object_object_get_ex(item, json_object_get_string(k), &iv) && json_object_equal(iv, v);
}

/* A hash of a JSON value that agrees with json_object_equal: equal values
 * hash alike (numbers by value, -0.0 as 0.0, objects whatever their key
 * order). */
static uint64_t jhash(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null:
        return 1;
    case json_type_boolean:
        return json_object_get_boolean(v) ? 3 : 2;
    case json_type_int:
        return hash_mix((uint64_t)json_object_get_int64(v), json_object_get_uint64(v));
    case json_type_double: {
        double d = json_object_get_double(v) + 0.0;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return hash_mix(bits, 5);
    }
    case json_type_string:
        return hash_bytes(json_object_get_string(v), (size_t)json_object_get_string_len(v)) ^ 7;
    case json_type_array: {
        uint64_t h = 11;
        for (size_t i = 0, n = json_object_array_length(v); i < n; i++) h = hash_mix(h, jhash(json_object_array_get_idx(v, i)));
        return h;
    }
    case json_type_object: {
        uint64_t h = 13;
        json_object_object_foreach(v, k, x) h += hash_mix(hash_bytes(k, strlen(k)), jhash(x));
        return h;
    }
    }
    return 0;
}

static uint64_t field_hash(const char *k, json_object *v) { return hash_mix(hash_bytes(k, strlen(k)) ^ 17, jhash(v)); }

/* The selectors of a $remove or $update ({"$identifier_key",
 * "$identifier_value"}) in groups of equal ones, found by the hash of their
 * key and value: an item finds the groups it may match by hashing its own
 * fields, so applying them is linear in items plus selectors (comparing
 * every item with every selector held the engine thread for minutes). A
 * hash only proposes a group (two may share one): item_matches() on its
 * first selector decides, and decides for all of them, as they are equal. */
typedef struct {
    json_object *sels;
    struct sel_slot {
        uint64_t h;
        uint32_t g; /* group; UINT32_MAX: empty */
    } *s;
    size_t mask;
    struct sel_group {
        uint32_t first, start, n; /* first selector; its members are idx[start .. start + n), ascending */
    } *groups;
    uint32_t ngroups, *idx;
    uint64_t *keys; /* hash_bytes of each selector's key, sorted (selix_has_key) */
    size_t nkeys;
} selix;

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void selix_init(selix *x, json_object *sels) {
    size_t n = sels ? json_object_array_length(sels) : 0, cap = 8;
    while (cap < n * 2) cap *= 2;
    x->sels = sels;
    x->mask = cap - 1;
    x->s = xmalloc(cap * sizeof *x->s);
    for (size_t i = 0; i < cap; i++) x->s[i].g = UINT32_MAX;
    x->groups = xmalloc((n ? n : 1) * sizeof *x->groups);
    x->idx = xmalloc((n ? n : 1) * sizeof *x->idx);
    x->keys = xmalloc((n ? n : 1) * sizeof *x->keys);
    x->nkeys = n;
    x->ngroups = 0;
    uint32_t *gid = xmalloc((n ? n : 1) * sizeof *gid);
    for (size_t j = 0; j < n; j++) {
        json_object *v, *k = sel_key(json_object_array_get_idx(sels, j), &v), *fv;
        const char *ks = json_object_get_string(k);
        uint64_t h = field_hash(ks, v);
        size_t i = h & x->mask;
        for (; x->s[i].g != UINT32_MAX; i = (i + 1) & x->mask) {
            if (x->s[i].h != h) continue;
            json_object *fk = sel_key(json_object_array_get_idx(sels, x->groups[x->s[i].g].first), &fv);
            if (strcmp(json_object_get_string(fk), ks) == 0 && json_object_equal(fv, v)) break;
        }
        if (x->s[i].g == UINT32_MAX) {
            x->s[i] = (struct sel_slot){h, x->ngroups};
            x->groups[x->ngroups++] = (struct sel_group){(uint32_t)j, 0, 0};
        }
        gid[j] = x->s[i].g;
        x->groups[gid[j]].n++;
        x->keys[j] = hash_bytes(ks, strlen(ks));
    }
    for (uint32_t g = 0, at = 0; g < x->ngroups; g++) {
        x->groups[g].start = at;
        at += x->groups[g].n;
        x->groups[g].n = 0;
    }
    for (size_t j = 0; j < n; j++) {
        struct sel_group *g = &x->groups[gid[j]];
        x->idx[g->start + g->n++] = (uint32_t)j;
    }
    free(gid);
    qsort(x->keys, n, sizeof *x->keys, u64_cmp);
}

static void selix_free(selix *x) {
    free(x->s);
    free(x->groups);
    free(x->idx);
    free(x->keys);
}

/* Calls fn for each group whose hash is that of the item's field (k, v). */
static void selix_each(const selix *x, const char *k, json_object *v, void (*fn)(const struct sel_group *g, void *arg),
                       void *arg) {
    uint64_t h = field_hash(k, v);
    for (size_t i = h & x->mask; x->s[i].g != UINT32_MAX; i = (i + 1) & x->mask)
        if (x->s[i].h == h) fn(&x->groups[x->s[i].g], arg);
}

/* Whether some selector's key is k (by its hash). */
static bool selix_has_key(const selix *x, const char *k) {
    uint64_t h = hash_bytes(k, strlen(k));
    return bsearch(&h, x->keys, x->nkeys, sizeof h, u64_cmp) != NULL;
}

typedef struct {
    const selix *x;
    json_object *item;
    bool hit;
} remove_arg;

static void remove_check(const struct sel_group *g, void *arg) {
    remove_arg *r = arg;
    if (!r->hit) r->hit = item_matches(r->item, json_object_array_get_idx(r->x->sels, g->first));
}

/* Whether any $remove selector matches item. */
static bool objarr_removed(const selix *x, json_object *item) {
    remove_arg r = {x, item, false};
    if (!json_object_is_type(item, json_type_object)) return false;
    json_object_object_foreach(item, k, v) {
        selix_each(x, k, v, remove_check, &r);
        if (r.hit) return true;
    }
    return false;
}

/* The $update selectors that may match one item, smallest index first (a
 * binary heap): Braze applies them in order, and an update may change the
 * field a later one selects by. An entry is a position in a group's
 * members; the next member is pushed only once this one matched, so equal
 * selectors that no longer match cost one look, not one each. */
typedef struct {
    struct hent {
        uint32_t j, pos, end; /* j = idx[pos]; the group's members end at end */
    } *v;
    size_t n, cap;
    const selix *x;
    uint32_t after; /* push_group pushes a group's first member >= after */
} jheap;

static void jheap_push(jheap *h, uint32_t pos, uint32_t end) {
    if (pos >= end) return;
    if (h->n == h->cap) h->v = xrealloc(h->v, (h->cap = h->cap ? h->cap * 2 : 16) * sizeof *h->v);
    struct hent e = {h->x->idx[pos], pos, end};
    size_t i = h->n++;
    for (; i && h->v[(i - 1) / 2].j > e.j; i = (i - 1) / 2) h->v[i] = h->v[(i - 1) / 2];
    h->v[i] = e;
}

static struct hent jheap_pop(jheap *h) {
    struct hent top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1].j < h->v[c].j) c++;
        if (h->v[c].j >= last.j) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* selix_each callback: the group's first member >= h->after. */
static void push_group(const struct sel_group *g, void *arg) {
    jheap *h = arg;
    uint32_t lo = g->start, hi = g->start + g->n;
    while (lo < hi) { /* members ascend: binary search */
        uint32_t mid = lo + (hi - lo) / 2;
        if (h->x->idx[mid] < h->after) lo = mid + 1;
        else hi = mid;
    }
    jheap_push(h, lo, g->start + g->n);
}

/* Applies the $update selectors that match item, in their order. */
static void objarr_update(const selix *x, json_object *item, jheap *h) {
    if (!json_object_is_type(item, json_type_object)) return;
    h->n = 0;
    h->after = 0;
    json_object_object_foreach(item, k, v) selix_each(x, k, v, push_group, h);
    for (int64_t last = -1; h->n;) {
        struct hent e = jheap_pop(h);
        if ((int64_t)e.j <= last) continue; /* pushed twice */
        last = e.j;
        json_object *u = json_object_array_get_idx(x->sels, e.j), *nobj;
        if (!item_matches(item, u) || !json_object_object_get_ex(u, "$new_object", &nobj)) continue;
        deep_merge(item, nobj);
        jheap_push(h, e.pos + 1, e.end); /* the next equal selector */
        /* A field the merge changed may now match later selectors. */
        h->after = e.j + 1;
        json_object_object_foreach(nobj, nk, nv) {
            (void)nv;
            json_object *cur;
            if (selix_has_key(x, nk) && json_object_object_get_ex(item, nk, &cur)) selix_each(x, nk, cur, push_group, h);
        }
    }
}

/* Braze's order for one attribute: $add, then $remove, then $update (so a
 * $remove also drops what the $add of the same request added). */
static bool objarr_apply(pedit *e, const attrs_change *c, bool merge, bool enforce) {
    json_object *cur = current_json(e, c->key, json_type_array);
    if (!cur) cur = json_object_new_array();
    size_t an = c->a ? json_object_array_length(c->a) : 0;
    for (size_t i = 0; i < an; i++) {
        json_object *copy = NULL;
        json_object_deep_copy(json_object_array_get_idx(c->a, i), &copy, NULL);
        json_object_array_add(cur, copy);
    }
    selix rm, up;
    selix_init(&rm, c->b);
    selix_init(&up, merge ? c->c : NULL);
    jheap heap = {.x = &up};
    json_object *out = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(cur); i < n; i++) {
        json_object *item = json_object_array_get_idx(cur, i);
        if (objarr_removed(&rm, item)) continue;
        objarr_update(&up, item, &heap);
        json_object_array_add(out, json_object_get(item));
    }
    bool ok = set_json(e, c->key, out, enforce);
    selix_free(&rm);
    selix_free(&up);
    free(heap.v);
    json_object_put(out);
    json_object_put(cur);
    return ok;
}

/* Adds a device id to the profile's devices unless it is there: a push
 * token that names its device_id ties that device to the user, the way the
 * SDK would (users.h indexes devices; cohort import matches anonymous users
 * by them). */
static void device_add(pedit *e, const char *id, size_t n) {
    elems cur = {0};
    uint32_t key = pkey(PF_DEVICES, PK_ATTR);
    const pfield *f = pedit_get(e, key);
    if (f && f->type == PT_ARR) elems_decode(&cur, pedit_payload(e, f), f->len);
    bool seen = false;
    for (int i = 0; i < cur.n && !seen; i++)
        seen = cur.v[i].len == n && memcmp(cur.bytes.data + cur.v[i].off, id, n) == 0;
    if (!seen) {
        elems_push(&cur, PT_STR, id, n);
        elems_store(e, key, &cur, 0);
    }
    elems_free(&cur);
}

void attrs_add_tokens(pedit *e, json_object *tokens) {
    size_t nd = json_object_array_length(tokens);
    for (size_t i = 0; i < nd; i++) {
        json_object *d;
        /* The parser refuses other device ids; a replayed old journal may
         * hold one, which was skipped then and is skipped now. */
        if (json_object_object_get_ex(json_object_array_get_idx(tokens, i), "device_id", &d) &&
            json_object_is_type(d, json_type_string) && json_object_get_string_len(d) > 0 &&
            json_object_get_string_len(d) <= ATTR_DEVICE_ID_MAX)
            device_add(e, json_object_get_string(d), (size_t)json_object_get_string_len(d));
    }
    json_object *cur = current_json(e, pkey(PF_PUSH_TOKENS, PK_ATTR), json_type_array);
    if (!cur) cur = json_object_new_array();
    size_t n = json_object_array_length(tokens);
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(tokens, i), *tok, *ct;
        json_object_object_get_ex(t, "token", &tok);
        bool seen = false;
        size_t cn = json_object_array_length(cur);
        for (size_t j = 0; j < cn && !seen; j++)
            seen = json_object_object_get_ex(json_object_array_get_idx(cur, j), "token", &ct) && json_object_equal(ct, tok);
        if (!seen) {
            json_object *copy = NULL;
            json_object_deep_copy(t, &copy, NULL);
            json_object_array_add(cur, copy);
        }
    }
    set_json(e, pkey(PF_PUSH_TOKENS, PK_ATTR), cur, false); /* counted by limits.h */
    json_object_put(cur);
}

limit_kind attrs_apply(const attrs_plan *p, pedit *e, bool merge, names_t *names, bool enforce, attrs_refusal *r) {
    for (int i = 0; i < p->n; i++) {
        attrs_change cc = p->c[i], *c = &cc;
        if (!c->key) c->key = pkey(names_intern(names, c->name, c->namelen), PK_ATTR);
        bool ok = true;
        switch (c->kind) {
        case CH_SET:
            pedit_set(e, c->key, c->type, p->bytes.data + c->off, c->len);
            break;
        case CH_UNSET:
            pedit_del(e, c->key);
            break;
        case CH_INC: {
            const pfield *f = pedit_get(e, c->key);
            uint8_t tmp[VARINT_MAX];
            if (f && f->type == PT_DBL) {
                double d = pval_get_dbl(pedit_payload(e, f)) + (double)c->inc;
                pedit_set(e, c->key, PT_DBL, &d, sizeof d);
            } else {
                int64_t v = f && f->type == PT_INT ? pval_get_int(pedit_payload(e, f), f->len) : 0, sum;
                /* A client-chosen increment must not overflow: saturate. */
                if (__builtin_add_overflow(v, c->inc, &sum)) sum = c->inc > 0 ? INT64_MAX : INT64_MIN;
                pedit_set(e, c->key, PT_INT, tmp, pval_int(tmp, sum));
            }
            break;
        }
        case CH_ARR:
            arr_apply(e, c);
            break;
        case CH_OBJ: {
            json_object *cur = (merge || c->force_merge) ? current_json(e, c->key, json_type_object) : NULL;
            if (cur) {
                deep_merge(cur, c->a);
                ok = set_json(e, c->key, cur, enforce);
                json_object_put(cur);
            } else {
                ok = set_json(e, c->key, c->a, enforce);
            }
            break;
        }
        case CH_OBJARR:
            ok = objarr_apply(e, c, merge, enforce);
            break;
        case CH_TOKENS:
            attrs_add_tokens(e, c->a);
            break;
        }
        if (!ok) {
            if (r) {
                size_t nl = c->namelen;
                r->kind = LIM_OBJECT;
                r->name = c->name ? c->name : profile_std_name(c->key / 4);
                if (!c->name) nl = r->name ? strlen(r->name) : 0;
                r->namelen = (uint32_t)nl;
            }
            return LIM_OBJECT;
        }
    }
    return LIM_OK;
}

/* ISO 4217 alphabetic codes in use (and the common funds/metals codes). */
static const char currencies[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW "
    "KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE "
    "SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED "
    "VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWL";

bool attrs_currency(const char *s, size_t n) {
    if (n != 3) return false;
    /* Entries are 3 letters and a space, the last one without: walk by
     * index so a code not in the table never reads past its end. */
    for (size_t i = 0; i + 3 <= sizeof currencies - 1; i += 4)
        if (!memcmp(currencies + i, s, 3)) return true;
    return false;
}
