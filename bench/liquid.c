/* liquid.c -- brasa's Liquid render throughput on a realistic email.
 *
 * The message is bench/liquid/email.liquid, a ~6 KB HTML email body in
 * Braze's dialect (${...} attributes, custom attributes, event and trigger
 * properties) with a case, conditionals, a capture, an 8-item product loop
 * with nested loops and a cycle, a where, dates and ~40 filters, rendered
 * against bench/liquid/user.json, one /users/export/ids-shaped user. The
 * template is compiled once and rendered in a loop on one thread with one
 * reused renderer, as the send path does per recipient. bench/liquid.sh
 * runs the same template and user through Ruby Liquid and LiquidJS
 * (bench/liquid/ruby.rb, liquidjs.js) and compares the outputs; this
 * writes the first rendering to OUT for that.
 * Prints renders/s, output MB/s, the compile time and the ratio to the
 * 200,000 renders/s target, then `renders=N seconds=S` for the script.
 * Usage: liquid [seconds [template context [out]]] */
#include "lib/clock.h"
#include "liquid/liquid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, NUL-terminated; exits on failure (a bench, not a server). */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t cap = 1 << 16, n = 0, got;
    char *s = malloc(cap);
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) s = realloc(s, cap *= 2);
    }
    fclose(f);
    s[n] = 0;
    *len = n;
    return s;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    const char *tpath = argc > 3 ? argv[2] : "bench/liquid/email.liquid";
    const char *cpath = argc > 3 ? argv[3] : "bench/liquid/user.json";
    const char *opath = argc > 4 ? argv[4] : NULL;
    size_t n, clen;
    char *src = slurp(tpath, &n), *ctx = slurp(cpath, &clen);
    json_object *u = json_tokener_parse(ctx);
    if (!u) {
        fprintf(stderr, "liquid: %s is not JSON\n", cpath);
        return 1;
    }
    liq_template *t;
    liq_error err;
    int64_t c0 = clock_mono_us();
    int compiles = 0;
    while (clock_mono_us() - c0 < 200000) {
        if (liq_compile(src, n, &t, &err)) {
            fprintf(stderr, "liquid: %s:%d:%d: %s\n", tpath, err.line, err.col, err.message);
            return 1;
        }
        liq_template_free(t);
        compiles++;
    }
    double compile_us = (double)(clock_mono_us() - c0) / compiles;
    liq_compile(src, n, &t, &err);
    liq_renderer *r = liq_renderer_new();
    /* The template reads no clock; a fixed "now" keeps any date stable. */
    liq_render_opts o = {.context = u, .now_ms = 1628100793000LL};
    liq_result res;
    if (liq_render(r, t, &o, &res)) {
        fprintf(stderr, "liquid: render: %d:%d: %s\n", res.err.line, res.err.col, res.err.message);
        return 1;
    }
    size_t outlen = res.len;
    if (opath) {
        FILE *f = fopen(opath, "wb");
        if (!f || fwrite(res.out, 1, res.len, f) != res.len || fclose(f)) {
            perror(opath);
            return 1;
        }
    }
    long renders = 0;
    int64_t t0 = clock_mono_us(), deadline = t0 + (int64_t)(seconds * 1e6), now = t0;
    while (now < deadline) {
        for (int i = 0; i < 1000; i++) {
            if (liq_render(r, t, &o, &res)) return 1;
        }
        renders += 1000;
        now = clock_mono_us();
    }
    double secs = (double)(now - t0) / 1e6, rps = renders / secs;
    printf("liquid: template %zu bytes, output %zu bytes, compile %.1f us\n", n, outlen, compile_us);
    printf("liquid: brasa %.0f renders/s on one core (%.2f us/render, %.0f MB/s of output)\n", rps, 1e6 / rps,
           rps * (double)outlen / 1e6);
    printf("liquid: target 200,000 renders/s: %.2fx\n", rps / 200000.0);
    printf("renders=%ld seconds=%.6f\n", renders, secs);
    liq_renderer_free(r);
    liq_template_free(t);
    json_object_put(u);
    free(ctx);
    free(src);
    return 0;
}
