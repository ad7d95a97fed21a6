/* health.c -- GET /healthz: liveness for load balancers and operators.
 *
 * No key: a probe must not need a secret. Answers version and uptime, and
 * the group-commit counters, which tell an operator at a glance whether
 * writes are flowing. */
#include "api.h"
#include "../lib/clock.h"
#include "../version.h"

static int get_healthz(http_req *r) {
    http_ctx *ctx = http_context(r);
    store_stats st = store_get_stats(engine_store(ctx->engine));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "version", json_object_new_string(BRASA_VERSION));
    json_object_object_add(o, "uptime_seconds",
                           json_object_new_int64((clock_wall_ms() - ctx->started_ms) / 1000));
    json_object *c = json_object_new_object();
    json_object_object_add(c, "commits", json_object_new_int64((int64_t)st.commits));
    json_object_object_add(c, "writes", json_object_new_int64((int64_t)st.ops));
    json_object_object_add(c, "failed", json_object_new_int64((int64_t)st.failed));
    json_object_object_add(o, "store", c);
    return http_reply(r, 200, o);
}

const http_route api_health_routes[] = {
    {"GET", "/healthz", PERM_NONE, RL_DEFAULT, get_healthz, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
