/* filters_str.c -- Liquid's string filters.
 *
 * Each follows the Ruby method Liquid's StandardFilters call (String#split
 * with its awk mode for " ", gsub with an empty pattern, capitalize, ...),
 * counting characters, not bytes, where Ruby does. Results are built in
 * the render arena; an unchanged input is returned as is. */
#include "internal.h"

#include <string.h>

#define FILTER(name) \
    static int name(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, liq_val *out)

static int str_of(liq_ctx *c, const liq_val *v, const char **p, size_t *n) { return liq_to_str(c, v, p, n); }

static int arg_str(liq_ctx *c, const liq_fcall *f, liq_val *args, int nargs, int i, const char *def,
                   const char **p, size_t *n) {
    const liq_val *a = liq_arg(f, args, nargs, i);
    if (!a) {
        *p = def;
        *n = strlen(def);
        return 0;
    }
    return liq_to_str(c, a, p, n);
}

static bool rb_space(char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r') || ch == '\0'; }

static int concat2(liq_ctx *c, uint32_t pos, const char *a, size_t an, const char *b, size_t bn, liq_val *out) {
    if (!bn) {
        *out = liq_str(a, an);
        return 0;
    }
    if (!an) {
        *out = liq_str(b, bn);
        return 0;
    }
    char *d = liq_alloc(c, an + bn + 1);
    if (!d) return liq_oom(c, pos);
    memcpy(d, a, an);
    memcpy(d + an, b, bn);
    d[an + bn] = '\0';
    *out = liq_str(d, an + bn);
    return 0;
}

FILTER(f_append) {
    const char *a, *b;
    size_t an, bn;
    int rc;
    if ((rc = str_of(c, in, &a, &an)) || (rc = arg_str(c, f, args, nargs, 0, "", &b, &bn))) return rc;
    return concat2(c, f->pos, a, an, b, bn, out);
}

FILTER(f_prepend) {
    const char *a, *b;
    size_t an, bn;
    int rc;
    if ((rc = str_of(c, in, &a, &an)) || (rc = arg_str(c, f, args, nargs, 0, "", &b, &bn))) return rc;
    return concat2(c, f->pos, b, bn, a, an, out);
}

static int casemap(liq_ctx *c, const liq_fcall *f, liq_val *in, int mode, liq_val *out) {
    const char *p;
    size_t n;
    int rc = str_of(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n + 8);
    liq_case(&sb, p, n, mode);
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_downcase) { (void)args; (void)nargs; return casemap(c, f, in, 0, out); }
FILTER(f_upcase) { (void)args; (void)nargs; return casemap(c, f, in, 1, out); }
FILTER(f_capitalize) { (void)args; (void)nargs; return casemap(c, f, in, 2, out); }

/* Runs of plain bytes are copied whole and a string with nothing to escape
 * is returned as is: escape runs on most outputs of an HTML email, and a
 * byte-at-a-time copy was most of its cost. */
static bool html_special(char ch) { return ch == '<' || ch == '>' || ch == '"' || ch == '\'' || ch == '&'; }

static int html_escape(liq_ctx *c, const liq_fcall *f, liq_val *in, bool once, liq_val *out) {
    if (in->t == LV_NIL && !once) {
        *out = LIQ_NIL;
        return 0;
    }
    const char *p;
    size_t n;
    int rc = str_of(c, in, &p, &n);
    if (rc) return rc;
    size_t i = 0;
    while (i < n && !html_special(p[i])) i++;
    if (i == n) {
        *out = liq_str(p, n);
        return 0;
    }
    liq_sb sb;
    liq_sb_init(&sb, c, n + n / 4 + 8);
    size_t run = 0; /* the plain bytes p[run..i) are not copied yet */
    for (; i < n; i++) {
        const char *rep;
        size_t rn;
        switch (p[i]) {
        case '<': rep = "&lt;", rn = 4; break;
        case '>': rep = "&gt;", rn = 4; break;
        case '"': rep = "&quot;", rn = 6; break;
        case '\'': rep = "&#39;", rn = 5; break;
        case '&': {
            rep = "&amp;", rn = 5;
            /* escape_once leaves &name; and &#123; alone. */
            size_t k = i + 1;
            if (once && k < n && p[k] == '#') {
                k++;
                size_t d0 = k;
                while (k < n && p[k] >= '0' && p[k] <= '9') k++;
                if (k > d0 && k < n && p[k] == ';') continue;
            } else if (once) {
                size_t a0 = k;
                while (k < n && ((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= 'A' && p[k] <= 'Z'))) k++;
                if (k > a0 && k < n && p[k] == ';') continue;
            }
            break;
        }
        default: continue;
        }
        liq_sb_add(&sb, p + run, i - run);
        liq_sb_add(&sb, rep, rn);
        run = i + 1;
    }
    liq_sb_add(&sb, p + run, n - run);
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_escape) { (void)args; (void)nargs; return html_escape(c, f, in, false, out); }
FILTER(f_escape_once) { (void)args; (void)nargs; return html_escape(c, f, in, true, out); }

static int strip_impl(liq_ctx *c, liq_val *in, bool left, bool right, liq_val *out) {
    const char *p;
    size_t n;
    int rc = str_of(c, in, &p, &n);
    if (rc) return rc;
    while (left && n && rb_space(*p)) p++, n--;
    while (right && n && rb_space(p[n - 1])) n--;
    *out = liq_str(p, n);
    return 0;
}

FILTER(f_strip) { (void)f; (void)args; (void)nargs; return strip_impl(c, in, true, true, out); }
FILTER(f_lstrip) { (void)f; (void)args; (void)nargs; return strip_impl(c, in, true, false, out); }
FILTER(f_rstrip) { (void)f; (void)args; (void)nargs; return strip_impl(c, in, false, true, out); }

FILTER(f_newline_to_br) {
    (void)args;
    (void)nargs;
    const char *p;
    size_t n;
    int rc = str_of(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n + 16);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') continue;
        if (p[i] == '\n') liq_sb_add(&sb, "<br />\n", 7);
        else liq_sb_addc(&sb, p[i]);
    }
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_strip_newlines) {
    (void)args;
    (void)nargs;
    const char *p;
    size_t n;
    int rc = str_of(c, in, &p, &n);
    if (rc) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') continue;
        if (p[i] != '\n') liq_sb_addc(&sb, p[i]);
    }
    return liq_sb_done(&sb, f->pos, out);
}

/* Replaces all, the first (mode 1) or the last (mode 2) occurrence of
 * needle. An empty needle matches before every character (and at the end),
 * as Ruby's gsub("") does. */
static int replace_impl(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, int mode,
                        bool remove, liq_val *out) {
    const char *p, *nd, *rp = "";
    size_t n, nn, rn = 0;
    int rc;
    if ((rc = str_of(c, in, &p, &n)) || (rc = arg_str(c, f, args, nargs, 0, "", &nd, &nn))) return rc;
    if (!remove && (rc = arg_str(c, f, args, nargs, 1, "", &rp, &rn))) return rc;
    if (nn == 0 && remove) {
        *out = liq_str(p, n);
        return 0;
    }
    liq_sb sb;
    liq_sb_init(&sb, c, n + rn + 8);
    if (nn == 0) {
        if (mode == 1) {
            liq_sb_add(&sb, rp, rn);
            liq_sb_add(&sb, p, n);
        } else if (mode == 2) {
            liq_sb_add(&sb, p, n);
            liq_sb_add(&sb, rp, rn);
        } else {
            size_t chars = liq_utf8_len(p, n);
            if ((rc = liq_step(c, chars, f->pos))) return rc;
            for (size_t i = 0; i < n;) {
                liq_sb_add(&sb, rp, rn);
                size_t k = liq_utf8_off(p + i, n - i, 1);
                liq_sb_add(&sb, p + i, k);
                i += k;
            }
            liq_sb_add(&sb, rp, rn);
        }
        return liq_sb_done(&sb, f->pos, out);
    }
    if (mode == 2) {
        const char *last = NULL;
        for (const char *s = p; (s = liq_memmem(s, n - (size_t)(s - p), nd, nn)); s++) last = s;
        if (!last) {
            *out = liq_str(p, n);
            return 0;
        }
        liq_sb_add(&sb, p, (size_t)(last - p));
        liq_sb_add(&sb, rp, rn);
        liq_sb_add(&sb, last + nn, n - (size_t)(last - p) - nn);
        return liq_sb_done(&sb, f->pos, out);
    }
    const char *s = p, *hit;
    size_t count = 0;
    while ((hit = liq_memmem(s, n - (size_t)(s - p), nd, nn))) {
        liq_sb_add(&sb, s, (size_t)(hit - s));
        liq_sb_add(&sb, rp, rn);
        s = hit + nn;
        count++;
        if (mode == 1 || sb.fail) break;
    }
    if (count == 0) {
        *out = liq_str(p, n);
        return 0;
    }
    if ((rc = liq_step(c, count, f->pos))) return rc;
    liq_sb_add(&sb, s, n - (size_t)(s - p));
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_replace) { return replace_impl(c, f, in, args, nargs, 0, false, out); }
FILTER(f_replace_first) { return replace_impl(c, f, in, args, nargs, 1, false, out); }
FILTER(f_replace_last) { return replace_impl(c, f, in, args, nargs, 2, false, out); }
FILTER(f_remove) { return replace_impl(c, f, in, args, nargs, 0, true, out); }
FILTER(f_remove_first) { return replace_impl(c, f, in, args, nargs, 1, true, out); }
FILTER(f_remove_last) { return replace_impl(c, f, in, args, nargs, 2, true, out); }

FILTER(f_slice) {
    int64_t off, len = 1;
    int rc = liq_to_integer(c, liq_arg(f, args, nargs, 0), f->pos, &off);
    const liq_val *la = liq_arg(f, args, nargs, 1);
    /* Liquid's `length ? to_integer(length) : 1`: nil or false is 1. */
    if (rc || (la && liq_truthy(la) && (rc = liq_to_integer(c, la, f->pos, &len)))) return rc;
    int64_t alen = in->t == LV_RANGE ? -1 : liq_arr_len(in);
    if (alen >= 0) {
        /* Array#slice(start, length): nil (so []) past the end; nested
         * arrays are elements, not flattened. */
        int64_t sz = alen, st = off < 0 ? off + sz : off;
        out->t = LV_ARR;
        out->u.a.v = NULL;
        out->u.a.n = 0;
        if (st < 0 || st > sz || len < 0) return 0;
        int64_t cnt = len > sz - st ? sz - st : len;
        if ((rc = liq_step(c, (uint64_t)cnt, f->pos))) return rc;
        liq_val *items = liq_alloc(c, (size_t)(cnt ? cnt : 1) * sizeof *items);
        if (!items) return liq_oom(c, f->pos);
        for (int64_t i = 0; i < cnt; i++) liq_arr_get(in, st + i, &items[i]);
        out->u.a.v = items;
        out->u.a.n = (size_t)cnt;
        return 0;
    }
    const char *p;
    size_t n;
    if ((rc = str_of(c, in, &p, &n))) return rc;
    int64_t chars = (int64_t)liq_utf8_len(p, n), st = off < 0 ? off + chars : off;
    if (st < 0 || st > chars || len < 0) {
        *out = liq_str("", 0);
        return 0;
    }
    int64_t cnt = len > chars - st ? chars - st : len;
    size_t b0 = liq_utf8_off(p, n, (size_t)st);
    size_t b1 = b0 + liq_utf8_off(p + b0, n - b0, (size_t)cnt);
    *out = liq_str(p + b0, b1 - b0);
    return 0;
}

static int push_piece(liq_ctx *c, uint32_t pos, liq_val **v, size_t *n, size_t *cap, const char *p, size_t len) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        liq_val *q = liq_arena_grow(&c->r->arena, *v, *cap * sizeof **v, nc * sizeof **v);
        if (!q) return liq_oom(c, pos);
        *v = q;
        *cap = nc;
    }
    (*v)[(*n)++] = liq_str(p, len);
    return liq_step(c, 1, pos);
}

/* Ruby's String#split with a string pattern: " " splits on runs of
 * whitespace ignoring leading ones, "" splits into characters, anything
 * else literally; trailing empty fields are dropped. limit > 0 caps the
 * number of fields, the last one keeping the rest. */
static int split_impl(liq_ctx *c, uint32_t pos, const char *p, size_t n, const char *sep, size_t sn, int64_t limit,
                      liq_val *out) {
    liq_val *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    if (sn == 1 && sep[0] == ' ') {
        size_t i = 0;
        while (i < n && rb_space(p[i])) i++;
        while (i < n && !rc) {
            if (limit > 0 && (int64_t)cnt == limit - 1) {
                rc = push_piece(c, pos, &v, &cnt, &cap, p + i, n - i);
                break;
            }
            size_t j = i;
            while (j < n && !rb_space(p[j])) j++;
            rc = push_piece(c, pos, &v, &cnt, &cap, p + i, j - i);
            i = j;
            while (i < n && rb_space(p[i])) i++;
            /* With a limit, Ruby keeps the empty field after trailing space. */
            if (!rc && i == n && j < n && limit > 0 && (int64_t)cnt < limit)
                rc = push_piece(c, pos, &v, &cnt, &cap, p + n, 0);
        }
    } else if (sn == 0) {
        for (size_t i = 0; i < n && !rc;) {
            size_t k = liq_utf8_off(p + i, n - i, 1);
            rc = push_piece(c, pos, &v, &cnt, &cap, p + i, k);
            i += k;
        }
    } else if (n > 0) {
        size_t i = 0;
        for (;;) {
            const char *hit = (limit > 0 && (int64_t)cnt == limit - 1) ? NULL : liq_memmem(p + i, n - i, sep, sn);
            if (!hit) {
                rc = push_piece(c, pos, &v, &cnt, &cap, p + i, n - i);
                break;
            }
            if ((rc = push_piece(c, pos, &v, &cnt, &cap, p + i, (size_t)(hit - p) - i))) break;
            i = (size_t)(hit - p) + sn;
        }
        if (limit <= 0)
            while (cnt && v[cnt - 1].u.s.n == 0) cnt--;
    }
    if (rc) return rc;
    out->t = LV_ARR;
    out->u.a.v = v;
    out->u.a.n = cnt;
    return 0;
}

FILTER(f_split) {
    const char *p, *sep;
    size_t n, sn;
    int rc;
    if ((rc = str_of(c, in, &p, &n)) || (rc = arg_str(c, f, args, nargs, 0, "", &sep, &sn))) return rc;
    return split_impl(c, f->pos, p, n, sep, sn, 0, out);
}

/* Liquid's strip_html is two regexp passes, and so is this: first
 * <script.*?</script>, <!--.*?--> and <style.*?</style> go whole, then
 * every <.*?> goes. Ruby's regexps are case-sensitive, so <SCRIPT> loses
 * its tags but keeps its text, as in Braze. */
static const char *const html_blocks[][2] = {{"<script", "</script>"}, {"<!--", "-->"}, {"<style", "</style>"}};

FILTER(f_strip_html) {
    (void)args;
    (void)nargs;
    const char *p;
    size_t n;
    int rc = str_of(c, in, &p, &n);
    if (rc) return rc;
    liq_sb blocks, sb;
    liq_sb_init(&blocks, c, n + 1);
    for (const char *s = p, *end = p + n; s < end;) {
        const char *lt = memchr(s, '<', (size_t)(end - s));
        const char *stop = lt ? lt : end;
        liq_sb_add(&blocks, s, (size_t)(stop - s));
        if (!lt) break;
        s = lt;
        const char *close = NULL;
        for (size_t k = 0; k < sizeof html_blocks / sizeof *html_blocks && !close; k++) {
            size_t ol = strlen(html_blocks[k][0]), cl = strlen(html_blocks[k][1]);
            if ((size_t)(end - s) < ol || memcmp(s, html_blocks[k][0], ol)) continue;
            const char *e = liq_memmem(s + ol, (size_t)(end - s) - ol, html_blocks[k][1], cl);
            if (e) close = e + cl;
        }
        if (close) {
            s = close;
        } else {
            liq_sb_addc(&blocks, '<');
            s++;
        }
    }
    liq_val mid;
    if ((rc = liq_sb_done(&blocks, f->pos, &mid))) return rc;
    const char *q = mid.u.s.p, *end = q + mid.u.s.n;
    liq_sb_init(&sb, c, mid.u.s.n + 1);
    while (q < end) {
        const char *lt = memchr(q, '<', (size_t)(end - q));
        const char *gt = lt ? memchr(lt + 1, '>', (size_t)(end - lt - 1)) : NULL;
        if (!gt) {
            liq_sb_add(&sb, q, (size_t)(end - q));
            break;
        }
        liq_sb_add(&sb, q, (size_t)(lt - q));
        q = gt + 1;
    }
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_truncate) {
    if (in->t == LV_NIL) {
        *out = LIQ_NIL;
        return 0;
    }
    int64_t len = 50;
    const char *p, *ell;
    size_t n, en;
    int rc;
    const liq_val *la = liq_arg(f, args, nargs, 0);
    if ((la && (rc = liq_to_integer(c, la, f->pos, &len))) || (rc = str_of(c, in, &p, &n)) ||
        (rc = arg_str(c, f, args, nargs, 1, "...", &ell, &en)))
        return rc;
    /* A character is at least a byte: text of at most len bytes is kept
     * without counting its characters. */
    if ((int64_t)n <= len || (int64_t)liq_utf8_len(p, n) <= len) {
        *out = liq_str(p, n);
        return 0;
    }
    int64_t el = (int64_t)liq_utf8_len(ell, en), keep = len > el ? len - el : 0;
    return concat2(c, f->pos, p, liq_utf8_off(p, n, (size_t)keep), ell, en, out);
}

FILTER(f_truncatewords) {
    if (in->t == LV_NIL) {
        *out = LIQ_NIL;
        return 0;
    }
    int64_t words = 15;
    const char *p, *ell;
    size_t n, en;
    int rc;
    const liq_val *wa = liq_arg(f, args, nargs, 0);
    if ((wa && (rc = liq_to_integer(c, wa, f->pos, &words))) || (rc = str_of(c, in, &p, &n)) ||
        (rc = arg_str(c, f, args, nargs, 1, "...", &ell, &en)))
        return rc;
    if (words <= 0) words = 1;
    if (words > 100000) words = 100000;
    liq_val parts;
    if ((rc = split_impl(c, f->pos, p, n, " ", 1, words + 1, &parts))) return rc;
    if ((int64_t)parts.u.a.n <= words) {
        *out = liq_str(p, n);
        return 0;
    }
    liq_sb sb;
    liq_sb_init(&sb, c, n + en + 1);
    for (int64_t i = 0; i < words; i++) {
        if (i) liq_sb_addc(&sb, ' ');
        liq_sb_add(&sb, parts.u.a.v[i].u.s.p, parts.u.a.v[i].u.s.n);
    }
    liq_sb_add(&sb, ell, en);
    return liq_sb_done(&sb, f->pos, out);
}

const liq_filter_def liq_filters_str[] = {
    {"append", f_append, 1, 1},
    {"prepend", f_prepend, 1, 1},
    {"downcase", f_downcase, 0, 0},
    {"upcase", f_upcase, 0, 0},
    {"capitalize", f_capitalize, 0, 0},
    {"escape", f_escape, 0, 0},
    {"h", f_escape, 0, 0},
    {"escape_once", f_escape_once, 0, 0},
    {"strip", f_strip, 0, 0},
    {"lstrip", f_lstrip, 0, 0},
    {"rstrip", f_rstrip, 0, 0},
    {"newline_to_br", f_newline_to_br, 0, 0},
    {"strip_newlines", f_strip_newlines, 0, 0},
    {"strip_html", f_strip_html, 0, 0},
    {"replace", f_replace, 1, 2},
    {"replace_first", f_replace_first, 1, 2},
    {"replace_last", f_replace_last, 2, 2},
    {"remove", f_remove, 1, 1},
    {"remove_first", f_remove_first, 1, 1},
    {"remove_last", f_remove_last, 1, 1},
    {"slice", f_slice, 1, 2},
    {"split", f_split, 1, 1},
    {"truncate", f_truncate, 0, 2},
    {"truncatewords", f_truncatewords, 0, 2},
    {NULL, NULL, 0, 0},
};
