/* dash.h -- the dashboard: brasa's web console, served by `brasa serve`
 * under /dashboard/.
 *
 * The pages are static files embedded in the binary at build time
 * (dashboard/, assets.c) that call the admin JSON API with the operator's
 * session cookie instead of a key. This module keeps the sessions
 * (session.c: login, logout, the check the HTTP layer calls for each
 * request, http_dash), the audit log every change through the admin routes
 * or a session writes before it is answered (audit.c), and the routes of
 * both (routes.c). Operators are made with `brasa operators add`
 * (cli/operators.c); what a role may do is operator.h's. */
#ifndef BR_DASH_H
#define BR_DASH_H
#include "../http/http.h"
#include "../store/store.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct dash dash_t;

#define DASH_SESSION_TTL_DEFAULT_S (12 * 3600)

/* Sessions over a reader of store (opened here). ttl_s: a session's life
 * from its login; secure: cookies get the Secure attribute (the public URL
 * is https). NULL if the reader cannot be opened. */
dash_t *dash_new(store_t *store, int64_t ttl_s, bool secure);
void dash_free(dash_t *d);
/* What the HTTP layer calls (http_ctx.dash). */
const http_dash *dash_http(dash_t *d);
/* How many operators exist (serve says how to make the first). */
int dash_operator_count(dash_t *d, int64_t *n);

/* For the routes (routes.c, audit.c): the dash_t of a request. */
dash_t *dash_of(http_req *r);
/* The session's handlers (session.c): POST /dashboard/api/login,
 * POST /dashboard/api/logout, GET /dashboard/api/me. */
int dash_post_login(http_req *r);
int dash_post_logout(http_req *r);
int dash_get_me(http_req *r);
/* The audit hook (audit.c): http_dash.after. */
int dash_audit_after(http_req *r);

extern const http_route dash_routes[];
extern const http_route dash_asset_routes[];

#endif
