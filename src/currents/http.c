/* http.c -- the sink of the HTTP connectors (custom_http, amplitude,
 * mixpanel): one libcurl handle per connector, so the connection to the
 * destination is kept alive from batch to batch, and one request at a time
 * (a connector's events stay in order; throughput comes from batches of
 * up to 100 events).
 *
 * Only the answer's status decides (runner.c acts on it); its body is kept,
 * shortened, for last_error. Redirects are not followed: a connector sends
 * its users' events to the host the operator named and nowhere else. */
#include "internal.h"
#include "../lib/mem.h"
#include "../version.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    cur_sink base;
    const cur_conf *c;
    int (*fmt)(const cur_conf *c, const cur_event *ev, int n, buf_t *out);
    CURLM *m; /* one easy handle in it at a time: the runner overlaps its reads with the request */
    CURL *h;
    struct curl_slist *hdr;
    buf_t body;
    char resp[200]; /* the answer's first bytes */
    size_t resp_n;
    long retry_after_ms;
    char location[200];
    char errbuf[CURL_ERROR_SIZE];
} http_sink;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    http_sink *s = ud;
    size_t len = size * n, room = sizeof s->resp - 1 - s->resp_n;
    if (room) {
        size_t k = len < room ? len : room;
        memcpy(s->resp + s->resp_n, p, k);
        s->resp_n += k;
        s->resp[s->resp_n] = 0;
    }
    return len;
}

/* Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    http_sink *s = ud;
    size_t len = size * n;
    char line[256];
    if (len >= sizeof line) return len;
    memcpy(line, p, len);
    line[len] = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (!strncasecmp(line, "Retry-After:", 12)) {
        const char *v = line + 12 + strspn(line + 12, " \t");
        char *end;
        long secs = strtol(v, &end, 10);
        if (end != v && !*end && secs >= 0) s->retry_after_ms = secs * 1000;
        else {
            time_t t = curl_getdate(v, NULL);
            if (t > 0) s->retry_after_ms = t > time(NULL) ? (long)(t - time(NULL)) * 1000 : 0;
        }
    } else if (!strncasecmp(line, "Location:", 9)) {
        snprintf(s->location, sizeof s->location, "%s", line + 9 + strspn(line + 9, " \t"));
    }
    return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    (void)a, (void)b, (void)c, (void)d;
    http_sink *s = ud;
    return s->base.stop && *s->base.stop; /* non-zero: abandon (CURLE_ABORTED_BY_CALLBACK) */
}

static int begin(cur_sink *base, const cur_event *ev, int n) {
    http_sink *s = (http_sink *)base;
    buf_reset(&s->body);
    if (!s->fmt(s->c, ev, n, &s->body)) return 0; /* none the destination takes: all done */
    s->resp_n = 0;
    s->resp[0] = s->location[0] = 0;
    s->retry_after_ms = -1;
    s->errbuf[0] = 0;
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    curl_multi_add_handle(s->m, s->h);
    int running;
    curl_multi_perform(s->m, &running); /* connect (or reuse) and write what the socket takes */
    return 1;
}

static int end(cur_sink *base, cur_result *r) {
    http_sink *s = (http_sink *)base;
    int running = 1;
    CURLcode cc = CURLE_OK;
    while (running) {
        if (curl_multi_perform(s->m, &running) != CURLM_OK) break;
        if (running) curl_multi_poll(s->m, NULL, 0, 1000, NULL);
    }
    int left;
    for (CURLMsg *msg; (msg = curl_multi_info_read(s->m, &left));)
        if (msg->msg == CURLMSG_DONE) cc = msg->data.result;
    curl_multi_remove_handle(s->m, s->h);
    long status = 0;
    if (cc == CURLE_OK) curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK && status >= 200 && status < 300) return 0;
    r->status = (int)status;
    r->retry_after_ms = s->retry_after_ms;
    if (cc != CURLE_OK)
        snprintf(r->error, sizeof r->error, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
    else if (status >= 300 && status < 400)
        snprintf(r->error, sizeof r->error, "HTTP %ld: a redirect (to %s), not followed", status,
                 s->location[0] ? s->location : "nowhere said");
    else {
        /* the answer's first line, printable */
        for (size_t i = 0; i < s->resp_n; i++)
            if ((unsigned char)s->resp[i] < ' ') s->resp[i] = ' ';
        snprintf(r->error, sizeof r->error, "HTTP %ld%s%s", status, s->resp_n ? ": " : "", s->resp);
    }
    return -1;
}

static int send_batch(cur_sink *base, const cur_event *ev, int n, cur_result *r) {
    return begin(base, ev, n) ? end(base, r) : 0;
}

static int sync_http(cur_sink *s, int64_t now_ms, bool force, cur_result *r) {
    (void)s, (void)now_ms, (void)force, (void)r;
    return 1; /* what a receiver answered 2xx to is its own */
}

static void free_http(cur_sink *base) {
    http_sink *s = (http_sink *)base;
    curl_multi_cleanup(s->m);
    curl_easy_cleanup(s->h);
    curl_slist_free_all(s->hdr);
    buf_free(&s->body);
    free(s);
}

static const cur_sink_ops http_ops = {send_batch, sync_http, free_http, begin, end};

cur_sink *cur_http_open(const char *id, const cur_conf *c, char *err, size_t errlen) {
    (void)id;
    http_sink *s = xcalloc(1, sizeof *s);
    s->base.ops = &http_ops;
    s->c = c;
    s->fmt = c->type == CUR_AMPLITUDE ? cur_fmt_amplitude : c->type == CUR_MIXPANEL ? cur_fmt_mixpanel : cur_fmt_custom_http;
    if (!(s->h = curl_easy_init()) || !(s->m = curl_multi_init())) {
        snprintf(err, errlen, "libcurl could not make a handle");
        curl_easy_cleanup(s->h);
        free(s);
        return NULL;
    }
    s->hdr = curl_slist_append(s->hdr, "Content-Type: application/json");
    if (c->type == CUR_CUSTOM_HTTP) {
        s->hdr = curl_slist_append(s->hdr, "Braze-Currents-Version: 1");
        if (c->token) {
            char *auth = xmalloc(strlen(c->token) + 32);
            sprintf(auth, "Authorization: Bearer %s", c->token);
            s->hdr = curl_slist_append(s->hdr, auth);
            free(auth);
        }
    }
    s->hdr = curl_slist_append(s->hdr, "Expect:"); /* no 100-continue round trip for bodies over 1 KB */
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->hdr);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "brasa/" BRASA_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
    if (c->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->type == CUR_MIXPANEL) { /* the project's API secret as the Basic auth user */
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->api_secret);
        curl_easy_setopt(h, CURLOPT_PASSWORD, "");
    }
    return &s->base;
}
