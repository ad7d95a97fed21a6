/* loadgen.c -- a constant-rate (open-loop) HTTP/1.1 load generator.
 *
 * wrk sends as fast as the server answers, so its latency is that of a
 * saturated server. This one sends on a schedule: request i is due at
 * t0 + i/rate whatever happened to the earlier ones, and its latency is
 * counted from that intended time, so a server that stalls is charged for
 * the requests that queued behind the stall (no coordinated omission). The
 * service time (from the moment the request was actually written) is
 * reported beside it. With -r 0 it runs closed-loop instead: every
 * connection sends its next request as soon as the previous one is answered.
 *
 * One thread, epoll, N keep-alive connections; a due request goes to a free
 * connection, or waits for one. Responses must carry Content-Length (no
 * chunked encoding, no pipelining). Bodies come from a file (-b) or are
 * generated per request (--track USERS: the same shape as bench/ingest.lua,
 * 75 attributes objects + 75 events over USERS external ids).
 *
 * Usage: loadgen [options] http://HOST:PORT/PATH
 *   -c N        connections (64)
 *   -r RATE     requests/s, open loop (0 = closed loop; default 100)
 *   -d SECONDS  measured duration (5)
 *   -w SECONDS  warm-up before it, not recorded (1)
 *   -n N        closed loop: send N requests in all, then stop (a fill of
 *               known size; a broken connection makes the run fail)
 *   -H 'K: V'   extra header (repeatable)
 *   -b FILE     body of every request (POST)
 *   --track N   generated /users/track bodies over N users (POST)
 *   -s STATUS   expected status (200); others are counted as errors
 *   -e TEXT     every 50th answer must contain TEXT (repeatable)
 * Prints one summary line per figure and a final "loadgen:" line with
 * key=value pairs for scripts. Exits 1 when any answer was wrong. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 16
#define MAX_EXPECT 8
#define SAMPLE_EVERY 50

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "loadgen: %s%s%s\n", msg, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(2);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) die("out of memory");
    return p;
}

#include "track_body.h"

/* ---- connections --------------------------------------------------------- */

enum { C_FREE, C_BUSY };

typedef struct {
    int fd;
    int state;
    sbuf out;        /* the request being written */
    size_t written;
    sbuf in;         /* the response being read */
    int64_t intended, sent; /* ns */
    bool measured;   /* intended inside the measured window */
} conn;

static struct sockaddr_storage addr;
static socklen_t addrlen;
static int ep;

static void conn_open(conn *c) {
    /* A blocking connect keeps the state machine simple: a connection is
     * usable as soon as it exists. */
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0) die("connect");
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    c->state = C_FREE;
    c->in.len = 0;
}

static void conn_reset(conn *c) {
    close(c->fd);
    conn_open(c);
}

/* ---- results ------------------------------------------------------------- */

typedef struct {
    int64_t *v;
    size_t n, cap;
} samples;

static void sample_add(samples *s, int64_t v) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = v;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const samples *s, double p) {
    if (!s->n) return 0;
    /* nearest rank: the smallest value with at least p% of samples at or below it */
    double r = p / 100.0 * (double)s->n;
    size_t i = (size_t)r;
    if ((double)i < r) i++;
    if (i > 0) i--;
    if (i >= s->n) i = s->n - 1;
    return (double)s->v[i] / 1e6;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: loadgen [-c conns] [-r rate|0] [-d seconds] [-w warmup] [-n requests] [-H 'K: V']... "
                    "[-b file | --track USERS] [-s status] [-e text]... http://host:port/path\n");
    exit(2);
}

/* Splits http://host:port/path; resolves host. */
static void parse_url(const char *url, char *host, size_t hl, char *path, size_t pl, int *port) {
    if (strncmp(url, "http://", 7)) usage();
    const char *h = url + 7, *slash = strchr(h, '/');
    snprintf(path, pl, "%s", slash ? slash : "/");
    size_t n = slash ? (size_t)(slash - h) : strlen(h);
    char hp[256];
    if (n >= sizeof hp) usage();
    memcpy(hp, h, n);
    hp[n] = '\0';
    char *colon = strrchr(hp, ':');
    *port = 80;
    if (colon && !strchr(colon, ']')) {
        *port = atoi(colon + 1);
        *colon = '\0';
    }
    char *hs = hp;
    if (hs[0] == '[') {
        hs++;
        hs[strlen(hs) - 1] = '\0';
    }
    snprintf(host, hl, "%s", hs);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", *port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0) die("cannot resolve host");
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
}

int main(int argc, char **argv) {
    int nconn = 64, expect_status = 200;
    double rate = 100, duration = 5, warmup = 1;
    const char *headers[MAX_HEADERS], *expects[MAX_EXPECT], *body_file = NULL, *url = NULL;
    int nh = 0, ne = 0;
    uint32_t track = 0;
    uint64_t limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            url = a;
            continue;
        }
        if (!v) usage();
        i++;
        if (!strcmp(a, "-c")) nconn = atoi(v);
        else if (!strcmp(a, "-r")) rate = atof(v);
        else if (!strcmp(a, "-d")) duration = atof(v);
        else if (!strcmp(a, "-w")) warmup = atof(v);
        else if (!strcmp(a, "-n")) limit = strtoull(v, NULL, 10);
        else if (!strcmp(a, "-s")) expect_status = atoi(v);
        else if (!strcmp(a, "-b")) body_file = v;
        else if (!strcmp(a, "--track")) track = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "-H") && nh < MAX_HEADERS) headers[nh++] = v;
        else if (!strcmp(a, "-e") && ne < MAX_EXPECT) expects[ne++] = v;
        else usage();
    }
    if (!url || nconn < 1 || rate < 0 || duration <= 0 || warmup < 0 || (limit && rate > 0)) usage();
    char host[256], path[1024];
    int port;
    parse_url(url, host, sizeof host, path, sizeof path, &port);

    /* The request head without Content-Length; bodies vary per request. */
    sbuf head = {0}, fixed_body = {0};
    bool post = body_file || track;
    sb_printf(&head, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", post ? "POST" : "GET", path, host, port);
    for (int i = 0; i < nh; i++) sb_printf(&head, "%s\r\n", headers[i]);
    if (post) {
        bool has_ct = false;
        for (int i = 0; i < nh; i++) has_ct |= !strncasecmp(headers[i], "content-type:", 13);
        if (!has_ct) sb_printf(&head, "Content-Type: application/json\r\n");
    }
    if (body_file) {
        FILE *f = fopen(body_file, "rb");
        if (!f) die("cannot open body file");
        char tmp[65536];
        size_t n;
        while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) sb_add(&fixed_body, tmp, n);
        fclose(f);
    }
    if (track) track_init(track, (uint64_t)now_ns());

    ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || tfd < 0) die("epoll/timerfd");
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

    conn *conns = calloc((size_t)nconn, sizeof *conns);
    int *freel = xmalloc((size_t)nconn * sizeof *freel), nfree = 0;
    for (int i = 0; i < nconn; i++) {
        conn_open(&conns[i]);
        freel[nfree++] = i;
    }

    samples lat = {0}, svc = {0};
    uint64_t completed = 0, in_window = 0, bad_status = 0, bad_body = 0, io_errors = 0, checked = 0, body_bytes = 0;
    int first_bad_status = 0;
    char first_bad[256] = "";
    sbuf body = {0};

    const bool open_loop = rate > 0;
    const int64_t t0 = now_ns() + 50000000; /* connections settle first */
    const int64_t w_start = t0 + (int64_t)(warmup * 1e9), w_end = w_start + (int64_t)(duration * 1e9);
    const double interval = open_loop ? 1e9 / rate : 0;
    const uint64_t total = open_loop ? (uint64_t)((double)(w_end - t0) / interval) : UINT64_MAX;
    const int64_t hard_end = w_end + 10000000000LL; /* drain at most 10 s */
    uint64_t dispatched = 0, busy = 0, max_backlog = 0;
    int64_t last_done = t0;
    struct epoll_event evs[256];

    for (;;) {
        int64_t now = now_ns();
        if (now >= hard_end) break;
        /* Hand due requests to free connections. */
        uint64_t due;
        if (open_loop) {
            due = now < t0 ? 0 : (uint64_t)((double)(now - t0) / interval) + 1;
            if (due > total) due = total;
            if (due > dispatched && due - dispatched > max_backlog) max_backlog = due - dispatched;
        } else {
            due = now >= t0 && now < w_end ? dispatched + (uint64_t)nfree : dispatched;
            if (limit && due > limit) due = limit;
        }
        while (dispatched < due && nfree > 0) {
            conn *c = &conns[freel[--nfree]];
            c->intended = open_loop ? t0 + (int64_t)((double)dispatched * interval) : now;
            c->sent = now;
            c->measured = c->intended >= w_start && c->intended < w_end;
            const sbuf *bd = &fixed_body;
            if (track) {
                track_body(&body);
                bd = &body;
            }
            body_bytes += bd->len;
            c->out.len = 0;
            sb_add(&c->out, head.p, head.len);
            if (post) sb_printf(&c->out, "Content-Length: %zu\r\n", bd->len);
            sb_add(&c->out, "\r\n", 2);
            if (bd->len) sb_add(&c->out, bd->p, bd->len);
            c->written = 0;
            c->in.len = 0;
            c->state = C_BUSY;
            busy++;
            dispatched++;
            /* Try to write at once; EPOLLOUT finishes a partial write. */
            ssize_t w = write(c->fd, c->out.p, c->out.len);
            if (w > 0) c->written = (size_t)w;
        }
        bool schedule_done = open_loop ? dispatched >= total : now >= w_end || (limit && dispatched >= limit);
        if (schedule_done && busy == 0) break;

        /* Sleep until the next request is due or I/O is ready. */
        int timeout = -1;
        if (open_loop && dispatched < total && dispatched >= due) {
            int64_t next = t0 + (int64_t)((double)due * interval);
            struct itimerspec its = {.it_value = {(time_t)(next / 1000000000), (long)(next % 1000000000)}};
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        } else if (!open_loop && now < t0) {
            timeout = (int)((t0 - now) / 1000000) + 1;
        } else if (!open_loop && !schedule_done && nfree > 0) {
            timeout = 0;
        }
        if (timeout < 0) {
            int64_t left = (hard_end - now) / 1000000 + 1;
            if (!open_loop && now < w_end) left = (w_end - now) / 1000000 + 1;
            timeout = (int)left;
        }
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < n; k++) {
            conn *c = evs[k].data.ptr;
            if (!c) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0) { /* spurious: fine */
                }
                continue;
            }
            if (c->state != C_BUSY) {
                /* An idle connection closed by the server: reopen it. */
                if (evs[k].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) conn_reset(c);
                continue;
            }
            if (c->written < c->out.len) {
                ssize_t w = write(c->fd, c->out.p + c->written, c->out.len - c->written);
                if (w > 0) c->written += (size_t)w;
                else if (w < 0 && errno != EAGAIN) goto broken;
            }
            for (;;) {
                sb_reserve(&c->in, 65536);
                ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
                if (r > 0) {
                    c->in.len += (size_t)r;
                    c->in.p[c->in.len] = '\0';
                    continue;
                }
                if (r == 0) goto broken;
                if (errno == EAGAIN) break;
                goto broken;
            }
            /* A whole response? */
            char *end = c->in.len ? strstr(c->in.p, "\r\n\r\n") : NULL;
            if (!end) continue;
            size_t hlen = (size_t)(end - c->in.p) + 4, clen = 0;
            bool close_after = false;
            int status = 0;
            if (sscanf(c->in.p, "HTTP/1.%*d %d", &status) != 1) goto broken;
            for (char *l = strstr(c->in.p, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
                if (!strncasecmp(l + 2, "content-length:", 15)) clen = strtoul(l + 17, NULL, 10);
                else if (!strncasecmp(l + 2, "connection:", 11)) {
                    char *eol = strstr(l + 2, "\r\n");
                    close_after = memmem(l + 2, (size_t)(eol - (l + 2)), "close", 5) != NULL;
                }
                else if (!strncasecmp(l + 2, "transfer-encoding:", 18)) {
                    fprintf(stderr, "loadgen: chunked responses are not supported\n");
                    exit(2);
                }
            }
            if (c->in.len < hlen + clen) continue;
            int64_t t = now_ns();
            completed++;
            if (t >= w_start && t < w_end) in_window++;
            last_done = t;
            if (status != expect_status) {
                bad_status++;
                if (!first_bad[0]) {
                    first_bad_status = status;
                    snprintf(first_bad, sizeof first_bad, "%.*s", (int)clen, c->in.p + hlen);
                }
            } else if (ne && completed % SAMPLE_EVERY == 1) {
                checked++;
                for (int i = 0; i < ne; i++)
                    if (!memmem(c->in.p + hlen, clen, expects[i], strlen(expects[i]))) {
                        bad_body++;
                        if (!first_bad[0]) snprintf(first_bad, sizeof first_bad, "%.*s", (int)clen, c->in.p + hlen);
                        break;
                    }
            }
            if (c->measured) {
                sample_add(&lat, t - c->intended);
                sample_add(&svc, t - c->sent);
            }
            c->state = C_FREE;
            busy--;
            freel[nfree++] = (int)(c - conns);
            if (close_after) conn_reset(c);
            continue;
        broken:
            io_errors++;
            busy--;
            conn_reset(c);
            freel[nfree++] = (int)(c - conns);
        }
    }

    qsort(lat.v, lat.n, sizeof *lat.v, cmp64);
    qsort(svc.v, svc.n, sizeof *svc.v, cmp64);
    double win = (double)(w_end - w_start) / 1e9;
    uint64_t unsent = open_loop ? total - dispatched : 0;
    printf("%s, %d connections, %.0f s measured after %.0f s warm-up%s\n",
           open_loop ? "open loop" : "closed loop", nconn, duration, warmup, track ? ", generated /users/track bodies" : "");
    if (open_loop) printf("  target rate       %10.1f req/s\n", rate);
    printf("  completed in window %8.1f req/s  (%llu answers in all, mean body %llu bytes)\n",
           (double)in_window / win, (unsigned long long)completed,
           (unsigned long long)(dispatched ? body_bytes / dispatched : 0));
    printf("  latency%s  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (%zu samples)\n",
           open_loop ? " (from intended send)" : "", pct(&lat, 50), pct(&lat, 90), pct(&lat, 99), pct(&lat, 100), lat.n);
    if (open_loop)
        printf("  service time (from actual send)  p50 %.2f ms  p99 %.2f ms  max %.2f ms; largest backlog %llu\n",
               pct(&svc, 50), pct(&svc, 99), pct(&svc, 100), (unsigned long long)max_backlog);
    printf("  errors: status!=%d %llu, body check failed %llu of %llu sampled, connection errors %llu, unsent %llu\n",
           expect_status, (unsigned long long)bad_status, (unsigned long long)bad_body, (unsigned long long)checked,
           (unsigned long long)io_errors, (unsigned long long)unsent);
    if (first_bad[0]) printf("  first bad answer: %d %s\n", first_bad_status, first_bad);
    printf("loadgen: rate=%.1f achieved=%.1f p50=%.3f p90=%.3f p99=%.3f max=%.3f svc_p50=%.3f svc_p99=%.3f "
           "errors=%llu checked=%llu\n",
           rate, (double)in_window / win, pct(&lat, 50), pct(&lat, 90), pct(&lat, 99), pct(&lat, 100), pct(&svc, 50),
           pct(&svc, 99), (unsigned long long)(bad_status + bad_body + io_errors + unsent),
           (unsigned long long)checked);
    (void)last_done;
    return bad_status + bad_body + io_errors + unsent ? 1 : 0;
}
