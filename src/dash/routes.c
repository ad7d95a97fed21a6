/* routes.c -- the dashboard's own routes: its session, the audit log and
 * the operators.
 *
 *   POST /dashboard/api/login     -           {"name", "password"} -> the operator, a CSRF token; sets the cookie
 *   POST /dashboard/api/logout    a session   ends it; clears the cookie
 *   GET  /dashboard/api/me        a session   the operator, the CSRF token, when the session ends
 *   GET  /admin/audit             brasa.keys  ?before=ID&limit=N: the audit log, newest first
 *   GET  /admin/operators         brasa.keys  the operators: name, role, created_at, last_login_at
 *
 * The session routes are brasa.marketing, which every role holds, and
 * HTTP_READS, so a read-only operator can sign out too. */
#include "dash.h"
#include "../api/api.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../store/operators.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_PAGE_MAX 1000

typedef struct {
    eng_cmd cmd;
    int64_t before;
    int limit;
    store_audit *rows; /* GET /admin/audit */
    store_operator *ops; /* GET /admin/operators */
    int n;             /* of the one the route reads */
} list_state;

static void list_free(void *p) {
    list_state *s = p;
    if (s->rows) store_audit_rows_free(s->rows, s->n);
    free(s->ops);
}

static int audit_read(engine_t *e, void *arg) {
    list_state *s = arg;
    return store_audit_list(engine_reader(e), s->before, s->limit, &s->rows, &s->n);
}

static int audit_done(http_req *r, int rc) {
    list_state *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = api_success(), *a = json_object_new_array();
    for (int i = 0; i < s->n; i++) {
        store_audit *e = &s->rows[i];
        json_object *x = json_object_new_object();
        json_object_object_add(x, "id", json_object_new_int64(e->id));
        json_object_object_add(x, "at", json_time_or_null(e->at));
        json_object_object_add(x, "who", json_object_new_string(e->who));
        json_object_object_add(x, "ip", json_object_new_string(e->ip));
        json_object_object_add(x, "method", json_object_new_string(e->method));
        json_object_object_add(x, "path", json_object_new_string(e->path));
        json_object_object_add(x, "status", json_object_new_int(e->status));
        json_object_array_add(a, x);
    }
    json_object_object_add(o, "entries", a);
    /* The next page: ids below the last one shown. */
    json_object_object_add(o, "next_before", s->n == s->limit ? json_object_new_int64(s->rows[s->n - 1].id) : NULL);
    return http_reply(r, 200, o);
}

static int get_audit(http_req *r) {
    int64_t before = 0, limit = 100;
    if (api_query_int(r, "before", 1, INT64_MAX, &before) < 0 || api_query_int(r, "limit", 1, AUDIT_PAGE_MAX, &limit) < 0)
        return 0;
    list_state *s = http_state(r, sizeof *s, list_free);
    s->before = before;
    s->limit = (int)limit;
    return api_read(r, &s->cmd, audit_read, s, audit_done);
}

static int operators_read(engine_t *e, void *arg) {
    list_state *s = arg;
    return store_operator_list(engine_reader(e), &s->ops, &s->n);
}

static int operators_done(http_req *r, int rc) {
    list_state *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = api_success(), *a = json_object_new_array();
    for (int i = 0; i < s->n; i++) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "name", json_object_new_string(s->ops[i].name));
        json_object_object_add(x, "role", json_object_new_string(s->ops[i].role));
        json_object_object_add(x, "created_at", json_time_or_null(s->ops[i].created_at));
        json_object_object_add(x, "last_login_at", json_time_or_null(s->ops[i].last_login_at));
        json_object_array_add(a, x);
    }
    json_object_object_add(o, "operators", a);
    return http_reply(r, 200, o);
}

static int get_operators(http_req *r) {
    list_state *s = http_state(r, sizeof *s, list_free);
    return api_read(r, &s->cmd, operators_read, s, operators_done);
}

const http_route dash_routes[] = {
    {"POST", "/dashboard/api/login", PERM_NONE, RL_DEFAULT, dash_post_login, 0},
    {"POST", "/dashboard/api/logout", PERM_BRASA_MARKETING, RL_DEFAULT, dash_post_logout, HTTP_READS},
    {"GET", "/dashboard/api/me", PERM_BRASA_MARKETING, RL_DEFAULT, dash_get_me, 0},
    {"GET", "/admin/audit", PERM_BRASA_KEYS, RL_DEFAULT, get_audit, 0},
    {"GET", "/admin/operators", PERM_BRASA_KEYS, RL_DEFAULT, get_operators, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
