/* links.c -- signed tracking tokens and the rewriting of an email's links
 * (see links.h). */
#include "links.h"
#include "mime.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/secret.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define VERSION 1
#define MAC_LEN 16
#define PAYLOAD_MAX (2 + 12 + 2 * (1 + LNK_ID_MAX) + 2 + 32)

/* ---- the key ---------------------------------------------------------------- */

static int read_key(int fd, uint8_t key[LNK_KEY_LEN]) {
    ssize_t n = read(fd, key, LNK_KEY_LEN);
    uint8_t extra;
    return n == LNK_KEY_LEN && read(fd, &extra, 1) == 0 ? 0 : -1;
}

int lnk_key_load(const char *dir, uint8_t key[LNK_KEY_LEN]) {
    char path[4096], tmp[4100];
    snprintf(path, sizeof path, "%s/%s", dir, LNK_KEY_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        int rc = read_key(fd, key);
        close(fd);
        if (rc < 0) log_error("links: %s is not a %d-byte key; restore it from a backup (links in sent mail need it)", path, LNK_KEY_LEN);
        return rc;
    }
    if (errno != ENOENT) {
        log_error("links: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    /* Written whole and synced under another name, then renamed: a crash
     * leaves either no key or the key, never half of one. */
    secret_random(key, LNK_KEY_LEN);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, key, LNK_KEY_LEN) == LNK_KEY_LEN && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    ok = ok && rename(tmp, path) == 0;
    int dfd = ok ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    ok = ok && dfd >= 0 && fsync(dfd) == 0;
    if (dfd >= 0) close(dfd);
    if (!ok) {
        log_error("links: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- tokens ----------------------------------------------------------------- */

static size_t put_str(uint8_t *p, const char *s) {
    size_t n = strnlen(s, LNK_ID_MAX);
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

static size_t payload(const lnk_token *t, uint8_t *p) {
    size_t n = 0;
    p[n++] = VERSION;
    p[n++] = (uint8_t)t->kind;
    memcpy(p + n, t->bz, 12);
    n += 12;
    n += put_str(p + n, t->dispatch_id);
    n += put_str(p + n, t->variation_id);
    if (t->kind == LNK_CLICK) {
        p[n++] = (uint8_t)(t->link >> 8);
        p[n++] = (uint8_t)t->link;
        memcpy(p + n, t->url_hash, 32);
        n += 32;
    }
    return n;
}

/* HMAC-SHA256 by libsodium: OpenSSL 3's one-shot HMAC() fetches the
 * digest and takes its global locks on every call, and a newsletter's
 * message signs a token per link (a tenth of a broadcast's CPU). Each
 * thread keeps the state keyed with the last key it signed with (there is
 * one key), so a token costs its own bytes, not the key's two blocks. */
_Static_assert(LNK_KEY_LEN == crypto_auth_hmacsha256_KEYBYTES, "the key is HMAC-SHA256's");

static void sodium_once(void) {
    if (sodium_init() < 0) abort();
}

static void mac(const uint8_t key[LNK_KEY_LEN], const uint8_t *p, size_t n, uint8_t out[MAC_LEN]) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static _Thread_local struct {
        bool set;
        uint8_t key[LNK_KEY_LEN];
        crypto_auth_hmacsha256_state keyed;
    } tl;
    pthread_once(&once, sodium_once);
    if (!tl.set || memcmp(tl.key, key, LNK_KEY_LEN)) {
        crypto_auth_hmacsha256_init(&tl.keyed, key, LNK_KEY_LEN);
        memcpy(tl.key, key, LNK_KEY_LEN);
        tl.set = true;
    }
    crypto_auth_hmacsha256_state st = tl.keyed;
    uint8_t full[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_update(&st, p, n);
    crypto_auth_hmacsha256_final(&st, full);
    memcpy(out, full, MAC_LEN);
}

static void url_hash(const char *url, uint8_t out[32]) { crypto_hash_sha256(out, (const unsigned char *)url, strlen(url)); }

/* "<base>/t/<kind>/<token>" for t (its url_hash set for a click). */
static void put_token(buf_t *out, const char *base, const uint8_t key[LNK_KEY_LEN], const lnk_token *t) {
    uint8_t raw[PAYLOAD_MAX + MAC_LEN];
    size_t n = payload(t, raw);
    mac(key, raw, n, raw + n);
    n += MAC_LEN;
    char b64[(sizeof raw + 2) / 3 * 4 + 1];
    int m = EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
    while (m > 0 && b64[m - 1] == '=') m--; /* base64url: no padding, - and _ */
    for (int i = 0; i < m; i++) b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    buf_printf(out, "%s/t/%c/%.*s", base, (char)t->kind, m, b64);
}

void lnk_url(buf_t *out, const char *base, const uint8_t key[LNK_KEY_LEN], const lnk_token *t, const char *url) {
    lnk_token c = *t;
    if (c.kind == LNK_CLICK) url_hash(url, c.url_hash);
    put_token(out, base, key, &c);
    if (c.kind == LNK_CLICK) {
        char *e = curl_easy_escape(NULL, url, (int)strlen(url));
        if (e) buf_puts(out, "?u="), buf_puts(out, e);
        curl_free(e);
    }
}

static bool get_str(const uint8_t *p, size_t n, size_t *at, char out[LNK_ID_MAX + 1]) {
    if (*at >= n || p[*at] > LNK_ID_MAX || *at + 1 + p[*at] > n) return false;
    size_t len = p[*at];
    memcpy(out, p + *at + 1, len);
    out[len] = '\0';
    *at += 1 + len;
    return strlen(out) == len; /* no NUL inside */
}

int lnk_parse(const uint8_t key[LNK_KEY_LEN], int kind, const char *tok, const char *url, lnk_token *t) {
    size_t m = strlen(tok);
    if (m < 4 || m > (PAYLOAD_MAX + MAC_LEN + 2) / 3 * 4) return -1;
    char b64[(PAYLOAD_MAX + MAC_LEN + 2) / 3 * 4 + 4];
    for (size_t i = 0; i < m; i++) {
        char ch = tok[i];
        if (ch == '-') ch = '+';
        else if (ch == '_') ch = '/';
        else if (!isalnum((unsigned char)ch)) return -1;
        b64[i] = ch;
    }
    size_t padded = m;
    while (padded % 4) b64[padded++] = '=';
    uint8_t raw[sizeof b64];
    if (EVP_DecodeBlock(raw, (unsigned char *)b64, (int)padded) < 0) return -1;
    size_t n = m * 6 / 8; /* the bytes the unpadded text holds */
    if (n < 2 + 12 + 2 + MAC_LEN) return -1;
    n -= MAC_LEN;
    uint8_t want[MAC_LEN];
    mac(key, raw, n, want);
    if (CRYPTO_memcmp(want, raw + n, MAC_LEN) != 0 || raw[0] != VERSION || raw[1] != (uint8_t)kind) return -1;
    memset(t, 0, sizeof *t);
    t->kind = (lnk_kind)kind;
    memcpy(t->bz, raw + 2, 12);
    size_t at = 14;
    if (!get_str(raw, n, &at, t->dispatch_id) || !get_str(raw, n, &at, t->variation_id)) return -1;
    if (kind == LNK_CLICK) {
        if (at + 2 + 32 != n || !url) return -1;
        t->link = raw[at] << 8 | raw[at + 1];
        uint8_t h[32];
        url_hash(url, h);
        if (CRYPTO_memcmp(h, raw + at + 2, 32) != 0) return -1;
        memcpy(t->url_hash, h, 32);
        return 0;
    }
    return at == n ? 0 : -1;
}

/* ---- rewriting -------------------------------------------------------------- */

/* A link to track: its href value's bytes in the body, and what each
 * recipient's URL is made of. */
typedef struct {
    size_t vs, ve;     /* html[vs..ve): the value, without quotes */
    bool quoted;
    char *escaped;     /* the URL, percent-encoded for ?u= */
    uint8_t hash[32];  /* its SHA-256, for the token */
} href_t;

struct lnk_plan {
    href_t *links;
    int n;
    size_t pixel_at;   /* where the pixel goes: before </body>, or the end */
    size_t len;        /* of the body it was made from */
};

typedef struct {
    const char *base, *html;
    size_t n, last;    /* last: the end of the previous link's tag */
    htmlParserCtxtPtr p;
    lnk_plan *plan;
} planner;

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

/* The value of the href attribute in the start tag html[s..e): *vs, *ve
 * (without quotes) and *quoted. The first one counts, as for browsers. */
static bool find_href(const char *h, size_t s, size_t e, size_t *vs, size_t *ve, bool *quoted) {
    size_t i = s;
    while (i < e) {
        while (i < e && (is_space(h[i]) || h[i] == '/')) i++;
        size_t ns = i;
        while (i < e && !is_space(h[i]) && h[i] != '=' && h[i] != '>' && h[i] != '/') i++;
        size_t ne = i;
        if (ne == ns) return false;
        while (i < e && is_space(h[i])) i++;
        size_t a = i, b = i;
        bool q = false;
        if (i < e && h[i] == '=') {
            i++;
            while (i < e && is_space(h[i])) i++;
            if (i < e && (h[i] == '"' || h[i] == '\'')) {
                char quote = h[i++];
                a = i;
                while (i < e && h[i] != quote) i++;
                if (i >= e) return false;
                b = i++;
                q = true;
            } else {
                a = i;
                while (i < e && !is_space(h[i]) && h[i] != '>') i++;
                b = i;
            }
        }
        if (ne - ns == 4 && !strncasecmp(h + ns, "href", 4)) {
            *vs = a, *ve = b, *quoted = q;
            return b > a;
        }
    }
    return false;
}

static void on_start(void *ud, const xmlChar *name, const xmlChar **atts) {
    planner *w = ud;
    const char *el = (const char *)name;
    if (strcmp(el, "a") && strcmp(el, "area")) return;
    const char *href = NULL;
    for (int i = 0; atts && atts[i]; i += 2) {
        const char *k = (const char *)atts[i], *v = (const char *)atts[i + 1];
        if (!strcasecmp(k, "href") && !href) href = v ? v : "";
        if (!strcasecmp(k, "clicktracking") && v && !strcasecmp(v, "off")) return;
    }
    if (!href) return;
    while (is_space(*href)) href++;
    size_t hl = strlen(href), bl = strlen(w->base);
    while (hl && is_space(href[hl - 1])) hl--;
    if (hl > LNK_URL_MAX || (strncasecmp(href, "http://", 7) && strncasecmp(href, "https://", 8))) return;
    if (!strncmp(href, w->base, bl) && (href[bl] == '/' || href[bl] == '\0')) return; /* brasa's own links */
    long end = xmlByteConsumed(w->p); /* at the tag's '>' (or "/>") */
    if (end < 0 || (size_t)end > w->n) return;
    size_t el_len = strlen(el), s = (size_t)end;
    for (;;) { /* back to the '<' that opened this tag */
        if (s <= w->last) return;
        s--;
        if (w->html[s] == '<' && s + 1 + el_len < (size_t)end && !strncasecmp(w->html + s + 1, el, el_len) &&
            (is_space(w->html[s + 1 + el_len]) || w->html[s + 1 + el_len] == '/'))
            break;
    }
    href_t k;
    if (!find_href(w->html, s + 1 + el_len, (size_t)end, &k.vs, &k.ve, &k.quoted)) return;
    char *url = strndup(href, hl);
    url_hash(url, k.hash);
    k.escaped = curl_easy_escape(NULL, url, (int)hl);
    free(url);
    if (!k.escaped) return;
    lnk_plan *p = w->plan;
    p->links = xrealloc(p->links, (size_t)(p->n + 1) * sizeof *p->links);
    p->links[p->n++] = k;
    w->last = (size_t)end;
}

static const char *last_body_end(const char *h, size_t from, size_t n) {
    for (size_t i = n; i >= from + 7; i--)
        if (h[i - 7] == '<' && h[i - 6] == '/' && !strncasecmp(h + i - 5, "body", 4) && (h[i - 1] == '>' || is_space(h[i - 1])))
            return h + i - 7;
    return NULL;
}

lnk_plan *lnk_plan_new(const char *base, const char *html, size_t n) {
    lnk_plan *plan = xcalloc(1, sizeof *plan);
    plan->len = n;
    planner w = {.base = base, .html = html, .n = n, .plan = plan};
    mime_xml_init();
    if (n <= INT32_MAX && (w.p = htmlCreateMemoryParserCtxt(html, (int)n))) {
        memset(w.p->sax, 0, sizeof *w.p->sax);
        w.p->sax->startElement = on_start;
        w.p->userData = &w;
        htmlCtxtUseOptions(w.p, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
        /* Campaign HTML is UTF-8, whatever a <meta charset> in it says:
         * a declared encoding would make the parser convert, and the byte
         * offsets above would no longer be the body's. */
        xmlSwitchEncoding(w.p, XML_CHAR_ENCODING_UTF8);
        if (w.p->input && !w.p->input->encoding) w.p->input->encoding = xmlStrdup(BAD_CAST "UTF-8");
        htmlParseDocument(w.p);
        htmlFreeParserCtxt(w.p);
    }
    size_t after = plan->n ? plan->links[plan->n - 1].ve : 0;
    const char *body_end = last_body_end(html, after, n);
    plan->pixel_at = body_end ? (size_t)(body_end - html) : n;
    return plan;
}

void lnk_plan_free(lnk_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) curl_free(p->links[i].escaped);
    free(p->links);
    free(p);
}

void lnk_apply(const lnk_plan *p, const lnk_ctx *c, const char *html, buf_t *out) {
    size_t at = 0;
    lnk_token t = *c->who;
    for (int i = 0; c->clicks && i < p->n; i++) {
        const href_t *k = &p->links[i];
        buf_append(out, html + at, k->vs - at);
        if (!k->quoted) buf_append(out, "\"", 1);
        t.kind = LNK_CLICK;
        t.link = i + 1;
        memcpy(t.url_hash, k->hash, 32);
        put_token(out, c->base, c->key, &t); /* base64url and %-escapes: nothing to quote */
        buf_puts(out, "?u=");
        buf_puts(out, k->escaped);
        if (!k->quoted) buf_append(out, "\"", 1);
        at = k->ve;
    }
    if (!c->opens) {
        buf_append(out, html + at, p->len - at);
        return;
    }
    buf_append(out, html + at, p->pixel_at - at);
    t.kind = LNK_OPEN;
    buf_puts(out, "<img src=\"");
    put_token(out, c->base, c->key, &t);
    buf_puts(out, "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;height:1px;width:1px;border:0;margin:0;padding:0\">");
    buf_append(out, html + p->pixel_at, p->len - p->pixel_at);
}

void lnk_rewrite(const lnk_ctx *c, const char *html, size_t n, buf_t *out) {
    lnk_plan *p = lnk_plan_new(c->base, html, n);
    lnk_apply(p, c, html, out);
    lnk_plan_free(p);
}
