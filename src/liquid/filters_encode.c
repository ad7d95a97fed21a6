/* filters_encode.c -- encoding, hashing, URL and Braze's formatting filters.
 *
 * Hashes and HMACs come from libcrypto (OpenSSL 3) and print as lowercase
 * hex (or base64 for the *_base64 variants), as Braze documents them.
 * url_encode/url_decode are Ruby's CGI.escape/unescape; url_escape and
 * url_param_escape are Braze's (the latter escapes '&' and everything else
 * outside RFC 3986's unreserved set, for query parameters). json_escape
 * produces the inside of a JSON string literal, for webhook bodies. */
#include "internal.h"
#include "../lib/str.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define FILTER(name) \
    static int name(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, liq_val *out)

static const char hexd[] = "0123456789abcdef";
static const char HEXD[] = "0123456789ABCDEF";

static int hex_out(liq_ctx *c, uint32_t pos, const unsigned char *d, size_t n, liq_val *out) {
    char *s = liq_alloc(c, n * 2 + 1);
    if (!s) return liq_oom(c, pos);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hexd[d[i] >> 4];
        s[2 * i + 1] = hexd[d[i] & 15];
    }
    s[2 * n] = '\0';
    *out = liq_str(s, 2 * n);
    return 0;
}

static void b64_encode(liq_sb *sb, const unsigned char *d, size_t n, bool url) {
    const char *tab = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        liq_sb_add(sb, q, 4);
    }
}

static int b64_val(char ch, bool url) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == (url ? '-' : '+')) return 62;
    if (ch == (url ? '_' : '/')) return 63;
    return -1;
}

/* Strict decoding (Ruby's strict_decode64 / urlsafe_decode64, which also
 * accepts missing padding). false on invalid input. */
static bool b64_decode(liq_sb *sb, const char *p, size_t n, bool url) {
    if (url && n % 4) {
        if (n % 4 == 1) return false;
    } else if (n % 4) {
        return false;
    }
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '=') {
            pad++;
            if (n - i > 2) return false;
            continue;
        }
        if (pad) return false;
        int v = b64_val(p[i], url);
        if (v < 0) return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            liq_sb_addc(sb, (char)(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    return acc == 0; /* leftover bits must be zero, as strict decoding requires */
}

static int in_str(liq_ctx *c, liq_val *in, const char **p, size_t *n) { return liq_to_str(c, in, p, n); }

static int digest(liq_ctx *c, const liq_fcall *f, liq_val *in, const EVP_MD *md, liq_val *out) {
    const char *p;
    size_t n;
    int rc = in_str(c, in, &p, &n);
    if (rc) return rc;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (!EVP_Digest(p, n, d, &dl, md, NULL)) return liq_fail(c, LIQ_ERENDER, f->pos, "digest failed");
    return hex_out(c, f->pos, d, dl, out);
}

FILTER(f_md5) { (void)args; (void)nargs; return digest(c, f, in, EVP_md5(), out); }
FILTER(f_sha1) { (void)args; (void)nargs; return digest(c, f, in, EVP_sha1(), out); }
FILTER(f_sha256) { (void)args; (void)nargs; return digest(c, f, in, EVP_sha256(), out); }

static int hmac(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, const EVP_MD *md, bool b64,
                liq_val *out) {
    const char *p, *k;
    size_t n, kn;
    int rc;
    if ((rc = in_str(c, in, &p, &n)) || (rc = liq_to_str(c, liq_arg(f, args, nargs, 0), &k, &kn))) return rc;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (!HMAC(md, k, (int)kn, (const unsigned char *)p, n, d, &dl))
        return liq_fail(c, LIQ_ERENDER, f->pos, "hmac failed");
    if (!b64) return hex_out(c, f->pos, d, dl, out);
    liq_sb sb;
    liq_sb_init(&sb, c, 96);
    b64_encode(&sb, d, dl, false);
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_hmac_sha1_hex) { return hmac(c, f, in, args, nargs, EVP_sha1(), false, out); }
FILTER(f_hmac_sha1_b64) { return hmac(c, f, in, args, nargs, EVP_sha1(), true, out); }
FILTER(f_hmac_sha256_hex) { return hmac(c, f, in, args, nargs, EVP_sha256(), false, out); }
FILTER(f_hmac_sha256_b64) { return hmac(c, f, in, args, nargs, EVP_sha256(), true, out); }
FILTER(f_hmac_sha512_hex) { return hmac(c, f, in, args, nargs, EVP_sha512(), false, out); }
FILTER(f_hmac_sha512_b64) { return hmac(c, f, in, args, nargs, EVP_sha512(), true, out); }

static int b64enc(liq_ctx *c, const liq_fcall *f, liq_val *in, bool url, liq_val *out) {
    const char *p;
    size_t n;
    int rc = in_str(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n / 3 * 4 + 8);
    b64_encode(&sb, (const unsigned char *)p, n, url);
    return liq_sb_done(&sb, f->pos, out);
}

static int b64dec(liq_ctx *c, const liq_fcall *f, liq_val *in, bool url, liq_val *out) {
    const char *p;
    size_t n;
    int rc = in_str(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n);
    if (!b64_decode(&sb, p, n, url) && !sb.fail)
        return liq_fail(c, LIQ_ERENDER, f->pos, "invalid base64 provided to %s", f->def->name);
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_base64_encode) { (void)args; (void)nargs; return b64enc(c, f, in, false, out); }
FILTER(f_base64_decode) { (void)args; (void)nargs; return b64dec(c, f, in, false, out); }
FILTER(f_base64_url_safe_encode) { (void)args; (void)nargs; return b64enc(c, f, in, true, out); }
FILTER(f_base64_url_safe_decode) { (void)args; (void)nargs; return b64dec(c, f, in, true, out); }

/* ------------------------------------------------------------------ URLs */

static bool alnum(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

enum { URL_CGI, URL_ESCAPE, URL_PARAM };

static bool keep(unsigned char ch, int mode) {
    if (alnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') return true;
    if (mode == URL_ESCAPE) return ch && strchr("!*'();/?:@&=+$,[]", ch) != NULL;
    return false;
}

static int url_escape_impl(liq_ctx *c, const liq_fcall *f, liq_val *in, int mode, liq_val *out) {
    if (in->t == LV_NIL && mode == URL_CGI) {
        *out = LIQ_NIL;
        return 0;
    }
    const char *p;
    size_t n;
    int rc = in_str(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n + 16);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (keep(ch, mode)) {
            liq_sb_addc(&sb, (char)ch);
        } else if (ch == ' ' && mode == URL_CGI) {
            liq_sb_addc(&sb, '+');
        } else {
            char e[3] = {'%', HEXD[ch >> 4], HEXD[ch & 15]};
            liq_sb_add(&sb, e, 3);
        }
    }
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_url_encode) { (void)args; (void)nargs; return url_escape_impl(c, f, in, URL_CGI, out); }
FILTER(f_url_escape) { (void)args; (void)nargs; return url_escape_impl(c, f, in, URL_ESCAPE, out); }
FILTER(f_url_param_escape) { (void)args; (void)nargs; return url_escape_impl(c, f, in, URL_PARAM, out); }

static int hexv(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') return (ch | 0x20) - 'a' + 10;
    return -1;
}

static bool valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 && b >= 0xC2 ? 2 : (b & 0xF0) == 0xE0 ? 3
                   : (b & 0xF8) == 0xF0 && b <= 0xF4 ? 4 : 0;
        if (!len || i + len > n) return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        i += len;
    }
    return true;
}

FILTER(f_url_decode) {
    (void)args;
    (void)nargs;
    if (in->t == LV_NIL) {
        *out = LIQ_NIL;
        return 0;
    }
    const char *p;
    size_t n;
    int rc = in_str(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n + 1);
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (p[i] == '+') liq_sb_addc(&sb, ' ');
        else if (p[i] == '%' && i + 2 < n && (h = hexv(p[i + 1])) >= 0 && (l = hexv(p[i + 2])) >= 0) {
            liq_sb_addc(&sb, (char)(h << 4 | l));
            i += 2;
        } else liq_sb_addc(&sb, p[i]);
    }
    if ((rc = liq_sb_done(&sb, f->pos, out))) return rc;
    if (!valid_utf8((const unsigned char *)out->u.s.p, out->u.s.n))
        return liq_fail(c, LIQ_ERENDER, f->pos, "invalid byte sequence in UTF-8");
    return 0;
}

/* ------------------------------------------------------------------ JSON */

static void json_str(liq_sb *sb, const char *p, size_t n) {
    char out[STR_JSON_MAX(256)];
    for (size_t i = 0; i < n; i += 256) liq_sb_add(sb, out, str_json_escape(out, p + i, n - i < 256 ? n - i : 256));
}

FILTER(f_json_escape) {
    (void)args;
    (void)nargs;
    const char *p;
    size_t n;
    int rc = in_str(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n + 8);
    json_str(&sb, p, n);
    return liq_sb_done(&sb, f->pos, out);
}

static void json_val(liq_sb *sb, const liq_val *v, int depth) {
    char num[40];
    if (depth > 64) {
        liq_sb_add(sb, "null", 4);
        return;
    }
    switch (v->t) {
    case LV_NIL:
    case LV_EMPTY:
    case LV_BLANK:
    case LV_LOOP: liq_sb_add(sb, "null", 4); return;
    case LV_BOOL: liq_sb_add(sb, v->u.b ? "true" : "false", v->u.b ? 4 : 5); return;
    case LV_INT: liq_sb_printf(sb, "%lld", (long long)v->u.i); return;
    case LV_FLOAT:
        if (v->u.f != v->u.f || v->u.f - v->u.f != 0) liq_sb_add(sb, "null", 4);
        else liq_sb_add(sb, num, liq_fmt_float(v->u.f, num));
        return;
    case LV_JSON:
        if (json_object_is_type(v->u.j, json_type_object)) {
            liq_sb_addc(sb, '{');
            bool first = true;
            json_object_object_foreach(v->u.j, k, jv) {
                if (!first) liq_sb_addc(sb, ',');
                first = false;
                liq_sb_addc(sb, '"');
                json_str(sb, k, strlen(k));
                liq_sb_add(sb, "\":", 2);
                liq_val x = liq_from_json(jv);
                json_val(sb, &x, depth + 1);
            }
            liq_sb_addc(sb, '}');
            return;
        }
        __attribute__((fallthrough));
    case LV_ARR: {
        liq_sb_addc(sb, '[');
        int64_t n = liq_arr_len(v);
        for (int64_t i = 0; i < n; i++) {
            if (i) liq_sb_addc(sb, ',');
            liq_val x = liq_arr_at(v, i);
            json_val(sb, &x, depth + 1);
        }
        liq_sb_addc(sb, ']');
        return;
    }
    default: {
        const char *p;
        size_t n;
        if (liq_to_str(sb->c, v, &p, &n)) {
            sb->fail = true;
            return;
        }
        liq_sb_addc(sb, '"');
        json_str(sb, p, n);
        liq_sb_addc(sb, '"');
    }
    }
}

FILTER(f_json) {
    (void)args;
    (void)nargs;
    liq_sb sb;
    liq_sb_init(&sb, c, 64);
    json_val(&sb, in, 0);
    return liq_sb_done(&sb, f->pos, out);
}

/* ------------------------------------------------------- Braze formatting */

FILTER(f_property_accessor) {
    const char *k;
    size_t kn;
    int rc = liq_to_str(c, liq_arg(f, args, nargs, 0), &k, &kn);
    if (rc) return rc;
    *out = LIQ_NIL;
    if (in->t == LV_JSON && json_object_is_type(in->u.j, json_type_object))
        return liq_lookup_key(c, in, k, kn, false, out);
    return 0;
}

/* Inserts delim every three digits of the integer part of s[0..n), which
 * must look like -?digits(.digits)?; returns false otherwise. */
static bool delimit(liq_sb *sb, const char *s, size_t n, const char *delim, size_t dl, const char *sep, size_t sl) {
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    size_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    size_t d1 = i;
    if (d1 == d0) return false;
    if (i < n) {
        if (s[i] != '.') return false;
        for (size_t k = i + 1; k < n; k++)
            if (s[k] < '0' || s[k] > '9') return false;
    }
    liq_sb_add(sb, s, d0);
    for (size_t k = d0; k < d1; k++) {
        if (k > d0 && (d1 - k) % 3 == 0) liq_sb_add(sb, delim, dl);
        liq_sb_addc(sb, s[k]);
    }
    if (d1 < n) {
        liq_sb_add(sb, sep, sl);
        liq_sb_add(sb, s + d1 + 1, n - d1 - 1);
    }
    return true;
}

static int kw_str(liq_ctx *c, const liq_fcall *f, liq_val *args, int nargs, const char *kw, const char *def,
                  const char **p, size_t *n) {
    const liq_val *v = liq_kwarg(f, args, nargs, kw);
    if (!v) {
        *p = def;
        *n = strlen(def);
        return 0;
    }
    return liq_to_str(c, v, p, n);
}

FILTER(f_number_with_delimiter) {
    const char *p, *d, *s;
    size_t n, dn, sn;
    int rc;
    if ((rc = in_str(c, in, &p, &n)) || (rc = kw_str(c, f, args, nargs, "delimiter", ",", &d, &dn)) ||
        (rc = kw_str(c, f, args, nargs, "separator", ".", &s, &sn)))
        return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n + n / 3 + 8);
    if (!delimit(&sb, p, n, d, dn, s, sn)) {
        *out = *in;
        return 0;
    }
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_money) {
    (void)args;
    (void)nargs;
    if (in->t == LV_NIL) {
        *out = LIQ_NIL;
        return 0;
    }
    liq_num a, r;
    liq_to_number(in, &a);
    char buf[96];
    int len;
    if (a.is_int) {
        len = snprintf(buf, sizeof buf, "%lld.00", (long long)a.i);
    } else {
        liq_num_round(&a, 2, &r);
        __int128 m = r.m;
        bool fits = r.exact && r.e >= -2 && r.e <= 30;
        for (int k = r.e; fits && k > -2; k--) fits = !__builtin_mul_overflow(m, (__int128)10, &m);
        if (fits) {
            bool neg = m < 0;
            unsigned __int128 u = neg ? (unsigned __int128)0 - (unsigned __int128)m : (unsigned __int128)m;
            char digits[64];
            int nd = 0;
            do {
                digits[nd++] = (char)('0' + (int)(u % 10));
                u /= 10;
            } while (u || nd < 3);
            len = 0;
            if (neg) buf[len++] = '-';
            for (int k = nd - 1; k >= 0; k--) {
                buf[len++] = digits[k];
                if (k == 2) buf[len++] = '.';
            }
            buf[len] = '\0';
        } else {
            len = snprintf(buf, sizeof buf, "%.2f", liq_num_double(&r));
        }
    }
    liq_sb sb;
    liq_sb_init(&sb, c, (size_t)len + 16);
    if (!delimit(&sb, buf, (size_t)len, ",", 1, ".", 1)) liq_sb_add(&sb, buf, (size_t)len);
    return liq_sb_done(&sb, f->pos, out);
}

const liq_filter_def liq_filters_encode[] = {
    {"md5", f_md5, 0, 0},
    {"sha1", f_sha1, 0, 0},
    {"sha2", f_sha256, 0, 0},
    {"sha256", f_sha256, 0, 0},
    {"hmac_sha1", f_hmac_sha1_hex, 1, 1},
    {"hmac_sha1_hex", f_hmac_sha1_hex, 1, 1},
    {"hmac_sha1_base64", f_hmac_sha1_b64, 1, 1},
    {"hmac_sha256", f_hmac_sha256_hex, 1, 1},
    {"hmac_sha256_hex", f_hmac_sha256_hex, 1, 1},
    {"hmac_sha256_base64", f_hmac_sha256_b64, 1, 1},
    {"hmac_sha512", f_hmac_sha512_hex, 1, 1},
    {"hmac_sha512_hex", f_hmac_sha512_hex, 1, 1},
    {"hmac_sha512_base64", f_hmac_sha512_b64, 1, 1},
    {"base64", f_base64_encode, 0, 0},
    {"base64_encode", f_base64_encode, 0, 0},
    {"base64_decode", f_base64_decode, 0, 0},
    {"base64_url_safe_encode", f_base64_url_safe_encode, 0, 0},
    {"base64_url_safe_decode", f_base64_url_safe_decode, 0, 0},
    {"url_encode", f_url_encode, 0, 0},
    {"url_decode", f_url_decode, 0, 0},
    {"url_escape", f_url_escape, 0, 0},
    {"url_param_escape", f_url_param_escape, 0, 0},
    {"json_escape", f_json_escape, 0, 0},
    {"json", f_json, 0, 0},
    {"property_accessor", f_property_accessor, 1, 1},
    {"number_with_delimiter", f_number_with_delimiter, 0, 0},
    {"money", f_money, 0, 0},
    {NULL, NULL, 0, 0},
};
