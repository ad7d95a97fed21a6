/* api.c -- the list of route tables served by `brasa serve`, and the
 * bridge from a handler to the engine. */
#include "api.h"

const http_route *const api_tables[] = {
    api_health_routes,
    api_keys_routes,
    api_users_routes,
    api_partners_routes,
    api_segments_routes,
    api_content_blocks_routes,
    api_exports_routes,
    api_metrics_routes,
    api_credentials_routes,
    api_campaigns_routes,
    api_messages_routes,
    NULL,
};

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
