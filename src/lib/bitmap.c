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

/* Roaring's portable form, written by hand and read back: CRoaring 0.2 has
 * no bulk entry for a bit array, and its reader takes a dense chunk as one
 * 8 KiB copy. The layout (RoaringFormatSpec, "no run containers"): cookie,
 * count; a key and cardinality - 1 per container; a byte offset per
 * container; then each container, sorted 16-bit values up to 4,096 of them
 * and a 1,024-word bitset above. Little-endian, as brasa's hosts are. */
#define NO_RUN_COOKIE 12346
#define CHUNK_WORDS 1024
#define ARRAY_MAX 4096

bitmap_t *bitmap_from_words(const uint64_t *words, size_t nwords) {
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the portable form is little-endian");
    size_t nchunks = (nwords + CHUNK_WORDS - 1) / CHUNK_WORDS, nc = 0, size = 8;
    uint32_t *card = xcalloc(nchunks ? nchunks : 1, sizeof *card);
    for (size_t k = 0; k < nchunks; k++) {
        size_t end = (k + 1) * CHUNK_WORDS < nwords ? (k + 1) * CHUNK_WORDS : nwords;
        for (size_t w = k * CHUNK_WORDS; w < end; w++) card[k] += (uint32_t)__builtin_popcountll(words[w]);
        if (card[k]) nc++, size += 8 + (card[k] > ARRAY_MAX ? CHUNK_WORDS * 8 : 2 * card[k]);
    }
    if (!nc) {
        free(card);
        return bitmap_new();
    }
    uint8_t *buf = xcalloc(1, size), *hdr = buf + 8, *off = hdr + 4 * nc, *data = off + 4 * nc;
    uint32_t head[2] = {NO_RUN_COOKIE, (uint32_t)nc};
    memcpy(buf, head, 8);
    for (size_t k = 0; k < nchunks; k++) {
        if (!card[k]) continue;
        uint16_t kc[2] = {(uint16_t)k, (uint16_t)(card[k] - 1)};
        uint32_t at = (uint32_t)(data - buf);
        memcpy(hdr, kc, 4), hdr += 4;
        memcpy(off, &at, 4), off += 4;
        const uint64_t *w = words + k * CHUNK_WORDS;
        size_t n = (k + 1) * CHUNK_WORDS < nwords ? CHUNK_WORDS : nwords - k * CHUNK_WORDS;
        if (card[k] > ARRAY_MAX) { /* a bitset; the tail of a short last chunk stays zero */
            memcpy(data, w, n * 8);
            data += CHUNK_WORDS * 8;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            for (uint64_t b = w[i]; b; b &= b - 1) {
                uint16_t v = (uint16_t)(i * 64 + (size_t)__builtin_ctzll(b));
                memcpy(data, &v, 2), data += 2;
            }
    }
    roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe((const char *)buf, size);
    free(buf);
    free(card);
    return wrap(r);
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
