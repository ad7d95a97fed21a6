/* server.c -- libmicrohttpd glue: request lifecycle, auth, limits, replies.
 *
 * MHD calls on_uri() when a request line is in (the request starts, with
 * the request-target exactly as sent), then on_request() several times per
 * request: once when the headers are in (we refuse a head that could be
 * framed two ways (head.h) and an address over its failed-authentication
 * budget (authfail.h), both at once and closing; then route, check sizes
 * and refuse early), once per body chunk (we buffer up to max_body), and
 * once at the end (we check the key, count the request and run the
 * handler). A handler that submits a command to the engine suspends the
 * connection until the engine answers it (reads at once, writes once
 * durable); http_resume() wakes it and MHD calls on_request() once more to
 * send the answer. on_completed() logs the one line per request (sampled
 * for failed authentications) and frees it. Connections and their
 * deadlines are the guard's (guard.h). */
#define _GNU_SOURCE
#include "http.h"
#include "authfail.h"
#include "guard.h"
#include "head.h"
#include "logcap.h"
#include "reqstats.h"
#include "../lib/buf.h"
#include "../lib/cidr.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/str.h"
#include "../lib/utf8.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Braze's paths and query strings are short; a longer request-target gets
 * brasa's 414 (libmicrohttpd's own HTML 414 only comes once the request
 * line no longer fits its buffer, about max_headers + 32 KiB). */
#define TARGET_MAX 8192
#define KEY_ECHO_MAX 128 /* an unknown key is echoed like Braze does, but bounded */

struct http_server {
    struct MHD_Daemon *d;
    http_config cfg;
    http_ctx *ctx;
    const http_route *const *tables;
    atomic_int inflight;
    atomic_int deferred;  /* requests suspended until the engine answers (http_drain) */
    atomic_bool stopping; /* quiesced: answer 503 and close, so drain ends */
    authfail_t *af;       /* failed authentications per address */
    http_guard *guard;    /* connection deadlines */
    reqstats *stats;      /* requests by route, status and latency (GET /metrics) */
};

/* libmicrohttpd logs a line for many things a client can cause at will
 * (a malformed request, a connection closed mid-request). */
static http_logcap mhd_log_cap = HTTP_LOGCAP_INIT("libmicrohttpd messages", 20);

typedef enum { REQ_HEADERS, REQ_BODY, REQ_DEFERRED, REQ_REPLIED } req_state;

struct http_req {
    http_server *srv;
    struct MHD_Connection *conn;
    req_state state;
    bool counted; /* in srv->inflight (from the first on_request call) */
    int fd;       /* the connection's socket, for the guard */
    char method[16];
    char *target; /* the request-target as received: routing and logs */
    const char *target_at; /* where libmicrohttpd had it (head.c compares addresses) */
    bool close;   /* answer with Connection: close (the framing is not trusted) */
    char *path;   /* its path: target up to '?' */
    const http_route *route;
    http_params *params; /* NULL unless the route has "{name}" segments */
    int64_t t0_us;
    uint8_t client[16];

    buf_t body;
    bool too_big;
    int early; /* error decided from the headers, answered once the body is drained */
    json_object *json;

    auth_ident ident;
    bool has_ident;
    bool by_session; /* an operator's session cookie, not a key (http_dash) */
    bool after_done; /* the http_dash after hook ran */
    void *after_mem;
    rl_state rl;
    bool has_rl;

    int status;
    char *reply;
    size_t reply_len;
    int file_fd; /* http_reply_file: streamed instead of reply, when has_file */
    bool has_file;
    uint64_t file_size;
    const char *file_type;
    bool limited; /* refused by the rate limiter: the 429 carries Retry-After */
    unsigned retry_after; /* seconds, for a 429 not from the rate limiter */
    bool af_refused; /* refused for its address's failed authentications */
    bool quiet;   /* its log line is left out (authfail.h: sampling) */
    const char *allow; /* Allow header for 405 */
    char allow_buf[64];
    char *headers[2 * HTTP_MAX_HEADERS]; /* http_header_add: name, value pairs */
    int nheaders;

    int deferred_rc; /* http_resume's rc, published by MHD_resume_connection */
    http_finish finish;

    void *mem;
    void (*mem_cleanup)(void *);
};

/* ---- handler API --------------------------------------------------------- */

http_ctx *http_context(http_req *r) { return r->srv->ctx; }
json_object *http_body(http_req *r) { return r->json; }
const auth_ident *http_ident(http_req *r) { return r->has_ident ? &r->ident : NULL; }
bool http_by_session(http_req *r) { return r->by_session; }

static bool safe_method(const char *m) { return !strcmp(m, "GET") || !strcmp(m, "HEAD"); }
bool http_reads(http_req *r) { return safe_method(r->method) || (r->route && (r->route->flags & HTTP_READS)); }
const http_route *http_matched_route(http_req *r) { return r->route; }
const char *http_path(http_req *r) { return r->path; }
int http_status(http_req *r) { return r->status; }
void http_client_str(http_req *r, char *out, size_t len) { cidr_addr_str(r->client, out, len); }

void *http_after_state(http_req *r, size_t size) {
    free(r->after_mem);
    return r->after_mem = xcalloc(1, size);
}

void *http_after_state_get(http_req *r) { return r->after_mem; }

const char *http_query(http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    const char *name;
    size_t len;
    const char **out;
    int max, n;
} query_all;

static enum MHD_Result query_one(void *arg, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    query_all *q = arg;
    size_t kl = key ? strlen(key) : 0;
    bool hit = kl >= q->len && !memcmp(key, q->name, q->len) &&
               (kl == q->len || (kl == q->len + 2 && !strcmp(key + q->len, "[]")));
    if (hit && value) {
        if (q->n < q->max) q->out[q->n] = value;
        q->n++;
    }
    return MHD_YES;
}

int http_query_all(http_req *r, const char *name, const char **out, int max) {
    query_all q = {name, strlen(name), out, max, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_one, &q);
    return q.n;
}

const char *http_header(http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_method(http_req *r) { return r->method; }

const char *http_cookie(http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

const char *http_param(http_req *r, const char *name) {
    for (int i = 0; r->params && i < r->params->n; i++)
        if (str_ieq(r->params->p[i].name, r->params->p[i].name_len, name)) return r->params->p[i].value;
    return NULL;
}

static void drop_file(http_req *r) {
    if (r->has_file) close(r->file_fd);
    r->has_file = false;
    r->file_type = NULL;
}

int http_reply(http_req *r, int status, json_object *body) {
    drop_file(r);
    size_t len;
    const char *s = json_object_to_json_string_length(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    free(r->reply);
    r->reply = xstrndup(s, len);
    r->reply_len = len;
    r->status = status;
    json_object_put(body);
    return 0;
}

void http_header_add(http_req *r, const char *name, const char *value) {
    if (r->nheaders == HTTP_MAX_HEADERS) abort(); /* a handler's bug: the limit is a constant */
    r->headers[2 * r->nheaders] = xstrdup(name);
    r->headers[2 * r->nheaders++ + 1] = xstrdup(value);
}

int http_reply_text(http_req *r, int status, const char *content_type, const char *text, size_t len) {
    drop_file(r);
    free(r->reply);
    r->reply = xstrndup(text, len);
    r->reply_len = len;
    r->file_type = content_type;
    r->status = status;
    return 0;
}

void http_write_metrics(http_req *r, buf_t *b) {
    http_server *s = r->srv->ctx->api ? r->srv->ctx->api : r->srv;
    reqstats_write(s->stats, b);
}

uint64_t http_requests(http_req *r, const char *method, const char *path) {
    http_server *s = r->srv->ctx->api ? r->srv->ctx->api : r->srv;
    return reqstats_requests(s->stats, method, path);
}

int http_reply_file(http_req *r, int fd, uint64_t size, const char *content_type) {
    drop_file(r);
    free(r->reply);
    r->reply = NULL;
    r->file_fd = fd;
    r->file_size = size;
    r->file_type = content_type;
    r->has_file = true;
    r->status = 200;
    return 0;
}

int http_error(http_req *r, int code, const char *detail) {
    drop_file(r);
    const char *msg = br_err_message(code);
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"message\":");
    buf_t m = BUF_INIT;
    buf_puts(&m, msg);
    if (detail) {
        /* "Invalid API key: " takes the detail as is; others get ": detail". */
        if (m.len && m.data[m.len - 1] != ' ') buf_puts(&m, ": ");
        utf8_repair(&m, detail, strlen(detail)); /* it may quote what a client sent */
    }
    buf_json_str(&b, m.data, m.len);
    buf_puts(&b, "}");
    buf_free(&m);
    free(r->reply);
    r->reply_len = b.len;
    r->reply = buf_take(&b);
    r->status = br_err_status(code);
    return 0;
}

void *http_state(http_req *r, size_t size, void (*cleanup)(void *)) {
    r->mem = xcalloc(1, size);
    r->mem_cleanup = cleanup;
    return r->mem;
}

void *http_state_get(http_req *r) { return r->mem; }

int http_defer(http_req *r, http_finish finish) {
    r->finish = finish;
    r->state = REQ_DEFERRED;
    atomic_fetch_add(&r->srv->deferred, 1);
    /* Suspended before the handler submits anything: the engine may answer
     * before the handler returns. */
    MHD_suspend_connection(r->conn);
    return HTTP_DEFERRED;
}

void http_resume(http_req *r, int rc) {
    http_server *s = r->srv; /* r may be gone once resumed */
    r->deferred_rc = rc;
    MHD_resume_connection(r->conn); /* publishes deferred_rc to the MHD thread */
    atomic_fetch_sub(&s->deferred, 1); /* after: http_drain may stop the daemon at 0 */
}

/* ---- replies ------------------------------------------------------------- */

static void log_path(buf_t *b, const char *p);

static void add_rl_headers(http_req *r, struct MHD_Response *resp) {
    /* Braze sends the three headers on every answer of the API, empty when
     * no bucket applies (a refused key). libmicrohttpd cannot send an empty
     * header, so brasa leaves them out there, and for unlimited groups. */
    if (!r->has_rl || !r->rl.limit) return;
    char lim[16], rem[16], reset[24];
    snprintf(lim, sizeof lim, "%u", r->rl.limit);
    snprintf(rem, sizeof rem, "%u", r->rl.remaining);
    snprintf(reset, sizeof reset, "%lld", (long long)r->rl.reset);
    MHD_add_response_header(resp, "X-RateLimit-Limit", lim);
    MHD_add_response_header(resp, "X-RateLimit-Remaining", rem);
    MHD_add_response_header(resp, "X-RateLimit-Reset", reset);
}

static enum MHD_Result send_reply(http_req *r) {
    if (!r->reply && !r->has_file) http_error(r, BR_EINTERNAL, "handler set no reply");
    /* A 5xx is ours to explain: its cause goes to the log with the route
     * (the client saw only the message). */
    if (r->status >= 500 && r->reply) {
        buf_t b = BUF_INIT;
        log_path(&b, r->path);
        log_error("http: %d on %s %s: %.*s", r->status, r->method, b.data ? b.data : "", (int)r->reply_len, r->reply);
        buf_free(&b);
    }
    struct MHD_Response *resp;
    if (r->has_file) {
        /* Sent from the file (sendfile where it can), never read into memory. */
        resp = MHD_create_response_from_fd64(r->file_size, r->file_fd);
        if (!resp) close(r->file_fd);
        r->has_file = false; /* MHD closes it with the response */
    } else {
        resp = MHD_create_response_from_buffer(r->reply_len, r->reply, MHD_RESPMEM_MUST_FREE);
        r->reply = NULL; /* MHD frees it */
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->file_type ? r->file_type : "application/json");
    if (r->close || atomic_load(&r->srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    add_rl_headers(r, resp);
    for (int i = 0; i < r->nheaders; i++) MHD_add_response_header(resp, r->headers[2 * i], r->headers[2 * i + 1]);
    if (r->status == 405 && r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->status == 429 && r->limited && r->rl.reset) {
        char ra[24];
        time_t now = time(NULL);
        snprintf(ra, sizeof ra, "%lld", (long long)(r->rl.reset > now ? r->rl.reset - now : 0));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    } else if (r->status == 429 && r->retry_after) {
        char ra[24];
        snprintf(ra, sizeof ra, "%u", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    /* Every failed authentication counts against its address; their log
     * lines are sampled. */
    if (r->status == 401 || r->af_refused)
        r->quiet = !authfail_note(r->srv->af, r->client, r->af_refused, clock_mono_us() / 1000);
    guard_body_done(r->srv->guard, r->fd); /* answered: no deadline runs now */
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->state = REQ_REPLIED;
    return ok;
}

/* A handler's answer is set: the after hook (the audit log, http_dash) may
 * hold it until its own write committed. */
static enum MHD_Result finish_request(http_req *r) {
    const http_dash *d = r->srv->ctx->dash;
    if (d && d->after && !r->after_done) {
        r->after_done = true;
        if (d->after(r) == HTTP_DEFERRED) return MHD_YES;
    }
    return send_reply(r);
}

static enum MHD_Result send_error(http_req *r, int code, const char *detail) {
    http_error(r, code, detail);
    return send_reply(r);
}

/* ---- request checks ------------------------------------------------------ */

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v) {
    (void)kind;
    *(size_t *)cls += strlen(k) + (v ? strlen(v) : 0) + 4;
    return MHD_YES;
}

static bool json_content_type(const char *ct) {
    if (!ct) return true; /* many clients omit it; the body must still parse */
    size_t n = strcspn(ct, "; \t");
    if (str_ieq(ct, n, "application/json")) return true;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 && str_ieq(ct + n - 5, 5, "+json");
}

/* Finds the key: "Authorization: Bearer K", else the legacy api_key in the
 * query string or the JSON body (Braze keeps accepting both). */
static const char *find_key(http_req *r, size_t *len) {
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h) {
        while (*h == ' ') h++;
        /* MHD trims header values: "Bearer " arrives as "Bearer". */
        if (strncasecmp(h, "Bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\0')) h += 6;
        while (*h == ' ') h++;
        size_t n = strlen(h);
        while (n && h[n - 1] == ' ') n--;
        *len = n;
        return h;
    }
    const char *q = http_query(r, "api_key");
    *len = q ? strlen(q) : 0;
    json_object *v;
    if (!q && r->json && json_object_object_get_ex(r->json, "api_key", &v) &&
        json_object_is_type(v, json_type_string)) {
        /* Its whole length: "KEY\u0000junk" is not KEY. */
        q = json_object_get_string(v);
        *len = (size_t)json_object_get_string_len(v);
    }
    return q ? q : "";
}


/* An operator's session (http_dash): the role must grant the route's
 * permission, a read-only operator may only read, and anything but a read
 * carries the session's CSRF token (a form another site makes a browser
 * post has the cookie but cannot know the token). */
static int check_session(http_req *r, const char *cookie) {
    const http_dash *d = r->srv->ctx->dash;
    char csrf[HTTP_CSRF_LEN + 1];
    bool read_only;
    int rc = d->check(d->arg, cookie, strlen(cookie), &r->ident, &read_only, csrf);
    if (rc < 0) return http_error(r, rc, NULL), rc;
    r->has_ident = r->by_session = true;
    const char *tok = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
    if (!safe_method(r->method) && (!tok || strlen(tok) != HTTP_CSRF_LEN || CRYPTO_memcmp(tok, csrf, HTTP_CSRF_LEN)))
        return http_error(r, BR_ECSRF, "reload the page and try again"), BR_ECSRF;
    if (!perm_has(&r->ident.perms, r->route->perm) || (read_only && !http_reads(r))) {
        char why[128];
        snprintf(why, sizeof why, "your role (%s) does not allow this", read_only ? "read-only" : "marketer");
        return http_error(r, BR_EROLE, why), BR_EROLE;
    }
    return 0;
}

/* A REST key: checked, or the reason set as the answer. */
static int check_key(http_req *r, const char *key, size_t len) {
    int rc = len ? auth_check(r->srv->ctx->auth, key, len, r->client, r->route->perm, &r->ident) : BR_ENOKEY;
    if (rc == 0 || rc == BR_EPERM || rc == BR_EIPDENIED) r->has_ident = true;
    if (rc == BR_ENOKEY || rc == BR_EBADKEY) {
        char echo[KEY_ECHO_MAX + 4];
        snprintf(echo, sizeof echo, "%.*s%s", (int)(len > KEY_ECHO_MAX ? KEY_ECHO_MAX : len), key,
                 len > KEY_ECHO_MAX ? "..." : "");
        http_error(r, rc, echo);
    } else if (rc == BR_EPERM) {
        char d[160];
        snprintf(d, sizeof d, "this API key does not have the '%s' permission", perm_name(r->route->perm));
        http_error(r, rc, d);
    } else if (rc == BR_EIPDENIED) {
        char ip[INET6_ADDRSTRLEN];
        cidr_addr_str(r->client, ip, sizeof ip);
        char d[128];
        snprintf(d, sizeof d, "this API key is not allowed from %s (not in its IP allowlist)", ip);
        http_error(r, rc, d);
    } else if (rc < 0) {
        http_error(r, rc, NULL);
    }
    return rc;
}

/* A key if the request names one, else an operator's session cookie. */
static int authenticate(http_req *r) {
    size_t len;
    const char *key = find_key(r, &len), *cookie = NULL;
    if (!len && r->srv->ctx->dash)
        cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, HTTP_SESSION_COOKIE);
    int rc = cookie ? check_session(r, cookie) : check_key(r, key, len);
    if (rc < 0) return rc;

    rc = rl_take(r->srv->ctx->rl, r->ident.id, r->route->group, time(NULL), &r->rl);
    r->has_rl = true;
    r->limited = rc < 0;
    if (rc < 0) {
        char d[128];
        snprintf(d, sizeof d, "limit of %u requests per window for group '%s' reached", r->rl.limit,
                 rl_group_name(r->route->group));
        http_error(r, rc, d);
    }
    return rc;
}

/* Parses the body; on failure sets the 400 reply and returns BR_EJSON.
 * What json-c lets through but brasa could not give back as valid JSON is
 * refused here, for every route (lib/json.h): invalid UTF-8, an escaped
 * NUL, NaN, Infinity and numbers too large for a double. */
static int parse_body(http_req *r, char *err, size_t errlen) {
    return json_parse_body(r->body.data, r->body.len, &r->json, err, errlen);
}

/* RFC 9112 checks of the head (head.h). Returns 0 or a BR_E* code with the
 * reason in why. */
static int check_head(http_req *r, const char *method, const char *version, char *why, size_t whylen) {
    http_field *f;
    int n;
    size_t tl = strlen(r->target);
    int rc = http_head_collect(r->conn, method, version, r->target_at, tl, &f, &n, why, whylen);
    if (rc == 0) {
        http_head h = {r->target, tl, version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0, f, n};
        rc = http_head_check(&h, why, whylen);
    }
    free(f);
    return rc;
}

/* The final call: everything is in; decide and answer (or defer). */
static enum MHD_Result dispatch(http_req *r) {
    guard_body_done(r->srv->guard, r->fd);
    if (r->early == BR_EHEADERS) {
        char d[64];
        snprintf(d, sizeof d, "headers exceed %zu bytes", r->srv->cfg.max_headers);
        return send_error(r, BR_EHEADERS, d);
    }
    if (r->early == BR_EURITOOLONG) {
        char d[64];
        snprintf(d, sizeof d, "the request-target exceeds %d bytes", TARGET_MAX);
        return send_error(r, BR_EURITOOLONG, d);
    }
    if (r->early) return send_error(r, r->early, NULL);
    if (r->too_big) {
        char d[64];
        snprintf(d, sizeof d, "the body exceeds %zu bytes", r->srv->cfg.max_body);
        return send_error(r, BR_ETOOBIG, d);
    }
    char jerr[128] = "";
    int jrc = 0;
    bool has_body = r->body.len > 0 && !safe_method(r->method) &&
                    !(r->route->flags & HTTP_ANY_BODY);
    if (has_body) {
        if (!json_content_type(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_CONTENT_TYPE)))
            return send_error(r, BR_ECTYPE, NULL);
        jrc = parse_body(r, jerr, sizeof jerr);
    }
    if (r->route->perm != PERM_NONE && authenticate(r) < 0) return send_reply(r);
    if (jrc < 0) return send_error(r, BR_EJSON, jerr);

    int rc = r->route->fn(r);
    if (rc == HTTP_DEFERRED) return MHD_YES;
    if (rc < 0) http_error(r, rc, NULL);
    return finish_request(r);
}

/* A request line is in: the request starts here, before libmicrohttpd
 * percent-decodes the target (in place) and splits off the query. What this
 * returns is the request's *con_cls, and on_completed() is called for it
 * whatever happens next. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    http_req *r = xcalloc(1, sizeof *r);
    r->srv = cls;
    r->conn = c;
    r->t0_us = clock_mono_us();
    r->target = xstrdup(uri ? uri : "");
    r->target_at = uri;
    r->path = xstrndup(r->target, strcspn(r->target, "?"));
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci) cidr_from_sockaddr(ci->client_addr, r->client);
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->fd = ci ? ci->connect_fd : -1;
    return r;
}

/* Connections come and go: the guard tracks them (guard.h). The fd is
 * kept in the socket context: at "closed" it is still open. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        int fd = ci ? ci->connect_fd : -1;
        *socket_context = (void *)(intptr_t)(fd + 1);
        guard_opened(s->guard, fd);
    } else {
        guard_closed(s->guard, (int)(intptr_t)*socket_context - 1);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    http_server *s = cls;
    if (!*con_cls) *con_cls = on_uri(s, url, c); /* not reached: on_uri always ran */
    http_req *r = *con_cls;

    if (r->state == REQ_HEADERS) { /* headers are in */
        guard_head_done(s->guard, r->fd);
        r->counted = true;
        atomic_fetch_add(&s->inflight, 1);
        snprintf(r->method, sizeof r->method, "%s", method);

        /* A head brasa cannot frame like any proxy would is answered now,
         * before its body, and the connection closed. */
        char why[160];
        int bad = check_head(r, method, version, why, sizeof why);
        if (bad < 0) {
            r->close = true;
            return send_error(r, bad, why);
        }
        /* An address over its failed-authentication budget: refused before
         * any key is looked at, and closed (its body is not read). */
        if (authfail_blocked(s->af, r->client, clock_mono_us() / 1000, &r->retry_after)) {
            r->af_refused = r->close = true;
            snprintf(why, sizeof why, "retry after %u s", r->retry_after);
            return send_error(r, BR_EAUTHFAIL, why);
        }
        size_t hsize = 0;
        MHD_get_connection_values(c, MHD_HEADER_KIND, sum_header, &hsize);
        int err;
        http_params params; /* > 1 KB: kept off the request unless used, so the
                             * request stays a small allocation */
        if (atomic_load(&s->stopping)) {
            r->early = BR_EUNAVAIL; /* a keep-alive client's next request */
        } else if (strlen(r->target) > TARGET_MAX) {
            r->early = BR_EURITOOLONG;
        } else if (hsize > s->cfg.max_headers) {
            r->early = BR_EHEADERS;
        } else if (!(r->route = http_route_match(s->tables, method, r->path, &params, &err, r->allow_buf,
                                                   sizeof r->allow_buf))) {
            r->allow = r->allow_buf;
            r->early = err;
        } else if (params.n) {
            r->params = xmalloc(sizeof params);
            *r->params = params;
        }
        /* Refuse a declared oversize body before reading any of it (the
         * connection then closes: its body is never read). */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
        if (len > s->cfg.max_body) {
            r->too_big = true;
            return dispatch(r);
        }
        if (!r->early) buf_reserve(&r->body, (size_t)len); /* one allocation, not a doubling per chunk */
        r->state = REQ_BODY;
        return MHD_YES;
    }

    switch (r->state) {
    case REQ_BODY:
        if (*upload_size) {
            /* A chunked body has no declared length: stop keeping it at the
             * limit, read and drop the rest, answer 413 at the end. */
            if (r->early) {
                /* answered from the headers: drain, keep nothing */
            } else if (r->too_big || r->body.len + *upload_size > s->cfg.max_body) r->too_big = true;
            else buf_append(&r->body, upload, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
        return dispatch(r);
    case REQ_DEFERRED: {
        int rc = r->finish(r, r->deferred_rc);
        if (rc == HTTP_DEFERRED) return MHD_YES; /* a second step was submitted */
        if (rc < 0) http_error(r, rc, NULL);
        return finish_request(r);
    }
    default:
        *upload_size = 0; /* replied early; discard what still arrives */
        return MHD_YES;
    }
}

#define LOG_PATH_MAX 512 /* a 60 KB path must not make a 60 KB log line */

static void log_path(buf_t *b, const char *p) {
    /* The path is client text: keep log lines one line and greppable. */
    for (size_t n = 0; *p; p++, n++) {
        if (n == LOG_PATH_MAX) {
            buf_puts(b, "...");
            break;
        }
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x21 || ch == 0x7f || ch == '"') buf_printf(b, "%%%02X", ch);
        else buf_append(b, p, 1);
    }
}

/* A key's name inside key="...": quotes and backslashes escaped as logfmt
 * does, so a name with quotes still reads as one value (names hold no
 * control characters). */
static void log_name(buf_t *b, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    http_server *s = cls;
    http_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    guard_request_done(s->guard, r->fd);
    /* A request libmicrohttpd refused itself never reached on_request:
     * no method, but its status is known. */
    int status = r->status;
    const union MHD_ConnectionInfo *ci = status ? NULL : MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
    if (ci) status = (int)ci->http_status;
    int64_t us = clock_mono_us() - r->t0_us;
    if (status) reqstats_note(s->stats, r->route, status, us);
    if (log_get_level() <= LOG_INFO && !r->quiet) {
        char ip[INET6_ADDRSTRLEN];
        cidr_addr_str(r->client, ip, sizeof ip);
        buf_t b = BUF_INIT, name = BUF_INIT;
        log_path(&b, r->path);
        log_name(&name, r->has_ident ? r->ident.name : "");
        log_info("http method=%s path=%s status=%d us=%lld key=\"%s\" ip=%s%s", r->method[0] ? r->method : "-",
                 b.data, status, (long long)us, name.data ? name.data : "", ip,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
        buf_free(&b);
        buf_free(&name);
    }
    if (r->mem_cleanup) r->mem_cleanup(r->mem);
    free(r->mem);
    free(r->after_mem);
    drop_file(r);
    json_object_put(r->json);
    buf_free(&r->body);
    free(r->reply);
    free(r->target);
    free(r->path);
    free(r->params);
    for (int i = 0; i < 2 * r->nheaders; i++) free(r->headers[i]);
    bool counted = r->counted;
    free(r);
    if (counted) atomic_fetch_sub(&s->inflight, 1);
}

/* Percent-decodes query-string names and values (and the URL libmicrohttpd
 * passes to on_request, which routing does not use) like libmicrohttpd,
 * except %00: a NUL would cut the C string ("api_key=K%00junk" would be K).
 * Left encoded, it is just a wrong value. Returns the new length. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls, (void)c;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = str_hexval(p[1])) >= 0 && (lo = str_hexval(p[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    if (!http_logcap_take(&mhd_log_cap, clock_mono_us() / 1000)) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("mhd: %s", msg);
}

/* Once a second, on the guard's thread: summaries of what was not logged. */
static void tick(void *arg) {
    http_server *s = arg;
    authfail_sweep(s->af, clock_mono_us() / 1000);
    http_logcap_flush(&mhd_log_cap);
}

#define FD_RESERVE 256 /* open files kept for the store, exports, libcurl, ... */

int http_start(const http_config *cfg, http_ctx *ctx, const http_route *const *tables,
               http_server **out) {
    http_server *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->ctx = ctx;
    s->tables = tables;
    s->af = authfail_new(&(authfail_config){cfg->auth_fail_limit, cfg->auth_fail_window_s});
    s->stats = reqstats_new(tables);
    /* Each connection is an open file: take what the hard limit allows,
     * and keep the connection limit under it. */
    int nofile = guard_raise_nofile();
    unsigned max_conns = cfg->max_conns ? cfg->max_conns : 1;
    if (nofile - FD_RESERVE < (int)max_conns) {
        unsigned fit = nofile > FD_RESERVE + 64 ? (unsigned)(nofile - FD_RESERVE) : 64;
        log_warn("http: --max-connections %u lowered to %u to fit the open files limit (%d); raise it (ulimit -n, "
                 "LimitNOFILE=) for more",
                 max_conns, fit, nofile);
        max_conns = fit;
    }
    s->guard = guard_new(&(guard_config){cfg->header_timeout_s, cfg->body_timeout_s, nofile, tick, s});

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->listen, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->listen, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_DUAL_STACK;
    } else {
        log_error("http: invalid listen address '%s'", cfg->listen);
        guard_free(s->guard);
        authfail_free(s->af);
        reqstats_free(s->stats);
        free(s);
        return BR_EINVAL;
    }
    /* The connection memory pool holds the request headers: make it large
     * enough that an oversize header reaches us and gets a JSON 431 rather
     * than libmicrohttpd's own HTML page. */
    size_t pool = cfg->max_headers + 32 * 1024;
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_LIMIT, max_conns,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_conns_per_ip,
                            MHD_OPTION_END);
    if (!s->d) {
        log_error("http: cannot listen on %s port %d", cfg->listen, cfg->port);
        guard_free(s->guard);
        authfail_free(s->af);
        reqstats_free(s->stats);
        free(s);
        return BR_EIO;
    }
    *out = s;
    return 0;
}

int http_port(http_server *s) {
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : s->cfg.port;
}

void http_quiesce(http_server *s) {
    /* Keep-alive connections stay open after quiescing; their next
     * requests get 503 and a close, so that no request is suspended
     * (libmicrohttpd cannot stop with suspended connections). */
    atomic_store(&s->stopping, true);
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void http_drain(http_server *s, int timeout_ms) {
    for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < timeout_ms; waited += 5)
        usleep(5000);
    /* A suspended request is waited for however long it takes (its answer
     * comes from the engine, which answers every command, if only with a
     * storage error): libmicrohttpd cannot stop with suspended connections,
     * and the engine would resume a connection already freed. */
    while (atomic_load(&s->deferred) > 0) usleep(5000);
}

void http_stop(http_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->d);
    guard_free(s->guard); /* after the daemon: no connection is left to report */
    authfail_free(s->af);
    reqstats_free(s->stats);
    free(s);
}
