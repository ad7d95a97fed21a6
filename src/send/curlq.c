/* curlq.c -- the engine the curl channel drivers share (curlq.h).
 *
 * One thread owns a curl multi handle: it takes submitted messages from a
 * queue (curl_multi_wakeup interrupts its poll), keeps at most max_active
 * transfers in the multi handle, and finishes each attempt as the driver
 * judges it: delivered, failed for good, or due for a retry at a later
 * time. Connections belong to the multi handle, reused across transfers to
 * the same host. Transfer slots (with their easy handles) are allocated
 * once, max_active of them, and recycled.
 *
 * Retries wait in a min-heap by due time rather than a list: when a relay
 * is down during a broadcast, every message of it comes to wait there, and
 * a list walked at each wake-up would make that quadratic. */
#include "curlq.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    send_channel base; /* first: a curlq is its channel */
    const curlq_driver *drv;
    void *drv_ud;
    curlq_limits lim;
    send_done_fn done;
    void *ud;
    pthread_t th;
    pthread_mutex_t mu;
    send_msg *in_head, *in_tail; /* submitted, not yet started (guarded by mu) */
    send_msg **heap;             /* waiting for their retry time, by retry_at (thread only) */
    size_t nheap, heap_cap;
    size_t pending;              /* submitted and not done (mu) */
    bool stop, drain;            /* (mu) */
    CURLM *multi;
    int active;
    char *slots;                 /* lim.max_active slots of drv->xfer_size bytes */
    int *free_slots, nfree;      /* a stack of free slot numbers */
    /* The rate, as a virtual schedule (GCRA): an attempt may start when
     * the schedule is less than `burst_us` ahead of now, and moves it on
     * by one interval. The same as a token bucket of burst_us/interval_us
     * + 1 tokens, without a refill to compute. */
    int64_t interval_us, burst_us, sched_us;
} curlq;

static void heap_push(curlq *q, send_msg *m) {
    if (q->nheap == q->heap_cap)
        q->heap = xrealloc(q->heap, (q->heap_cap = q->heap_cap ? q->heap_cap * 2 : 64) * sizeof *q->heap);
    size_t i = q->nheap++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (q->heap[p]->retry_at <= m->retry_at) break;
        q->heap[i] = q->heap[p];
        i = p;
    }
    q->heap[i] = m;
}

static send_msg *heap_pop(curlq *q) {
    send_msg *top = q->heap[0], *last = q->heap[--q->nheap];
    size_t i = 0, n = q->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && q->heap[c + 1]->retry_at < q->heap[c]->retry_at) c++;
        if (last->retry_at <= q->heap[c]->retry_at) break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n) q->heap[i] = last;
    return top;
}

static curlq_xfer *slot(curlq *q, int i) {
    return (curlq_xfer *)(q->slots + (size_t)i * q->drv->xfer_size);
}

/* Whether an attempt may start at now_us; takes its place in the rate if so. */
static bool rate_take(curlq *q, int64_t now_us) {
    if (!q->interval_us) return true;
    int64_t s = q->sched_us > now_us ? q->sched_us : now_us;
    if (s - now_us > q->burst_us) return false;
    q->sched_us = s + q->interval_us;
    return true;
}

/* Milliseconds until rate_take may succeed (rounded up: poll's unit). */
static long rate_wait_ms(curlq *q, int64_t now_us) {
    int64_t us = q->sched_us - q->burst_us - now_us;
    return us <= 0 ? 0 : (long)((us + 999) / 1000);
}

static void start(curlq *q, send_msg *m) {
    curlq_xfer *x = slot(q, q->free_slots[--q->nfree]);
    if (!x->h && !(x->h = curl_easy_init())) abort();
    x->m = m;
    q->drv->setup(q->drv_ud, x);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    x->started_us = clock_mono_us();
    if (!m->first_at) m->first_at = clock_wall_ms();
    m->attempts++;
    curl_multi_add_handle(q->multi, x->h);
    q->active++;
}

/* Gives x back: the driver's part released, the handle out of the multi
 * handle and reset for the next attempt. */
static void put_back(curlq *q, curlq_xfer *x) {
    curl_multi_remove_handle(q->multi, x->h);
    if (q->drv->release) q->drv->release(x);
    curl_easy_reset(x->h);
    x->m = NULL;
    q->free_slots[q->nfree++] = (int)(((char *)x - q->slots) / (ptrdiff_t)q->drv->xfer_size);
    q->active--;
}

static void finish_msg(curlq *q, send_msg *m) {
    q->done(q->ud, m);
    pthread_mutex_lock(&q->mu);
    q->pending--;
    pthread_mutex_unlock(&q->mu);
}

/* Whether to try again, and when. */
static bool retry_later(curlq *q, send_msg *m, long retry_after_ms) {
    int64_t now = clock_wall_ms();
    if (m->attempts >= q->lim.max_attempts) return false;
    long b = q->lim.base_backoff_ms;
    for (int i = 1; i < m->attempts && b < q->lim.max_backoff_ms; i++) b *= 2;
    if (retry_after_ms > b) b = retry_after_ms;
    if (b > q->lim.max_backoff_ms) b = q->lim.max_backoff_ms;
    if (q->lim.max_total_ms && now + b - m->first_at > q->lim.max_total_ms) return false;
    m->retry_at = now + b;
    heap_push(q, m);
    return true;
}

static void finished(curlq *q, CURL *h, CURLcode res, bool stopping) {
    curlq_xfer *x;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
    send_msg *m = x->m;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    m->status = (int)status;
    m->duration_ms = (clock_mono_us() - x->started_us) / 1000;
    long retry_after = 0;
    bool transient = q->drv->judge(q->drv_ud, x, res, &retry_after);
    put_back(q, x);
    if (m->outcome == SEND_FAILED && transient && !stopping && retry_later(q, m, retry_after)) return;
    finish_msg(q, m);
}

static void *run(void *arg) {
    curlq *q = arg;
    char tname[16];
    snprintf(tname, sizeof tname, "brasa-%s", q->drv->name);
    thread_name(tname);
    for (;;) {
        pthread_mutex_lock(&q->mu);
        bool stop = q->stop, drain = q->drain;
        pthread_mutex_unlock(&q->mu);
        if (stop && (!drain || (!q->active && !q->nheap && !q->in_head))) break;
        /* Due retries, then new messages, while there is room (and the
         * rate allows). Draining, retries go at once. */
        int64_t now = clock_wall_ms(), now_us = clock_mono_us();
        bool held = false;
        while (q->active < q->lim.max_active && q->nheap && (stop || q->heap[0]->retry_at <= now)) {
            if (!rate_take(q, now_us)) {
                held = true;
                break;
            }
            start(q, heap_pop(q));
        }
        pthread_mutex_lock(&q->mu);
        while (!held && q->active < q->lim.max_active && q->in_head) {
            if (!rate_take(q, now_us)) break;
            send_msg *m = q->in_head;
            q->in_head = m->next;
            if (!q->in_head) q->in_tail = NULL;
            pthread_mutex_unlock(&q->mu);
            start(q, m);
            pthread_mutex_lock(&q->mu);
        }
        pthread_mutex_unlock(&q->mu);
        int running;
        curl_multi_perform(q->multi, &running);
        CURLMsg *cm;
        int left;
        while ((cm = curl_multi_info_read(q->multi, &left)))
            if (cm->msg == CURLMSG_DONE) finished(q, cm->easy_handle, cm->data.result, stop);
        /* Wait until a socket is ready (or one of curl's timers), the
         * next retry is due, or the rate lets the next message go. */
        now = clock_wall_ms();
        pthread_mutex_lock(&q->mu);
        bool queued = q->in_head != NULL;
        pthread_mutex_unlock(&q->mu);
        bool due = q->nheap && (stop || q->heap[0]->retry_at <= now);
        long wait = 1000;
        if (q->active < q->lim.max_active && (queued || due)) {
            long rw = q->interval_us ? rate_wait_ms(q, clock_mono_us()) : 0;
            if (!rw) continue; /* transfers just finished: start the next ones first */
            if (rw < wait) wait = rw;
        }
        if (q->nheap && !due && q->heap[0]->retry_at - now < wait) wait = (long)(q->heap[0]->retry_at - now);
        curl_multi_poll(q->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

static void submit(send_channel *c, send_msg *m) {
    curlq *q = (curlq *)c;
    m->next = NULL;
    m->attempts = 0;
    m->first_at = 0;
    pthread_mutex_lock(&q->mu);
    if (q->in_tail) q->in_tail->next = m;
    else q->in_head = m;
    q->in_tail = m;
    q->pending++;
    pthread_mutex_unlock(&q->mu);
    curl_multi_wakeup(q->multi);
}

static size_t pending(send_channel *c) {
    curlq *q = (curlq *)c;
    pthread_mutex_lock(&q->mu);
    size_t n = q->pending;
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void stopped(curlq *q, send_msg *m) {
    m->outcome = SEND_FAILED;
    snprintf(m->error, sizeof m->error, "stopped");
    finish_msg(q, m);
}

static void stop(send_channel *c, bool drain) {
    curlq *q = (curlq *)c;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    q->drain = drain;
    pthread_mutex_unlock(&q->mu);
    curl_multi_wakeup(q->multi);
    pthread_join(q->th, NULL);
    /* Not drained: what is left is answered as not delivered (the
     * dispatcher, stopping too, does not record these: its durable cursor
     * re-sends them at the next start). */
    for (int i = 0; i < q->lim.max_active; i++) {
        curlq_xfer *x = slot(q, i);
        if (!x->m) continue;
        send_msg *m = x->m;
        put_back(q, x);
        stopped(q, m);
    }
    while (q->nheap) stopped(q, heap_pop(q));
    for (send_msg *m; (m = q->in_head);) {
        q->in_head = m->next;
        stopped(q, m);
    }
    q->in_tail = NULL;
}

static void qfree(send_channel *c) {
    curlq *q = (curlq *)c;
    curl_multi_cleanup(q->multi);
    for (int i = 0; i < q->lim.max_active; i++)
        if (slot(q, i)->h) curl_easy_cleanup(slot(q, i)->h);
    if (q->drv->free_ud) q->drv->free_ud(q->drv_ud);
    free(q->heap);
    free(q->slots);
    free(q->free_slots);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

long curlq_env_long(const char *name, long dflt) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

send_channel *curlq_new(const curlq_driver *drv, void *drv_ud, const curlq_limits *lim, send_done_fn done, void *ud) {
    curlq *q = xcalloc(1, sizeof *q);
    q->base = (send_channel){drv->name, submit, pending, stop, qfree};
    q->drv = drv;
    q->drv_ud = drv_ud;
    q->lim = *lim;
    if (q->lim.max_active < 1) q->lim.max_active = 1;
    if (q->lim.max_attempts < 1) q->lim.max_attempts = 1;
    q->done = done;
    q->ud = ud;
    q->slots = xcalloc((size_t)q->lim.max_active, drv->xfer_size);
    q->free_slots = xmalloc((size_t)q->lim.max_active * sizeof *q->free_slots);
    /* Highest first on the stack, so slot 0 is used first and kept warm. */
    for (int i = q->lim.max_active - 1; i >= 0; i--) q->free_slots[q->nfree++] = i;
    if (q->lim.rate_per_second > 0) {
        q->interval_us = 1000000 / q->lim.rate_per_second;
        if (!q->interval_us) q->interval_us = 1;
        /* A burst of up to 50 ms worth of messages: smooth enough for a
         * relay's per-second limit, loose enough for poll's granularity. */
        q->burst_us = 50000 - q->interval_us > 0 ? 50000 - q->interval_us : 0;
    }
    pthread_mutex_init(&q->mu, NULL);
    q->multi = curl_multi_init();
    if (q->lim.max_host_connections)
        curl_multi_setopt(q->multi, CURLMOPT_MAX_HOST_CONNECTIONS, q->lim.max_host_connections);
    if (q->lim.max_total_connections)
        curl_multi_setopt(q->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, q->lim.max_total_connections);
    if (q->lim.max_cached_connections)
        curl_multi_setopt(q->multi, CURLMOPT_MAXCONNECTS, q->lim.max_cached_connections);
    if (pthread_create(&q->th, NULL, run, q)) {
        log_error("%s: cannot start its thread", drv->name);
        abort();
    }
    return &q->base;
}
