/* smtp_sink.c -- an SMTP server that takes everything: the far end of the
 * email fan-out benchmark (bench/email_fanout.sh), and its load generator.
 *
 *   smtp_sink [--listen ADDR] [--port N] [--threads N]
 *   smtp_sink stat PORT
 *   smtp_sink load PORT [-c CONNS] [-d SECONDS] [-s BYTES]
 *
 * Serving: ESMTP over epoll, non-blocking, many connections, PIPELINING
 * (a client's commands are answered in one write per read), 250 to every
 * command but DATA (354), the end of data (250) and QUIT (221). Nothing is
 * kept: it counts messages (each end of data), the bytes of their data
 * (after DATA, to the final "."), connections, and the wall-clock epoch
 * milliseconds of the first and the last message. stdout's first line is
 * "listening PORT"; on SIGTERM or SIGINT it prints the counts and exits.
 * The counts are also the answer to the command XSTAT (not counted):
 *   250 messages=N bytes=B connections=C first_at=MS last_at=MS
 * --threads N runs N event loops on the one listening socket
 * (EPOLLEXCLUSIVE), the counts shared.
 *
 * `stat PORT` sends XSTAT to a sink on 127.0.0.1 and prints the answer's
 * fields, one "name value" a line (for the benchmark's shell).
 *
 * `load PORT` measures the sink's ceiling: CONNS (16) sessions for SECONDS
 * (3), each pipelining as a sender would (MAIL, RCPT and DATA in one
 * write; the message, its end and the next MAIL, RCPT, DATA in the next),
 * messages of BYTES (20480) bytes; prints "load: messages=N seconds=S
 * rate=R mb_per_s=M". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF 65536
#define LINE_MAX 1024 /* a command line; longer ones are answered 500 and dropped */

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static double mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the counts ---------------------------------------------------------- */

static atomic_llong n_msgs, n_bytes, n_conns, first_at, last_at;

static void count_message(long long bytes) {
    int64_t now = wall_ms();
    long long zero = 0;
    atomic_compare_exchange_strong(&first_at, &zero, now);
    atomic_store(&last_at, now);
    atomic_fetch_add(&n_bytes, bytes);
    atomic_fetch_add(&n_msgs, 1);
}

static int stat_line(char *out, size_t n) {
    return snprintf(out, n, "messages=%lld bytes=%lld connections=%lld first_at=%lld last_at=%lld", atomic_load(&n_msgs),
                    atomic_load(&n_bytes), atomic_load(&n_conns), atomic_load(&first_at), atomic_load(&last_at));
}

/* ---- a session ----------------------------------------------------------- */

typedef struct {
    int fd;
    bool data;          /* between DATA's 354 and the final "." */
    int eod;            /* in data: how much of "\r\n.\r\n" was just seen */
    long long bytes;    /* of the message being received */
    char line[LINE_MAX];
    size_t llen;
    bool overlong;      /* the line being read is past LINE_MAX: dropped */
    char *out;          /* answers not yet written */
    size_t olen, ocap;
    bool want_out, closing;
} sess;

static void put(sess *s, const char *p, size_t n) {
    if (s->olen + n > s->ocap) {
        while (s->olen + n > s->ocap) s->ocap = s->ocap ? s->ocap * 2 : 1024;
        if (!(s->out = realloc(s->out, s->ocap))) die("realloc");
    }
    memcpy(s->out + s->olen, p, n);
    s->olen += n;
}
#define PUTS(s, lit) put((s), lit, sizeof lit - 1)

static bool verb(const char *l, size_t n, const char *v) {
    size_t k = strlen(v);
    return n >= k && !strncasecmp(l, v, k) && (n == k || l[k] == ' ');
}

static void command(sess *s, const char *l, size_t n) {
    if (verb(l, n, "EHLO")) PUTS(s, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
    else if (verb(l, n, "DATA")) {
        PUTS(s, "354 go ahead\r\n");
        s->data = true;
        s->eod = 2; /* DATA's own CRLF: a "." line at once ends an empty message */
        s->bytes = 0;
    } else if (verb(l, n, "QUIT")) {
        PUTS(s, "221 bye\r\n");
        s->closing = true;
    } else if (verb(l, n, "XSTAT")) {
        char b[256];
        int k = stat_line(b, sizeof b);
        PUTS(s, "250 ");
        put(s, b, (size_t)k);
        PUTS(s, "\r\n");
    } else PUTS(s, "250 ok\r\n");
}

/* Consumes p[0..n): data up to its end, then command lines. */
static void feed(sess *s, const char *p, size_t n) {
    static const char eod[] = "\r\n.\r\n";
    const char *end = p + n;
    while (p < end && !s->closing) {
        if (s->data) {
            /* Jump to the next CR unless inside a match. */
            if (s->eod == 0) {
                const char *cr = memchr(p, '\r', (size_t)(end - p));
                if (!cr) {
                    s->bytes += end - p;
                    return;
                }
                s->bytes += cr - p;
                p = cr;
            }
            char c = *p++;
            s->bytes++;
            if (c == eod[s->eod]) s->eod++;
            else s->eod = c == '\r' ? 1 : 0;
            if (s->eod == 5) {
                s->data = false;
                s->eod = 0;
                count_message(s->bytes - 3); /* without ".\r\n" */
                PUTS(s, "250 queued\r\n");
            }
            continue;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t k = (size_t)((nl ? nl : end) - p);
        if (s->llen + k > LINE_MAX - 1) s->overlong = true;
        else memcpy(s->line + s->llen, p, k), s->llen += k;
        p += k;
        if (!nl) return;
        p++;
        size_t ll = s->llen;
        if (ll && s->line[ll - 1] == '\r') ll--;
        if (s->overlong) PUTS(s, "500 line too long\r\n");
        else command(s, s->line, ll);
        s->llen = 0;
        s->overlong = false;
    }
}

/* Writes what is pending; false when the session is over. */
static bool flush(int ep, sess *s) {
    size_t off = 0;
    while (off < s->olen) {
        ssize_t w = write(s->fd, s->out + off, s->olen - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) break;
        if (w <= 0) return false;
        off += (size_t)w;
    }
    memmove(s->out, s->out + off, s->olen - off);
    s->olen -= off;
    bool want = s->olen > 0;
    if (want != s->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        s->want_out = want;
    }
    return !(s->closing && !s->olen);
}

static void close_sess(sess *s) {
    close(s->fd);
    free(s->out);
    free(s);
}

typedef struct {
    int lfd;
} server;

static void *serve(void *arg) {
    server *sv = arg;
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sv->lfd, &lev) < 0) die("epoll_ctl");
    char *buf = malloc(READ_BUF);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            sess *s = evs[i].data.ptr;
            if (!s) {
                int fd;
                while ((fd = accept4(sv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    sess *ns = calloc(1, sizeof *ns);
                    ns->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ns};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                    atomic_fetch_add(&n_conns, 1);
                    PUTS(ns, "220 sink ESMTP\r\n");
                    if (!flush(ep, ns)) close_sess(ns);
                }
                continue;
            }
            bool alive = true;
            if (evs[i].events & EPOLLIN) {
                for (;;) {
                    ssize_t r = read(s->fd, buf, READ_BUF);
                    if (r > 0) {
                        feed(s, buf, (size_t)r);
                        if (r < READ_BUF) break;
                        continue;
                    }
                    if (r < 0 && errno == EINTR) continue;
                    if (r < 0 && errno == EAGAIN) break;
                    alive = false; /* EOF or error */
                    break;
                }
            } else if (evs[i].events & (EPOLLERR | EPOLLHUP)) alive = false;
            if (alive) alive = flush(ep, s);
            if (!alive) close_sess(s);
        }
    }
    return NULL;
}

static int sink_main(int argc, char **argv) {
    const char *addr = "127.0.0.1";
    int port = 0, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) addr = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: smtp_sink [--listen ADDR] [--port N] [--threads N] | stat PORT | load PORT [-c N] [-d S] [-s BYTES]\n");
            return 2;
        }
    }
    if (threads < 1) threads = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "smtp_sink: bad address %s\n", addr);
        return 2;
    }
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0) die("bind/listen");
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("listening %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    server sv = {lfd};
    for (int i = 0; i < threads; i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, serve, &sv)) die("pthread_create");
    }
    int sig;
    sigwait(&ss, &sig);
    char b[256];
    stat_line(b, sizeof b);
    printf("%s\n", b);
    fflush(stdout);
    return 0;
}

/* ---- a client: stat, load ------------------------------------------------- */

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("write");
        p += w, n -= (size_t)w;
    }
}

/* Reads until `replies` final reply lines ("NNN " rather than "NNN-")
 * came; the last one into last (when not NULL). Blocking. */
static void await(int fd, int replies, char *last, size_t lastn) {
    char b[4096];
    size_t len = 0;
    while (replies > 0) {
        ssize_t r = read(fd, b + len, sizeof b - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("read");
        len += (size_t)r;
        char *p = b, *nl;
        while ((nl = memchr(p, '\n', (size_t)(b + len - p)))) {
            if (nl - p >= 4 && p[3] == ' ') {
                replies--;
                if (last && !replies) snprintf(last, lastn, "%.*s", (int)(nl - p), p);
            }
            p = nl + 1;
        }
        memmove(b, p, (size_t)(b + len - p));
        len = (size_t)(b + len - p);
    }
}

static int stat_main(int port) {
    int fd = dial(port);
    char line[512];
    await(fd, 1, NULL, 0);
    send_all(fd, "XSTAT\r\n", 7);
    await(fd, 1, line, sizeof line);
    send_all(fd, "QUIT\r\n", 6);
    close(fd);
    char *save, *tok = strtok_r(line + 4, " \r", &save);
    for (; tok; tok = strtok_r(NULL, " \r", &save)) {
        char *eq = strchr(tok, '=');
        if (eq) printf("%.*s %s\n", (int)(eq - tok), tok, eq + 1);
    }
    return 0;
}

typedef struct {
    int port;
    double until;
    const char *msg;
    size_t msglen;
    long long done;
} loader;

static const char envelope[] = "MAIL FROM:<bench@example.com>\r\nRCPT TO:<user@example.com>\r\nDATA\r\n";

static void *load_one(void *arg) {
    loader *l = arg;
    int fd = dial(l->port);
    await(fd, 1, NULL, 0);
    send_all(fd, "EHLO load\r\n", 11);
    await(fd, 1, NULL, 0);
    send_all(fd, envelope, sizeof envelope - 1);
    await(fd, 3, NULL, 0);
    size_t n = l->msglen + 3 + sizeof envelope - 1;
    char *group = malloc(n);
    memcpy(group, l->msg, l->msglen);
    memcpy(group + l->msglen, ".\r\n", 3);
    memcpy(group + l->msglen + 3, envelope, sizeof envelope - 1);
    while (mono_s() < l->until) {
        send_all(fd, group, n); /* the message, its end, the next envelope */
        await(fd, 4, NULL, 0);
        l->done++;
    }
    send_all(fd, ".\r\nQUIT\r\n", 9);
    await(fd, 2, NULL, 0);
    close(fd);
    free(group);
    return NULL;
}

static int load_main(int port, int argc, char **argv) {
    int conns = 16;
    double secs = 3;
    size_t size = 20480;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-c")) conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-d")) secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) size = (size_t)atol(argv[i + 1]);
    }
    if (conns < 1) conns = 1;
    /* A message of 76-character lines, as quoted-printable bodies are. */
    char *msg = malloc(size + 80);
    size_t len = 0;
    while (len < size) {
        memset(msg + len, 'x', 76);
        memcpy(msg + len + 76, "\r\n", 2);
        len += 78;
    }
    loader *ls = calloc((size_t)conns, sizeof *ls);
    pthread_t *th = calloc((size_t)conns, sizeof *th);
    double t0 = mono_s();
    for (int i = 0; i < conns; i++) {
        ls[i] = (loader){port, t0 + secs, msg, len, 0};
        if (pthread_create(&th[i], NULL, load_one, &ls[i])) die("pthread_create");
    }
    long long total = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        total += ls[i].done;
    }
    double el = mono_s() - t0;
    printf("load: messages=%lld seconds=%.2f rate=%.0f mb_per_s=%.0f\n", total, el, total / el, total * (double)len / el / 1e6);
    free(msg);
    free(ls);
    free(th);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "stat")) return stat_main(atoi(argv[2]));
    if (argc >= 3 && !strcmp(argv[1], "load")) return load_main(atoi(argv[2]), argc - 3, argv + 3);
    return sink_main(argc, argv);
}
