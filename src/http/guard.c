/* guard.c -- the connection watchdog (see guard.h).
 *
 * Slots are indexed by fd, in pages of PAGE fds allocated when an fd of the
 * page is first used, so 10,000 connections cost 10,000 slots whatever the
 * open-files limit. Each page has its own lock: libmicrohttpd's threads
 * take it three times per request (cheap, rarely contended), the watchdog
 * once per page per pass. */
#define _GNU_SOURCE
#include "guard.h"
#include "logcap.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define PAGE 1024
#define PASS_MS 500
/* The kernel counts the last reception in jiffies (up to 4 ms apart): data
 * within this of a wait's start is taken as the previous request's. */
#define CLOCK_SLACK_MS 20

typedef enum { GS_FREE, GS_WAIT, GS_BODY, GS_BUSY } gstate;

typedef struct {
    uint8_t state;
    int64_t since_ms; /* when the state began (monotonic) */
    int64_t first_ms; /* GS_WAIT: when the request's first byte came (0: none yet) */
} slot;

typedef struct {
    pthread_mutex_t lock;
    slot s[PAGE];
} page;

struct http_guard {
    guard_config cfg;
    int npages;
    _Atomic(page *) *pages;
    pthread_mutex_t alloc_lock;
    pthread_t thread;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    http_logcap closed_log; /* one line per closed connection, capped */
};

static int64_t now_ms(void) { return clock_mono_us() / 1000; }

static page *page_of(http_guard *g, int fd, bool create) {
    if (fd < 0 || fd / PAGE >= g->npages) return NULL;
    page *p = atomic_load(&g->pages[fd / PAGE]);
    if (p || !create) return p;
    pthread_mutex_lock(&g->alloc_lock);
    p = atomic_load(&g->pages[fd / PAGE]);
    if (!p) {
        p = xcalloc(1, sizeof *p);
        pthread_mutex_init(&p->lock, NULL);
        atomic_store(&g->pages[fd / PAGE], p);
    }
    pthread_mutex_unlock(&g->alloc_lock);
    return p;
}

static void set_state(http_guard *g, int fd, gstate st, bool create) {
    page *p = page_of(g, fd, create);
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    slot *s = &p->s[fd % PAGE];
    if (create || s->state != GS_FREE) {
        s->state = (uint8_t)st;
        s->since_ms = now_ms();
        s->first_ms = 0;
    }
    pthread_mutex_unlock(&p->lock);
}

void guard_opened(http_guard *g, int fd) { set_state(g, fd, GS_WAIT, true); }
void guard_closed(http_guard *g, int fd) { set_state(g, fd, GS_FREE, false); }
void guard_head_done(http_guard *g, int fd) { set_state(g, fd, GS_BODY, false); }
void guard_body_done(http_guard *g, int fd) { set_state(g, fd, GS_BUSY, false); }
void guard_request_done(http_guard *g, int fd) { set_state(g, fd, GS_WAIT, false); }

/* When data last came in on fd (monotonic ms), from the kernel; 0 if unknown. */
static int64_t last_data_ms(int fd, int64_t now) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return 0;
    return now - (int64_t)ti.tcpi_last_data_recv;
}

/* Answers 408 and shuts the connection down; libmicrohttpd then reads the
 * end of the stream and closes it the usual way. Only while no answer is
 * queued (GS_WAIT, GS_BODY), so nothing else is writing. */
static void expire(http_guard *g, int fd, const char *what, unsigned limit_s, int64_t now) {
    char body[160], msg[512];
    int bl = snprintf(body, sizeof body, "{\"message\":\"Request Timeout: %s not complete after %u s\"}", what, limit_s);
    int ml = snprintf(msg, sizeof msg,
                      "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      "Content-Length: %d\r\n\r\n%s",
                      bl, body);
    /* A full send buffer (a client that does not read) just loses the
     * answer: the connection is closed either way. */
    (void)send(fd, msg, (size_t)ml, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_RDWR);
    if (http_logcap_take(&g->closed_log, now))
        log_info("http: closed connection fd=%d: request %s not complete after %u s (408)", fd, what, limit_s);
}

static void pass(http_guard *g) {
    int64_t now = now_ms();
    int64_t head_ms = (int64_t)g->cfg.header_timeout_s * 1000, body_ms = (int64_t)g->cfg.body_timeout_s * 1000;
    for (int pi = 0; pi < g->npages; pi++) {
        page *p = atomic_load(&g->pages[pi]);
        if (!p) continue;
        pthread_mutex_lock(&p->lock);
        for (int i = 0; i < PAGE; i++) {
            slot *s = &p->s[i];
            int fd = pi * PAGE + i;
            if (s->state == GS_WAIT && head_ms) {
                if (!s->first_ms) {
                    /* Data after the wait began is the next request's start
                     * (a request already in the buffer when it began is
                     * seen with the next data to come). */
                    int64_t last = last_data_ms(fd, now);
                    if (last > s->since_ms + CLOCK_SLACK_MS) s->first_ms = last;
                }
                if (s->first_ms && now - s->first_ms > head_ms) {
                    expire(g, fd, "head", g->cfg.header_timeout_s, now);
                    s->state = GS_BUSY; /* answered: not again */
                }
            } else if (s->state == GS_BODY && body_ms && now - s->since_ms > body_ms) {
                expire(g, fd, "body", g->cfg.body_timeout_s, now);
                s->state = GS_BUSY;
            }
        }
        pthread_mutex_unlock(&p->lock);
    }
}

static void *watchdog(void *arg) {
    http_guard *g = arg;
    int64_t last_tick = now_ms();
    pthread_mutex_lock(&g->stop_lock);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += PASS_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&g->stop_cond, &g->stop_lock, &ts);
        if (g->stopping) break;
        pthread_mutex_unlock(&g->stop_lock);
        pass(g);
        if (now_ms() - last_tick >= 1000) {
            last_tick = now_ms();
            http_logcap_flush(&g->closed_log);
            if (g->cfg.tick) g->cfg.tick(g->cfg.tick_arg);
        }
        pthread_mutex_lock(&g->stop_lock);
    }
    pthread_mutex_unlock(&g->stop_lock);
    return NULL;
}

http_guard *guard_new(const guard_config *c) {
    http_guard *g = xcalloc(1, sizeof *g);
    g->cfg = *c;
    g->npages = (c->max_fd + PAGE - 1) / PAGE;
    g->pages = xcalloc((size_t)g->npages, sizeof *g->pages);
    pthread_mutex_init(&g->alloc_lock, NULL);
    pthread_mutex_init(&g->stop_lock, NULL);
    pthread_cond_init(&g->stop_cond, NULL);
    g->closed_log = (http_logcap)HTTP_LOGCAP_INIT("lines about connections closed for slow requests", 10);
    if (pthread_create(&g->thread, NULL, watchdog, g) != 0) {
        log_error("http: cannot start the connection watchdog");
        abort();
    }
    return g;
}

void guard_free(http_guard *g) {
    if (!g) return;
    pthread_mutex_lock(&g->stop_lock);
    g->stopping = true;
    pthread_cond_signal(&g->stop_cond);
    pthread_mutex_unlock(&g->stop_lock);
    pthread_join(g->thread, NULL);
    http_logcap_flush(&g->closed_log);
    for (int i = 0; i < g->npages; i++) {
        page *p = atomic_load(&g->pages[i]);
        if (!p) continue;
        pthread_mutex_destroy(&p->lock);
        free(p);
    }
    free(g->pages);
    pthread_mutex_destroy(&g->alloc_lock);
    pthread_mutex_destroy(&g->stop_lock);
    pthread_cond_destroy(&g->stop_cond);
    pthread_mutex_destroy(&g->closed_log.lock);
    free(g);
}

int guard_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            log_info("http: open files limit raised from %llu to %llu", (unsigned long long)was,
                     (unsigned long long)rl.rlim_cur);
        else getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > (1u << 30) ? (1 << 30) : (int)rl.rlim_cur;
}
