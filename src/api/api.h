/* api.h -- the route tables of every resource, in one list, and how a
 * handler hands its command to the engine.
 *
 * Reading this file and the tables it names gives the whole HTTP surface:
 * each entry is method, path, permission, rate-limit group, handler. A
 * handler checks its request (parse.h turns bodies into typed commands),
 * submits one command to the engine (engine/engine.h) and builds the
 * Braze-shaped answer from the command's result when it comes back. */
#ifndef BR_API_H
#define BR_API_H
#include "../engine/engine.h"
#include "../http/http.h"

extern const http_route api_health_routes[];
extern const http_route api_keys_routes[];
extern const http_route api_users_routes[];
extern const http_route api_partners_routes[];
extern const http_route api_segments_routes[];
extern const http_route api_content_blocks_routes[];
extern const http_route api_templates_routes[];
extern const http_route api_transactional_routes[];
extern const http_route api_exports_routes[];
extern const http_route api_metrics_routes[];
extern const http_route api_credentials_routes[];
extern const http_route api_smtp_relays_routes[];
extern const http_route api_currents_routes[];
extern const http_route api_campaigns_routes[];
extern const http_route api_messages_routes[];
extern const http_route api_email_routes[];
extern const http_route api_tracking_routes[];
extern const http_route api_subscriptions_routes[];
extern const http_route api_console_routes[];
extern const http_route api_overview_routes[];
extern const http_route api_liquid_routes[];

/* NULL-terminated list handed to http_start(). */
extern const http_route *const api_tables[];
/* GET /metrics alone, without a key (serve --metrics-listen). */
extern const http_route *const api_metrics_tables[];

/* Suspends r and submits c (which must live as long as r: keep it in the
 * request's http_state); finish(r, c->rc) runs once the engine answered.
 * Returns HTTP_DEFERRED for the handler to return. */
int api_submit(http_req *r, eng_cmd *c, http_finish finish);
/* api_submit of an ENG_READ / ENG_STORE command built in c. */
int api_read(http_req *r, eng_cmd *c, int (*fn)(engine_t *e, void *arg), void *arg, http_finish finish);
int api_store(http_req *r, eng_cmd *c, store_op_fn op, void *arg, http_finish finish);

/* A new {"message": "success"}, the start of most answers. */
json_object *api_success(void);

/* Query parameters Braze's listings and data series share, checked with
 * one set of messages: page (a non-negative integer, default 0) and
 * sort_direction (asc, the default, or desc); length (required, 1 to 100
 * days). Return 0, or -1 with the 400 answer set. */
int api_query_page(http_req *r, int *page, bool *desc);
/* A body that must be a JSON object with no field outside known
 * (NULL-terminated): 0, or -1 after answering 400 ("the body must be a
 * JSON object", "unknown field 'x'"). */
int api_body_fields(http_req *r, const char *const *known);
int api_query_length(http_req *r, long *days);
/* An integer query parameter from lo to hi into *out, which keeps its
 * value (the default) when the parameter is absent. 0, or -1 after
 * answering 400 "'name' must be an integer from lo to hi". */
int api_query_int(http_req *r, const char *name, int64_t lo, int64_t hi, int64_t *out);

/* The credential cache's loader over a store connection (creds.c): the
 * caller keeps db open as long as the cache lives. */
auth_loader api_creds_loader(sqlite3 *db);
/* A store op writing REST keys' last-use times (auth_take_touches). */
typedef struct {
    auth_touch *list;
    int n;
} api_touches;
int api_touches_op(sqlite3 *db, void *arg);

/* Each Currents connector (store_cur_list, by name) with the lag of its
 * cursor: lag[2i] events, lag[2i + 1] seconds (store_cur_lag). On a
 * connection of its own, on the calling HTTP thread, never the engine's:
 * the lag sums the outbox after each cursor, slow on a big backlog. The
 * caller frees rows (store_cur_rows_free) and lag, whatever the result.
 * 0 or BR_ESTORE (metrics.c: GET /metrics and GET /admin/overview). */
struct store_cur;
int api_currents_lag(store_t *s, struct store_cur **rows, int *n, int64_t **lag);

/* Runs a /users/track body through the engine and waits, as the handler
 * would: for tools, benchmarks and tests. Returns the parser's or the
 * engine's rc; r (may be NULL) gets Braze's counts and errors (the caller
 * puts r->errors). */
struct api_track_result;
int api_track_exec(engine_t *e, json_object *body, struct api_track_result *r);

/* Registers the decoder of format-1 journal rows (the request bodies
 * earlier versions journaled) with the engine (legacy.c). Before
 * engine_open(). */
void api_legacy_register(void);

#endif
