/* liquid.c -- libFuzzer target for the Liquid engine (src/liquid).
 *
 * The input is a template. It is compiled and, when it compiles, rendered
 * twice with one long-lived renderer against a fixed user (so state left
 * behind by one input would show up in the next), with small budgets, a
 * fake connected_content fetcher and a few content blocks (one of which
 * includes itself). Crashes, sanitizer reports, hangs past libFuzzer's
 * timeout, output over the budget, and two renders of the same input that
 * disagree are all findings. */
#include "liquid/liquid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Stop at the first undefined behaviour instead of printing and going on
 * (the fuzz build's UBSan is recoverable). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static json_object *ctx;
static liq_renderer *rend;

static int fetch(void *ud, const liq_fetch_req *req, int *status, buf_t *body) {
    (void)ud;
    if (strstr(req->url, "down")) return -1;
    *status = strstr(req->url, "err") ? 500 : strstr(req->url, "missing") ? 404 : 200;
    if (strstr(req->url, "text")) buf_puts(body, "plain text answer");
    else buf_puts(body, "{\"name\":\"Ann\",\"list\":[1,2,{\"x\":\"y\"}],\"n\":3.5}");
    if (req->body) buf_append(body, " ", 1); /* makes the body invalid JSON: text path */
    return 0;
}

static int block(void *ud, const char *name, const char **src, size_t *len) {
    (void)ud;
    static const char *const blocks[][2] = {
        {"greeting", "Hi {{${first_name} | default: 'there'}}!"},
        {"loop", "{{content_blocks.${loop}}}"},
        {"vars", "{% assign promo = 'X' %}{% increment n %}"},
        {"bad", "{% if %}"},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
        if (!strcmp(name, blocks[i][0])) {
            *src = blocks[i][1];
            *len = strlen(blocks[i][1]);
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ctx) {
        ctx = json_tokener_parse(
            "{\"external_id\":\"u1\",\"first_name\":\"Jane\",\"email\":\"j@x.io\",\"time_zone\":\"Europe/Paris\","
            "\"dob\":\"1990-05-17\",\"custom_attributes\":{\"n\":120,\"f\":17.8,\"s\":\"42\",\"b\":true,"
            "\"a\":[\"x\",\"y\",3,null,[1,2]],\"h\":{\"k\":\"v\",\"n\":{\"d\":1}},"
            "\"orders\":[{\"id\":1,\"t\":2.5},{\"id\":2,\"t\":10}]},\"event_properties\":{\"p\":1}}");
        rend = liq_renderer_new();
    }
    liq_template *t;
    liq_error e;
    if (liq_compile((const char *)data, size, &t, &e)) {
        if (e.code != LIQ_ESYNTAX || e.line < 1 || !e.message[0]) abort();
        return 0;
    }
    liq_render_opts o = {
        .context = ctx,
        .fetch = fetch,
        .content_block = block,
        .max_output = 1 << 16,
        .max_memory = 4 << 20,
        .max_steps = 100000,
        .max_time_us = 10000000,
        .now_ms = 1628100793000LL,
    };
    liq_result r;
    int rc1 = liq_render(rend, t, &o, &r);
    if (r.len > o.max_output || (rc1 && r.len)) abort();
    char *first = malloc(r.len + 1);
    memcpy(first, r.out, r.len + 1);
    size_t len1 = r.len;
    int rc2 = liq_render(rend, t, &o, &r);
    /* Same input, same answer: nothing may leak from one render into the next. */
    if (rc1 != rc2 || len1 != r.len || memcmp(first, r.out, len1) != 0) abort();
    free(first);
    liq_template_free(t);
    return 0;
}
