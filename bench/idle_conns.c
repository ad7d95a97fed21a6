/* idle_conns.c -- new clients while many idle connections are held.
 *
 * Opens N connections to the server and leaves them idle (with -k, each
 * first makes one request and keeps the connection open, as a keep-alive
 * client would), then times M new clients one after another: connect, GET
 * PATH with Connection: close, read the whole answer. Prints the server's
 * resident memory (from /proc, -p PID) before and after, and p50, p99 and
 * the maximum latency of the new clients against a target.
 *
 * Usage: idle_conns -n IDLE -m NEW [-k] [-p PID] [-t TARGET_MS] HOST PORT PATH
 * Prints one "idle_conns:" line of key=value pairs; exits 1 if a new client
 * got no 200 (the server stopped serving). */
#define _GNU_SOURCE
#include "lib/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static struct sockaddr_in addr;

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends req and reads one answer (until close when closing, else until
 * the head and Content-Length bytes are in). Returns the status or -1. */
static int ask(int fd, const char *req, int closing) {
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) return -1;
    char buf[8192];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = '\0';
        if (!closing) {
            char *he = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "\r\nContent-Length:");
            if (he && cl && n >= (size_t)(he + 4 - buf) + strtoul(cl + 17, NULL, 10)) break;
        }
        if (n == sizeof buf - 1) n = 0; /* only the status line matters */
    }
    return n > 12 && !strncmp(buf, "HTTP/1.1 ", 9) ? atoi(buf + 9) : -1;
}

static long rss_kb(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int idle = 10000, m = 2000, keep = 0, pid = 0;
    double target = 50;
    int opt;
    while ((opt = getopt(argc, argv, "n:m:kp:t:")) != -1) {
        if (opt == 'n') idle = atoi(optarg);
        else if (opt == 'm') m = atoi(optarg);
        else if (opt == 'k') keep = 1;
        else if (opt == 'p') pid = atoi(optarg);
        else if (opt == 't') target = atof(optarg);
        else return 2;
    }
    if (argc - optind != 3 || m < 1) {
        fprintf(stderr, "usage: idle_conns -n IDLE -m NEW [-k] [-p PID] [-t TARGET_MS] HOST PORT PATH\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
    inet_pton(AF_INET, argv[optind], &addr.sin_addr);
    char req[512], close_req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", argv[optind + 2]);
    snprintf(close_req, sizeof close_req, "GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n",
             argv[optind + 2]);

    long rss0 = pid ? rss_kb(pid) : -1;
    int *fds = calloc((size_t)idle + 1, sizeof *fds), held = 0;
    for (int i = 0; i < idle; i++) {
        if ((fds[i] = dial()) < 0) break;
        if (keep && ask(fds[i], req, 0) != 200) break;
        held++;
    }
    usleep(500000); /* let the server accept the last ones */
    long rss1 = pid ? rss_kb(pid) : -1;

    double *lat = calloc((size_t)m, sizeof *lat);
    int bad = 0;
    for (int i = 0; i < m; i++) {
        int64_t t0 = clock_mono_us();
        int fd = dial();
        int st = fd >= 0 ? ask(fd, close_req, 1) : -1;
        if (fd >= 0) close(fd);
        lat[i] = (double)(clock_mono_us() - t0) / 1000;
        if (st != 200) bad++;
    }
    qsort(lat, (size_t)m, sizeof *lat, cmp);
    double p50 = lat[m / 2], p99 = lat[(int)(m * 0.99) < m ? (int)(m * 0.99) : m - 1], max = lat[m - 1];
    printf("idle_conns: idle=%d keepalive=%d new=%d failed=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f target_ms=%.0f "
           "rss_before_kb=%ld rss_idle_kb=%ld\n",
           held, keep, m, bad, p50, p99, max, target, rss0, rss1);
    for (int i = 0; i < held; i++) close(fds[i]);
    free(fds);
    free(lat);
    return bad || held < idle ? 1 : 0;
}
