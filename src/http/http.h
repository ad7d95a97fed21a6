/* http.h -- what request handlers see of the HTTP layer.
 *
 * A resource (api/<name>.c) exports a route table; each route names its
 * method, path, the permission a key needs, the rate-limit group it counts
 * against and its handler. By the time a handler runs, the route matched, the
 * body was read within its limit and parsed as JSON, the key was checked and
 * the request counted: a handler only validates its own fields and answers.
 *
 * A handler returns 0 once it set a reply (http_reply/http_error), a BR_E*
 * code to answer with that error, or what http_defer() returned: then the
 * connection is suspended until http_resume() (the engine answered the
 * command the handler submitted, api/api.h), and its finish function builds
 * the reply. No MHD thread ever waits on the engine or a disk; http/ knows
 * neither. */
#ifndef BR_HTTP_H
#define BR_HTTP_H
#include "../core/perm.h"
#include "../lib/buf.h"
#include "auth.h"
#include "ratelimit.h"
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_req http_req;
typedef int (*http_handler)(http_req *r);
typedef int (*http_finish)(http_req *r, int rc);

typedef struct {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/users/track"; "{name}" matches one segment */
    perm_id perm;       /* PERM_NONE: no key needed */
    rl_group group;
    http_handler fn;
    unsigned flags;     /* HTTP_* below; 0 for the API's routes */
} http_route;

/* The body is not JSON and not the handler's concern: any type is taken
 * and left unparsed (the pages email links open, which browsers and mail
 * clients post forms to). */
#define HTTP_ANY_BODY 1u
/* The route only reads, whatever its method: a read-only dashboard
 * operator may call it (dash/). */
#define HTTP_READS 2u

/* The dashboard's sessions (dash/session.c). A request that carries no
 * key but the session cookie is an operator's: check() fills its identity
 * (the permissions of the operator's role) and the CSRF token that every
 * request but GET and HEAD must carry in X-CSRF-Token; a read-only
 * operator may only read (GET, HEAD and HTTP_READS routes). */
#define HTTP_SESSION_COOKIE "brasa_session"
#define HTTP_CSRF_LEN 32
typedef struct {
    /* token: the cookie's value. 0, BR_ESESSION (unknown or expired) or
     * BR_ESTORE. */
    int (*check)(void *arg, const char *token, size_t len, auth_ident *id, bool *read_only,
                 char csrf[HTTP_CSRF_LEN + 1]);
    /* Runs once a request's reply is set, before it is sent: returns 0 to
     * send it, or HTTP_DEFERRED after http_defer() (the audit log commits
     * its row before the answer goes). May be NULL. */
    int (*after)(http_req *r);
    void *arg;
} http_dash;

struct engine;
struct gcg;
struct dispatcher;
struct scheduler;
struct currents;

/* What every handler may use; owned by the serve command. */
typedef struct {
    struct engine *engine;
    auth_t *auth; /* REST keys and data import keys */
    rl_t *rl;
    struct exporter *exporter; /* segment exports (engine/exporter.h); NULL: none run */
    const char *public_url;    /* base of download URLs; NULL: "http://" + the Host header */
    const char *data_dir;      /* segment export files are served from <data_dir>/exports */
    const struct gcg *gcg;     /* the Global Control Group (core/gcg.h); NULL: none */
    int64_t started_ms;
    struct http_server *api;   /* whose requests GET /metrics counts, from any server; NULL: its own */
    struct dispatcher *dispatcher; /* send/dispatch.h: woken when a dispatch is written */
    struct scheduler *scheduler;   /* send/sched.h: woken when a schedule is written */
    struct currents *currents;     /* currents/currents.h: woken when a connector changes */
    const uint8_t *links_key;      /* send/links.h: what email links are signed with; NULL: none */
    const struct dkim_signer *dkim; /* send/dkim.h: its counters in GET /metrics; NULL: no DKIM */
    const http_dash *dash;          /* dashboard sessions and the audit hook; NULL: none */
} http_ctx;

#define HTTP_DEFERRED 1

http_ctx *http_context(http_req *r);
/* The parsed JSON body, or NULL when the request had none. */
json_object *http_body(http_req *r);
/* A query-string parameter (decoded), or NULL. */
const char *http_query(http_req *r, const char *name);
/* Every value of a repeated query parameter (name=a&name=b, and Braze's
 * name[]=a&name[]=b), at most max into out; returns how many there are
 * (which may exceed max). */
int http_query_all(http_req *r, const char *name, const char **out, int max);
/* A cookie's value, or NULL. */
const char *http_cookie(http_req *r, const char *name);
/* A request header (case-insensitive name), or NULL. */
const char *http_header(http_req *r, const char *name);
/* The request's method as sent ("HEAD" reaches GET routes too). */
const char *http_method(http_req *r);
/* The value of a "{name}" path segment, or NULL. */
const char *http_param(http_req *r, const char *name);
/* The key or operator that authenticated the request (NULL on PERM_NONE
 * routes). */
const auth_ident *http_ident(http_req *r);
/* Whether an operator's session cookie authenticated it (not a key). */
bool http_by_session(http_req *r);
/* Whether it only reads: GET, HEAD or an HTTP_READS route. */
bool http_reads(http_req *r);
/* The matched route, the path as received, the reply's status so far, the
 * client's address as text. */
const http_route *http_matched_route(http_req *r);
const char *http_path(http_req *r);
int http_status(http_req *r);
void http_client_str(http_req *r, char *out, size_t len);
/* Zeroed memory for the after hook (http_dash), freed with the request;
 * and that memory again (NULL if none). */
void *http_after_state(http_req *r, size_t size);
void *http_after_state_get(http_req *r);

/* Sets the reply; takes ownership of body. Returns 0. */
int http_reply(http_req *r, int status, json_object *body);
/* Sets a 200 reply that streams size bytes of the open file fd from disk
 * with this Content-Type; takes ownership of fd. Returns 0. */
int http_reply_file(http_req *r, int fd, uint64_t size, const char *content_type);
/* Adds a header to the reply (Location, Cache-Control...); at most
 * HTTP_MAX_HEADERS per request. */
#define HTTP_MAX_HEADERS 8
void http_header_add(http_req *r, const char *name, const char *value);
/* Sets a reply that is not JSON (GET /metrics: Prometheus' text format). */
int http_reply_text(http_req *r, int status, const char *content_type, const char *text, size_t len);
/* Appends the HTTP layer's counters in Prometheus' text format (reqstats.h). */
void http_write_metrics(http_req *r, buf_t *b);
/* Requests answered so far on the route method path (reqstats.h). */
uint64_t http_requests(http_req *r, const char *method, const char *path);
/* Sets a Braze-shaped error reply for code, with an optional detail that is
 * appended to the table's message. Returns 0. */
int http_error(http_req *r, int code, const char *detail);
/* Zeroed memory that lives as long as the request; cleanup (may be NULL)
 * runs on it when the request ends. One per request. */
void *http_state(http_req *r, size_t size, void (*cleanup)(void *));
/* The memory http_state() gave, or NULL. */
void *http_state_get(http_req *r);
/* Suspends the request: once http_resume(r, rc) is called (from any
 * thread; call it after this), finish(r, rc) runs on an HTTP thread and
 * builds the reply, or returns HTTP_DEFERRED again after deferring anew.
 * Returns HTTP_DEFERRED, which the handler returns. */
int http_defer(http_req *r, http_finish finish);
void http_resume(http_req *r, int rc);

/* Router (router.c). */
#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_PARAM_LEN 256
typedef struct {
    const char *name; /* points into the route's path, not NUL-terminated */
    size_t name_len;
    char value[HTTP_MAX_PARAM_LEN];
} http_param_t;
typedef struct {
    int n;
    http_param_t p[HTTP_MAX_PARAMS];
} http_params;

/* Finds the route for method and path in a NULL-terminated list of tables.
 * path is the path as received (no query string, not percent-decoded); HEAD
 * matches GET routes. Returns it, or NULL with *err = BR_ENOTFOUND (no such
 * path) or BR_EMETHOD (path exists, method does not; *allow lists the
 * methods, e.g. "GET, HEAD, POST"). */
const http_route *http_route_match(const http_route *const *tables, const char *method,
                                   const char *path, http_params *params, int *err, char *allow,
                                   size_t allowlen);

/* Server (server.c). */
typedef struct {
    const char *listen; /* IPv4 or IPv6 address; "::" is dual-stack */
    int port;           /* 0 picks a free port */
    unsigned threads;
    size_t max_body;
    size_t max_headers;
    unsigned timeout_s;
    unsigned auth_fail_limit;    /* failed authentications per address and window before 429; 0: never */
    unsigned auth_fail_window_s; /* 0: 60 */
    unsigned max_conns;          /* open connections at once (lowered to fit the open-files limit) */
    unsigned max_conns_per_ip;   /* from one address; 0: no limit */
    unsigned header_timeout_s;   /* from a request's first byte to its complete head; 0: none */
    unsigned body_timeout_s;     /* from its head to its complete body; 0: none */
} http_config;

typedef struct http_server http_server;

int http_start(const http_config *cfg, http_ctx *ctx, const http_route *const *tables,
               http_server **out);
int http_port(http_server *s);
/* Stops accepting connections; answered requests finish. */
void http_quiesce(http_server *s);
/* Waits (up to timeout_ms) until no request is in flight, and however long
 * it takes until none waits for the engine. */
void http_drain(http_server *s, int timeout_ms);
void http_stop(http_server *s);

#endif
