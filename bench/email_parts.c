/* email_parts.c -- the email send path in parts, CPU time per message, so
 * that each part can be measured apart from the others (and apart from the
 * other tenants of a shared machine: CPU time, not wall time, is counted).
 *
 *   email_parts render [N]       the benchmark's email (bench/email_fanout.sh:
 *                                a personalised subject, a 20 KB HTML body)
 *                                rendered for N (20000) users on one thread,
 *                                email_render in all: as it is (the same
 *                                body for all), and with the body
 *                                personalised too (the user's name, tier and
 *                                id in it: no two the same), and tracked as a
 *                                campaign's email is (the shared body with the
 *                                recipient's pixel, links and List-Unsubscribe); then its two
 *                                heaviest parts alone (the plain text derived
 *                                from the HTML; a whole MIME message built
 *                                with mime_build)
 *   email_parts smtp PORT [N] [CONNS]
 *                                N (20000) copies of such a message through the SMTP channel
 *                                (smtp.h) with CONNS (16) sessions to a sink
 *                                on 127.0.0.1:PORT (bench/smtp_sink): the
 *                                process's CPU per message and messages/s
 *
 * Prints one line each: "render: shared_body_us=... unique_body_us=... tracked_body_us=...
 * text_us=... build_us=... bytes=..." and "smtp: messages=... seconds=... rate=... cpu_us_per_msg=...". */
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/httpc.h"
#include "send/email.h"
#include "send/links.h"
#include "send/mime.h"
#include "send/smtp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *const names[] = {"Ana", "Bruno", "Carla", "Diego", "Eva", "Filipe", "Greta", "Hugo"};

static int64_t cpu_us(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* The HTML body of bench/email_fanout.sh. */
static void body_html(buf_t *h, bool unique) {
    buf_puts(h, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Spring news</title><style>p{margin:0 0 12px} "
                "td{padding:4px}</style></head><body>");
    buf_puts(h, unique ? "<h1>Hello {{${first_name} | default: 'friend'}},</h1><p>Here is what is new this season for our "
                         "{{custom_attribute.${tier}}} members.</p>"
                       : "<h1>Hello,</h1><p>Here is what is new this season for our members.</p>");
    for (int i = 1; h->len < 20000; i++) {
        buf_printf(h, "<h2>Section %d: spring collection</h2><p>Our new spring collection brings light fabrics, bright "
                      "colours and comfortable shapes for the longer days ahead. Item %d is crafted with care from "
                      "organic cotton and recycled fibres, and it ships free.</p>", i, i);
        buf_printf(h, "<p><a href='https://shop.example.com/collection/%d?utm_source=email'>See the collection</a> or "
                      "<a href='https://shop.example.com/stores'>find a store</a>.</p>", i);
        buf_printf(h, "<table><tr><td>Shirt %d</td><td>29.90 EUR</td></tr><tr><td>Trousers %d</td><td>49.90 "
                      "EUR</td></tr></table>", i, i);
    }
    /* With the user's id in it, no two recipients' bodies are the same. */
    buf_puts(h, unique ? "<p>You receive this as member {{${user_id}}} of shop.example.com.</p></body></html>"
                       : "<p>You receive this because you subscribed at shop.example.com.</p></body></html>");
}

static email_src *source(bool unique) {
    buf_t h = BUF_INIT;
    body_html(&h, unique);
    json_object *m = json_object_new_object();
    json_object_object_add(m, "from", json_object_new_string("Shop <news@shop.example.com>"));
    json_object_object_add(m, "subject", json_object_new_string("{{${first_name}}}, your {{custom_attribute.${tier}}} spring offer"));
    json_object_object_add(m, "body", json_object_new_string(h.data));
    email_src *s = email_src_new(m);
    json_object_put(m);
    buf_free(&h);
    return s;
}

static json_object *user(long k) {
    char id[32], addr[64];
    snprintf(id, sizeof id, "user-%ld", k);
    snprintf(addr, sizeof addr, "user-%ld@example.com", k);
    json_object *u = json_object_new_object(), *ca = json_object_new_object();
    json_object_object_add(u, "external_id", json_object_new_string(id));
    json_object_object_add(u, "first_name", json_object_new_string(names[k % 8]));
    json_object_object_add(u, "email", json_object_new_string(addr));
    json_object_object_add(ca, "tier", json_object_new_string(k % 2 ? "gold" : "silver"));
    json_object_object_add(u, "custom_attributes", ca);
    return u;
}

static const uint8_t link_key[LNK_KEY_LEN] = {7};

static int render_one(const email_src *s, liq_renderer *r, long k, bool tracked, email_out *out) {
    json_object *u = user(k);
    liq_render_opts o = {.context = u, .now_ms = 1767225600000};
    char mid[64];
    snprintf(mid, sizeof mid, "bench-%ld-email", k);
    liq_error err;
    /* as the dispatcher tracks a campaign's email: the pixel, every link, List-Unsubscribe */
    lnk_token who = {.kind = LNK_UNSUB};
    memcpy(who.bz, &k, sizeof k);
    snprintf(who.dispatch_id, sizeof who.dispatch_id, "0123456789abcdef01234567");
    buf_t unsub = BUF_INIT;
    lnk_url(&unsub, "https://links.shop.example.com", link_key, &who, NULL);
    email_links links = {.track = {.base = "https://links.shop.example.com", .key = link_key, .who = &who, .opens = true,
                                   .clicks = true},
                         .unsubscribe = unsub.data};
    int rc = email_render(s, r, &o, tracked ? &links : NULL, json_object_get_string(json_object_object_get(u, "email")), mid, o.now_ms, out, &err);
    if (rc) fprintf(stderr, "email_parts: render failed: %s\n", err.message);
    buf_free(&unsub);
    json_object_put(u);
    return rc;
}

/* CPU microseconds per email_render of n messages; *bytes per message. */
static double render_n(bool unique, bool tracked, long n, size_t *bytes) {
    email_src *s = source(unique);
    liq_renderer *r = liq_renderer_new();
    size_t total = 0;
    int64_t t0 = cpu_us(CLOCK_THREAD_CPUTIME_ID);
    for (long k = 0; k < n; k++) {
        email_out out;
        if (render_one(s, r, k, tracked, &out)) exit(1);
        total += out.len;
        free(out.data);
        free(out.mail_from);
    }
    int64_t t1 = cpu_us(CLOCK_THREAD_CPUTIME_ID);
    liq_renderer_free(r);
    email_src_free(s);
    *bytes = total / (size_t)n;
    return (double)(t1 - t0) / (double)n;
}

static int render_main(long n) {
    size_t bytes;
    double shared = render_n(false, false, n, &bytes), unique = render_n(true, false, n, &bytes),
           tracked = render_n(false, true, n, &bytes);
    /* The parts, on one HTML. */
    buf_t h = BUF_INIT, txt = BUF_INIT, msg = BUF_INIT;
    body_html(&h, false);
    long parts = n / 4 > 0 ? n / 4 : 1;
    int64_t t2 = cpu_us(CLOCK_THREAD_CPUTIME_ID);
    for (long k = 0; k < parts; k++) {
        buf_reset(&txt);
        mime_html_to_text(h.data, h.len, &txt);
    }
    int64_t t3 = cpu_us(CLOCK_THREAD_CPUTIME_ID);
    mime_addr from, to;
    char why[200];
    mime_addr_parse("Shop <news@shop.example.com>", 28, &from, why, sizeof why);
    mime_addr_parse("user-1@example.com", 18, &to, why, sizeof why);
    for (long k = 0; k < parts; k++) {
        mime_email e = {.from = &from, .to = &to, .subject = "Ana, your offer", .subject_len = 15, .html = h.data,
                        .html_len = h.len, .message_id = "bench-1-email", .date_ms = 1767225600000};
        buf_reset(&msg);
        mime_build(&e, &msg, why, sizeof why);
    }
    int64_t t4 = cpu_us(CLOCK_THREAD_CPUTIME_ID);
    printf("render: messages=%ld shared_body_us=%.1f unique_body_us=%.1f tracked_body_us=%.1f text_us=%.1f build_us=%.1f "
           "bytes=%zu\n", n, shared, unique, tracked, (double)(t3 - t2) / (double)parts, (double)(t4 - t3) / (double)parts, bytes);
    buf_free(&h);
    buf_free(&txt);
    buf_free(&msg);
    return 0;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long done_n, failed_n;

static void on_done(void *ud, send_msg *m) {
    (void)ud;
    pthread_mutex_lock(&mu);
    done_n++;
    if (m->outcome != SEND_OK && failed_n++ < 3) fprintf(stderr, "email_parts: a message failed: %s\n", m->error);
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static int smtp_main(int port, long n, int conns) {
    httpc_global_init();
    email_src *s = source(false);
    liq_renderer *r = liq_renderer_new();
    send_msg *ms = calloc((size_t)n, sizeof *ms);
    email_out out;
    if (render_one(s, r, 0, false, &out)) return 1;
    for (long k = 0; k < n; k++) { /* copies of one message: the driver's cost alone is measured */
        ms[k].body = malloc(out.len);
        memcpy(ms[k].body, out.data, out.len);
        ms[k].body_len = out.len;
        ms[k].mail_from = strdup(out.mail_from);
        ms[k].rcpt = calloc(2, sizeof *ms[k].rcpt);
        char addr[64];
        snprintf(addr, sizeof addr, "user-%ld@example.com", k);
        ms[k].rcpt[0] = strdup(addr);
    }
    free(out.data);
    free(out.mail_from);
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
    smtp_opts o = {.url = url, .max_connections = conns};
    send_channel *ch = smtp_new(&o, on_done, NULL);
    if (!ch) return 1;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t w0 = clock_mono_us();
    for (long k = 0; k < n; k++) ch->submit(ch, &ms[k]);
    pthread_mutex_lock(&mu);
    while (done_n < n) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    int64_t w1 = clock_mono_us();
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
    ch->stop(ch, true);
    ch->free(ch);
    printf("smtp: messages=%ld failed=%ld seconds=%.2f rate=%.0f cpu_us_per_msg=%.1f\n", n, failed_n, (double)(w1 - w0) / 1e6,
           (double)n * 1e6 / (double)(w1 - w0), cpu / (double)n);
    for (long k = 0; k < n; k++) send_msg_clear(&ms[k]);
    free(ms);
    liq_renderer_free(r);
    email_src_free(s);
    return failed_n ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "render")) return render_main(argc > 2 ? atol(argv[2]) : 20000);
    if (argc >= 3 && !strcmp(argv[1], "smtp"))
        return smtp_main(atoi(argv[2]), argc > 3 ? atol(argv[3]) : 20000, argc > 4 ? atoi(argv[4]) : 16);
    fprintf(stderr, "usage: email_parts render [N] | smtp PORT [N] [CONNS]\n");
    return 2;
}
