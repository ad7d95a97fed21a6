/* liquid.c -- a message's Liquid rendered for one user, before it is sent.
 *
 *   POST /admin/liquid/preview  brasa.marketing  {"template", "external_id"} -> {"output"}
 *
 * The console's campaign editor shows a variation as a chosen user would
 * get it. The user object is the one the dispatcher renders every
 * recipient's message with (dsp_user_context) and the rendering is
 * `brasa liquid render`'s (liq_render_source), so the preview is the
 * message. Content blocks are read as a send reads them; connected_content
 * is not fetched (a preview calls no one's API), which fails the render
 * with its words. A template that does not compile, fails or aborts is a
 * 400 with the engine's message. Only reads (HTTP_READS). */
#include "api.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../liquid/liquid.h"
#include "../send/dispatch.h"
#include "../store/content_blocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_TIME_US 500000 /* it runs on the engine thread: far less than a send's 10 s */
#define PREVIEW_ID_MAX 1024    /* bytes of an external id: far above any real one */

typedef struct {
    eng_cmd cmd;
    const char *template, *external_id; /* in the body */
    size_t template_len;
    engine_t *e;
    json_object *blocks; /* {name: content or null}: kept while the render reads them */
    int rc;              /* 0, or the LIQ_E* of a failed render */
    bool found;
    char *output;
    size_t len;
    char msg[1100];
} preview_req;

static void preview_free(void *p) {
    preview_req *x = p;
    json_object_put(x->blocks);
    free(x->output);
}

/* {{content_blocks.${name}}}: the stored block, through the cache a send
 * reads them through (used twice: the same text). */
static int block_lookup(void *ud, const char *name, const char **src, size_t *len) {
    preview_req *x = ud;
    return store_block_memo(engine_reader(x->e), x->blocks, name, src, len);
}

static int preview_read(engine_t *e, void *arg) {
    preview_req *x = arg;
    uint32_t row = users_by_external_id(engine_users(e), x->external_id, strlen(x->external_id));
    if (row == USERS_NONE) return 0;
    x->found = true;
    x->e = e;
    x->blocks = json_object_new_object();
    json_object *user = dsp_user_context(e, row);
    liq_render_opts o = {.context = user, .content_block = block_lookup, .block_ud = x, .max_time_us = PREVIEW_TIME_US};
    liq_renderer *r = liq_renderer_new();
    liq_result res;
    x->rc = liq_render_source(r, x->template, x->template_len, &o, &res, x->msg, sizeof x->msg);
    if (x->rc == 0) {
        x->output = malloc(res.len + 1);
        if (x->output) memcpy(x->output, res.out, res.len + 1);
        x->len = res.len;
    }
    liq_renderer_free(r);
    json_object_put(user);
    return x->rc == 0 && !x->output ? BR_EINTERNAL : 0;
}

static int previewed(http_req *r, int rc) {
    preview_req *x = http_state_get(r);
    if (rc < 0) return rc;
    char why[1200];
    if (!x->found) {
        snprintf(why, sizeof why, "no user with external_id '%.200s'", x->external_id);
        return http_error(r, BR_ENOTFOUND, why);
    }
    if (x->rc) {
        const char *what = x->rc == LIQ_ESYNTAX ? "Liquid syntax error at" : x->rc == LIQ_EABORT ? "the message was aborted:"
                                                                                                   : "Liquid error at";
        snprintf(why, sizeof why, "%s %s", what, x->msg);
        return http_error(r, BR_EINVAL, why);
    }
    json_object *o = api_success();
    json_object_object_add(o, "output", json_object_new_string_len(x->output, (int)x->len));
    return http_reply(r, 200, o);
}

static int post_preview(http_req *r) {
    static const char *const known[] = {"template", "external_id", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    json_object *b = http_body(r), *t = json_get(b, "template"), *id = json_get(b, "external_id");
    if (!json_object_is_type(t, json_type_string)) return http_error(r, BR_EINVAL, "'template' is required (a string)");
    if (!json_object_is_type(id, json_type_string) || !json_object_get_string_len(id) ||
        json_object_get_string_len(id) > PREVIEW_ID_MAX)
        return http_error(r, BR_EINVAL, "'external_id' is required (a string of 1 to 1024 bytes)");
    preview_req *x = http_state(r, sizeof *x, preview_free);
    x->template = json_object_get_string(t);
    x->template_len = (size_t)json_object_get_string_len(t);
    x->external_id = json_object_get_string(id);
    return api_read(r, &x->cmd, preview_read, x, previewed);
}

const http_route api_liquid_routes[] = {
    {"POST", "/admin/liquid/preview", PERM_BRASA_MARKETING, RL_DEFAULT, post_preview, HTTP_READS},
    {NULL, NULL, 0, 0, NULL, 0},
};
