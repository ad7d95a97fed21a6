/* utf8.c -- UTF-8 helpers: character counts and offsets, case mapping.
 *
 * Ruby strings count characters, not bytes, so size, slice and truncate
 * work on code points here too. upcase/downcase/capitalize are Ruby's:
 * Unicode's full case mapping from the tables in casemap.c (ß upcases to
 * SS, ŉ to ʼN, ǆ capitalizes to ǅ, İ downcases to i̇), without the
 * conditional rules Ruby leaves out too (a final Σ downcases to σ, not ς).
 * Invalid bytes are kept as they are and count as one character each. */
#include "internal.h"

#include <string.h>

/* Decodes one code point at p[0..n); returns its length (>= 1) and sets
 * *cp, or -1 in *cp for an invalid byte. */
static size_t decode(const unsigned char *p, size_t n, int32_t *cp) {
    unsigned char b = p[0];
    size_t len;
    int32_t v;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if ((b & 0xE0) == 0xC0 && b >= 0xC2) {
        len = 2;
        v = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
        len = 3;
        v = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0 && b <= 0xF4) {
        len = 4;
        v = b & 0x07;
    } else {
        *cp = -1;
        return 1;
    }
    if (len > n) {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) || (len == 4 && (v < 0x10000 || v > 0x10FFFF))) {
        *cp = -1;
        return 1;
    }
    *cp = v;
    return len;
}

static size_t encode(int32_t cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t liq_utf8_len(const char *p, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; count++) {
        int32_t cp;
        i += decode((const unsigned char *)p + i, n - i, &cp);
    }
    return count;
}

size_t liq_utf8_off(const char *p, size_t n, size_t ci) {
    size_t i = 0;
    while (i < n && ci > 0) {
        int32_t cp;
        i += decode((const unsigned char *)p + i, n - i, &cp);
        ci--;
    }
    return i;
}

/* The range of t that maps cp, or NULL. */
static const liq_case_range *find_range(const liq_case_table *t, int32_t cp) {
    size_t lo = 0, hi = t->nr;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->r[mid].hi < (uint32_t)cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo == t->nr) return NULL;
    const liq_case_range *r = &t->r[lo];
    if ((uint32_t)cp < r->lo || ((uint32_t)cp - r->lo) % r->step) return NULL;
    return r;
}

/* The simple mapping of cp in t, or cp. */
static int32_t map_simple(const liq_case_table *t, int32_t cp) {
    const liq_case_range *r = find_range(t, cp);
    return r ? cp + r->delta : cp;
}

/* The full mapping of cp in t (UTF-8), or NULL. */
static const char *map_full(const liq_case_table *t, int32_t cp) {
    size_t lo = 0, hi = t->nf;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->f[mid].cp < (uint32_t)cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->nf && t->f[lo].cp == (uint32_t)cp ? t->f[lo].to : NULL;
}

void liq_case(liq_sb *sb, const char *p, size_t n, int mode) {
    const liq_case_table *lower = &liq_case_tables[0], *upper = &liq_case_tables[1],
                         *title = &liq_case_tables[2];
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)p[i];
        bool up = mode == 1, first = i == 0;
        if (b < 0x80) {
            /* ASCII, the common case: no table. */
            bool to_up = up || (mode == 2 && first);
            char ch = (char)b;
            if (to_up && b >= 'a' && b <= 'z') ch = (char)(b - 32);
            else if (!to_up && b >= 'A' && b <= 'Z') ch = (char)(b + 32);
            liq_sb_addc(sb, ch);
            i++;
            continue;
        }
        int32_t cp;
        size_t len = decode((const unsigned char *)p + i, n - i, &cp);
        if (cp < 0) {
            liq_sb_add(sb, p + i, len);
        } else {
            /* capitalize: titlecase for the first character, lowercase for
             * the rest; titlecase is uppercase unless the tables say. */
            const char *full;
            int32_t m;
            if (mode == 2 && first) {
                if ((full = map_full(title, cp)) == NULL) {
                    const liq_case_range *r = find_range(title, cp);
                    m = r ? cp + r->delta : map_simple(upper, cp);
                }
            } else {
                const liq_case_table *t = up ? upper : lower;
                if ((full = map_full(t, cp)) == NULL) m = map_simple(t, cp);
            }
            if (full) {
                liq_sb_add(sb, full, strlen(full));
            } else {
                char o[4];
                liq_sb_add(sb, o, encode(m, o));
            }
        }
        i += len;
    }
}
