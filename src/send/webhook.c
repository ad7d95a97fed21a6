/* webhook.c -- the webhook channel (webhook.h): a curlq driver (curlq.h
 * runs the thread, the queue, the retries) that makes each message an HTTP
 * request and judges the answer. */
#include "webhook.h"
#include "curlq.h"
#include "../lib/mem.h"
#include "../version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ACTIVE 128

/* A transfer slot (curlq_xfer first). */
typedef struct {
    curlq_xfer x;
    struct curl_slist *headers;
    long retry_after_s; /* from a Retry-After header */
} wxfer;

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p, (void)ud;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    wxfer *x = ud;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
        long v = strtol(p + 12, NULL, 10);
        if (v > 0) x->retry_after_s = v;
    }
    return len;
}

static bool setup(void *ud, curlq_xfer *cx) {
    const webhook_opts *o = ud;
    wxfer *x = (wxfer *)cx;
    send_msg *m = cx->m;
    CURL *h = cx->h;
    bool has_ct = false, has_ua = false;
    for (char **p = m->headers; p && *p; p++) {
        x->headers = curl_slist_append(x->headers, *p);
        has_ct |= !strncasecmp(*p, "Content-Type:", 13);
        has_ua |= !strncasecmp(*p, "User-Agent:", 11);
    }
    if (!has_ct && m->body && m->body_len) {
        /* Braze infers it from the body: JSON when it looks like JSON. */
        const char *b = m->body;
        while (*b == ' ' || *b == '\n' || *b == '\t' || *b == '\r') b++;
        x->headers = curl_slist_append(x->headers, *b == '{' || *b == '[' ? "Content-Type: application/json"
                                                                         : "Content-Type: application/x-www-form-urlencoded");
    }
    if (!has_ua) x->headers = curl_slist_append(x->headers, "User-Agent: brasa/" BRASA_VERSION);
    char idh[160];
    snprintf(idh, sizeof idh, "X-Brasa-Message-Id: %s", m->message_id);
    x->headers = curl_slist_append(x->headers, idh);
    x->headers = curl_slist_append(x->headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, m->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (!strcmp(m->method, "GET")) curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, m->body ? m->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(m->body ? m->body_len : 0));
        if (strcmp(m->method, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m->method);
    }
    return true;
}

/* 2xx is delivered; transport errors, 429 and 5xx may be retried; another
 * 4xx is final at once (retrying would not change it). */
static bool judge(void *ud, curlq_xfer *cx, CURLcode res, long *retry_after_ms) {
    (void)ud;
    wxfer *x = (wxfer *)cx;
    send_msg *m = cx->m;
    if (res == CURLE_OK && m->status >= 200 && m->status < 300) {
        m->outcome = SEND_OK;
        m->error[0] = 0;
        return false;
    }
    m->outcome = SEND_FAILED;
    if (res != CURLE_OK) snprintf(m->error, sizeof m->error, "%s", curl_easy_strerror(res));
    else snprintf(m->error, sizeof m->error, "HTTP %d", m->status);
    *retry_after_ms = x->retry_after_s * 1000;
    return res != CURLE_OK || m->status == 429 || m->status >= 500;
}

static void release(curlq_xfer *cx) {
    wxfer *x = (wxfer *)cx;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    x->retry_after_s = 0;
}

static const curlq_driver driver = {"webhook", sizeof(wxfer), setup, judge, release, free};

send_channel *webhook_new(const webhook_opts *o, send_done_fn done, void *ud) {
    webhook_opts *w = xmalloc(sizeof *w);
    *w = o ? *o : (webhook_opts){0};
    if (!w->max_host_connections) w->max_host_connections = 64;
    if (!w->connect_timeout_ms) w->connect_timeout_ms = 5000;
    if (!w->timeout_ms) w->timeout_ms = curlq_env_long("BRASA_WEBHOOK_TIMEOUT_MS", 30000);
    if (!w->max_attempts) w->max_attempts = (int)curlq_env_long("BRASA_WEBHOOK_ATTEMPTS", 5);
    if (!w->base_backoff_ms) w->base_backoff_ms = curlq_env_long("BRASA_WEBHOOK_BACKOFF_MS", 1000);
    if (!w->max_backoff_ms) w->max_backoff_ms = 60000;
    if (!w->max_total_ms) w->max_total_ms = 600000;
    curlq_limits lim = {
        .max_active = MAX_ACTIVE,
        .max_attempts = w->max_attempts,
        .base_backoff_ms = w->base_backoff_ms,
        .max_backoff_ms = w->max_backoff_ms,
        .max_total_ms = w->max_total_ms,
        .max_host_connections = w->max_host_connections,
        .max_cached_connections = (long)w->max_host_connections * 4,
    };
    return curlq_new(&driver, w, &lim, done, ud);
}
