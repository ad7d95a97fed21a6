/* bitmap.h -- sets of uint32 (profile row numbers) as compressed bitmaps.
 *
 * Cohorts, and later segment results, are sets over the dense profile row
 * numbers (users.h). This is brasa's own small API over CRoaring, so the
 * rest of the code never includes roaring.h and the library could change
 * behind it. The serialized form is Roaring's portable format (the one the
 * Java and Go implementations read), so a stored set stays readable across
 * library versions. Not thread-safe: the engine thread owns every set. */
#ifndef BR_BITMAP_H
#define BR_BITMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bitmap bitmap_t;

bitmap_t *bitmap_new(void);
void bitmap_free(bitmap_t *b);
/* Adds v; returns true when it was not in the set. */
bool bitmap_add(bitmap_t *b, uint32_t v);
/* Removes v; returns true when it was in the set. */
bool bitmap_remove(bitmap_t *b, uint32_t v);
bool bitmap_contains(const bitmap_t *b, uint32_t v);
uint64_t bitmap_cardinality(const bitmap_t *b);

/* Compresses runs and releases spare capacity (before a long idle time or
 * to measure the settled size); the set is unchanged. */
void bitmap_optimize(bitmap_t *b);
/* Bytes bitmap_serialize() writes. */
size_t bitmap_serialized_size(const bitmap_t *b);
/* Writes the portable form into out (bitmap_serialized_size bytes);
 * returns the bytes written. */
size_t bitmap_serialize(const bitmap_t *b, void *out);
/* Reads a portable form of exactly n bytes; NULL when it is not one. An
 * empty input (n == 0) is the empty set. */
bitmap_t *bitmap_deserialize(const void *p, size_t n);

/* Calls fn on every value in ascending order until it returns false;
 * returns false if fn stopped it. */
bool bitmap_iterate(const bitmap_t *b, bool (*fn)(uint32_t v, void *arg), void *arg);
/* Resident bytes of the set (containers, their index and headers). */
size_t bitmap_memory(const bitmap_t *b);

/* Set algebra (segment evaluation). The in-place forms change a; the
 * others return a new set the caller frees. */
bitmap_t *bitmap_copy(const bitmap_t *b);
/* A set of the n values in v (any order; duplicates allowed). */
bitmap_t *bitmap_of(const uint32_t *v, size_t n);
/* The set whose value i is bit i % 64 of words[i / 64]: a scan's dense
 * output, made into containers a chunk of 65,536 values at a time. */
bitmap_t *bitmap_from_words(const uint64_t *words, size_t nwords);
/* The reverse: bit i % 64 of words[i / 64] is set when the set holds i,
 * for i below nwords * 64. */
void bitmap_to_words(const bitmap_t *b, uint64_t *words, size_t nwords);
/* Adds [lo, hi). */
void bitmap_add_range(bitmap_t *b, uint64_t lo, uint64_t hi);
bitmap_t *bitmap_and(const bitmap_t *a, const bitmap_t *b);
/* The union of n sets at once (faster than n in-place unions). */
bitmap_t *bitmap_or_many(const bitmap_t *const *sets, size_t n);
void bitmap_and_inplace(bitmap_t *a, const bitmap_t *b);
void bitmap_or_inplace(bitmap_t *a, const bitmap_t *b);
void bitmap_andnot_inplace(bitmap_t *a, const bitmap_t *b);
/* Writes the members in ascending order into out (bitmap_cardinality
 * values). */
void bitmap_to_array(const bitmap_t *b, uint32_t *out);

#endif
