/* utf8.c -- UTF-8 helpers: character counts and offsets, case mapping.
 *
 * Ruby strings count characters, not bytes, so size, slice and truncate
 * work on code points here too. upcase/downcase/capitalize map the letters
 * of the Latin, Greek, Cyrillic and Armenian blocks (what names in
 * marketing messages use); other scripts pass through unchanged. Invalid
 * bytes are kept as they are and count as one character each. */
#include "internal.h"

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

/* Pairs laid out as upper, lower, upper, lower... in [lo, hi]. */
static bool in_pairs(int32_t cp, int32_t lo, int32_t hi, bool upper_even) {
    return cp >= lo && cp <= hi && ((((cp - lo) % 2) == 0) == upper_even);
}

static int32_t to_lower(int32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp < 0xC0) return cp;
    if (cp <= 0xDE && cp != 0xD7) return cp + 32;
    if (cp == 0x178) return 0xFF;
    if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) {
        if (in_pairs(cp, cp >= 0x14A ? 0x14A : cp >= 0x132 ? 0x132 : 0x100, 0x177, true)) return cp + 1;
        return cp;
    }
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return in_pairs(cp, cp >= 0x179 ? 0x179 : 0x139, 0x17E, true) ? cp + 1 : cp;
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;
    if (cp == 0x386) return 0x3AC;
    if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
    if (cp == 0x38C) return 0x3CC;
    if (cp == 0x38E || cp == 0x38F) return cp + 63;
    if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
    if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF))
        return in_pairs(cp, cp >= 0x48A ? 0x48A : 0x460, 0x4BF, true) ? cp + 1 : cp;
    if (cp >= 0x531 && cp <= 0x556) return cp + 48;
    if ((cp >= 0x1E00 && cp <= 0x1E95) || (cp >= 0x1EA0 && cp <= 0x1EFF))
        return in_pairs(cp, cp >= 0x1EA0 ? 0x1EA0 : 0x1E00, 0x1EFF, true) ? cp + 1 : cp;
    if (cp >= 0xFF21 && cp <= 0xFF3A) return cp + 32;
    return cp;
}

static int32_t to_upper(int32_t cp) {
    if (cp >= 'a' && cp <= 'z') return cp - 32;
    if (cp < 0xB5) return cp;
    if (cp == 0xB5) return 0x39C;
    if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
    if (cp == 0xFF) return 0x178;
    if (cp == 0x131) return 'I';
    if (cp == 0x17F) return 'S';
    if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) {
        if (in_pairs(cp, cp >= 0x14A ? 0x14A : cp >= 0x132 ? 0x132 : 0x100, 0x177, false)) return cp - 1;
        return cp;
    }
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return in_pairs(cp, cp >= 0x179 ? 0x179 : 0x139, 0x17E, false) ? cp - 1 : cp;
    if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2) return cp - 32;
    if (cp == 0x3C2) return 0x3A3;
    if (cp == 0x3AC) return 0x386;
    if (cp >= 0x3AD && cp <= 0x3AF) return cp - 37;
    if (cp == 0x3CC) return 0x38C;
    if (cp == 0x3CD || cp == 0x3CE) return cp - 63;
    if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
    if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
    if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF))
        return in_pairs(cp, cp >= 0x48A ? 0x48A : 0x460, 0x4BF, false) ? cp - 1 : cp;
    if (cp >= 0x561 && cp <= 0x586) return cp - 48;
    if ((cp >= 0x1E00 && cp <= 0x1E95) || (cp >= 0x1EA0 && cp <= 0x1EFF))
        return in_pairs(cp, cp >= 0x1EA0 ? 0x1EA0 : 0x1E00, 0x1EFF, false) ? cp - 1 : cp;
    if (cp >= 0xFF41 && cp <= 0xFF5A) return cp - 32;
    return cp;
}

void liq_case(liq_sb *sb, const char *p, size_t n, int mode) {
    bool first = true;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t len = decode((const unsigned char *)p + i, n - i, &cp);
        if (cp < 0) {
            liq_sb_add(sb, p + i, len);
        } else {
            bool up = mode == 1 || (mode == 2 && first);
            char o[4];
            if (up && cp == 0xDF) {
                /* Ruby's full mapping: ß upcases to SS, capitalizes to Ss. */
                liq_sb_add(sb, mode == 2 ? "Ss" : "SS", 2);
            } else {
                int32_t m = up ? to_upper(cp) : to_lower(cp);
                liq_sb_add(sb, o, encode(m, o));
            }
        }
        first = false;
        i += len;
    }
}
