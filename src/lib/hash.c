/* hash.c -- hash_bytes (see hash.h). */
#include "hash.h"

#include <string.h>

uint64_t hash_seed = 0x243F6A8885A308D3ull;

static inline uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mum(uint64_t a, uint64_t b) {
    __uint128_t m = (__uint128_t)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

uint64_t hash_bytes(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = hash_seed ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 16) {
        h = mum(rd64(p) ^ 0xA0761D6478BD642Full ^ h, rd64(p + 8) ^ 0xE7037ED1A0B428DBull);
        p += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = rd64(p);
        b = rd64(p + n - 8);
    } else if (n > 0) {
        uint8_t tmp[8] = {0};
        memcpy(tmp, p, n);
        a = rd64(tmp);
    }
    return mum(a ^ 0xA0761D6478BD642Full ^ h, b ^ 0x8EBC6AF09C88C6E3ull ^ n);
}
