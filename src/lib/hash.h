/* hash.h -- a fast non-cryptographic hash for in-memory indexes.
 *
 * Index keys (external ids, emails, aliases) come from clients, but a table
 * is private to the process and seeded per start, so flooding one bucket
 * on purpose would need the seed. */
#ifndef BR_HASH_H
#define BR_HASH_H
#include <stddef.h>
#include <stdint.h>

extern uint64_t hash_seed;

/* 64-bit hash of n bytes (a wyhash-style multiply-mix). */
uint64_t hash_bytes(const void *p, size_t n);
/* Mixes two hashes (for composite keys such as alias label + name). */
static inline uint64_t hash_mix(uint64_t a, uint64_t b) {
    __uint128_t m = (__uint128_t)(a ^ 0x9E3779B97F4A7C15ull) * (b ^ 0xC2B2AE3D27D4EB4Full);
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

#endif
