/* lexer.c -- cuts template source into text/output/tag tokens, and markup
 * into expression tokens.
 *
 * Braze templates nest output markup inside tags and filters
 * ({% if {{custom_attribute.${x}}} > 0 %}, plus: {{balance}}) and use
 * ${name} variables whose closing brace sits right before "}}"
 * ({{${first_name}}}), so the end of a tag or output is found by scanning
 * tokens (strings, ${...}, nested {{ }}) rather than by searching for the
 * first "}}" as Shopify's regex tokenizer does. Whitespace control ({{-,
 * -%}) is applied to the neighbouring text tokens here, once. Positions are
 * byte offsets; line and column are computed only when an error is
 * reported. */
#include "internal.h"
#include "../lib/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }
static bool alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static bool digit(char ch) { return ch >= '0' && ch <= '9'; }

void liq_linecol(const char *src, size_t len, size_t pos, int *line, int *col) {
    int l = 1, c = 1;
    if (pos > len) pos = len;
    for (size_t i = 0; i < pos; i++) {
        if (src[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)src[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

uint32_t liq_hash(const char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* ------------------------------------------------------------ scanning */

long liq_scan_output_end(const char *src, size_t len, size_t i) {
    int depth = 0;
    while (i < len) {
        char ch = src[i];
        if (ch == '\'' || ch == '"') {
            const char *q = memchr(src + i + 1, ch, len - i - 1);
            if (!q) return -1;
            i = (size_t)(q - src) + 1;
        } else if (ch == '$' && i + 1 < len && src[i + 1] == '{') {
            const char *q = memchr(src + i + 2, '}', len - i - 2);
            if (!q) return -1;
            i = (size_t)(q - src) + 1;
        } else if (ch == '{' && i + 1 < len && src[i + 1] == '{') {
            depth++;
            i += 2;
        } else if (ch == '}' && i + 1 < len && src[i + 1] == '}') {
            if (depth == 0) return (long)i;
            depth--;
            i += 2;
        } else {
            i++;
        }
    }
    return -1;
}

/* End ("%}") of ordinary tag markup from i; -1 when missing, -2 on an
 * unterminated string or ${. */
static long tag_end(const char *src, size_t len, size_t i) {
    while (i < len) {
        char ch = src[i];
        if (ch == '%' && i + 1 < len && src[i + 1] == '}') return (long)i;
        if (ch == '\'' || ch == '"') {
            const char *q = memchr(src + i + 1, ch, len - i - 1);
            if (!q) return -2;
            i = (size_t)(q - src) + 1;
        } else if (ch == '$' && i + 1 < len && src[i + 1] == '{') {
            const char *q = memchr(src + i + 2, '}', len - i - 2);
            if (!q) return -2;
            i = (size_t)(q - src) + 1;
        } else if (ch == '{' && i + 1 < len && src[i + 1] == '{') {
            long e = liq_scan_output_end(src, len, i + 2);
            if (e < 0) return -1;
            i = (size_t)e + 2;
        } else {
            i++;
        }
    }
    return -1;
}

/* First "%}" from i that is not inside {{ }} (connected_content markup,
 * which holds URLs and JSON, is not quote-aware). */
static long loose_tag_end(const char *src, size_t len, size_t i) {
    while (i + 1 < len) {
        if (src[i] == '%' && src[i + 1] == '}') return (long)i;
        if (src[i] == '{' && src[i + 1] == '{') {
            long e = liq_scan_output_end(src, len, i + 2);
            if (e < 0) return -1;
            i = (size_t)e + 2;
        } else {
            i++;
        }
    }
    return -1;
}

static long plain_find(const char *src, size_t len, size_t i, const char *needle) {
    size_t nl = strlen(needle);
    for (; i + nl <= len; i++)
        if (src[i] == needle[0] && memcmp(src + i, needle, nl) == 0) return (long)i;
    return -1;
}

static void push(liq_rawtoks *v, liq_rawtok t) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->t = xrealloc(v->t, v->cap * sizeof *v->t);
    }
    v->t[v->n++] = t;
}

/* Reads "{%-? name" at i (i points at "{%"): sets the name span and the
 * offset after it; false when no word follows. */
static bool tag_head(const char *src, size_t len, size_t i, bool *trim_l, size_t *name, size_t *namelen,
                     size_t *after) {
    size_t k = i + 2;
    *trim_l = k < len && src[k] == '-';
    if (*trim_l) k++;
    while (k < len && ws(src[k])) k++;
    *name = k;
    if (k < len && src[k] == '#') {
        *namelen = 1;
        *after = k + 1;
        return true;
    }
    if (k >= len || !alpha(src[k])) return false;
    while (k < len && (alpha(src[k]) || digit(src[k]))) k++;
    *namelen = k - *name;
    *after = k;
    return true;
}

static bool name_is(const char *src, size_t name, size_t namelen, const char *w) {
    return strlen(w) == namelen && memcmp(src + name, w, namelen) == 0;
}

/* Finds the {% endNAME %} that closes a comment or raw body starting at i,
 * honouring nesting for comments. Sets the end tag's span and trim. */
static bool find_block_end(const char *src, size_t len, size_t i, const char *word, bool nest,
                           size_t *tag_start, size_t *tag_stop, bool *trim_r) {
    char endw[16];
    snprintf(endw, sizeof endw, "end%s", word);
    int depth = 1;
    for (;;) {
        long j = plain_find(src, len, i, "{%");
        if (j < 0) return false;
        bool tl;
        size_t name, namelen, after;
        if (!tag_head(src, len, (size_t)j, &tl, &name, &namelen, &after)) {
            i = (size_t)j + 2;
            continue;
        }
        bool is_end = name_is(src, name, namelen, endw);
        bool is_open = nest && name_is(src, name, namelen, word);
        bool is_raw = nest && name_is(src, name, namelen, "raw");
        long e = plain_find(src, len, after, "%}");
        if (e < 0) return false;
        if (is_raw) {
            /* A raw body inside a comment may hold anything, even endcomment. */
            size_t ts, te;
            bool tr;
            if (!find_block_end(src, len, (size_t)e + 2, "raw", false, &ts, &te, &tr)) return false;
            i = te;
            continue;
        }
        if (is_open) depth++;
        if (is_end && --depth == 0) {
            *tag_start = (size_t)j;
            *tag_stop = (size_t)e + 2;
            *trim_r = e > 0 && src[e - 1] == '-' && (size_t)e - 1 >= after;
            return true;
        }
        i = (size_t)e + 2;
    }
}

static void strip_text(liq_rawtoks *v, const char *src) {
    for (size_t i = 0; i < v->n; i++) {
        liq_rawtok *t = &v->t[i];
        if (t->kind != RT_TEXT || t->raw) continue;
        if (i > 0 && v->t[i - 1].trim_r)
            while (t->start < t->end && ws(src[t->start])) t->start++;
        if (i + 1 < v->n && v->t[i + 1].trim_l)
            while (t->end > t->start && ws(src[t->end - 1])) t->end--;
    }
}

/* Splits the body of {% liquid %} into one tag token per line. */
static void liquid_lines(liq_rawtoks *v, const char *src, size_t start, size_t end, bool trim_l,
                         bool trim_r) {
    liq_rawtok marker = {.kind = RT_TAG, .inline_liquid = true, .pos = (uint32_t)start};
    marker.name = (uint32_t)start;
    marker.namelen = 0; /* an empty name: the parser ignores it */
    marker.trim_l = trim_l;
    push(v, marker);
    size_t i = start;
    while (i < end) {
        size_t eol = i;
        while (eol < end && src[eol] != '\n') eol++;
        size_t a = i, b = eol;
        while (a < b && ws(src[a])) a++;
        while (b > a && ws(src[b - 1])) b--;
        if (a < b) {
            liq_rawtok t = {.kind = RT_TAG, .inline_liquid = true, .pos = (uint32_t)a};
            size_t k = a;
            if (src[k] == '#') {
                k++;
            } else {
                while (k < b && (alpha(src[k]) || digit(src[k]))) k++;
                if (k == a) k = b; /* not a word: the parser reports it */
            }
            t.name = (uint32_t)a;
            t.namelen = (uint32_t)(k - a);
            t.start = (uint32_t)k;
            t.end = (uint32_t)b;
            push(v, t);
        }
        i = eol + 1;
    }
    marker.pos = (uint32_t)end;
    marker.trim_l = false;
    marker.trim_r = trim_r;
    push(v, marker);
}

int liq_scan(const char *src, size_t len, liq_rawtoks *out, uint32_t *errpos, const char **errmsg) {
    size_t i = 0;
    out->n = 0;
    while (i < len) {
        size_t j = i;
        for (;;) {
            const char *q = memchr(src + j, '{', len - j);
            if (!q) {
                j = len;
                break;
            }
            j = (size_t)(q - src);
            if (j + 1 < len && (src[j + 1] == '{' || src[j + 1] == '%')) break;
            j++;
        }
        if (j > i) push(out, (liq_rawtok){.kind = RT_TEXT, .pos = (uint32_t)i, .start = (uint32_t)i, .end = (uint32_t)j});
        if (j >= len) break;
        *errpos = (uint32_t)j;
        if (src[j + 1] == '{') {
            size_t k = j + 2;
            bool tl = k < len && src[k] == '-';
            if (tl) k++;
            long e = liq_scan_output_end(src, len, k);
            if (e < 0) {
                *errmsg = "output '{{' was not properly terminated with '}}'";
                return LIQ_ESYNTAX;
            }
            size_t me = (size_t)e;
            bool tr = me > k && src[me - 1] == '-';
            if (tr) me--;
            push(out, (liq_rawtok){.kind = RT_OUTPUT, .trim_l = tl, .trim_r = tr, .pos = (uint32_t)j,
                                   .start = (uint32_t)k, .end = (uint32_t)me});
            i = (size_t)e + 2;
            continue;
        }
        bool tl;
        size_t name, namelen, after;
        if (!tag_head(src, len, j, &tl, &name, &namelen, &after)) {
            *errmsg = "tag '{%' has no name (or was not properly terminated with '%}')";
            return LIQ_ESYNTAX;
        }
        long e;
        if (name_is(src, name, namelen, "#") || name_is(src, name, namelen, "comment") ||
            name_is(src, name, namelen, "raw"))
            e = plain_find(src, len, after, "%}");
        else if (name_is(src, name, namelen, "connected_content"))
            e = loose_tag_end(src, len, after);
        else
            e = tag_end(src, len, after);
        if (e < 0) {
            *errmsg = e == -2 ? "unterminated string in tag"
                              : "tag '{%' was not properly terminated with '%}'";
            return LIQ_ESYNTAX;
        }
        size_t me = (size_t)e;
        bool tr = me > after && src[me - 1] == '-';
        if (tr) me--;
        liq_rawtok t = {.kind = RT_TAG, .trim_l = tl, .trim_r = tr, .pos = (uint32_t)j,
                        .start = (uint32_t)after, .end = (uint32_t)me,
                        .name = (uint32_t)name, .namelen = (uint32_t)namelen};
        i = (size_t)e + 2;
        if (name_is(src, name, namelen, "comment") || name_is(src, name, namelen, "raw")) {
            bool is_raw = src[name] == 'r';
            size_t ts, te;
            bool etr;
            if (!find_block_end(src, len, i, is_raw ? "raw" : "comment", !is_raw, &ts, &te, &etr)) {
                *errmsg = is_raw ? "'raw' tag was never closed" : "'comment' tag was never closed";
                return LIQ_ESYNTAX;
            }
            if (is_raw) {
                push(out, (liq_rawtok){.kind = RT_TEXT, .raw = true, .trim_l = tl, .trim_r = etr,
                                       .pos = (uint32_t)i, .start = (uint32_t)i, .end = (uint32_t)ts});
            } else {
                t.trim_r = etr;
                t.start = t.end = (uint32_t)after;
                push(out, t);
            }
            i = te;
            continue;
        }
        if (name_is(src, name, namelen, "liquid")) {
            liquid_lines(out, src, after, me, tl, tr);
            continue;
        }
        push(out, t);
    }
    strip_text(out, src);
    return 0;
}

/* ------------------------------------------------------------- markup */

void liq_lex_init(liq_lexer *lx, const char *src, size_t start, size_t end) {
    lx->src = src;
    lx->pos = start;
    lx->end = end;
    lx->has_peek = false;
    lx->errmsg = NULL;
    lx->errpos = 0;
}

static liq_tok lex_err(liq_lexer *lx, size_t at, const char *msg) {
    liq_tok t = {.t = T_ERR, .pos = (uint32_t)at};
    if (!lx->errmsg) {
        lx->errmsg = msg;
        lx->errpos = (uint32_t)at;
    }
    lx->pos = lx->end;
    return t;
}

static liq_tok lex(liq_lexer *lx) {
    const char *s = lx->src;
    size_t i = lx->pos, end = lx->end;
    while (i < end && ws(s[i])) i++;
    liq_tok t = {.t = T_END, .pos = (uint32_t)i};
    if (i >= end) {
        lx->pos = i;
        return t;
    }
    char ch = s[i];
    char nx = i + 1 < end ? s[i + 1] : '\0';
    if (ch == '\'' || ch == '"') {
        const char *q = memchr(s + i + 1, ch, end - i - 1);
        if (!q) return lex_err(lx, i, "unterminated string");
        t.t = T_STR;
        t.p = s + i + 1;
        t.n = (size_t)(q - t.p);
        lx->pos = (size_t)(q - s) + 1;
        return t;
    }
    if (digit(ch) || (ch == '-' && digit(nx))) {
        size_t k = i + 1;
        while (k < end && digit(s[k])) k++;
        bool flt = k + 1 < end && s[k] == '.' && digit(s[k + 1]);
        if (flt) {
            k++;
            while (k < end && digit(s[k])) k++;
        }
        char buf[64];
        size_t n = k - i < sizeof buf - 1 ? k - i : sizeof buf - 1;
        memcpy(buf, s + i, n);
        buf[n] = '\0';
        if (k < end && (alpha(s[k]))) return lex_err(lx, i, "invalid number");
        if (!flt) {
            errno = 0;
            long long v = strtoll(buf, NULL, 10);
            if (errno != ERANGE) {
                t.t = T_INT;
                t.i = v;
                lx->pos = k;
                return t;
            }
        }
        t.t = T_FLOAT;
        t.f = strtod(buf, NULL);
        lx->pos = k;
        return t;
    }
    if (alpha(ch)) {
        size_t k = i + 1;
        while (k < end && (alpha(s[k]) || digit(s[k]) || s[k] == '-')) k++;
        if (k < end && s[k] == '?') k++;
        t.t = T_IDENT;
        t.p = s + i;
        t.n = k - i;
        lx->pos = k;
        return t;
    }
    lx->pos = i + 1;
    switch (ch) {
    case '$': {
        if (nx != '{') return lex_err(lx, i, "expected '{' after '$'");
        const char *q = memchr(s + i + 2, '}', end - i - 2);
        if (!q) return lex_err(lx, i, "unterminated '${'");
        const char *a = s + i + 2, *b = q;
        while (a < b && ws(*a)) a++;
        while (b > a && ws(b[-1])) b--;
        if (a == b) return lex_err(lx, i, "empty '${}'");
        t.t = T_BRAZE;
        t.p = a;
        t.n = (size_t)(b - a);
        lx->pos = (size_t)(q - s) + 1;
        return t;
    }
    case '.':
        if (nx == '.') {
            t.t = T_DOTDOT;
            lx->pos = i + 2;
        } else {
            t.t = T_DOT;
        }
        return t;
    case '[': t.t = T_LBRACK; return t;
    case ']': t.t = T_RBRACK; return t;
    case '(': t.t = T_LPAREN; return t;
    case ')': t.t = T_RPAREN; return t;
    case ':': t.t = T_COLON; return t;
    case ',': t.t = T_COMMA; return t;
    case '|':
        if (nx == '|') {
            t.t = T_OR;
            lx->pos = i + 2;
        } else {
            t.t = T_PIPE;
        }
        return t;
    case '&':
        if (nx != '&') break;
        t.t = T_AND;
        lx->pos = i + 2;
        return t;
    case '{':
        if (nx != '{') break;
        t.t = T_OPEN2;
        lx->pos = i + 2;
        return t;
    case '}':
        if (nx != '}') break;
        t.t = T_CLOSE2;
        lx->pos = i + 2;
        return t;
    case '=':
        if (nx == '=') {
            t.t = T_CMP;
            t.op = OP_EQ;
            lx->pos = i + 2;
        } else {
            t.t = T_ASSIGN;
        }
        return t;
    case '!':
        if (nx != '=') break;
        t.t = T_CMP;
        t.op = OP_NE;
        lx->pos = i + 2;
        return t;
    case '<':
    case '>':
        t.t = T_CMP;
        if (ch == '<' && nx == '>') {
            t.op = OP_NE;
            lx->pos = i + 2;
        } else if (nx == '=') {
            t.op = ch == '<' ? OP_LE : OP_GE;
            lx->pos = i + 2;
        } else {
            t.op = ch == '<' ? OP_LT : OP_GT;
        }
        return t;
    }
    return lex_err(lx, i, "unexpected character");
}

liq_tok liq_lex_next(liq_lexer *lx) {
    if (lx->has_peek) {
        lx->has_peek = false;
        return lx->peeked;
    }
    return lex(lx);
}

liq_tok liq_lex_peek(liq_lexer *lx) {
    if (!lx->has_peek) {
        lx->peeked = lex(lx);
        lx->has_peek = true;
    }
    return lx->peeked;
}
