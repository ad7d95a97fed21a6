/* tags_braze.c -- Braze's tags: abort_message, connected_content and
 * content_blocks.
 *
 * {% abort_message("reason") %} ends the render with LIQ_EABORT: the
 * message is not sent. {% connected_content URL :save x :method post
 * :body ... :headers {...} :content_type t :cache_max_age n :no_cache
 * :basic_auth name :retry %} renders the Liquid inside its URL, body and
 * headers, then calls the caller's fetch function (the engine does no I/O
 * itself): a JSON object or array answer is stored in the :save variable
 * (default `connected`, with __http_status_code__ added to objects),
 * other text is printed in place; a transport failure or a 5xx answer
 * aborts the message, as Braze does after its retries. Content blocks are
 * looked up by name through a callback, compiled once and cached in the
 * renderer (recompiled when their source changes), and rendered in the
 * same scope as the message, so their assigns are visible to it. */
#include "internal.h"
#include "../lib/clock.h"
#include "../lib/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BLOCK_NESTING 10
#define MAX_BLOCKS_PER_RENDER 64
#define BLOCK_CACHE 64
#define MAX_RESPONSE (1u << 20)

/* -------------------------------------------------------- abort_message */

int liq_parse_abort(liq_parser *p, const liq_rawtok *t, liq_node **out) {
    liq_lexer lx;
    liq_lex_init(&lx, p->src, t->start, t->end);
    liq_node *n = liq_palloc(p, sizeof *n);
    n->kind = N_ABORT;
    n->pos = t->pos;
    n->u.abort.reason = "abort_message called";
    n->u.abort.len = strlen(n->u.abort.reason);
    liq_tok k = liq_lex_next(&lx);
    bool paren = k.t == T_LPAREN;
    if (paren) k = liq_lex_next(&lx);
    if (k.t == T_STR) {
        n->u.abort.reason = k.p;
        n->u.abort.len = k.n;
        k = liq_lex_next(&lx);
    }
    if (paren) {
        if (k.t != T_RPAREN) return liq_perr(p, k.pos, "abort_message takes one string in parentheses");
        k = liq_lex_next(&lx);
    }
    if (k.t != T_END) return liq_perr(p, k.pos, "abort_message takes one string in parentheses");
    *out = n;
    return 0;
}

/* ----------------------------------------------------- connected_content */

struct liq_cc {
    liq_body url;
    liq_body *body, *headers;
    const char *method, *content_type, *basic_auth;
    liq_name save;
    bool has_save, no_cache, retry;
    int cache_max_age;
};

static bool ws(char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r'); }

/* Next whitespace-separated chunk of [*i, end); {{ }} and, for :headers,
 * a brace-balanced JSON object may contain spaces. */
static bool chunk(liq_parser *p, uint32_t *i, uint32_t end, bool braces, uint32_t *a, uint32_t *b) {
    const char *s = p->src;
    uint32_t k = *i;
    while (k < end && ws(s[k])) k++;
    if (k >= end) return false;
    *a = k;
    int depth = 0;
    while (k < end) {
        if (s[k] == '{' && k + 1 < end && s[k + 1] == '{') {
            long e = liq_scan_output_end(s, end, k + 2);
            k = e < 0 ? end : (uint32_t)e + 2;
            continue;
        }
        if (braces && s[k] == '"') {
            k++;
            while (k < end && s[k] != '"') {
                if (s[k] == '\\') k++;
                else if (s[k] == '{' && k + 1 < end && s[k + 1] == '{') {
                    long e = liq_scan_output_end(s, end, k + 2);
                    k = e < 0 ? end : (uint32_t)e + 1;
                }
                k++;
            }
            k++;
            continue;
        }
        if (braces && s[k] == '{') depth++;
        if (braces && s[k] == '}' && --depth == 0) {
            k++;
            break;
        }
        if (!braces || depth == 0) {
            if (ws(s[k])) break;
        }
        k++;
    }
    if (k > end) k = end;
    *b = k;
    *i = k;
    return true;
}

static bool chunk_is(liq_parser *p, uint32_t a, uint32_t b, const char *w) {
    return strlen(w) == b - a && memcmp(p->src + a, w, b - a) == 0;
}

int liq_parse_cc(liq_parser *p, const liq_rawtok *t, liq_node **out) {
    liq_cc *cc = liq_palloc(p, sizeof *cc);
    cc->cache_max_age = -1;
    uint32_t i = t->start, a, b;
    if (!chunk(p, &i, t->end, false, &a, &b) || p->src[a] == ':')
        return liq_perr(p, t->pos, "connected_content needs a URL");
    if (liq_parse_fragment(p, a, b, &cc->url)) return LIQ_ESYNTAX;
    while (chunk(p, &i, t->end, false, &a, &b)) {
        if (p->src[a] != ':')
            return liq_perr(p, a, "connected_content: expected an option like :save, got '%.*s'",
                            (int)(b - a > 40 ? 40 : b - a), p->src + a);
        uint32_t oa = a, ob = b;
        if (chunk_is(p, oa, ob, ":no_cache")) {
            cc->no_cache = true;
            continue;
        }
        if (chunk_is(p, oa, ob, ":retry")) {
            cc->retry = true;
            continue;
        }
        bool headers = chunk_is(p, oa, ob, ":headers");
        uint32_t save_i = i;
        while (save_i < t->end && ws(p->src[save_i])) save_i++;
        if (!chunk(p, &i, t->end, headers && save_i < t->end && p->src[save_i] == '{', &a, &b) ||
            p->src[a] == ':')
            return liq_perr(p, oa, "connected_content: option '%.*s' needs a value", (int)(ob - oa), p->src + oa);
        char *val = liq_palloc(p, b - a + 1);
        memcpy(val, p->src + a, b - a);
        if (chunk_is(p, oa, ob, ":save")) {
            liq_lexer lx;
            liq_lex_init(&lx, p->src, a, b);
            liq_tok v = liq_lex_next(&lx);
            if (v.t != T_IDENT || liq_lex_next(&lx).t != T_END)
                return liq_perr(p, a, "connected_content: :save needs a variable name");
            cc->save = liq_mkname(v.p, v.n);
            cc->has_save = true;
        } else if (chunk_is(p, oa, ob, ":method")) {
            for (char *q = val; *q; q++) *q = (char)toupper((unsigned char)*q);
            cc->method = val;
        } else if (chunk_is(p, oa, ob, ":content_type")) {
            cc->content_type = val;
        } else if (chunk_is(p, oa, ob, ":basic_auth")) {
            cc->basic_auth = val;
        } else if (chunk_is(p, oa, ob, ":cache_max_age") || chunk_is(p, oa, ob, ":cache")) {
            char *e;
            long v = strtol(val, &e, 10);
            if (*e || v < 0 || v > 86400 * 365)
                return liq_perr(p, a, "connected_content: :cache_max_age needs a number of seconds");
            cc->cache_max_age = (int)v;
        } else if (chunk_is(p, oa, ob, ":body")) {
            cc->body = liq_palloc(p, sizeof *cc->body);
            if (liq_parse_fragment(p, a, b, cc->body)) return LIQ_ESYNTAX;
        } else if (headers) {
            cc->headers = liq_palloc(p, sizeof *cc->headers);
            if (liq_parse_fragment(p, a, b, cc->headers)) return LIQ_ESYNTAX;
        } else {
            return liq_perr(p, oa, "connected_content: unknown option '%.*s'", (int)(ob - oa > 40 ? 40 : ob - oa),
                            p->src + oa);
        }
    }
    liq_node *n = liq_palloc(p, sizeof *n);
    n->kind = N_CC;
    n->pos = t->pos;
    n->u.cc = cc;
    *out = n;
    return 0;
}

static int own(liq_ctx *c, json_object *j) {
    liq_renderer *r = c->r;
    if (r->nowned == r->capowned) {
        r->capowned = r->capowned ? r->capowned * 2 : 8;
        r->owned = xrealloc(r->owned, r->capowned * sizeof *r->owned);
    }
    r->owned[r->nowned++] = j;
    return 0;
}

/* An object or array parsed from s, or NULL (scalars count as text). */
static json_object *parse_json(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && ws(s[i])) i++;
    if (i >= n || (s[i] != '{' && s[i] != '[')) return NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) return NULL;
    json_object *j = json_tokener_parse_ex(tok, s, (int)n);
    bool ok = j && json_tokener_get_error(tok) == json_tokener_success;
    if (ok) {
        size_t used = json_tokener_get_parse_end(tok);
        while (used < n && ws(s[used])) used++;
        ok = used == n;
    }
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(j);
        return NULL;
    }
    return j;
}

/* "a=1&b=two" -> {"a":"1","b":"two"} (Braze JSON-encodes form bodies sent
 * with :content_type application/json). */
static int form_to_json(liq_ctx *c, uint32_t pos, const liq_val *body, liq_val *out) {
    json_object *o = json_object_new_object();
    const char *s = body->u.s.p, *end = s + body->u.s.n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (eq && eq > s) {
            char *k = xstrndup(s, (size_t)(eq - s));
            json_object_object_add(o, k, json_object_new_string_len(eq + 1, (int)(e - eq - 1)));
            free(k);
        }
        s = amp ? amp + 1 : end;
    }
    const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *d = liq_alloc(c, strlen(js) + 1);
    if (d) strcpy(d, js);
    json_object_put(o);
    if (!d) return liq_oom(c, pos);
    *out = liq_str(d, strlen(d));
    return 0;
}

static bool looks_json(const liq_val *v) {
    size_t i = 0;
    while (i < v->u.s.n && ws(v->u.s.p[i])) i++;
    return i < v->u.s.n && (v->u.s.p[i] == '{' || v->u.s.p[i] == '[');
}

int liq_render_cc(liq_ctx *c, const liq_node *n) {
    const liq_cc *cc = n->u.cc;
    liq_val url, body = LIQ_NIL, hdr;
    int rc = liq_capture(c, &cc->url, n->pos, &url);
    if (rc) return rc;
    while (url.u.s.n && ws(url.u.s.p[0])) url.u.s.p++, url.u.s.n--;
    while (url.u.s.n && ws(url.u.s.p[url.u.s.n - 1])) url.u.s.n--;
    char *urlz = liq_alloc(c, url.u.s.n + 1);
    if (!urlz) return liq_oom(c, n->pos);
    memcpy(urlz, url.u.s.p, url.u.s.n);
    urlz[url.u.s.n] = '\0';
    if (strncasecmp(urlz, "http://", 7) != 0 && strncasecmp(urlz, "https://", 8) != 0)
        return liq_fail(c, LIQ_ERENDER, n->pos, "connected_content: URL must start with http:// or https:// (got '%.80s')",
                        urlz);
    if (++c->fetches > c->o->max_fetches)
        return liq_fail(c, LIQ_ERENDER, n->pos, "too many connected_content calls (at most %d per message)",
                        c->o->max_fetches);
    if (!c->o->fetch) return liq_fail(c, LIQ_ERENDER, n->pos, "connected_content is not available (no fetcher)");
    liq_fetch_req req = {.url = urlz, .method = cc->method ? cc->method : "GET", .content_type = cc->content_type,
                         .basic_auth = cc->basic_auth, .cache_max_age = cc->cache_max_age, .no_cache = cc->no_cache,
                         .retry = cc->retry};
    if (cc->body) {
        if ((rc = liq_capture(c, cc->body, n->pos, &body))) return rc;
        if (cc->content_type && strstr(cc->content_type, "json") && !looks_json(&body) &&
            memchr(body.u.s.p, '=', body.u.s.n) && (rc = form_to_json(c, n->pos, &body, &body)))
            return rc;
        req.body = body.u.s.p;
        req.body_len = body.u.s.n;
    }
    if (cc->headers) {
        if ((rc = liq_capture(c, cc->headers, n->pos, &hdr))) return rc;
        json_object *h = parse_json(hdr.u.s.p, hdr.u.s.n);
        if (!h || !json_object_is_type(h, json_type_object)) {
            json_object_put(h);
            return liq_fail(c, LIQ_ERENDER, n->pos, "connected_content: :headers is not a JSON object");
        }
        own(c, h);
        req.headers = h;
    }
    buf_t *fb = &c->r->fetched;
    buf_reset(fb);
    int status = 0;
    rc = c->o->fetch(c->o->fetch_ud, &req, &status, fb);
    if (clock_mono_us() > c->deadline_us)
        return liq_fail(c, LIQ_ETIME, n->pos, "time budget of %lld ms exceeded", (long long)(c->o->max_time_us / 1000));
    if (rc < 0) return liq_fail(c, LIQ_EABORT, n->pos, "connected_content: request to %.200s failed", urlz);
    if (status >= 500 || status < 100)
        return liq_fail(c, LIQ_EABORT, n->pos, "connected_content: %.200s answered HTTP %d", urlz, status);
    if (fb->len > MAX_RESPONSE)
        return liq_fail(c, LIQ_EABORT, n->pos, "connected_content: %.200s answered more than %u bytes", urlz,
                        MAX_RESPONSE);
    /* The parsed answer lives outside the arena; charge the budget for it. */
    liq_arena *ar = &c->r->arena;
    if (ar->limit && (fb->len * 4 > ar->limit || ar->used > ar->limit - fb->len * 4)) return liq_oom(c, n->pos);
    ar->used += fb->len * 4;
    liq_name var = cc->has_save ? cc->save : liq_mkname("connected", 9);
    json_object *j = fb->len ? parse_json(fb->data, fb->len) : NULL;
    if (j) {
        own(c, j);
        if (json_object_is_type(j, json_type_object))
            json_object_object_add(j, "__http_status_code__", json_object_new_int(status));
        liq_val v = liq_from_json(j);
        return liq_set_var(c, &var, &v);
    }
    if (!cc->has_save) return status < 400 ? liq_out(c, n->pos, fb->data ? fb->data : "", fb->len) : 0;
    char *copy = liq_alloc(c, fb->len + 1);
    if (!copy) return liq_oom(c, n->pos);
    if (fb->len) memcpy(copy, fb->data, fb->len);
    copy[fb->len] = '\0';
    liq_val v = liq_str(copy, fb->len);
    return liq_set_var(c, &var, &v);
}

/* -------------------------------------------------------- content_blocks */

int liq_parse_block_tag(liq_parser *p, const liq_rawtok *t, liq_node **out) {
    liq_lexer lx;
    liq_lex_init(&lx, p->src, t->start, t->end);
    liq_tok d = liq_lex_next(&lx), k = liq_lex_next(&lx);
    if (d.t != T_DOT || (k.t != T_BRAZE && k.t != T_IDENT) || liq_lex_next(&lx).t != T_END)
        return liq_perr(p, t->pos, "use {%% content_blocks.${name} %%}");
    liq_node *n = liq_palloc(p, sizeof *n);
    n->kind = N_BLOCK;
    n->pos = t->pos;
    n->u.block.name = k.p;
    n->u.block.len = k.n;
    *out = n;
    return 0;
}

struct liq_blockc {
    char *name, *src, *srcname;
    size_t nlen, slen;
    liq_template *tpl;
    uint64_t used;
    liq_blockc *next;
};

static void entry_free(liq_blockc *b) {
    liq_template_free(b->tpl);
    free(b->name);
    free(b->src);
    free(b->srcname);
    free(b);
}

static void free_retired(liq_renderer *r) {
    for (size_t i = 0; i < r->nretired; i++) liq_template_free(r->retired[i]);
    free(r->retired);
    r->retired = NULL;
    r->nretired = 0;
}

void liq_blocks_begin(liq_renderer *r) {
    free_retired(r);
    r->renders++;
    while (r->nblocks > BLOCK_CACHE) {
        liq_blockc **old = &r->blocks;
        for (liq_blockc **pp = &r->blocks; *pp; pp = &(*pp)->next)
            if ((*pp)->used < (*old)->used) old = pp;
        liq_blockc *b = *old;
        *old = b->next;
        entry_free(b);
        r->nblocks--;
    }
}

void liq_blocks_free(liq_renderer *r) {
    free_retired(r);
    for (liq_blockc *b = r->blocks, *next; b; b = next) {
        next = b->next;
        entry_free(b);
    }
    r->blocks = NULL;
    r->nblocks = 0;
}

static int block_get(liq_ctx *c, const char *name, size_t len, uint32_t pos, liq_blockc **out) {
    liq_renderer *r = c->r;
    char namez[256];
    if (len >= sizeof namez) return liq_fail(c, LIQ_ERENDER, pos, "content block name too long");
    memcpy(namez, name, len);
    namez[len] = '\0';
    const char *src = NULL;
    size_t slen = 0;
    int rc = c->o->content_block(c->o->block_ud, namez, &src, &slen);
    if (rc < 0) return liq_fail(c, LIQ_ERENDER, pos, "content block '%s' could not be loaded", namez);
    if (rc == 0 || !src) return liq_fail(c, LIQ_ERENDER, pos, "content block '%s' not found", namez);
    liq_blockc *b;
    int in_use = 0;
    for (b = r->blocks; b; b = b->next) {
        in_use += b->used == r->renders;
        if (b->nlen == len && memcmp(b->name, name, len) == 0) break;
    }
    if (b && b->slen == slen && memcmp(b->src, src, slen) == 0) {
        b->used = r->renders;
        *out = b;
        return 0;
    }
    if (!b && in_use >= MAX_BLOCKS_PER_RENDER)
        return liq_fail(c, LIQ_ERENDER, pos, "more than %d content blocks in one message", MAX_BLOCKS_PER_RENDER);
    liq_template *t;
    liq_error e;
    if (liq_compile(src, slen, &t, &e)) {
        liq_error *err = c->err;
        if (!err->code) {
            *err = e;
            snprintf(err->source, sizeof err->source, "content_blocks.%.80s", namez);
        }
        return LIQ_ESYNTAX;
    }
    if (b) {
        /* Changed since it was cached: values of this render may still
         * point into the old tree, so it is freed at the next render. */
        r->retired = xrealloc(r->retired, (r->nretired + 1) * sizeof *r->retired);
        r->retired[r->nretired++] = b->tpl;
        free(b->src);
    } else {
        b = xcalloc(1, sizeof *b);
        b->name = xstrndup(name, len);
        b->nlen = len;
        size_t sl = len + 16;
        b->srcname = xmalloc(sl);
        snprintf(b->srcname, sl, "content_blocks.%s", namez);
        b->next = r->blocks;
        r->blocks = b;
        r->nblocks++;
    }
    b->src = xstrndup(src, slen);
    b->slen = slen;
    b->tpl = t;
    b->used = r->renders;
    *out = b;
    return 0;
}

int liq_render_block(liq_ctx *c, const char *name, size_t len, uint32_t pos, bool capture, liq_val *out) {
    if (!c->o->content_block) return liq_fail(c, LIQ_ERENDER, pos, "content_blocks are not available (no lookup)");
    if (c->depth >= MAX_BLOCK_NESTING)
        return liq_fail(c, LIQ_ERENDER, pos, "content blocks nested more than %d deep", MAX_BLOCK_NESTING);
    liq_blockc *b;
    int rc = block_get(c, name, len, pos, &b);
    if (rc) return rc;
    const liq_template *saved_tpl = c->tpl;
    const char *saved_name = c->srcname;
    c->tpl = b->tpl;
    c->srcname = b->srcname;
    c->depth++;
    rc = capture ? liq_capture(c, &b->tpl->body, 0, out) : liq_render_body(c, &b->tpl->body);
    c->depth--;
    c->tpl = saved_tpl;
    c->srcname = saved_name;
    return rc;
}
