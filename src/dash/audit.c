/* audit.c -- the audit log: who changed what, and when.
 *
 * Every change made through an admin route (a key with brasa.keys or
 * brasa.marketing) or by an operator's session (any route but a read) is
 * written to audit_log before its answer goes out: the HTTP layer calls
 * this hook once the handler's reply is set (http_dash.after), and the
 * reply waits for the entry's commit, so nothing acknowledged is missing
 * from the log. Only successes are entries: a refused request changed
 * nothing (failed logins are in the server's log and throttled). The
 * entry names the route's path, never the body: bodies hold passwords and
 * keys. */
#include "dash.h"
#include "../api/api.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../store/operators.h"

#include <stdio.h>

typedef struct {
    eng_cmd cmd;
    store_audit row;
    char who[96], ip[48], method[16], path[512];
} audit_state;

static int audit_done(http_req *r, int rc) {
    if (rc < 0) {
        audit_state *a = http_after_state_get(r);
        log_error("audit: could not record %s %s by %s: %d", a->method, a->path, a->who, rc);
    }
    return 0; /* the handler's answer stands */
}

int dash_audit_after(http_req *r) {
    const http_route *rt = http_matched_route(r);
    if (!rt || http_status(r) >= 400 || http_reads(r)) return 0;
    bool admin = rt->perm != PERM_NONE && perm_is_admin(rt->perm);
    if (!admin && !http_by_session(r)) return 0;
    const auth_ident *id = http_ident(r);
    if (!id) return 0;
    audit_state *a = http_after_state(r, sizeof *a);
    snprintf(a->who, sizeof a->who, "%s:%s", http_by_session(r) ? "operator" : "key", id->name);
    http_client_str(r, a->ip, sizeof a->ip);
    snprintf(a->method, sizeof a->method, "%s", http_method(r));
    snprintf(a->path, sizeof a->path, "%s", http_path(r));
    a->row = (store_audit){.at = clock_wall_ms(), .who = a->who, .ip = a->ip, .method = a->method, .path = a->path,
                           .status = http_status(r)};
    return api_store(r, &a->cmd, store_audit_insert_op, &a->row, audit_done);
}
