/* content_block.c -- Content Block rules (see content_block.h). */
#include "content_block.h"
#include "../lib/err.h"
#include "../lib/utf8.h"
#include "../liquid/liquid.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool digit(char c) { return c >= '0' && c <= '9'; }
/* Liquid's identifiers (liquid/lexer.c): a letter or '_', then letters,
 * digits, '_' and '-'. */
static bool ident_start(char c) { return letter(c) || c == '_'; }
static bool ident_char(char c) { return letter(c) || digit(c) || c == '_' || c == '-'; }

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!ws(s[i])) return false;
    return true;
}

int cblock_check_name(const char *name, size_t n) {
    if (blank(name, n)) return BR_ECBNAMEBLANK;
    if (utf8_chars(name, n) > CBLOCK_NAME_MAX) return BR_ECBNAMELONG;
    for (size_t i = 0; i < n; i++)
        if (!ident_char(name[i])) return BR_ECBNAMECHARS;
    return 0;
}

int cblock_check_description(const char *s, size_t n) {
    if (blank(s, n)) return BR_ECBDESCBLANK;
    if (utf8_chars(s, n) > CBLOCK_DESCRIPTION_MAX) return BR_ECBDESCLONG;
    return 0;
}

int cblock_check_content(const char *s, size_t n, char *why, size_t whylen) {
    if (blank(s, n)) return BR_ECBCONTENTBLANK;
    if (n > CBLOCK_CONTENT_MAX) return BR_ECBCONTENTBIG;
    liq_template *t;
    liq_error e;
    if (liq_compile(s, n, &t, &e) != 0) {
        liq_error_format(&e, why, whylen);
        return BR_ECBLIQUID;
    }
    liq_template_free(t);
    return 0;
}

int cblock_parse_state(const char *s, cblock_state *out) {
    if (!strcmp(s, "active")) *out = CBLOCK_ACTIVE;
    else if (!strcmp(s, "draft")) *out = CBLOCK_DRAFT;
    else return BR_ECBSTATE;
    return 0;
}

const char *cblock_state_name(cblock_state s) { return s == CBLOCK_DRAFT ? "draft" : "active"; }

int cblock_check_update(cblock_state was, const char *old_name, const char *new_name, const cblock_state *new_state) {
    if (was != CBLOCK_ACTIVE) return 0;
    /* Live messages name an active block: renaming it would break them. */
    if (new_name && strcmp(new_name, old_name)) return BR_ECBRENAME;
    if (new_state && *new_state == CBLOCK_DRAFT) return BR_ECBTODRAFT;
    return 0;
}

/* Whether an element tag, an end tag, a comment or a doctype starts at s[i]
 * ('<') and a '>' closes it. */
static bool html_at(const char *s, size_t n, size_t i) {
    size_t j = i + 1;
    if (j < n && s[j] == '!') {
        if (n - j >= 3 && !memcmp(s + j, "!--", 3)) return true;
        return n - j >= 8 && !strncasecmp(s + j, "!doctype", 8);
    }
    if (j < n && s[j] == '/') j++;
    if (j >= n || !letter(s[j])) return false;
    while (j < n && (letter(s[j]) || digit(s[j]))) j++;
    if (j >= n || !(ws(s[j]) || s[j] == '>' || s[j] == '/')) return false;
    return memchr(s + j, '>', n - j) != NULL;
}

const char *cblock_content_type(const char *s, size_t n) {
    for (const char *p = s; (p = memchr(p, '<', n - (size_t)(p - s))); p++)
        if (html_at(s, n, (size_t)(p - s))) return "html";
    return "text";
}

void cblock_liquid_tag(const char *name, char *out, size_t outlen) {
    snprintf(out, outlen, "{{content_blocks.${%s}}}", name);
}

/* ---- references ---------------------------------------------------------- */

/* Past the string literal or ${...} that starts at s[i], within [i, e);
 * e when it does not end there. */
static size_t skip_quoted(const char *s, size_t i, size_t e) {
    char close = s[i] == '$' ? '}' : s[i];
    const char *q = memchr(s + i + 1, close, e - i - 1);
    return q ? (size_t)(q - s) + 1 : e;
}

/* The references inside one output or tag whose inside is s[a, e). */
static int scan_markup(const char *s, size_t a, size_t e, cblock_ref_fn fn, void *ud) {
    size_t i = a;
    while (i < e) {
        char c = s[i];
        if (c == '"' || c == '\'' || (c == '$' && i + 1 < e && s[i + 1] == '{')) {
            i = skip_quoted(s, i, e);
            continue;
        }
        if (!ident_start(c) || (i > a && (ident_char(s[i - 1]) || s[i - 1] == '.'))) {
            i++;
            continue;
        }
        size_t k = i;
        while (k < e && ident_char(s[k])) k++;
        if (k - i == 14 && !memcmp(s + i, "content_blocks", 14)) {
            size_t j = k;
            while (j < e && ws(s[j])) j++;
            if (j < e && s[j] == '.') {
                j++;
                while (j < e && ws(s[j])) j++;
                size_t na = j, nb = j;
                if (j + 1 < e && s[j] == '$' && s[j + 1] == '{') {
                    k = skip_quoted(s, j, e);
                    na = j + 2;
                    nb = k > na && s[k - 1] == '}' ? k - 1 : na;
                    while (na < nb && ws(s[na])) na++;
                    while (nb > na && ws(s[nb - 1])) nb--;
                } else if (j < e && ident_start(s[j])) {
                    while (nb < e && ident_char(s[nb])) nb++;
                    k = nb;
                }
                if (nb > na) {
                    int rc = fn(ud, s + na, nb - na);
                    if (rc) return rc;
                }
            }
        }
        i = k;
    }
    return 0;
}

/* The end of the markup whose inside starts at s[i]: the index of its
 * closing "}}" (close '}') or "%}" (close '%'), quotes and ${...} skipped;
 * n when there is none. */
static size_t markup_end(const char *s, size_t n, size_t i, char close) {
    while (i + 1 < n) {
        char c = s[i];
        if (c == '"' || c == '\'' || (c == '$' && s[i + 1] == '{')) i = skip_quoted(s, i, n);
        else if (c == close && s[i + 1] == '}') return i;
        else i++;
    }
    return n;
}

/* The tag name of the tag whose inside is s[a, e) ("raw", "#"): *b, *len. */
static void tag_name(const char *s, size_t a, size_t e, size_t *b, size_t *len) {
    if (a < e && s[a] == '-') a++;
    while (a < e && ws(s[a])) a++;
    size_t k = a;
    if (k < e && s[k] == '#') k++;
    else
        while (k < e && ident_char(s[k])) k++;
    *b = a;
    *len = k - a;
}

static bool name_is(const char *s, size_t b, size_t len, const char *want) {
    return len == strlen(want) && !memcmp(s + b, want, len);
}

/* Past the {% endNAME %} that closes a raw or comment block starting at
 * s[i]; n when none does. */
static size_t block_end(const char *s, size_t n, size_t i, const char *name) {
    char end[16];
    snprintf(end, sizeof end, "end%s", name);
    for (const char *p = s + i; (p = memchr(p, '{', n - (size_t)(p - s))); p++) {
        size_t j = (size_t)(p - s);
        if (j + 1 >= n || s[j + 1] != '%') continue;
        size_t b, len, e = markup_end(s, n, j + 2, '%');
        tag_name(s, j + 2, e, &b, &len);
        if (name_is(s, b, len, end)) return e < n ? e + 2 : n;
    }
    return n;
}

int cblock_refs(const char *src, size_t len, cblock_ref_fn fn, void *ud) {
    size_t i = 0;
    for (const char *p; i < len && (p = memchr(src + i, '{', len - i));) {
        size_t j = (size_t)(p - src);
        if (j + 1 >= len || (src[j + 1] != '{' && src[j + 1] != '%')) {
            i = j + 1;
            continue;
        }
        char close = src[j + 1] == '{' ? '}' : '%';
        size_t a = j + 2, e = markup_end(src, len, a, close);
        i = e < len ? e + 2 : len;
        if (close == '%') {
            size_t b, nlen;
            tag_name(src, a, e, &b, &nlen);
            if (name_is(src, b, nlen, "#")) continue;
            if (name_is(src, b, nlen, "raw") || name_is(src, b, nlen, "comment")) {
                i = block_end(src, len, i, name_is(src, b, nlen, "raw") ? "raw" : "comment");
                continue;
            }
        }
        int rc = scan_markup(src, a, e, fn, ud);
        if (rc) return rc;
    }
    return 0;
}

typedef struct {
    const char *name;
    size_t len;
} ref_want;

static int ref_is(void *ud, const char *name, size_t len) {
    const ref_want *w = ud;
    return len == w->len && !memcmp(name, w->name, len);
}

bool cblock_refers_to(const char *src, size_t len, const char *name) {
    ref_want w = {name, strlen(name)};
    return cblock_refs(src, len, ref_is, &w) != 0;
}
