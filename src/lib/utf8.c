/* utf8.c -- strict UTF-8 (see utf8.h). */
#include "utf8.h"

size_t utf8_decode(const unsigned char *p, size_t n, int32_t *cp) {
    unsigned char b = p[0];
    size_t len;
    int32_t v;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) len = 2, v = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF) len = 3, v = b & 0x0F;
    else if (b >= 0xF0 && b <= 0xF4) len = 4, v = b & 0x07;
    else return 0; /* a continuation byte, C0/C1 (always overlong) or F5..FF */
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) return 0;
    if (len == 4 && (v < 0x10000 || v > 0x10FFFF)) return 0;
    *cp = v;
    return len;
}

bool utf8_valid(const char *s, size_t n, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        /* ASCII runs are the common case: skip them eight bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            __builtin_memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        size_t len = utf8_decode(p + i, n - i, &cp);
        if (!len) {
            if (bad) *bad = i;
            return false;
        }
        i += len;
    }
    return true;
}

void utf8_repair(buf_t *b, const char *s, size_t n) {
    /* Valid runs are found by utf8_valid, eight ASCII bytes at a time: an
     * email's body passes here whole, for every recipient. */
    size_t bad;
    while (!utf8_valid(s, n, &bad)) {
        buf_append(b, s, bad);
        buf_append(b, "\xEF\xBF\xBD", 3);
        s += bad + 1;
        n -= bad + 1;
    }
    buf_append(b, s, n);
}

size_t utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}
