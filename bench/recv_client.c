/* recv_client.c -- drives bench/recv as hard as it can, to measure the
 * receiver's own ceiling (bench/fanout.sh prints it beside the fan-out rate,
 * so a slow receiver cannot pass for a slow sender).
 *
 * Closed loop, one thread, epoll: N keep-alive connections, each keeping
 * DEPTH requests in flight (1, the default, is how libcurl drives a
 * connection; more is HTTP/1.1 pipelining, which measures the receiver's
 * parsing rather than its system calls). Each request is a POST of a JSON
 * body of about BYTES bytes (a rendered fan-out message) with a distinct
 * X-Brasa-Message-Id, so the receiver's id set works as in a real run.
 * Requests are made from one template, the id written in place. With -b
 * FILE the body is that file's bytes instead (bench/currents.sh posts a
 * Currents batch brasa sent), and the request's id is also written over
 * every run of 16 '@' in it, so the ids of the events it holds are
 * distinct across requests too.
 *
 * Usage: recv_client [-c CONNS] [-p DEPTH] [-d SECONDS] [-w WARMUP]
 *                    [-s BYTES | -b FILE] http://HOST:PORT/PATH
 * Prints one "recv_client:" line of key=value pairs (requests, rps in the
 * measured window, errors). Exits 1 on any non-2xx answer or broken
 * connection. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ID_DIGITS 16

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "recv_client: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(2);
}

static void usage(void) {
    fprintf(stderr, "usage: recv_client [-c conns] [-p depth] [-d seconds] [-w warmup] [-s body_bytes | -b file] "
                    "http://host:port/path\n");
    exit(2);
}

typedef struct {
    int fd;
    char *out;
    size_t out_len, out_off, out_cap;
    char in[65536];
    size_t in_len;
    int inflight;
} conn;

static struct sockaddr_storage addr;
static socklen_t addrlen;
static int ep;
static char *tmpl;          /* one request, its id at id_at */
static size_t tmpl_len, id_at;
static size_t *marks, nmarks; /* more places for the id (-b) */
static uint64_t next_id;

static void conn_open(conn *c) {
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0) die("connect");
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    c->in_len = c->out_len = c->out_off = 0;
    c->inflight = 0;
}

/* Queues k requests on c. */
static void queue(conn *c, int k) {
    size_t need = c->out_len + (size_t)k * tmpl_len;
    if (need > c->out_cap) {
        c->out_cap = need * 2;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) die("out of memory");
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < k; i++) {
        char *r = c->out + c->out_len;
        memcpy(r, tmpl, tmpl_len);
        uint64_t id = next_id++;
        char digits[ID_DIGITS];
        for (int d = ID_DIGITS - 1; d >= 0; d--, id >>= 4) digits[d] = hex[id & 15];
        memcpy(r + id_at, digits, ID_DIGITS);
        for (size_t m = 0; m < nmarks; m++) memcpy(r + marks[m], digits, ID_DIGITS);
        c->out_len += tmpl_len;
    }
    c->inflight += k;
}

/* Writes what c has queued; false when the connection broke. */
static bool flush(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) c->out_off += (size_t)n;
        else if (n < 0 && errno == EAGAIN) return true;
        else if (!(n < 0 && errno == EINTR)) return false;
    }
    c->out_len = c->out_off = 0;
    return true;
}

int main(int argc, char **argv) {
    int nconn = 64, depth = 1, body_bytes = 250;
    double secs = 5, warmup = 1;
    const char *url = NULL, *body_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            url = a;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "-c")) nconn = atoi(v);
        else if (!strcmp(a, "-p")) depth = atoi(v);
        else if (!strcmp(a, "-d")) secs = atof(v);
        else if (!strcmp(a, "-w")) warmup = atof(v);
        else if (!strcmp(a, "-s")) body_bytes = atoi(v);
        else if (!strcmp(a, "-b")) body_file = v;
        else usage();
    }
    if (!url || nconn < 1 || depth < 1 || depth > 1024 || secs <= 0 || warmup < 0 || body_bytes < 0 ||
        body_bytes > 1 << 20 || strncmp(url, "http://", 7))
        usage();

    /* http://host:port/path */
    const char *h = url + 7, *slash = strchr(h, '/');
    char host[256], path[1024], port[16] = "80";
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl >= sizeof host) usage();
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(path, sizeof path, "%s", slash ? slash : "/");
    char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']')) {
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = '\0';
    }
    char *hs = host;
    if (hs[0] == '[') {
        hs++;
        hs[strlen(hs) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(hs, port, &hints, &ai) != 0) die("cannot resolve the host");
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    /* The template: the -b file, or a body shaped like a rendered fan-out
     * message, padded. */
    char *body;
    int bl;
    if (body_file) {
        FILE *f = fopen(body_file, "rb");
        if (!f) die("cannot open the body file");
        body = malloc(1 << 20);
        if (!body) die("out of memory");
        size_t got = fread(body, 1, 1 << 20, f);
        if (!feof(f) || ferror(f)) die("the body file is over 1 MB, or unreadable");
        fclose(f);
        bl = (int)got;
    } else {
        size_t bcap = (size_t)body_bytes + 256;
        body = malloc(bcap);
        if (!body) die("out of memory");
        bl = snprintf(body, bcap,
                      "{\"user\":\"user-123456\",\"name\":\"Ana\",\"email\":\"user-123456@example.com\","
                      "\"tier\":\"gold\",\"dispatch\":\"2f0e6c1a-bench\",\"pad\":\"");
        while (bl < body_bytes - 2) body[bl++] = 'x';
        bl += snprintf(body + bl, bcap - (size_t)bl, "\"}");
    }
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\nX-Brasa-Message-Id: ", path,
                     hs, port);
    id_at = (size_t)n;
    n += snprintf(head + n, sizeof head - (size_t)n, "%0*d\r\nContent-Length: %d\r\n\r\n", ID_DIGITS, 0, bl);
    tmpl_len = (size_t)n + (size_t)bl;
    tmpl = malloc(tmpl_len);
    if (!tmpl) die("out of memory");
    memcpy(tmpl, head, (size_t)n);
    memcpy(tmpl + n, body, (size_t)bl);
    for (char *m = tmpl + n; (m = memmem(m, tmpl_len - (size_t)(m - tmpl), "@@@@@@@@@@@@@@@@", ID_DIGITS));
         m += ID_DIGITS) {
        marks = realloc(marks, (nmarks + 1) * sizeof *marks);
        if (!marks) die("out of memory");
        marks[nmarks++] = (size_t)(m - tmpl);
    }
    next_id = (uint64_t)now_ns() << 20; /* distinct across runs against one receiver */

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    conn *conns = calloc((size_t)nconn, sizeof *conns);
    if (!conns) die("out of memory");
    for (int i = 0; i < nconn; i++) conn_open(&conns[i]);

    const int64_t t0 = now_ns(), w_start = t0 + (int64_t)(warmup * 1e9), w_end = w_start + (int64_t)(secs * 1e9);
    uint64_t done = 0, in_window = 0, bad = 0, broken = 0;
    int first_bad = 0;
    for (int i = 0; i < nconn; i++) {
        queue(&conns[i], depth);
        if (!flush(&conns[i])) die("write");
    }
    struct epoll_event evs[256];
    int64_t now = t0;
    uint64_t inflight = (uint64_t)nconn * (uint64_t)depth;
    while (inflight > 0 && now < w_end + 5000000000LL) {
        int k = epoll_wait(ep, evs, 256, 100);
        if (k < 0 && errno != EINTR) die("epoll_wait");
        now = now_ns();
        for (int e = 0; e < k; e++) {
            conn *c = evs[e].data.ptr;
            if (!flush(c)) goto broke;
            int answered = 0;
            for (;;) {
                ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
                if (r == 0) goto broke;
                if (r < 0) {
                    if (errno == EAGAIN) break;
                    if (errno == EINTR) continue;
                    goto broke;
                }
                size_t room = sizeof c->in - c->in_len;
                c->in_len += (size_t)r;
                /* whole answers at the front of c->in */
                size_t pos = 0;
                for (;;) {
                    char *p = c->in + pos, *end = memmem(p, c->in_len - pos, "\r\n\r\n", 4);
                    if (!end) break;
                    size_t hlen = (size_t)(end - p) + 4, clen = 0;
                    int status = 0;
                    if (sscanf(p, "HTTP/1.%*d %d", &status) != 1) goto broke;
                    for (char *l = memmem(p, hlen, "\r\n", 2); l && l < end; l = memmem(l + 2, (size_t)(end - l), "\r\n", 2))
                        if (!strncasecmp(l + 2, "content-length:", 15)) clen = strtoul(l + 17, NULL, 10);
                    if (c->in_len - pos < hlen + clen) break;
                    if (status == 100) { /* not expected, but harmless */
                        pos += hlen;
                        continue;
                    }
                    pos += hlen + clen;
                    answered++;
                    done++;
                    if (now >= w_start && now < w_end) in_window++;
                    if (status < 200 || status > 299) {
                        if (!bad) first_bad = status;
                        bad++;
                    }
                }
                memmove(c->in, c->in + pos, c->in_len - pos);
                c->in_len -= pos;
                if (c->in_len == sizeof c->in) goto broke; /* an answer this large is not the receiver's */
                if ((size_t)r < room) break; /* the socket is empty: new data makes a new edge */
            }
            c->inflight -= answered;
            inflight -= (uint64_t)answered;
            if (answered && now < w_end) {
                queue(c, answered);
                inflight += (uint64_t)answered;
            }
            if (!flush(c)) goto broke;
            continue;
        broke:
            broken++;
            inflight -= (uint64_t)c->inflight;
            close(c->fd);
            conn_open(c);
            if (now < w_end) {
                queue(c, depth);
                inflight += (uint64_t)depth;
                if (!flush(c)) die("write");
            }
        }
    }
    double rps = (double)in_window / secs;
    printf("recv_client: conns=%d depth=%d body=%d seconds=%.1f requests=%llu rps=%.0f bad_status=%llu "
           "first_bad=%d broken=%llu unanswered=%llu\n",
           nconn, depth, bl, secs, (unsigned long long)done, rps, (unsigned long long)bad, first_bad,
           (unsigned long long)broken, (unsigned long long)inflight);
    return bad || broken || inflight ? 1 : 0;
}
