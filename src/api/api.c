/* api.c -- the list of route tables served by `brasa serve`, the bridge
 * from a handler to the engine, and the query parameters listings share. */
#include "api.h"
#include "../dash/dash.h"
#include "../lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const http_route *const api_tables[] = {
    api_health_routes,
    api_keys_routes,
    api_users_routes,
    api_partners_routes,
    api_liquid_routes,
    api_console_routes, /* first match wins: /admin/segments/preview before /admin/segments/{id} */
    api_segments_routes,
    api_content_blocks_routes,
    api_templates_routes,
    api_exports_routes,
    api_metrics_routes,
    api_credentials_routes,
    api_smtp_relays_routes,
    api_currents_routes,
    api_campaigns_routes,
    api_messages_routes,
    api_transactional_routes,
    api_email_routes,
    api_tracking_routes,
    api_subscriptions_routes,
    api_overview_routes,
    dash_routes,       /* the dashboard's session, audit log, operators */
    dash_asset_routes, /* and its pages: last, /dashboard/{page} matches much */
    NULL,
};

json_object *api_success(void) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    return o;
}

int api_body_fields(http_req *r, const char *const *known) {
    json_object *b = http_body(r);
    if (!json_object_is_type(b, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object"), -1;
    json_object_object_foreach(b, key, val) {
        (void)val;
        size_t i = 0;
        while (known[i] && strcmp(key, known[i])) i++;
        if (known[i]) continue;
        char why[100];
        snprintf(why, sizeof why, "unknown field '%.60s'", key);
        return http_error(r, BR_EINVAL, why), -1;
    }
    return 0;
}

int api_query_int(http_req *r, const char *name, int64_t lo, int64_t hi, int64_t *out) {
    const char *v = http_query(r, name);
    if (!v) return 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*v && !*end && x >= lo && x <= hi) return *out = x, 0;
    char why[128];
    snprintf(why, sizeof why, "'%.40s' must be an integer from %lld to %lld", name, (long long)lo, (long long)hi);
    return http_error(r, BR_EINVAL, why), -1;
}

int api_query_page(http_req *r, int *page, bool *desc) {
    const char *p = http_query(r, "page"), *d = http_query(r, "sort_direction");
    if (p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (!*p || *end || v < 0 || v > 1000000) return http_error(r, BR_EINVAL, "'page' must be a non-negative integer"), -1;
        *page = (int)v;
    }
    if (d && strcmp(d, "asc") && strcmp(d, "desc"))
        return http_error(r, BR_EINVAL, "'sort_direction' must be 'asc' or 'desc'"), -1;
    *desc = d && !strcmp(d, "desc");
    return 0;
}

int api_query_length(http_req *r, long *days) {
    const char *l = http_query(r, "length");
    char *end;
    *days = l ? strtol(l, &end, 10) : 0;
    if (!l || !*l || *end || *days < 1 || *days > 100)
        return http_error(r, BR_EINVAL, "'length' must be an integer from 1 to 100"), -1;
    return 0;
}

static void resume(eng_cmd *c) { http_resume(c->done_arg, c->rc); }

int api_submit(http_req *r, eng_cmd *c, http_finish finish) {
    c->done = resume;
    c->done_arg = r;
    int rc = http_defer(r, finish); /* before submitting: the answer may come first */
    eng_submit(http_context(r)->engine, c);
    return rc;
}

int api_read(http_req *r, eng_cmd *c, int (*fn)(engine_t *e, void *arg), void *arg, http_finish finish) {
    *c = (eng_cmd){.kind = ENG_READ, .read = fn, .arg = arg};
    return api_submit(r, c, finish);
}

int api_store(http_req *r, eng_cmd *c, store_op_fn op, void *arg, http_finish finish) {
    *c = (eng_cmd){.kind = ENG_STORE, .op = op, .arg = arg};
    return api_submit(r, c, finish);
}
