/* bitmap.c -- the bitmap API over CRoaring 0.2.x (see bitmap.h).
 *
 * The only file that includes roaring.h. Where CRoaring reports a failed
 * allocation (a NULL bitmap) brasa aborts with a message, as xmalloc does,
 * so callers never check; inside add and remove CRoaring 0.2 has no way to
 * report one. */
#include "bitmap.h"
#include "mem.h"

#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bitmap {
    roaring_bitmap_t *r;
};

static void oom(void) {
    fprintf(stderr, "brasa: out of memory (bitmap)\n");
    abort();
}

static bitmap_t *wrap(roaring_bitmap_t *r) {
    if (!r) oom();
    bitmap_t *b = xmalloc(sizeof *b);
    b->r = r;
    return b;
}

bitmap_t *bitmap_new(void) { return wrap(roaring_bitmap_create()); }

void bitmap_free(bitmap_t *b) {
    if (!b) return;
    roaring_bitmap_free(b->r);
    free(b);
}

bool bitmap_add(bitmap_t *b, uint32_t v) { return roaring_bitmap_add_checked(b->r, v); }
bool bitmap_remove(bitmap_t *b, uint32_t v) { return roaring_bitmap_remove_checked(b->r, v); }
bool bitmap_contains(const bitmap_t *b, uint32_t v) { return roaring_bitmap_contains(b->r, v); }
uint64_t bitmap_cardinality(const bitmap_t *b) { return roaring_bitmap_get_cardinality(b->r); }

void bitmap_optimize(bitmap_t *b) {
    roaring_bitmap_run_optimize(b->r);
    roaring_bitmap_shrink_to_fit(b->r);
}

size_t bitmap_serialized_size(const bitmap_t *b) { return roaring_bitmap_portable_size_in_bytes(b->r); }

size_t bitmap_serialize(const bitmap_t *b, void *out) { return roaring_bitmap_portable_serialize(b->r, out); }

bitmap_t *bitmap_deserialize(const void *p, size_t n) {
    if (n == 0) return bitmap_new();
    /* The safe reader stops at n bytes; it must also use all of them, or
     * the input was something else that happened to start like a bitmap. */
    if (roaring_bitmap_portable_deserialize_size(p, n) != n) return NULL;
    roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe(p, n);
    return r ? wrap(r) : NULL;
}

/* Bit arrays to and from containers directly: CRoaring 0.2 has no bulk
 * entry for a bit array, so these use the container functions it exports
 * (as bitmap_memory reads its index): a chunk of 65,536 values with more
 * than 4,096 members becomes a bitset (one 8 KiB copy), any other a sorted
 * array. Building Roaring's portable form and reading it back, as this did
 * before, cost 8 times as much. */
#define CHUNK_WORDS 1024
#define ARRAY_MAX 4096

bitmap_t *bitmap_from_words(const uint64_t *words, size_t nwords) {
    size_t nchunks = (nwords + CHUNK_WORDS - 1) / CHUNK_WORDS;
    roaring_bitmap_t *r = roaring_bitmap_create_with_capacity((uint32_t)nchunks);
    if (!r) oom();
    for (size_t k = 0; k < nchunks; k++) {
        const uint64_t *w = words + k * CHUNK_WORDS;
        size_t n = (k + 1) * CHUNK_WORDS < nwords ? CHUNK_WORDS : nwords - k * CHUNK_WORDS;
        int32_t card = 0;
        for (size_t i = 0; i < n; i++) card += __builtin_popcountll(w[i]);
        if (!card) continue;
        if (card > ARRAY_MAX) { /* the tail of a short last chunk stays zero */
            bitset_container_t *c = bitset_container_create();
            if (!c) oom();
            memcpy(c->array, w, n * sizeof *w);
            c->cardinality = card;
            ra_append(&r->high_low_container, (uint16_t)k, c, BITSET_CONTAINER_TYPE_CODE);
            continue;
        }
        /* A loop per set bit mispredicts at each word's end: write `some`
         * positions whatever the word holds (the capacity has room for the
         * overshoot, and ORing in the top bit keeps ctz defined), keep as
         * many as it has, and loop only past that. `some` follows the
         * chunk's bits a word (measured best: 2 below 1.3, 4 below 2.8). */
        int64_t tenths = (int64_t)card * 10 / (int64_t)n;
        int some = tenths < 13 ? 2 : tenths < 28 ? 4 : 8;
        array_container_t *c = array_container_create_given_capacity(card + 8);
        if (!c) oom();
        uint16_t *out = c->array;
        for (size_t i = 0; i < n; i++) {
            uint64_t b = w[i];
            int pc = __builtin_popcountll(b);
            uint16_t at = (uint16_t)(i * 64);
            for (int j = 0; j < some; j++) {
                out[j] = (uint16_t)(at + __builtin_ctzll(b | 1ull << 63));
                b &= b - 1;
            }
            for (int j = some; j < pc; j++) {
                out[j] = (uint16_t)(at + __builtin_ctzll(b));
                b &= b - 1;
            }
            out += pc;
        }
        c->cardinality = card;
        ra_append(&r->high_low_container, (uint16_t)k, c, ARRAY_CONTAINER_TYPE_CODE);
    }
    return wrap(r);
}

/* The reverse, from the containers themselves: a bitset is one copy, a
 * run a fill, an array a bit per value. */
void bitmap_to_words(const bitmap_t *b, uint64_t *words, size_t nwords) {
    memset(words, 0, nwords * sizeof *words);
    const roaring_array_t *ra = &b->r->high_low_container;
    for (int32_t i = 0; i < ra->size; i++) {
        size_t base = (size_t)ra->keys[i] * CHUNK_WORDS;
        if (base >= nwords) break;
        size_t n = nwords - base < CHUNK_WORDS ? nwords - base : CHUNK_WORDS;
        uint64_t *w = words + base;
        uint8_t type = ra->typecodes[i];
        const void *c = container_unwrap_shared(ra->containers[i], &type);
        if (type == BITSET_CONTAINER_TYPE_CODE) {
            memcpy(w, ((const bitset_container_t *)c)->array, n * sizeof *w);
        } else if (type == ARRAY_CONTAINER_TYPE_CODE) {
            const array_container_t *a = c;
            for (int32_t k = 0; k < a->cardinality; k++)
                if (a->array[k] / 64u < n) w[a->array[k] / 64u] |= 1ull << (a->array[k] % 64u);
        } else {
            const run_container_t *r = c;
            for (int32_t k = 0; k < r->n_runs; k++) {
                size_t lo = r->runs[k].value, hi = lo + r->runs[k].length + 1; /* [lo, hi) */
                if (hi > n * 64) hi = n * 64;
                for (size_t v = lo; v < hi;) {
                    if (v % 64 == 0 && v + 64 <= hi) {
                        w[v / 64] = ~0ull;
                        v += 64;
                    } else {
                        w[v / 64] |= 1ull << (v % 64);
                        v++;
                    }
                }
            }
        }
    }
}

bool bitmap_iterate(const bitmap_t *b, bool (*fn)(uint32_t v, void *arg), void *arg) {
    return roaring_iterate(b->r, fn, arg);
}

size_t bitmap_memory(const bitmap_t *b) {
    roaring_statistics_t st;
    roaring_bitmap_statistics(b->r, &st);
    const roaring_array_t *ra = &b->r->high_low_container;
    /* The index: one key, pointer and type code per allocated slot; each
     * container has a 16-byte header besides its payload. */
    size_t index = (size_t)ra->allocation_size * (sizeof(void *) + sizeof(uint16_t) + sizeof(uint8_t));
    return sizeof *b + sizeof *b->r + index + (size_t)st.n_containers * 16 + st.n_bytes_array_containers +
           st.n_bytes_run_containers + st.n_bytes_bitset_containers;
}

bitmap_t *bitmap_copy(const bitmap_t *b) { return wrap(roaring_bitmap_copy(b->r)); }

bitmap_t *bitmap_of(const uint32_t *v, size_t n) {
    roaring_bitmap_t *r = roaring_bitmap_create();
    if (!r) oom();
    roaring_bitmap_add_many(r, n, v);
    return wrap(r);
}

void bitmap_add_range(bitmap_t *b, uint64_t lo, uint64_t hi) {
    if (hi > lo) roaring_bitmap_add_range_closed(b->r, (uint32_t)lo, (uint32_t)(hi - 1));
}

bitmap_t *bitmap_and(const bitmap_t *a, const bitmap_t *b) { return wrap(roaring_bitmap_and(a->r, b->r)); }

bitmap_t *bitmap_or_many(const bitmap_t *const *sets, size_t n) {
    if (!n) return bitmap_new();
    const roaring_bitmap_t *stack[64], **rs = n <= 64 ? stack : xmalloc(n * sizeof *rs);
    for (size_t i = 0; i < n; i++) rs[i] = sets[i]->r;
    bitmap_t *u = wrap(roaring_bitmap_or_many(n, rs));
    if (rs != stack) free(rs);
    return u;
}

void bitmap_and_inplace(bitmap_t *a, const bitmap_t *b) { roaring_bitmap_and_inplace(a->r, b->r); }
void bitmap_or_inplace(bitmap_t *a, const bitmap_t *b) { roaring_bitmap_or_inplace(a->r, b->r); }
void bitmap_andnot_inplace(bitmap_t *a, const bitmap_t *b) { roaring_bitmap_andnot_inplace(a->r, b->r); }
void bitmap_to_array(const bitmap_t *b, uint32_t *out) { roaring_bitmap_to_uint32_array(b->r, out); }
