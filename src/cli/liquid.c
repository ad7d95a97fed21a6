/* liquid.c -- `brasa liquid render`: preview a Liquid message for one user.
 *
 * Marketers and operators check a message before it is sent: the template
 * is rendered against a user object shaped like /users/export/ids returns
 * it (a whole export answer works too: its first user is taken). Exit
 * status and stderr are for scripts:
 *   0  rendered; the output is on stdout, byte for byte
 *   1  render error (bad value, budget exceeded) or unreadable input:
 *      "line:col: message" (or "brasa: ...") on stderr
 *   2  syntax error ("line:col: message") or bad usage
 *   3  the message was aborted (abort_message or a failed connected_content
 *      call): the reason on stderr, nothing on stdout
 * Connected content is never fetched from the network here: --connected-content
 * names a JSON file mapping URLs to answers; content blocks are read from
 * --content-blocks DIR/NAME.liquid.
 *
 * --batch serves test tools (tests/liquid/diff.rb renders thousands of
 * templates, and one process per template would dominate the time): it
 * reads JSON lines {"template": ..., "context": {...}} from stdin and
 * writes one JSON line per input, {"out": ...}, {"syntax": ...},
 * {"error": ...} or {"aborted": ...}; the exit status is 0 unless stdin
 * cannot be read or a line is not such an object. */
#define _GNU_SOURCE
#include "cli.h"
#include "opts.h"
#include "../lib/mem.h"
#include "../liquid/liquid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: brasa liquid render --template FILE [--context FILE] [options]\n"
    "\n"
    "Renders a Liquid template (Braze's dialect) for one user and prints the\n"
    "result. The context is a user object as /users/export/ids returns it,\n"
    "optionally with event_properties, api_trigger_properties,\n"
    "canvas_entry_properties and campaign keys. FILE may be '-' for stdin.\n"
    "Exit status: 0 rendered, 1 render error, 2 syntax error or bad usage,\n"
    "3 message aborted (the reason is printed on stderr).\n"
    "With --batch, --template is not used: stdin holds JSON lines\n"
    "{\"template\": ..., \"context\": {...}} and each gets a JSON line back.";

#define MAX_CONTEXT (16u << 20)

static int read_file(const char *path, size_t max, char **out, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "brasa: %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf_t b = BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > max) {
            fprintf(stderr, "brasa: %s: larger than %zu bytes\n", path, max);
            buf_free(&b);
            if (f != stdin) fclose(f);
            return -1;
        }
        buf_append(&b, chunk, n);
    }
    bool err = ferror(f);
    if (f != stdin) fclose(f);
    if (err) {
        fprintf(stderr, "brasa: %s: read error\n", path);
        buf_free(&b);
        return -1;
    }
    *len = b.len;
    *out = buf_take(&b);
    return 0;
}

static json_object *read_json(const char *path) {
    char *s;
    size_t n;
    if (read_file(path, MAX_CONTEXT, &s, &n) < 0) return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *j = json_tokener_parse_ex(tok, s, (int)n);
    if (!j || json_tokener_get_error(tok) != json_tokener_success) {
        fprintf(stderr, "brasa: %s: invalid JSON (%s)\n", path,
                json_tokener_error_desc(json_tokener_get_error(tok)));
        json_object_put(j);
        j = NULL;
    }
    json_tokener_free(tok);
    free(s);
    return j;
}

/* --connected-content: {"URL": answer}; an answer is a string (the body),
 * or {"status": N, "body": string-or-JSON}, or any other JSON (the body,
 * status 200). Unknown URLs answer 404. */
static int fixture_fetch(void *ud, const liq_fetch_req *req, int *status, buf_t *body) {
    json_object *map = ud, *a;
    *status = 404;
    if (!map || !json_object_object_get_ex(map, req->url, &a)) return 0;
    *status = 200;
    json_object *st, *b = a;
    if (json_object_is_type(a, json_type_object) && json_object_object_get_ex(a, "status", &st) &&
        json_object_object_get_ex(a, "body", &b))
        *status = json_object_get_int(st);
    if (json_object_is_type(b, json_type_string))
        buf_append(body, json_object_get_string(b), (size_t)json_object_get_string_len(b));
    else
        buf_puts(body, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    return 0;
}

typedef struct {
    const char *dir;
    char *names[64], *srcs[64];
    size_t lens[64];
    int n;
} blocks;

static int dir_block(void *ud, const char *name, const char **src, size_t *len) {
    blocks *b = ud;
    for (int i = 0; i < b->n; i++) {
        if (!strcmp(b->names[i], name)) {
            *src = b->srcs[i];
            *len = b->lens[i];
            return 1;
        }
    }
    if (!b->dir || b->n == 64) return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-'))
            return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.liquid", b->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    char *s;
    size_t n;
    if (read_file(path, LIQ_MAX_SOURCE, &s, &n) < 0) return -1;
    b->names[b->n] = xstrdup(name);
    b->srcs[b->n] = s;
    b->lens[b->n] = n;
    b->n++;
    *src = s;
    *len = n;
    return 1;
}

/* Epoch seconds, or an ISO-8601 UTC time (2021-08-04T18:13:13Z). */
static int parse_now(const char *s, int64_t *ms) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *ms = v * 1000;
        return 0;
    }
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               &n) == 6 &&
        (!s[n] || !strcmp(s + n, "Z"))) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        *ms = (int64_t)timegm(&tm) * 1000;
        return 0;
    }
    return -1;
}

/* One template of a --batch run: its result as a JSON line on stdout. */
static void batch_one(liq_renderer *r, liq_render_opts *ro, const char *src, size_t len) {
    liq_result res;
    char msg[1024];
    buf_t line = BUF_INIT;
    int e = liq_render_source(r, src, len, ro, &res, msg, sizeof msg);
    buf_printf(&line, "{\"%s\":", e == 0 ? "out" : e == LIQ_EABORT ? "aborted" : e == LIQ_ESYNTAX ? "syntax" : "error");
    if (e == 0) buf_json_str(&line, res.out, res.len);
    else buf_json_str(&line, msg, strlen(msg));
    buf_puts(&line, "}\n");
    fwrite(line.data, 1, line.len, stdout);
    buf_free(&line);
}

/* --batch: JSON lines in, JSON lines out (see the top of the file). A line
 * without "context" uses --context. */
static int batch(liq_render_opts *ro) {
    json_object *dflt = ro->context;
    liq_renderer *r = liq_renderer_new();
    json_tokener *tok = json_tokener_new();
    char *ln = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    long lineno = 0;
    while ((n = getline(&ln, &cap, stdin)) > 0) {
        lineno++;
        json_tokener_reset(tok);
        json_object *j = json_tokener_parse_ex(tok, ln, (int)n), *tpl, *ctx;
        if (!j || !json_object_object_get_ex(j, "template", &tpl) || !json_object_is_type(tpl, json_type_string)) {
            fprintf(stderr, "brasa: stdin:%ld: not a {\"template\": ...} object\n", lineno);
            json_object_put(j);
            rc = 1;
            break;
        }
        ro->context = json_object_object_get_ex(j, "context", &ctx) && json_object_is_type(ctx, json_type_object)
                          ? ctx
                          : dflt;
        batch_one(r, ro, json_object_get_string(tpl), (size_t)json_object_get_string_len(tpl));
        json_object_put(j);
    }
    if (ferror(stdin)) {
        fprintf(stderr, "brasa: stdin: read error\n");
        rc = 1;
    }
    fflush(stdout);
    free(ln);
    json_tokener_free(tok);
    liq_renderer_free(r);
    ro->context = dflt;
    return rc;
}

static int render(cli_opt *opts) {
    const char *tpath = opts_get(opts, "template");
    bool is_batch = opts_get(opts, "batch") != NULL;
    if (!tpath && !is_batch) {
        fprintf(stderr, "brasa: liquid render needs --template FILE\n");
        return 2;
    }
    liq_render_opts ro = {0};
    long long v;
    if (opts_get(opts, "max-output")) {
        if ((v = opts_uint(opts, "max-output", 1LL << 30)) < 0) return 2;
        ro.max_output = (size_t)v;
    }
    if (opts_get(opts, "max-steps")) {
        if ((v = opts_uint(opts, "max-steps", 1LL << 40)) < 0) return 2;
        ro.max_steps = (uint64_t)v;
    }
    if (opts_get(opts, "timeout-ms")) {
        if ((v = opts_uint(opts, "timeout-ms", 3600000)) < 0) return 2;
        ro.max_time_us = v * 1000;
    }
    if (opts_get(opts, "now") && parse_now(opts_get(opts, "now"), &ro.now_ms) < 0) {
        fprintf(stderr, "brasa: --now takes epoch seconds or YYYY-MM-DDTHH:MM:SSZ\n");
        return 2;
    }
    char *src = NULL;
    size_t len;
    if (!is_batch && read_file(tpath, LIQ_MAX_SOURCE, &src, &len) < 0) return 1;
    json_object *ctx = NULL, *fixtures = NULL;
    int rc = 1;
    liq_renderer *r = NULL;
    blocks blk = {.dir = opts_get(opts, "content-blocks")};
    if (opts_get(opts, "context")) {
        if (!(ctx = read_json(opts_get(opts, "context")))) goto out;
        json_object *users;
        if (json_object_object_get_ex(ctx, "users", &users) && json_object_is_type(users, json_type_array) &&
            json_object_array_length(users) > 0)
            ro.context = json_object_array_get_idx(users, 0);
        else
            ro.context = ctx;
        if (!json_object_is_type(ro.context, json_type_object)) {
            fprintf(stderr, "brasa: %s: the context must be a JSON object (a user)\n", opts_get(opts, "context"));
            goto out;
        }
    }
    if (opts_get(opts, "connected-content") && !(fixtures = read_json(opts_get(opts, "connected-content")))) goto out;
    ro.fetch = fixture_fetch;
    ro.fetch_ud = fixtures;
    ro.content_block = dir_block;
    ro.block_ud = &blk;
    if (is_batch) {
        rc = batch(&ro);
        goto out;
    }
    r = liq_renderer_new();
    liq_result res;
    char msg[1024];
    int e = liq_render_source(r, src, len, &ro, &res, msg, sizeof msg);
    if (e == 0) {
        fwrite(res.out, 1, res.len, stdout);
        fflush(stdout);
        rc = 0;
    } else {
        fprintf(stderr, "%s\n", msg);
        rc = e == LIQ_EABORT ? 3 : e == LIQ_ESYNTAX ? 2 : 1;
    }
out:
    liq_renderer_free(r);
    json_object_put(ctx);
    json_object_put(fixtures);
    for (int i = 0; i < blk.n; i++) {
        free(blk.names[i]);
        free(blk.srcs[i]);
    }
    free(src);
    return rc;
}

int cli_liquid(int argc, char **argv) {
    cli_opt opts[] = {
        {"template", NULL, NULL, "the Liquid template file ('-': stdin)", false, false, NULL},
        {"context", NULL, NULL, "user object JSON file (as /users/export/ids returns it)", false, false, NULL},
        {"now", NULL, NULL, "the time 'now' stands for: epoch seconds or YYYY-MM-DDTHH:MM:SSZ", false, false, NULL},
        {"content-blocks", NULL, NULL, "directory of content blocks, one NAME.liquid each", false, false, NULL},
        {"connected-content", NULL, NULL, "JSON file mapping connected_content URLs to answers", false, false, NULL},
        {"max-output", NULL, NULL, "output budget in bytes (default 1 MiB)", false, false, NULL},
        {"max-steps", NULL, NULL, "step budget: nodes, loop iterations, filter work (default 1,000,000)", false,
         false, NULL},
        {"timeout-ms", NULL, NULL, "wall-time budget in milliseconds (default 2000)", false, false, NULL},
        {"batch", NULL, NULL, "render JSON lines {template, context} from stdin, one JSON result a line (tests)",
         true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[1];
    int npos, rc = opts_parse(argc, argv, opts, usage, pos, &npos, 1);
    if (rc || npos != 1 || strcmp(pos[0], "render") != 0) {
        if (!rc) {
            if (npos) fprintf(stderr, "brasa: unknown liquid command '%s'\n", pos[0]);
            opts_usage(stderr, usage, opts);
        }
        opts_free(opts);
        return rc == 1 ? 0 : 2;
    }
    rc = render(opts);
    opts_free(opts);
    return rc;
}
