/* varint.h -- LEB128 varints and zigzag, for the compact profile encoding.
 *
 * Profiles are kept in memory as byte strings (core/profile.c); small
 * numbers are the common case (counts, lengths, name ids), so a varint
 * takes one or two bytes where a fixed field would take eight. */
#ifndef BR_VARINT_H
#define BR_VARINT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VARINT_MAX 10

static inline size_t varint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from [*p, end); returns 0 and advances *p, or -1 if truncated. */
static inline int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

#endif
