/* liquid.h -- Braze-flavoured Liquid: compile a template once, render it many times.
 *
 * A template is compiled into an immutable tree (liq_compile) that any number
 * of threads may render at once. Rendering needs a liq_renderer, a per-thread
 * scratch object (output buffer, arena, variable tables) that is reused from
 * one render to the next so that a warm render allocates nothing.
 *
 * The context a template sees is a user object shaped like the users of
 * /users/export/ids (first_name, email, custom_attributes, ...), optionally
 * with event_properties, api_trigger_properties, canvas_entry_properties,
 * campaign, canvas and message_variation keys, and/or a resolver callback
 * that supplies top-level names on demand. Braze's `${first_name}` style
 * variables are mapped onto those keys (see docs/liquid.md).
 *
 * Every render runs under budgets (output bytes, steps, scratch memory, wall
 * time, connected_content calls) that are checked while it runs: a render
 * never writes more than max_output bytes and stops with an error instead.
 * Errors carry the line and column (1-based, columns in characters) of the
 * construct that failed. */
#ifndef LIQ_LIQUID_H
#define LIQ_LIQUID_H
#include "../lib/buf.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Result codes: 0 or one of these. LIQ_EABORT is not a failure of the
 * engine: the template ran {% abort_message %} (or a connected_content call
 * failed), and the message must not be sent. */
#define LIQ_ERR_MAP(XX)                                          \
    XX(SYNTAX, -101, "syntax error")                             \
    XX(ABORT, -102, "message aborted")                           \
    XX(RENDER, -103, "render error")                             \
    XX(OUTPUT, -104, "output budget exceeded")                   \
    XX(STEPS, -105, "step budget exceeded")                      \
    XX(TIME, -106, "time budget exceeded")                       \
    XX(MEMORY, -107, "memory budget exceeded")

enum {
#define XX(name, code, msg) LIQ_E##name = code,
    LIQ_ERR_MAP(XX)
#undef XX
};

/* Short description of a code ("syntax error"); never NULL. */
const char *liq_strerror(int code);

typedef struct {
    int code;           /* 0, or LIQ_E* */
    int line, col;      /* 1-based position of the failing construct; 0 when none */
    char source[96];    /* "" for the template itself, else "content_blocks.NAME" */
    char message[512];  /* what went wrong, or the abort reason */
} liq_error;

/* Writes "line:col: message" (prefixed by "source:" when set) into out. */
void liq_error_format(const liq_error *e, char *out, size_t outlen);

typedef struct liq_template liq_template;
typedef struct liq_renderer liq_renderer;

/* Templates larger than this are refused at compile time. */
#define LIQ_MAX_SOURCE (4u << 20)

/* Compiles src[0..len) (need not be NUL-terminated; the bytes are copied).
 * Returns 0 and sets *out (free with liq_template_free), or LIQ_ESYNTAX with
 * *err filled (line, col, message) and *out NULL. err may be NULL. */
int liq_compile(const char *src, size_t len, liq_template **out, liq_error *err);
void liq_template_free(liq_template *t);

/* ---- callbacks ---- */

/* Supplies a top-level name the context object does not have (e.g.
 * "custom_attributes", "event_properties"). Sets *out to a json value that
 * must stay valid until the render returns (NULL for nil). Called at most
 * once per name per render. Returns 0, or a negative value to fail the
 * render with LIQ_ERENDER. */
typedef int (*liq_resolve_fn)(void *ud, const char *name, size_t len, json_object **out);

/* One connected_content request, after the Liquid inside it was rendered. */
typedef struct {
    const char *url;          /* http:// or https:// */
    const char *method;       /* "GET" unless :method said otherwise; upper case */
    const char *body;         /* NULL when there is none */
    size_t body_len;
    const char *content_type; /* NULL when not given */
    json_object *headers;     /* object of string values, or NULL */
    const char *basic_auth;   /* credential name, or NULL */
    int cache_max_age;        /* seconds, or -1 when not given */
    bool no_cache;            /* :no_cache */
    bool retry;               /* :retry */
} liq_fetch_req;

/* Performs a connected_content request: appends the response body to *body
 * and sets *status. Returns 0 when an HTTP answer came back (any status),
 * negative on a transport failure (the render is then aborted, as Braze
 * aborts a message whose connected content cannot be fetched). */
typedef int (*liq_fetch_fn)(void *ud, const liq_fetch_req *req, int *status, buf_t *body);

/* Looks up a content block by name. Returns 1 and sets *src, *len (valid
 * until the render returns) when found, 0 when there is no such block,
 * negative to fail the render. */
typedef int (*liq_block_fn)(void *ud, const char *name, const char **src, size_t *len);

/* ---- rendering ---- */

#define LIQ_DEFAULT_MAX_OUTPUT (1u << 20)     /* bytes */
#define LIQ_DEFAULT_MAX_MEMORY (32u << 20)    /* bytes of scratch per render */
#define LIQ_DEFAULT_MAX_STEPS 1000000u        /* nodes, loop iterations, filter element visits */
#define LIQ_DEFAULT_MAX_TIME_US 2000000       /* 2 s of wall time */
#define LIQ_DEFAULT_MAX_FETCHES 10            /* connected_content calls per render */

typedef struct {
    json_object *context;        /* user object (borrowed), or NULL */
    liq_resolve_fn resolve;      /* optional, for names the context lacks */
    void *resolve_ud;
    liq_fetch_fn fetch;          /* optional; without it connected_content fails */
    void *fetch_ud;
    liq_block_fn content_block;  /* optional; without it content_blocks fail */
    void *block_ud;
    size_t max_output;           /* 0: LIQ_DEFAULT_MAX_OUTPUT */
    size_t max_memory;           /* 0: LIQ_DEFAULT_MAX_MEMORY */
    uint64_t max_steps;          /* 0: LIQ_DEFAULT_MAX_STEPS */
    int64_t max_time_us;         /* 0: LIQ_DEFAULT_MAX_TIME_US */
    int max_fetches;             /* 0: LIQ_DEFAULT_MAX_FETCHES */
    int64_t now_ms;              /* "now" in ms since the epoch; 0: the wall clock */
} liq_render_opts;

typedef struct {
    const char *out;  /* rendered bytes, NUL-terminated; owned by the renderer,
                         valid until its next render or free */
    size_t len;
    liq_error err;    /* code 0 on success; LIQ_EABORT: message is the reason */
} liq_result;

/* A renderer is scratch space for one thread; reuse it across renders. */
liq_renderer *liq_renderer_new(void);
void liq_renderer_free(liq_renderer *r);

/* Renders t with the options in o (NULL: no context, default budgets).
 * Returns 0 with res->out set, LIQ_EABORT with res->err.message the reason
 * (res->out is then empty), or another negative LIQ_E* code with res->err
 * describing it (res->out empty). Never writes more than max_output bytes. */
int liq_render(liq_renderer *r, const liq_template *t, const liq_render_opts *o, liq_result *res);

/* Compiles and renders src in one step, as a preview does (`brasa liquid
 * render`, POST /admin/liquid/preview): liq_render's answer, or LIQ_ESYNTAX
 * when src does not compile. On failure msg gets what to show: the abort
 * reason for LIQ_EABORT, else "line:col: message" (liq_error_format). */
int liq_render_source(liq_renderer *r, const char *src, size_t len, const liq_render_opts *o, liq_result *res,
                      char *msg, size_t msglen);

/* IANA time zones (tz.c), read from the system's tzdata; the scheduler
 * uses them too (send/timing.c). Zone by IANA name ("America/New_York"),
 * "UTC", or "+05:30"; NULL if unknown. Zones live as long as the process. */
typedef struct liq_tz liq_tz;
const liq_tz *liq_tz_get(const char *name, size_t len);
/* Offset (seconds east of UTC) and abbreviation of zone z at instant t (s). */
void liq_tz_at(const liq_tz *z, int64_t t, int32_t *off, char abbr[15], bool *utc);

#endif
