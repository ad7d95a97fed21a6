/* curlq.c -- the engine the curl channel drivers share (curlq.h).
 *
 * A worker thread owns a curl multi handle: it takes submitted messages
 * from the channel's queue, keeps at most max_active transfers in its
 * multi handle, and finishes each attempt as the driver judges it:
 * delivered, failed for good, or due for a retry at a later time.
 * Connections belong to the multi handle, reused across transfers to the
 * same host. Transfer slots (with their easy handles) are allocated once
 * and recycled.
 *
 * The webhook channel has one worker. The SMTP channel has one per
 * session, because libcurl (7.88 and since) waits for the reply to the end
 * of a message's DATA blocking, inside the multi handle: with one thread,
 * sixteen sessions to a relay that answers in 200 ms would carry five
 * messages a second between them. Workers share the queue, the retries
 * and the rate; submit() wakes one that sleeps with room to spare.
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

typedef struct curlq curlq;

typedef struct {
    curlq *q;
    int id;
    pthread_t th;
    CURLM *multi;
    int active;             /* transfers in multi (this worker only) */
    char *slots;            /* lim.max_active slots of drv->xfer_size bytes */
    int *free_slots, nfree; /* a stack of free slot numbers */
    bool sleeping;          /* (q->mu) polling with room for more: submit() wakes it */
} worker;

struct curlq {
    send_channel base; /* first: a curlq is its channel */
    const curlq_driver *drv;
    void *drv_ud;
    curlq_limits lim;
    send_done_fn done;
    void *ud;
    worker *w;
    int nw;
    pthread_mutex_t mu; /* guards what follows */
    send_msg *in_head, *in_tail; /* submitted, not yet started */
    send_msg **heap;             /* waiting for their retry time, by retry_at */
    size_t nheap, heap_cap;
    size_t pending;              /* submitted and not done */
    bool stop, drain;
    /* The rate, as a virtual schedule (GCRA): an attempt may start when
     * the schedule is less than `burst_us` ahead of now, and moves it on
     * by one interval. The same as a token bucket of burst_us/interval_us
     * + 1 tokens, without a refill to compute. */
    int64_t interval_us, burst_us, sched_us;
};

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

static curlq_xfer *slot(worker *w, int i) {
    return (curlq_xfer *)(w->slots + (size_t)i * w->q->drv->xfer_size);
}

/* Whether an attempt may start at now_us; takes its place in the rate if
 * so. Under q->mu. */
static bool rate_take(curlq *q, int64_t now_us) {
    if (!q->interval_us) return true;
    int64_t s = q->sched_us > now_us ? q->sched_us : now_us;
    if (s - now_us > q->burst_us) return false;
    q->sched_us = s + q->interval_us;
    return true;
}

/* Milliseconds until rate_take may succeed (rounded up: poll's unit). */
static long rate_wait_ms(curlq *q, int64_t now_us) {
    if (!q->interval_us) return 0;
    int64_t us = q->sched_us - q->burst_us - now_us;
    return us <= 0 ? 0 : (long)((us + 999) / 1000);
}

static void finish_msg(curlq *q, send_msg *m) {
    q->done(q->ud, m);
    pthread_mutex_lock(&q->mu);
    q->pending--;
    pthread_mutex_unlock(&q->mu);
}

/* Gives x back: the driver's part released, the handle reset for the
 * next attempt. */
static void free_slot(worker *w, curlq_xfer *x) {
    if (w->q->drv->release) w->q->drv->release(x);
    curl_easy_reset(x->h);
    x->m = NULL;
    w->free_slots[w->nfree++] = (int)(((char *)x - w->slots) / (ptrdiff_t)w->q->drv->xfer_size);
}

static void start(worker *w, send_msg *m) {
    curlq *q = w->q;
    curlq_xfer *x = slot(w, w->free_slots[--w->nfree]);
    if (!x->h && !(x->h = curl_easy_init())) abort();
    x->m = m;
    if (!q->drv->setup(q->drv_ud, x)) {
        free_slot(w, x);
        finish_msg(q, m);
        return;
    }
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    x->started_us = clock_mono_us();
    if (!m->first_at) m->first_at = clock_wall_ms();
    m->attempts++;
    curl_multi_add_handle(w->multi, x->h);
    w->active++;
}

static void remove_xfer(worker *w, curlq_xfer *x) {
    curl_multi_remove_handle(w->multi, x->h);
    w->active--;
    free_slot(w, x);
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
    pthread_mutex_lock(&q->mu);
    heap_push(q, m);
    pthread_mutex_unlock(&q->mu);
    return true;
}

static void finished(worker *w, CURL *h, CURLcode res, bool stopping) {
    curlq *q = w->q;
    curlq_xfer *x;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
    send_msg *m = x->m;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    m->status = (int)status;
    m->duration_ms = (clock_mono_us() - x->started_us) / 1000;
    long retry_after = 0;
    bool transient = q->drv->judge(q->drv_ud, x, res, &retry_after);
    remove_xfer(w, x);
    if (m->outcome == SEND_FAILED && transient && !stopping && retry_later(q, m, retry_after)) return;
    finish_msg(q, m);
}

static void *run(void *arg) {
    worker *w = arg;
    curlq *q = w->q;
    char tname[16];
    if (q->nw == 1) snprintf(tname, sizeof tname, "brasa-%s", q->drv->name);
    else snprintf(tname, sizeof tname, "brasa-%s-%d", q->drv->name, w->id);
    thread_name(tname);
    send_msg **take = xmalloc((size_t)q->lim.max_active * sizeof *take);
    for (;;) {
        /* Due retries, then new messages, while there is room (and the
         * rate allows). Draining, retries go at once. Started outside the
         * lock: a setup that fails calls done(). */
        int n = 0;
        pthread_mutex_lock(&q->mu);
        bool stop = q->stop, drain = q->drain;
        if (stop && (!drain || (!w->active && !q->nheap && !q->in_head))) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        int64_t now = clock_wall_ms(), now_us = clock_mono_us();
        while (w->active + n < q->lim.max_active && q->nheap && (stop || q->heap[0]->retry_at <= now) && rate_take(q, now_us))
            take[n++] = heap_pop(q);
        while (w->active + n < q->lim.max_active && q->in_head && rate_take(q, now_us)) {
            take[n++] = q->in_head;
            q->in_head = q->in_head->next;
            if (!q->in_head) q->in_tail = NULL;
        }
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < n; i++) start(w, take[i]);
        int running;
        curl_multi_perform(w->multi, &running);
        CURLMsg *cm;
        int left;
        while ((cm = curl_multi_info_read(w->multi, &left)))
            if (cm->msg == CURLMSG_DONE) finished(w, cm->easy_handle, cm->data.result, stop);
        /* Wait until a socket is ready (or one of curl's timers), the
         * next retry is due, the rate lets the next message go, or
         * submit() brings one. */
        long wait = 1000;
        bool room = w->active < q->lim.max_active;
        pthread_mutex_lock(&q->mu);
        now = clock_wall_ms();
        bool due = q->nheap && (stop || q->heap[0]->retry_at <= now);
        if (room && (q->in_head || due)) {
            long rw = rate_wait_ms(q, clock_mono_us());
            if (!rw) { /* transfers just finished: start the next ones first */
                pthread_mutex_unlock(&q->mu);
                continue;
            }
            if (rw < wait) wait = rw;
        }
        if (q->nheap && !due && q->heap[0]->retry_at - now < wait) wait = (long)(q->heap[0]->retry_at - now);
        w->sleeping = room;
        pthread_mutex_unlock(&q->mu);
        curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
        pthread_mutex_lock(&q->mu);
        w->sleeping = false;
        pthread_mutex_unlock(&q->mu);
    }
    free(take);
    return NULL;
}

static void stopped(curlq *q, send_msg *m);

static void submit(send_channel *c, send_msg *m) {
    curlq *q = (curlq *)c;
    m->next = NULL;
    m->attempts = 0;
    m->first_at = 0;
    worker *wake = NULL;
    pthread_mutex_lock(&q->mu);
    q->pending++;
    if (q->stop) {
        /* Too late (a relay's failover raced its stop): no worker would
         * ever take it, and a pending message holds up the shutdown. */
        pthread_mutex_unlock(&q->mu);
        stopped(q, m);
        return;
    }
    if (q->in_tail) q->in_tail->next = m;
    else q->in_head = m;
    q->in_tail = m;
    /* Busy workers take it when a transfer of theirs ends (they look at
     * the queue before they sleep, under this lock): only a sleeping one
     * needs waking. curl_multi_wakeup is remembered until its next poll. */
    for (int i = 0; i < q->nw && !wake; i++)
        if (q->w[i].sleeping) wake = &q->w[i];
    if (wake) wake->sleeping = false;
    pthread_mutex_unlock(&q->mu);
    if (wake) curl_multi_wakeup(wake->multi);
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
    for (int i = 0; i < q->nw; i++) curl_multi_wakeup(q->w[i].multi);
    for (int i = 0; i < q->nw; i++) pthread_join(q->w[i].th, NULL);
    /* Not drained: what is left is answered as not delivered (the
     * dispatcher, stopping too, does not record these: its durable cursor
     * re-sends them at the next start). */
    for (int i = 0; i < q->nw; i++) {
        worker *w = &q->w[i];
        for (int k = 0; k < q->lim.max_active; k++) {
            curlq_xfer *x = slot(w, k);
            if (!x->m) continue;
            send_msg *m = x->m;
            remove_xfer(w, x);
            stopped(q, m);
        }
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
    for (int i = 0; i < q->nw; i++) {
        worker *w = &q->w[i];
        curl_multi_cleanup(w->multi);
        for (int k = 0; k < q->lim.max_active; k++)
            if (slot(w, k)->h) curl_easy_cleanup(slot(w, k)->h);
        free(w->slots);
        free(w->free_slots);
    }
    if (q->drv->free_ud) q->drv->free_ud(q->drv_ud);
    free(q->w);
    free(q->heap);
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
    if (q->lim.rate_per_second > 0) {
        q->interval_us = 1000000 / q->lim.rate_per_second;
        if (!q->interval_us) q->interval_us = 1;
        /* A burst of up to 50 ms worth of messages: smooth enough for a
         * relay's per-second limit, loose enough for poll's granularity. */
        q->burst_us = 50000 - q->interval_us > 0 ? 50000 - q->interval_us : 0;
    }
    pthread_mutex_init(&q->mu, NULL);
    q->nw = q->lim.threads > 1 ? q->lim.threads : 1;
    q->w = xcalloc((size_t)q->nw, sizeof *q->w);
    for (int i = 0; i < q->nw; i++) {
        worker *w = &q->w[i];
        w->q = q;
        w->id = i;
        w->slots = xcalloc((size_t)q->lim.max_active, drv->xfer_size);
        w->free_slots = xmalloc((size_t)q->lim.max_active * sizeof *w->free_slots);
        /* Highest first on the stack, so slot 0 is used first and kept warm. */
        for (int k = q->lim.max_active - 1; k >= 0; k--) w->free_slots[w->nfree++] = k;
        w->multi = curl_multi_init();
        if (q->lim.max_host_connections)
            curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, q->lim.max_host_connections);
        if (q->lim.max_total_connections)
            curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, q->lim.max_total_connections);
        if (q->lim.max_cached_connections)
            curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, q->lim.max_cached_connections);
    }
    for (int i = 0; i < q->nw; i++)
        if (pthread_create(&q->w[i].th, NULL, run, &q->w[i])) {
            log_error("%s: cannot start its threads", drv->name);
            abort();
        }
    return &q->base;
}
