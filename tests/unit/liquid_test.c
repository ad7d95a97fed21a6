/* liquid_test.c -- unit tests for src/liquid: the golden corpus and the API.
 *
 * The golden corpus (tests/liquid/NAME.json, run from the repository root as
 * `make unit` does) is a list of cases per area: a template, an optional
 * context (default: tests/liquid/user.json), and either the expected
 * output, the expected error ("line:col: message") or the expected abort
 * reason. Optional fields: "now" (ISO time, default 2021-08-04T18:13:13Z),
 * "fetch" (URL -> {"status", "body"} for connected_content), "blocks"
 * (content block name -> source), "max_output", "max_steps", "max_memory".
 * Each case is rendered twice with the same renderer, which also checks
 * that a reused renderer gives the same answer. The C tests below cover
 * what a data file cannot: budgets, callbacks, threads, reuse. */
#define _GNU_SOURCE
#include "test.h"
#include "lib/buf.h"
#include "liquid/liquid.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define GOLDEN_DIR "tests/liquid"
#define GOLDEN_NOW_MS 1628100793000LL /* 2021-08-04T18:13:13Z */

static int fake_fetch(void *ud, const liq_fetch_req *req, int *status, buf_t *body) {
    json_object *map = ud, *a, *st, *b;
    /* The request as the template built it is visible to the template
     * author through the "echo" URL, so golden cases can check it. */
    if (!strncmp(req->url, "https://echo.test/", 18)) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "url", json_object_new_string(req->url));
        json_object_object_add(o, "method", json_object_new_string(req->method));
        if (req->body) json_object_object_add(o, "body", json_object_new_string_len(req->body, (int)req->body_len));
        if (req->content_type) json_object_object_add(o, "content_type", json_object_new_string(req->content_type));
        if (req->basic_auth) json_object_object_add(o, "basic_auth", json_object_new_string(req->basic_auth));
        if (req->headers) json_object_object_add(o, "headers", json_object_get(req->headers));
        json_object_object_add(o, "cache_max_age", json_object_new_int(req->cache_max_age));
        json_object_object_add(o, "no_cache", json_object_new_boolean(req->no_cache));
        json_object_object_add(o, "retry", json_object_new_boolean(req->retry));
        buf_puts(body, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        *status = 200;
        return 0;
    }
    if (!map || !json_object_object_get_ex(map, req->url, &a)) return -1; /* unreachable host */
    *status = json_object_object_get_ex(a, "status", &st) ? json_object_get_int(st) : 200;
    if (json_object_object_get_ex(a, "body", &b)) {
        if (json_object_is_type(b, json_type_string))
            buf_append(body, json_object_get_string(b), (size_t)json_object_get_string_len(b));
        else
            buf_puts(body, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
    }
    return 0;
}

static int fake_block(void *ud, const char *name, const char **src, size_t *len) {
    json_object *map = ud, *b;
    if (!map || !json_object_object_get_ex(map, name, &b)) return 0;
    *src = json_object_get_string(b);
    *len = (size_t)json_object_get_string_len(b);
    return 1;
}

static int64_t iso_ms(const char *s) {
    struct tm tm = {0};
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return GOLDEN_NOW_MS;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

static const char *jstr(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                           : NULL;
}

static json_object *jget(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* Renders one case; returns NULL when it passes, else a description. */
static char *run_case(liq_renderer *r, json_object *cs, json_object *user, int *ncases) {
    const char *tpl = jstr(cs, "template"), *want = jstr(cs, "expected"), *want_err = jstr(cs, "error"),
               *want_abort = jstr(cs, "aborted");
    char *msg = NULL;
    if (!tpl || (!!want + !!want_err + !!want_abort) != 1) {
        if (asprintf(&msg, "malformed case") < 0) abort();
        return msg;
    }
    (*ncases)++;
    liq_render_opts o = {0};
    json_object *ctx = jget(cs, "context");
    o.context = ctx ? ctx : user;
    o.now_ms = jstr(cs, "now") ? iso_ms(jstr(cs, "now")) : GOLDEN_NOW_MS;
    o.fetch = fake_fetch;
    o.fetch_ud = jget(cs, "fetch");
    o.content_block = fake_block;
    o.block_ud = jget(cs, "blocks");
    if (jget(cs, "max_output")) o.max_output = (size_t)json_object_get_int64(jget(cs, "max_output"));
    if (jget(cs, "max_steps")) o.max_steps = (uint64_t)json_object_get_int64(jget(cs, "max_steps"));
    if (jget(cs, "max_memory")) o.max_memory = (size_t)json_object_get_int64(jget(cs, "max_memory"));
    liq_template *t;
    liq_error e;
    char got[2048];
    int rc = liq_compile(tpl, strlen(tpl), &t, &e);
    if (rc) {
        liq_error_format(&e, got, sizeof got);
        if (want_err && !strcmp(got, want_err)) return NULL;
        if (asprintf(&msg, "compile: got error \"%s\"", got) < 0) abort();
        return msg;
    }
    for (int pass = 0; pass < 2 && !msg; pass++) {
        liq_result res;
        rc = liq_render(r, t, &o, &res);
        if (rc == LIQ_EABORT) {
            if (!want_abort || strcmp(res.err.message, want_abort))
                if (asprintf(&msg, "pass %d: aborted \"%s\"", pass, res.err.message) < 0) abort();
        } else if (rc) {
            liq_error_format(&res.err, got, sizeof got);
            if (!want_err || strcmp(got, want_err))
                if (asprintf(&msg, "pass %d: error \"%s\"", pass, got) < 0) abort();
        } else if (!want || res.len != strlen(want) || memcmp(res.out, want, res.len)) {
            if (asprintf(&msg, "pass %d: got \"%.*s\"", pass, (int)res.len, res.out) < 0) abort();
        } else if (o.max_output && res.len > o.max_output) {
            if (asprintf(&msg, "output over budget") < 0) abort();
        }
    }
    liq_template_free(t);
    return msg;
}

static int golden_file(const char *path, json_object *user, int *ncases) {
    json_object *cases = json_object_from_file(path);
    if (!cases || !json_object_is_type(cases, json_type_array)) {
        printf("    %s: not a JSON array of cases\n", path);
        json_object_put(cases);
        return 1;
    }
    liq_renderer *r = liq_renderer_new();
    int failed = 0;
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        json_object *cs = json_object_array_get_idx(cases, i);
        char *msg = run_case(r, cs, user, ncases);
        if (msg) {
            const char *want = jstr(cs, "expected");
            if (!want) want = jstr(cs, "error");
            if (!want) want = jstr(cs, "aborted");
            printf("    %s: case \"%s\": %s; want \"%s\"\n", path, jstr(cs, "name") ? jstr(cs, "name") : "?", msg,
                   want ? want : "?");
            free(msg);
            failed++;
        }
    }
    liq_renderer_free(r);
    json_object_put(cases);
    return failed;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

TEST(liquid_golden_corpus) {
    json_object *user = json_object_from_file(GOLDEN_DIR "/user.json");
    DIR *d = opendir(GOLDEN_DIR);
    T_TRUE(user != NULL);
    T_TRUE(d != NULL);
    char *names[256];
    int nn = 0, failed = 0, ncases = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 256) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json") && strcmp(de->d_name, "user.json"))
            names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    for (int i = 0; i < nn; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, names[i]);
        failed += golden_file(path, user, &ncases);
        free(names[i]);
    }
    json_object_put(user);
    printf("    golden: %d cases in %d files, %d failed\n", ncases, nn, failed);
    T_TRUE(nn >= 10);
    T_TRUE(ncases >= 300);
    T_EQ_INT(failed, 0);
}

/* ------------------------------------------------------------ API tests */

static int render_str(const char *src, const liq_render_opts *o, char *out, size_t outlen, liq_error *err) {
    liq_template *t;
    liq_error e;
    int rc = liq_compile(src, strlen(src), &t, &e);
    if (rc) {
        if (err) *err = e;
        return rc;
    }
    liq_renderer *r = liq_renderer_new();
    liq_result res;
    rc = liq_render(r, t, o, &res);
    snprintf(out, outlen, "%.*s", (int)res.len, res.out);
    if (err) *err = res.err;
    liq_renderer_free(r);
    liq_template_free(t);
    return rc;
}

TEST(liquid_compile_error_carries_line_and_col) {
    liq_template *t;
    liq_error e;
    const char *src = "Hello\n  {% if x %}\n {{ x | nosuch }}\n{% endif %}";
    T_EQ_INT(liq_compile(src, strlen(src), &t, &e), LIQ_ESYNTAX);
    T_TRUE(t == NULL);
    T_EQ_INT(e.line, 3);
    T_EQ_INT(e.col, 9);
    T_EQ_STR(e.message, "unknown filter 'nosuch'");
    src = "{% for x in y %}\n{% if a %}";
    T_EQ_INT(liq_compile(src, strlen(src), &t, &e), LIQ_ESYNTAX);
    T_EQ_INT(e.line, 2);
    T_EQ_INT(e.col, 1);
    T_EQ_STR(e.message, "'if' tag was never closed");
    /* Columns count characters, not bytes. */
    src = "héllo {{ 'x' | nosuch }}";
    T_EQ_INT(liq_compile(src, strlen(src), &t, &e), LIQ_ESYNTAX);
    T_EQ_INT(e.col, 16);
}

TEST(liquid_output_budget_is_never_exceeded) {
    char out[256];
    liq_error e;
    liq_render_opts o = {.max_output = 100};
    int rc = render_str("{% for i in (1..1000) %}0123456789{% endfor %}", &o, out, sizeof out, &e);
    T_EQ_INT(rc, LIQ_EOUTPUT);
    T_EQ_STR(out, "");
    T_EQ_INT(e.line, 1);
    /* Exactly the budget is fine. */
    rc = render_str("{% for i in (1..10) %}0123456789{% endfor %}", &o, out, sizeof out, &e);
    T_EQ_INT(rc, 0);
    T_EQ_INT(strlen(out), 100);
    /* A capture counts too, so it cannot build an unbounded string. */
    rc = render_str("{% capture x %}{% for i in (1..20) %}0123456789{% endfor %}{% endcapture %}", &o, out,
                    sizeof out, &e);
    T_EQ_INT(rc, LIQ_EOUTPUT);
}

TEST(liquid_step_and_memory_budgets) {
    char out[256];
    liq_error e;
    liq_render_opts o = {.max_steps = 1000};
    T_EQ_INT(render_str("{% for i in (1..100000000) %}{% endfor %}", &o, out, sizeof out, &e), LIQ_ESTEPS);
    T_EQ_INT(render_str("{{ (1..100000000) | join: ',' }}", &o, out, sizeof out, &e), LIQ_ESTEPS);
    /* Doubling a string in a loop hits the memory budget, not the machine. */
    liq_render_opts m = {.max_memory = 1 << 20};
    int rc = render_str("{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..64) %}{% assign s = s | append: s %}"
                        "{% endfor %}{{ s | size }}",
                        &m, out, sizeof out, &e);
    T_EQ_INT(rc, LIQ_EMEMORY);
    T_TRUE(strstr(e.message, "memory budget") != NULL);
}

TEST(liquid_time_budget) {
    char out[64];
    liq_error e;
    liq_render_opts o = {.max_time_us = 20000, .max_steps = 1ull << 40};
    /* 10^12 iterations: without the budget, far past the test's timeout. */
    int rc = render_str("{% for i in (1..1000000000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}", &o, out,
                        sizeof out, &e);
    T_EQ_INT(rc, LIQ_ETIME);
}

static int resolves;

static int resolver(void *ud, const char *name, size_t len, json_object **out) {
    (void)ud;
    resolves++;
    if (len == 17 && !memcmp(name, "custom_attributes", len)) {
        static json_object *ca;
        if (!ca) ca = json_tokener_parse("{\"tier\":\"gold\"}");
        *out = ca;
    } else if (len == 4 && !memcmp(name, "fail", 4)) {
        return -1;
    }
    return 0;
}

TEST(liquid_resolver_is_called_once_per_name) {
    char out[128];
    liq_error e;
    json_object *ctx = json_tokener_parse("{\"first_name\":\"Ann\"}");
    liq_render_opts o = {.context = ctx, .resolve = resolver};
    resolves = 0;
    int rc = render_str("{{${first_name}}} {{custom_attribute.${tier}}} {{custom_attribute.${tier}}} {{nope}}{{nope}}",
                        &o, out, sizeof out, &e);
    T_EQ_INT(rc, 0);
    T_EQ_STR(out, "Ann gold gold ");
    T_EQ_INT(resolves, 2); /* custom_attributes and nope; first_name came from the context */
    rc = render_str("a {{ fail }}", &o, out, sizeof out, &e);
    T_EQ_INT(rc, LIQ_ERENDER);
    T_EQ_INT(e.col, 6);
    json_object_put(ctx);
}

TEST(liquid_renderer_reuse_and_variables_do_not_leak_between_renders) {
    liq_template *t;
    const char *src = "{{ x | default: 'unset' }}{% assign x = 'set' %}{% increment n %}";
    T_EQ_INT(liq_compile(src, strlen(src), &t, NULL), 0);
    liq_renderer *r = liq_renderer_new();
    liq_result res;
    for (int i = 0; i < 3; i++) {
        T_EQ_INT(liq_render(r, t, NULL, &res), 0);
        T_EQ_STR(res.out, "unset0");
    }
    liq_renderer_free(r);
    liq_template_free(t);
}

typedef struct {
    const liq_template *t;
    json_object *ctx;
    int ok;
} thread_arg;

static void *render_thread(void *p) {
    thread_arg *a = p;
    liq_renderer *r = liq_renderer_new();
    liq_render_opts o = {.context = a->ctx, .now_ms = GOLDEN_NOW_MS};
    a->ok = 1;
    for (int i = 0; i < 2000; i++) {
        liq_result res;
        if (liq_render(r, a->t, &o, &res) || strcmp(res.out, "Ann|Wed Aug  4 11:13|3")) a->ok = 0;
    }
    liq_renderer_free(r);
    return NULL;
}

TEST(liquid_one_template_many_threads) {
    const char *src = "{{${first_name}}}|{{ 'now' | time_zone: 'America/Los_Angeles' | date: '%a %b %e %H:%M' }}|"
                      "{{ custom_attribute.${list} | size }}";
    liq_template *t;
    T_EQ_INT(liq_compile(src, strlen(src), &t, NULL), 0);
    json_object *ctx = json_tokener_parse("{\"first_name\":\"Ann\",\"custom_attributes\":{\"list\":[1,2,3]}}");
    pthread_t th[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){.t = t, .ctx = ctx};
        pthread_create(&th[i], NULL, render_thread, &a[i]);
    }
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok &= a[i].ok;
    }
    T_TRUE(ok);
    json_object_put(ctx);
    liq_template_free(t);
}

static int calls;

static int counting_block(void *ud, const char *name, const char **src, size_t *len) {
    (void)name;
    calls++;
    *src = ud;
    *len = strlen(ud);
    return 1;
}

TEST(liquid_content_blocks_are_cached_and_follow_source_changes) {
    liq_template *t;
    const char *src = "[{{content_blocks.${b}}}][{% content_blocks.${b} %}]";
    T_EQ_INT(liq_compile(src, strlen(src), &t, NULL), 0);
    liq_renderer *r = liq_renderer_new();
    char block[64] = "one";
    liq_render_opts o = {.content_block = counting_block, .block_ud = block};
    liq_result res;
    calls = 0;
    T_EQ_INT(liq_render(r, t, &o, &res), 0);
    T_EQ_STR(res.out, "[one][one]");
    strcpy(block, "two {{ 1 | plus: 1 }}");
    T_EQ_INT(liq_render(r, t, &o, &res), 0);
    T_EQ_STR(res.out, "[two 2][two 2]");
    T_EQ_INT(calls, 4);
    strcpy(block, "{% if %}");
    T_EQ_INT(liq_render(r, t, &o, &res), LIQ_ESYNTAX);
    T_EQ_STR(res.err.source, "content_blocks.b");
    T_EQ_INT(res.err.line, 1);
    liq_renderer_free(r);
    liq_template_free(t);
}

TEST(liquid_abort_returns_reason_and_no_output) {
    char out[64];
    liq_error e;
    int rc = render_str("Hello {% abort_message('no balance') %} world", NULL, out, sizeof out, &e);
    T_EQ_INT(rc, LIQ_EABORT);
    T_EQ_STR(e.message, "no balance");
    T_EQ_STR(out, "");
    T_EQ_STR(liq_strerror(LIQ_EABORT), "message aborted");
}

TEST(liquid_connected_content_without_fetcher_fails_cleanly) {
    char out[64];
    liq_error e;
    int rc = render_str("{% connected_content https://x.test/a :save r %}{{ r }}", NULL, out, sizeof out, &e);
    T_EQ_INT(rc, LIQ_ERENDER);
    T_TRUE(strstr(e.message, "no fetcher") != NULL);
}

TEST(liquid_render_source_compiles_renders_and_words_the_failure) {
    json_object *ctx = json_tokener_parse("{\"first_name\": \"Ana\"}");
    liq_render_opts o = {.context = ctx};
    liq_renderer *r = liq_renderer_new();
    liq_result res;
    char msg[256];
    T_EQ_INT(liq_render_source(r, "Hi {{${first_name}}}", 20, &o, &res, msg, sizeof msg), 0);
    T_EQ_STR(res.out, "Hi Ana");
    T_EQ_STR(msg, "");
    T_EQ_INT(liq_render_source(r, "Hi {% if %}", 11, &o, &res, msg, sizeof msg), LIQ_ESYNTAX);
    T_EQ_STR(msg, "1:10: expected a value, got end of markup");
    T_EQ_INT(res.err.code, LIQ_ESYNTAX);
    T_EQ_INT(liq_render_source(r, "{% abort_message('later') %}", 28, &o, &res, msg, sizeof msg), LIQ_EABORT);
    T_EQ_STR(msg, "later");
    T_EQ_INT(liq_render_source(r, "{{ 1 | divided_by: 0 }}", 23, &o, &res, msg, sizeof msg), LIQ_ERENDER);
    T_EQ_STR(msg, "1:8: divided by 0");
    T_EQ_STR(res.out, "");
    liq_renderer_free(r);
    json_object_put(ctx);
}

TEST(liquid_hostile_inputs_fail_without_crashing) {
    static const char *bad[] = {
        "{{", "{%", "{% if %}", "{{ 'abc }}", "{% for %}", "{{ a | }}", "{% endif %}", "{{ ${ }}", "{% raw %}",
        "{% comment %}", "{{ (1..) }}", "{{ a[ }}", "{% case %}{% when %}{% endcase %}", "{% cycle %}",
        "{% assign = 1 %}", "{% liquid if\n %}", "{{ 99999999999999999999999 | plus: 1 }}x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        liq_template *t = NULL;
        liq_error e;
        if (liq_compile(bad[i], strlen(bad[i]), &t, &e) == 0) {
            liq_renderer *r = liq_renderer_new();
            liq_result res;
            liq_render(r, t, NULL, &res);
            liq_renderer_free(r);
            liq_template_free(t);
        } else {
            T_TRUE(e.line >= 1);
            T_TRUE(e.message[0] != '\0');
        }
    }
    /* Deep nesting is refused, not a stack overflow. */
    buf_t b = BUF_INIT;
    for (int i = 0; i < 5000; i++) buf_puts(&b, "{% if true %}");
    liq_template *t;
    T_EQ_INT(liq_compile(b.data, b.len, &t, NULL), LIQ_ESYNTAX);
    buf_reset(&b);
    for (int i = 0; i < 5000; i++) buf_puts(&b, "{{");
    T_EQ_INT(liq_compile(b.data, b.len, &t, NULL), LIQ_ESYNTAX);
    buf_free(&b);
}
