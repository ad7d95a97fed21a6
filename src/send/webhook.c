/* webhook.c -- the webhook channel (webhook.h).
 *
 * One thread owns a curl multi handle: it takes submitted messages from a
 * queue (curl_multi_wakeup interrupts its poll), keeps at most MAX_ACTIVE
 * transfers in the multi handle (the rest wait in the queue, so a million
 * queued messages cost no sockets), and finishes each transfer as
 * delivered, failed, or due for a retry at a later time. Connections are
 * the multi handle's, reused across transfers to the same host. */
#include "webhook.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"
#include "../version.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ACTIVE 128

typedef struct xfer {
    send_msg *m;
    CURL *h;
    struct xfer *prev, *next; /* the transfers in the multi handle */
    struct curl_slist *headers;
    long retry_after_s;
    int64_t started_us;
} xfer;

typedef struct {
    send_channel base;
    webhook_opts o;
    send_done_fn done;
    void *ud;
    pthread_t th;
    pthread_mutex_t mu;
    send_msg *in_head, *in_tail; /* submitted, not yet started (guarded by mu) */
    send_msg *retry;             /* waiting for their retry time (thread only) */
    size_t pending;              /* submitted and not done (mu) */
    bool stop, drain;
    CURLM *multi;
    int active;
    struct xfer *xfers;
    CURL *pool[MAX_ACTIVE];
    int npool;
} webhook;


static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p, (void)ud;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
        long v = strtol(p + 12, NULL, 10);
        if (v > 0) x->retry_after_s = v;
    }
    return len;
}

static void start(webhook *w, send_msg *m) {
    CURL *h = w->npool ? w->pool[--w->npool] : curl_easy_init();
    if (!h) abort();
    xfer *x = xcalloc(1, sizeof *x);
    x->m = m;
    x->h = h;
    x->next = w->xfers;
    if (w->xfers) w->xfers->prev = x;
    w->xfers = x;
    m->xfer = x;
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
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, w->o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, w->o.timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    if (!strcmp(m->method, "GET")) curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, m->body ? m->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(m->body ? m->body_len : 0));
        if (strcmp(m->method, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m->method);
    }
    x->started_us = clock_mono_us();
    if (!m->first_at) m->first_at = clock_wall_ms();
    m->attempts++;
    curl_multi_add_handle(w->multi, h);
    w->active++;
}

static void finish_msg(webhook *w, send_msg *m) {
    w->done(w->ud, m);
    pthread_mutex_lock(&w->mu);
    w->pending--;
    pthread_mutex_unlock(&w->mu);
}

/* Whether to try again, and when. */
static bool retry_later(webhook *w, send_msg *m, long retry_after_s) {
    int64_t now = clock_wall_ms();
    if (m->attempts >= w->o.max_attempts) return false;
    long b = w->o.base_backoff_ms;
    for (int i = 1; i < m->attempts && b < w->o.max_backoff_ms; i++) b *= 2;
    if (retry_after_s > 0 && retry_after_s * 1000 > b) b = retry_after_s * 1000;
    if (b > w->o.max_backoff_ms) b = w->o.max_backoff_ms;
    if (now + b - m->first_at > w->o.max_total_ms) return false;
    m->retry_at = now + b;
    m->next = w->retry;
    w->retry = m;
    return true;
}

static void finished(webhook *w, CURL *h, CURLcode res) {
    xfer *x;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
    send_msg *m = x->m;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(w->multi, h);
    w->active--;
    if (x->prev) x->prev->next = x->next;
    else w->xfers = x->next;
    if (x->next) x->next->prev = x->prev;
    curl_slist_free_all(x->headers);
    curl_easy_reset(h);
    if (w->npool < MAX_ACTIVE) w->pool[w->npool++] = h;
    else curl_easy_cleanup(h);
    m->status = (int)status;
    m->duration_ms = (clock_mono_us() - x->started_us) / 1000;
    long retry_after = x->retry_after_s;
    free(x);
    m->xfer = NULL;
    if (res == CURLE_OK && status >= 200 && status < 300) {
        m->outcome = SEND_OK;
        m->error[0] = 0;
        finish_msg(w, m);
        return;
    }
    bool transient = res != CURLE_OK || status == 429 || status >= 500;
    if (res != CURLE_OK) snprintf(m->error, sizeof m->error, "%s", curl_easy_strerror(res));
    else snprintf(m->error, sizeof m->error, "HTTP %ld", status);
    if (transient && !w->stop && retry_later(w, m, retry_after)) return;
    m->outcome = SEND_FAILED;
    finish_msg(w, m);
}

static void *run(void *arg) {
    webhook *w = arg;
    thread_name("brasa-webhook");
    for (;;) {
        pthread_mutex_lock(&w->mu);
        bool stop = w->stop, drain = w->drain;
        pthread_mutex_unlock(&w->mu);
        if (stop && (!drain || (!w->active && !w->retry && !w->in_head))) break;
        /* Due retries, then new messages, while there is room. */
        int64_t now = clock_wall_ms(), next_retry = INT64_MAX;
        for (send_msg **pp = &w->retry; *pp;) {
            send_msg *m = *pp;
            if (w->active < MAX_ACTIVE && (m->retry_at <= now || stop)) {
                *pp = m->next;
                start(w, m);
            } else {
                if (m->retry_at < next_retry) next_retry = m->retry_at;
                pp = &m->next;
            }
        }
        pthread_mutex_lock(&w->mu);
        while (w->active < MAX_ACTIVE && w->in_head) {
            send_msg *m = w->in_head;
            w->in_head = m->next;
            if (!w->in_head) w->in_tail = NULL;
            pthread_mutex_unlock(&w->mu);
            start(w, m);
            pthread_mutex_lock(&w->mu);
        }
        pthread_mutex_unlock(&w->mu);
        int running;
        curl_multi_perform(w->multi, &running);
        CURLMsg *cm;
        int left;
        while ((cm = curl_multi_info_read(w->multi, &left)))
            if (cm->msg == CURLMSG_DONE) finished(w, cm->easy_handle, cm->data.result);
        pthread_mutex_lock(&w->mu);
        bool more = w->in_head && w->active < MAX_ACTIVE;
        pthread_mutex_unlock(&w->mu);
        if (more) continue; /* transfers just finished: start the next ones before waiting */
        long wait = 1000;
        if (next_retry != INT64_MAX) wait = next_retry - clock_wall_ms() < wait ? next_retry - clock_wall_ms() : wait;
        if (wait < 0) wait = 0;
        curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

static void submit(send_channel *c, send_msg *m) {
    webhook *w = (webhook *)c;
    m->next = NULL;
    m->attempts = 0;
    m->first_at = 0;
    pthread_mutex_lock(&w->mu);
    if (w->in_tail) w->in_tail->next = m;
    else w->in_head = m;
    w->in_tail = m;
    w->pending++;
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
}

static size_t pending(send_channel *c) {
    webhook *w = (webhook *)c;
    pthread_mutex_lock(&w->mu);
    size_t n = w->pending;
    pthread_mutex_unlock(&w->mu);
    return n;
}

static void stop(send_channel *c, bool drain) {
    webhook *w = (webhook *)c;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    w->drain = drain;
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
    pthread_join(w->th, NULL);
    /* Not drained: what is left is answered as not delivered (the
     * dispatcher, stopping too, does not record these: its durable cursor
     * re-sends them at the next start). */
    while (w->xfers) {
        xfer *x = w->xfers;
        w->xfers = x->next;
        curl_multi_remove_handle(w->multi, x->h);
        curl_easy_cleanup(x->h);
        curl_slist_free_all(x->headers);
        send_msg *m = x->m;
        free(x);
        m->xfer = NULL;
        m->outcome = SEND_FAILED;
        snprintf(m->error, sizeof m->error, "stopped");
        finish_msg(w, m);
    }
    w->active = 0;
    for (int i = 0; i < 2; i++) {
        send_msg *m;
        while ((m = i ? w->retry : w->in_head)) {
            if (i) w->retry = m->next;
            else w->in_head = m->next;
            m->outcome = SEND_FAILED;
            snprintf(m->error, sizeof m->error, "stopped");
            finish_msg(w, m);
        }
    }
}

static void wfree(send_channel *c) {
    webhook *w = (webhook *)c;
    curl_multi_cleanup(w->multi);
    for (int i = 0; i < w->npool; i++) curl_easy_cleanup(w->pool[i]);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static long env_long(const char *name, long dflt) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

send_channel *webhook_new(const webhook_opts *o, send_done_fn done, void *ud) {
    webhook *w = xcalloc(1, sizeof *w);
    w->base = (send_channel){"webhook", submit, pending, stop, wfree};
    w->o = o ? *o : (webhook_opts){0};
    if (!w->o.max_host_connections) w->o.max_host_connections = 64;
    if (!w->o.connect_timeout_ms) w->o.connect_timeout_ms = 5000;
    if (!w->o.timeout_ms) w->o.timeout_ms = env_long("BRASA_WEBHOOK_TIMEOUT_MS", 30000);
    if (!w->o.max_attempts) w->o.max_attempts = (int)env_long("BRASA_WEBHOOK_ATTEMPTS", 5);
    if (!w->o.base_backoff_ms) w->o.base_backoff_ms = env_long("BRASA_WEBHOOK_BACKOFF_MS", 1000);
    if (!w->o.max_backoff_ms) w->o.max_backoff_ms = 60000;
    if (!w->o.max_total_ms) w->o.max_total_ms = 600000;
    w->done = done;
    w->ud = ud;
    pthread_mutex_init(&w->mu, NULL);
    w->multi = curl_multi_init();
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)w->o.max_host_connections);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)w->o.max_host_connections * 4);
    if (pthread_create(&w->th, NULL, run, w)) {
        log_error("webhook: cannot start its thread");
        abort();
    }
    return &w->base;
}
