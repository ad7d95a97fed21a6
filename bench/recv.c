/* recv.c -- a webhook receiver: the far end of the fan-out and Currents
 * benchmarks (bench/fanout.sh, bench/currents.sh) and of tests that need to
 * see what was delivered.
 *
 * HTTP/1.1 over epoll, non-blocking, keep-alive and pipelining, many
 * connections, bodies framed by Content-Length or chunked. Every request
 * is answered `200 OK` with `Content-Length: 0` (or --status), except that
 * the first --fail requests get --fail-status (503) with a Retry-After, to
 * exercise a sender's retries. It counts requests, body bytes and the
 * distinct values of the X-Brasa-Message-Id header (a hash set of 64-bit
 * hashes: this is how duplicate deliveries are measured), and
 * `GET /__count` answers them as JSON (that request is not counted):
 *   {"requests":N,"bytes":B,"unique_ids":U,"ok":..,"failed":..,
 *    "duplicates":..,"without_id":..,"untracked_ids":..,"bad_requests":..,
 *    "connections":..,"first_at":MS,"last_at":MS,"events":E,
 *    "unique_events":..,"accepted_events":..,"duplicate_events":..,
 *    "untracked_events":..,"bad_bodies":..}
 * ok/failed split the requests by the status answered (2xx or not);
 * duplicates counts requests answered 2xx whose id had already been answered
 * 2xx; first_at/last_at are the wall-clock epoch milliseconds of the first
 * and the last counted request (0 before any). Bodies shaped as Currents'
 * Custom HTTP batches, {"events":[...]}, are counted by event (see
 * scan_events): events is the elements of all counted requests' arrays;
 * the events' "id" values go to a second id set: unique_events distinct
 * ids, accepted_events distinct ids answered 2xx at least once,
 * duplicate_events ids answered 2xx again; bad_bodies counts bodies that
 * start with '{' but are not one whole JSON object.
 *
 * Robust by construction: a malformed request gets 400 and the connection
 * is closed; heads over 16 KB get 431, bodies over --max-body 413; input and
 * output buffers are bounded; idle connections are closed after
 * --idle-timeout. One thread by default; --threads N runs N event loops
 * sharing the listening socket (EPOLLEXCLUSIVE).
 *
 * Usage: recv [options]
 *   --listen ADDR        address to bind (127.0.0.1)
 *   --port N             port (0, the default, picks a free one); stdout's
 *                        first line is always "listening PORT"
 *   --status N           status of every answer (200; 200-599)
 *   --fail N             answer the first N requests with --fail-status
 *   --fail-status N      (503; 429 is the other useful one)
 *   --retry-after S      Retry-After of those answers, in seconds (1; -1: none)
 *   --threads N          event loops (1)
 *   --progress           a status line on stderr every second
 *   --dump FILE          append each counted request as one NDJSON line:
 *                        {"status","method","path","headers":{lowercased
 *                        name: value},"body"} (bodies as JSON strings)
 *   --dump-max N         dump only the first N requests
 *   --max-body BYTES     (1048576)
 *   --max-conns N        connections open at once; more are closed (10000)
 *   --idle-timeout S     (60)
 *   --max-ids N          distinct message ids, and event ids, tracked,
 *                        bounding each set's memory (20000000; more are
 *                        counted in untracked_*, not told apart)
 * On SIGTERM or SIGINT it prints the final counts (the JSON above) on stdout
 * and exits 0. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384     /* request line + headers */
#define MAX_HEADERS 100
#define TRAILER_MAX 8192   /* chunked trailers */
#define SCRATCH 65536      /* one read, per thread */
#define OUT_SOFT 65536     /* stop parsing pipelined requests beyond this much output */
#define LINGER_S 2         /* after our last answer on a closing connection */
#define STRIPES 64         /* the id set's locks */

/* ---- options, helpers ---------------------------------------------------- */

static struct {
    const char *listen;
    int port, status, fail_status, retry_after, threads, max_conns, idle_timeout;
    long long fail, dump_max;
    size_t max_body, max_ids;
    bool progress;
    const char *dump;
} opt = {"127.0.0.1", 0, 200, 503, 1, 1, 10000, 60, 0, -1, 1 << 20, 20000000, false, NULL};

static size_t in_limit; /* bytes one connection may hold unparsed */
static int dump_fd = -1;

static void die(const char *what) {
    fprintf(stderr, "recv: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p) die("out of memory");
    return p;
}

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_add(sbuf *b, const void *s, size_t n) {
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A JSON string of s[0..n): control bytes escaped, invalid UTF-8 as U+FFFD. */
static void sb_json(sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    sb_reserve(b, n + 2);
    b->p[b->len++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_add(b, e, 2);
            i++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            char e[2] = {'\\', c == '\n' ? 'n' : c == '\r' ? 'r' : 't'};
            sb_add(b, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sb_add(b, e, 6);
            i++;
        } else if (c < 0x80) {
            sb_add(b, &p[i], 1);
            i++;
        } else {
            /* the length of a well-formed sequence starting here, or 0 */
            size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
            if (len && i + len <= n) {
                unsigned c1 = p[i + 1];
                bool ok = (c1 & 0xc0) == 0x80 && !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 > 0x9f) &&
                          !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 > 0x8f);
                for (size_t k = 2; ok && k < len; k++) ok = (p[i + k] & 0xc0) == 0x80;
                if (!ok) len = 0;
            } else {
                len = 0;
            }
            if (len) {
                sb_add(b, &p[i], len);
                i += len;
            } else {
                sb_str(b, "\\ufffd");
                i++;
            }
        }
    }
    sb_add(b, "\"", 1);
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

/* Counters are written by one thread and read by any: relaxed atomics,
 * bumped without a locked instruction. */
typedef _Atomic uint64_t counter;
#define GET(a) atomic_load_explicit(&(a), memory_order_relaxed)
#define BUMP(a, n) atomic_store_explicit(&(a), GET(a) + (n), memory_order_relaxed)

/* ---- the id sets ---------------------------------------------------------- */

/* 64-bit hashes of ids, open addressing; bit 0 of a slot says the id was
 * answered 2xx at least once, the other bits are the hash (0: empty). A
 * false match needs two ids whose hashes agree in 63 bits: about 5e-6 for
 * 10 million ids. Striped locks, so --threads loops rarely meet. Two sets:
 * the X-Brasa-Message-Id values, and the ids of Currents events. */
typedef struct {
    pthread_mutex_t mu;
    uint64_t *slot;
    size_t cap, n;
    counter unique, dups, accepted;
} stripe;

typedef struct {
    stripe s[STRIPES];
    _Atomic size_t total;
    counter untracked;
} idset;

static idset msg_ids, ev_ids;

static uint64_t rotl(uint64_t x, int r) { return x << r | x >> (64 - r); }

static uint64_t fmix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ h >> 33;
}

static uint64_t hash64(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        h ^= rotl(k * 0x87c37b91114253d5ull, 31) * 0x4cf5ad432745937full;
        h = rotl(h, 27) * 5 + 0x52dce729;
    }
    uint64_t k = 0;
    memcpy(&k, s, n);
    h ^= rotl(k * 0x87c37b91114253d5ull, 31) * 0x4cf5ad432745937full;
    return fmix(h);
}

static void ids_init(idset *set) {
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&set->s[i].mu, NULL);
}

/* Records one id; ok: the request carrying it was answered 2xx. */
static void ids_note(idset *set, const char *id, size_t n, bool ok) {
    uint64_t h = hash64(id, n);
    stripe *s = &set->s[h >> 58];
    uint64_t key = h & ~1ull;
    if (!key) key = 2;
    pthread_mutex_lock(&s->mu);
    if (s->n * 2 >= s->cap) {
        if (atomic_load(&set->total) >= opt.max_ids) {
            /* full: only ids already known are still told apart */
            size_t i = s->cap ? (key >> 1) & (s->cap - 1) : 0;
            while (s->cap && s->slot[i] && (s->slot[i] & ~1ull) != key) i = (i + 1) & (s->cap - 1);
            if (!s->cap || !s->slot[i]) {
                atomic_fetch_add(&set->untracked, 1);
                pthread_mutex_unlock(&s->mu);
                return;
            }
        } else {
            size_t cap = s->cap ? s->cap * 2 : 1024;
            uint64_t *t = calloc(cap, sizeof *t);
            if (!t) die("out of memory");
            for (size_t i = 0; i < s->cap; i++)
                if (s->slot[i]) {
                    size_t j = (s->slot[i] >> 1) & (cap - 1);
                    while (t[j]) j = (j + 1) & (cap - 1);
                    t[j] = s->slot[i];
                }
            free(s->slot);
            s->slot = t;
            s->cap = cap;
        }
    }
    size_t i = (key >> 1) & (s->cap - 1);
    while (s->slot[i] && (s->slot[i] & ~1ull) != key) i = (i + 1) & (s->cap - 1);
    if (!s->slot[i]) {
        s->slot[i] = key | ok;
        s->n++;
        atomic_fetch_add(&set->total, 1);
        BUMP(s->unique, 1);
        if (ok) BUMP(s->accepted, 1);
    } else if (ok) {
        if (s->slot[i] & 1) BUMP(s->dups, 1);
        else BUMP(s->accepted, 1);
        s->slot[i] |= 1;
    }
    pthread_mutex_unlock(&s->mu);
}

/* The set's totals: distinct ids, duplicates, distinct ids answered 2xx. */
static void ids_sum(idset *set, uint64_t *uniq, uint64_t *dups, uint64_t *accepted) {
    *uniq = *dups = *accepted = 0;
    for (int i = 0; i < STRIPES; i++) {
        *uniq += GET(set->s[i].unique);
        *dups += GET(set->s[i].dups);
        *accepted += GET(set->s[i].accepted);
    }
}

/* ---- connections and threads --------------------------------------------- */

typedef struct {
    int fd;
    char *in;          /* unparsed input left from earlier reads */
    size_t in_len, in_cap;
    char *out;         /* answers not yet written */
    size_t out_len, out_off;
    bool closing;      /* answer what is queued, then close */
    bool lingering;    /* our side shut down: reading until EOF or the deadline */
    bool peer_eof;
    bool stalled;      /* complete requests wait in `in` for the output to drain */
    bool continued;    /* 100 Continue sent for the request at the head of `in` */
    int64_t last;      /* monotonic seconds of the last activity */
} conn;

typedef struct {
    counter requests, bytes, ok, failed, bad, accepted, noid, events, bad_bodies;
    _Atomic int64_t first_ms, last_ms;
} stats;

typedef struct {
    int id, ep, tfd, sfd;
    pthread_t th;
    conn **byfd;
    size_t nfd;
    char *scratch;
    sbuf out, dump, dumpv;
    sbuf spans;        /* the event ids of the body being scanned (span[]) */
    stats st;
} worker;

static int lfd = -1;
static worker *workers;
static _Atomic int open_conns;
static _Atomic long long fail_left;
static _Atomic long long dumped;

static void conn_close(worker *w, conn *c) {
    w->byfd[c->fd] = NULL;
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
    atomic_fetch_sub(&open_conns, 1);
}

static const char *reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

/* Queues a complete answer with no body (a 204 carries no Content-Length). */
static void answer(sbuf *out, int status, bool close_after, bool keep_alive_10, int retry_after) {
    sb_printf(out, "HTTP/1.1 %d %s\r\n", status, reason(status));
    if (retry_after >= 0) sb_printf(out, "Retry-After: %d\r\n", retry_after);
    if (close_after) sb_str(out, "Connection: close\r\n");
    else if (keep_alive_10) sb_str(out, "Connection: keep-alive\r\n");
    sb_str(out, status == 204 ? "\r\n" : "Content-Length: 0\r\n\r\n");
}

static void count_json(sbuf *b) {
    uint64_t req = 0, bytes = 0, ok = 0, failed = 0, bad = 0, noid = 0, events = 0, bad_bodies = 0;
    int64_t first = 0, last = 0;
    for (int i = 0; i < opt.threads; i++) {
        stats *s = &workers[i].st;
        req += GET(s->requests);
        bytes += GET(s->bytes);
        ok += GET(s->ok);
        failed += GET(s->failed);
        bad += GET(s->bad);
        noid += GET(s->noid);
        events += GET(s->events);
        bad_bodies += GET(s->bad_bodies);
        int64_t f = atomic_load(&s->first_ms), l = atomic_load(&s->last_ms);
        if (f && (!first || f < first)) first = f;
        if (l > last) last = l;
    }
    uint64_t uniq, dups, acc, ev_uniq, ev_dups, ev_acc;
    ids_sum(&msg_ids, &uniq, &dups, &acc);
    ids_sum(&ev_ids, &ev_uniq, &ev_dups, &ev_acc);
    sb_printf(b,
              "{\"requests\":%llu,\"bytes\":%llu,\"unique_ids\":%llu,\"ok\":%llu,\"failed\":%llu,"
              "\"duplicates\":%llu,\"without_id\":%llu,\"untracked_ids\":%llu,\"bad_requests\":%llu,\"connections\":%d,"
              "\"first_at\":%lld,\"last_at\":%lld,",
              (unsigned long long)req, (unsigned long long)bytes, (unsigned long long)uniq, (unsigned long long)ok,
              (unsigned long long)failed, (unsigned long long)dups, (unsigned long long)noid, (unsigned long long)GET(msg_ids.untracked),
              (unsigned long long)bad, atomic_load(&open_conns), (long long)first, (long long)last);
    sb_printf(b,
              "\"events\":%llu,\"unique_events\":%llu,\"accepted_events\":%llu,\"duplicate_events\":%llu,"
              "\"untracked_events\":%llu,\"bad_bodies\":%llu}",
              (unsigned long long)events, (unsigned long long)ev_uniq, (unsigned long long)ev_acc, (unsigned long long)ev_dups,
              (unsigned long long)GET(ev_ids.untracked), (unsigned long long)bad_bodies);
}

/* ---- parsing ------------------------------------------------------------- */

typedef struct {
    const char *name, *value;
    size_t nlen, vlen;
} header;

typedef struct {
    const char *method, *target;
    size_t mlen, tlen;
    int minor;             /* HTTP/1.minor */
    header h[MAX_HEADERS];
    int nh;
    long long clen;        /* -1: none */
    bool chunked, close, keep_alive, expect;
    const char *id;
    size_t idlen;
} request;

static bool tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is(const char *s, size_t n, const char *lit) { return n == strlen(lit) && !strncasecmp(s, lit, n); }

/* Whether a comma-separated header value lists tok (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *tok) {
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e > s && is(v + s, e - s, tok)) return true;
    }
    return false;
}

/* Parses a head p[0..n) that ends with CRLF CRLF. Returns 0, or the status
 * to refuse it with. */
static int parse_head(const char *p, size_t n, request *r) {
    memset(r, 0, sizeof *r);
    r->clen = -1;
    size_t i = 0;
    r->method = p;
    while (i < n && tchar((unsigned char)p[i])) i++;
    r->mlen = i;
    if (!r->mlen || r->mlen > 32 || i >= n || p[i] != ' ') return 400;
    r->target = p + ++i;
    while (i < n && (unsigned char)p[i] > ' ' && p[i] != 0x7f) i++;
    r->tlen = (size_t)(p + i - r->target);
    if (!r->tlen || i >= n || p[i] != ' ') return 400;
    i++;
    if (n - i < 10 || memcmp(p + i, "HTTP/1.", 7) || p[i + 7] < '0' || p[i + 7] > '9' || p[i + 8] != '\r' ||
        p[i + 9] != '\n')
        return 400;
    r->minor = p[i + 7] - '0';
    i += 10;
    bool te = false;
    for (;;) {
        if (n - i < 2) return 400;
        if (p[i] == '\r' && p[i + 1] == '\n') break; /* the empty line */
        if (r->nh == MAX_HEADERS) return 431;
        header *h = &r->h[r->nh++];
        h->name = p + i;
        while (i < n && tchar((unsigned char)p[i])) i++;
        h->nlen = (size_t)(p + i - h->name);
        if (!h->nlen || i >= n || p[i] != ':') return 400; /* also obs-fold and space before ':' */
        i++;
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        h->value = p + i;
        while (i < n && p[i] != '\r') {
            unsigned char c = (unsigned char)p[i];
            if ((c < ' ' && c != '\t') || c == 0x7f) return 400;
            i++;
        }
        if (n - i < 2 || p[i + 1] != '\n') return 400;
        size_t e = (size_t)(p + i - h->value);
        while (e && (h->value[e - 1] == ' ' || h->value[e - 1] == '\t')) e--;
        h->vlen = e;
        i += 2;

        const char *v = h->value;
        size_t vl = h->vlen;
        if (is(h->name, h->nlen, "content-length")) {
            long long x = 0;
            if (!vl || vl > 18) return 400;
            for (size_t k = 0; k < vl; k++) {
                if (v[k] < '0' || v[k] > '9') return 400;
                x = x * 10 + (v[k] - '0');
            }
            if (r->clen >= 0 && r->clen != x) return 400;
            r->clen = x;
        } else if (is(h->name, h->nlen, "transfer-encoding")) {
            if (te || !is(v, vl, "chunked")) return 400;
            te = r->chunked = true;
        } else if (is(h->name, h->nlen, "connection")) {
            r->close |= has_token(v, vl, "close");
            r->keep_alive |= has_token(v, vl, "keep-alive");
        } else if (is(h->name, h->nlen, "expect")) {
            if (!is(v, vl, "100-continue")) return 417;
            r->expect = true;
        } else if (is(h->name, h->nlen, "x-brasa-message-id")) {
            r->id = v;
            r->idlen = vl;
        }
    }
    if (r->chunked && (r->clen >= 0 || r->minor == 0)) return 400;
    return 0;
}

/* Scans a chunked body p[0..n): 1 when whole (*raw: bytes it spans, *dec:
 * its decoded length), 0 when more input is needed, 400 or 413. */
static int chunked_scan(const char *p, size_t n, size_t max, size_t *raw, size_t *dec) {
    size_t i = 0, total = 0;
    for (;;) {
        size_t sz = 0;
        int digits = 0;
        for (; i < n; i++) {
            char c = p[i];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0) break;
            if (++digits > 8) return 400;
            sz = sz * 16 + (size_t)v;
        }
        if (i == n) return 0;
        if (!digits) return 400;
        for (size_t ext = 0; i < n && p[i] != '\r'; i++) { /* chunk extensions, ignored */
            unsigned char c = (unsigned char)p[i];
            if ((c < ' ' && c != '\t') || c == 0x7f || ++ext > 1024) return 400;
        }
        if (n - i < 2) return 0;
        if (p[i + 1] != '\n') return 400;
        i += 2;
        if (!sz) break;
        if (total + sz > max) return 413;
        if (n - i < sz + 2) return 0;
        if (p[i + sz] != '\r' || p[i + sz + 1] != '\n') return 400;
        total += sz;
        i += sz + 2;
    }
    for (size_t start = i;;) { /* trailer fields, ignored, then the empty line */
        if (n - i < 2) return i - start + 2 > TRAILER_MAX ? 431 : 0;
        if (p[i] == '\r' && p[i + 1] == '\n') break;
        for (; i < n && p[i] != '\r'; i++) {
            unsigned char c = (unsigned char)p[i];
            if ((c < ' ' && c != '\t') || c == 0x7f) return 400;
        }
        if (i - start > TRAILER_MAX) return 431;
        if (n - i < 2) return 0;
        if (p[i + 1] != '\n') return 400;
        i += 2;
    }
    *raw = i + 2;
    *dec = total;
    return 1;
}

/* Decodes a chunked body chunked_scan accepted, in place; returns its length. */
static size_t chunked_decode(char *p) {
    size_t i = 0, w = 0;
    for (;;) {
        size_t sz = 0;
        for (;; i++) {
            char c = p[i];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0) break;
            sz = sz * 16 + (size_t)v;
        }
        while (p[i] != '\n') i++;
        i++;
        if (!sz) return w;
        memmove(p + w, p + i, sz);
        w += sz;
        i += sz + 2;
    }
}

/* ---- Currents bodies ------------------------------------------------------ */

/* Counts the events of a Currents Custom HTTP body, {"events":[e, ...]}:
 * the elements of the top-level object's "events" array, and each
 * element's "id" (a string) goes into the event id set. A structural scan,
 * not a parser: strings are skipped whole (their end is the first quote not
 * escaped by an odd run of backslashes), brackets must balance and close
 * the body, scalars are not looked at. Counting occurrences of
 * "event_type": would be cheaper but wrong: a needle inside a string value
 * is escaped (\"event_type\"), but CustomEvent's and Purchase's properties
 * are a real object in this format (custom_properties,
 * purchase_properties), so a property named event_type or id appears
 * unescaped, deeper down. The scan knows each key's level. Keys are
 * compared as written (brasa writes them unescaped). A body that starts
 * with '{' but is not one whole object (an unclosed string, unbalanced
 * brackets, bytes after it) counts no events and one bad body: a sender's
 * broken JSON is a finding. Other bodies (not JSON objects) count nothing. */
#define SCAN_DEPTH 64

typedef struct {
    size_t off, len;
} span;

/* The bytes that end a scalar. */
static const bool delim[256] = {[' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1, [','] = 1, [':'] = 1,
                                ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1, ['"'] = 1};

/* The events of p[0..n) (which starts with '{': depth is 0 only before
 * it), their ids into w->spans; -1 when the body is not one whole object. */
static long scan_events(worker *w, const char *p, size_t n) {
    char stack[SCAN_DEPTH];
    int depth = 0;
    bool key_next = false;  /* in an object, the next string is a key */
    bool events_key = false;/* the last key at level 1 was "events" */
    bool in_events = false; /* level 2 is the events array */
    bool id_key = false;    /* the last key of the event object (level 3) was "id" */
    long count = 0;
    w->spans.len = 0;
    for (size_t i = 0; i < n;) {
        char c = p[i];
        switch (c) {
        case ' ': case '\t': case '\n': case '\r': case ':':
            i++;
            continue;
        case ',':
            key_next = depth && stack[depth - 1] == '{';
            i++;
            continue;
        case '{': case '[':
            if (depth == SCAN_DEPTH) return -1;
            if (depth == 2 && in_events) count++;
            if (depth == 1 && c == '[' && events_key) in_events = true;
            stack[depth++] = c;
            key_next = c == '{';
            i++;
            continue;
        case '}': case ']':
            if (!depth || stack[depth - 1] != (c == '}' ? '{' : '[')) return -1;
            depth--;
            key_next = false;
            if (depth == 1) in_events = false;
            i++;
            if (!depth) { /* the object closed: nothing may follow but blanks */
                while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
                return i == n ? count : -1;
            }
            continue;
        case '"': {
            size_t s = i + 1, e;
            for (size_t from = s;;) {
                const char *q = memchr(p + from, '"', n - from);
                if (!q) return -1;
                e = (size_t)(q - p);
                size_t bs = 0;
                while (e - bs > s && p[e - bs - 1] == '\\') bs++;
                if (!(bs & 1)) break;
                from = e + 1;
            }
            if (key_next) {
                if (depth == 1) events_key = e - s == 6 && !memcmp(p + s, "events", 6);
                if (depth == 3 && in_events) id_key = e - s == 2 && !memcmp(p + s, "id", 2);
                key_next = false;
            } else if (depth == 2 && in_events) {
                count++;
            } else if (depth == 3 && in_events && id_key && stack[2] == '{') {
                sb_add(&w->spans, &(span){s, e - s}, sizeof(span));
            }
            i = e + 1;
            continue;
        }
        default: /* a scalar (or garbage): up to the next delimiter */
            if (depth == 2 && in_events) count++;
            for (i++; i < n && !delim[(unsigned char)p[i]]; i++) {
            }
            continue;
        }
    }
    return -1; /* the body ended inside the object */
}

/* Counts a request body's events (see scan_events); ok: answered 2xx. */
static void count_events(worker *w, const char *body, size_t blen, bool ok) {
    size_t i = 0;
    while (i < blen && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) i++;
    if (i == blen || body[i] != '{') return;
    long n = scan_events(w, body + i, blen - i);
    if (n < 0) {
        BUMP(w->st.bad_bodies, 1);
        return;
    }
    BUMP(w->st.events, (uint64_t)n);
    const span *sp = (const span *)w->spans.p;
    for (size_t k = 0; k < w->spans.len / sizeof(span); k++) ids_note(&ev_ids, body + i + sp[k].off, sp[k].len, ok);
}

/* ---- serving ------------------------------------------------------------- */

static void dump_request(worker *w, const request *r, int status, const char *body, size_t blen) {
    if (opt.dump_max >= 0 && atomic_fetch_add(&dumped, 1) >= opt.dump_max) return;
    sbuf *d = &w->dump;
    d->len = 0;
    sb_printf(d, "{\"status\":%d,\"method\":", status);
    sb_json(d, r->method, r->mlen);
    sb_str(d, ",\"path\":");
    sb_json(d, r->target, r->tlen);
    sb_str(d, ",\"headers\":{");
    sbuf *v = &w->dumpv;
    for (int i = 0; i < r->nh; i++) {
        /* a repeated name is written once, its values joined with ", " */
        const header *h = &r->h[i];
        bool seen = false;
        for (int k = 0; k < i && !seen; k++) seen = r->h[k].nlen == h->nlen && !strncasecmp(r->h[k].name, h->name, h->nlen);
        if (seen) continue;
        v->len = 0;
        for (size_t k = 0; k < h->nlen; k++) {
            char ch = h->name[k];
            sb_add(v, (char[]){ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch}, 1);
        }
        if (d->p[d->len - 1] != '{') sb_add(d, ",", 1);
        sb_json(d, v->p, v->len);
        sb_add(d, ":", 1);
        v->len = 0;
        for (int k = i; k < r->nh; k++)
            if (r->h[k].nlen == h->nlen && !strncasecmp(r->h[k].name, h->name, h->nlen)) {
                if (v->len) sb_add(v, ", ", 2);
                sb_add(v, r->h[k].value, r->h[k].vlen);
            }
        sb_json(d, v->p ? v->p : "", v->len);
    }
    sb_str(d, "},\"body\":");
    sb_json(d, body, blen);
    sb_str(d, "}\n");
    /* O_APPEND: one write per line keeps lines whole across threads */
    size_t off = 0;
    while (off < d->len) {
        ssize_t n = write(dump_fd, d->p + off, d->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("cannot write the dump file");
        off += (size_t)n;
    }
}

/* One complete request: counts it and queues its answer. */
static void serve_one(worker *w, conn *c, const request *r, const char *body, size_t blen, int64_t now_ms) {
    bool close_after = r->minor == 0 ? !r->keep_alive : r->close;
    bool ka10 = r->minor == 0 && !close_after;
    if (is(r->method, r->mlen, "GET") && r->tlen == 8 && !memcmp(r->target, "/__count", 8)) {
        sbuf b = {0};
        count_json(&b);
        sb_printf(&w->out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n",
                  close_after ? "Connection: close\r\n" : ka10 ? "Connection: keep-alive\r\n" : "", b.len);
        sb_add(&w->out, b.p, b.len);
        free(b.p);
    } else {
        int status = opt.status, retry = -1;
        long long left = atomic_load(&fail_left);
        while (left > 0 && !atomic_compare_exchange_weak(&fail_left, &left, left - 1)) {
        }
        if (left > 0) status = opt.fail_status, retry = opt.retry_after;
        bool ok = status >= 200 && status < 300;
        stats *s = &w->st;
        BUMP(s->requests, 1);
        BUMP(s->bytes, blen);
        if (ok) BUMP(s->ok, 1);
        else BUMP(s->failed, 1);
        if (!atomic_load_explicit(&s->first_ms, memory_order_relaxed)) atomic_store(&s->first_ms, now_ms);
        atomic_store_explicit(&s->last_ms, now_ms, memory_order_relaxed);
        if (r->id) ids_note(&msg_ids, r->id, r->idlen, ok);
        else BUMP(s->noid, 1);
        count_events(w, body, blen, ok);
        if (dump_fd >= 0) dump_request(w, r, status, body, blen);
        answer(&w->out, status, close_after, ka10, retry);
    }
    if (close_after) c->closing = true;
}

/* Serves the complete requests at the start of buf[0..len), answers into
 * w->out; returns the bytes consumed. Stops early when the connection is to
 * close, or (setting c->stalled) when enough output is queued. */
static size_t serve_buf(worker *w, conn *c, char *buf, size_t len) {
    size_t pos = 0;
    int64_t now_ms = wall_ms();
    c->stalled = false;
    while (!c->closing) {
        if (w->out.len >= OUT_SOFT) {
            c->stalled = pos < len;
            break;
        }
        while (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n') pos += 2; /* blank lines between requests */
        if (pos == len) break;
        char *p = buf + pos;
        size_t n = len - pos, look = n < HEAD_MAX ? n : HEAD_MAX;
        char *end = memmem(p, look, "\r\n\r\n", 4);
        if (!end) {
            if (n >= HEAD_MAX) goto refuse_431;
            /* a head that cannot be a request line is refused at once */
            if (!tchar((unsigned char)p[0]) && !(n == 1 && p[0] == '\r')) goto refuse_400;
            break;
        }
        size_t hlen = (size_t)(end - p) + 4;
        request r;
        int bad = parse_head(p, hlen, &r);
        if (bad) {
            BUMP(w->st.bad, 1);
            answer(&w->out, bad, true, false, -1);
            c->closing = true;
            break;
        }
        char *body = p + hlen;
        size_t avail = n - hlen, raw, blen;
        if (r.chunked) {
            int st = chunked_scan(body, avail, opt.max_body, &raw, &blen);
            if (st > 1) {
                BUMP(w->st.bad, 1);
                answer(&w->out, st, true, false, -1);
                c->closing = true;
                break;
            }
            if (st == 0) {
                if (n >= in_limit) goto refuse_413;
                goto incomplete;
            }
            blen = chunked_decode(body);
        } else {
            if (r.clen > (long long)opt.max_body) goto refuse_413;
            raw = blen = r.clen > 0 ? (size_t)r.clen : 0;
            if (avail < raw) goto incomplete;
        }
        c->continued = false;
        serve_one(w, c, &r, body, blen, now_ms);
        pos += hlen + raw;
        continue;
    incomplete:
        if (r.expect && !c->continued && avail == 0 && r.minor == 1) {
            sb_str(&w->out, "HTTP/1.1 100 Continue\r\n\r\n");
            c->continued = true;
        }
        break;
    refuse_400:
        BUMP(w->st.bad, 1);
        answer(&w->out, 400, true, false, -1);
        c->closing = true;
        break;
    refuse_413:
        BUMP(w->st.bad, 1);
        answer(&w->out, 413, true, false, -1);
        c->closing = true;
        break;
    refuse_431:
        BUMP(w->st.bad, 1);
        answer(&w->out, 431, true, false, -1);
        c->closing = true;
        break;
    }
    return c->closing ? len : pos; /* a closing connection reads nothing more */
}

/* Writes c's queued output; false when the connection broke. */
static bool flush(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && errno == EAGAIN;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    return true;
}

/* Sends w->out (answers just made), queuing on c what the socket refused. */
static bool send_out(worker *w, conn *c) {
    size_t off = 0;
    while (off < w->out.len) {
        ssize_t n = send(c->fd, w->out.p + off, w->out.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        return false;
    }
    if (off < w->out.len) {
        c->out_len = w->out.len - off;
        c->out = xrealloc(NULL, c->out_len);
        memcpy(c->out, w->out.p + off, c->out_len);
        c->out_off = 0;
    }
    w->out.len = 0;
    return true;
}

/* Keeps what serve_buf left of buf[0..len) in c->in. */
static void keep_rest(conn *c, char *buf, size_t len, size_t used) {
    size_t rest = len - used;
    if (buf == c->in) {
        memmove(c->in, c->in + used, rest);
        c->in_len = rest;
    } else if (rest) {
        c->in_cap = rest > 4096 ? rest : 4096;
        c->in = xrealloc(c->in, c->in_cap);
        memcpy(c->in, buf + used, rest);
        c->in_len = rest;
    }
    if (!c->in_len && c->in) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

/* Everything a connection can do now: write, read, serve; edge-triggered,
 * so it returns only once a read or a write would block, or it closed.
 * events: what epoll reported (EPOLLRDHUP: the peer's FIN is queued). */
static void conn_io(worker *w, conn *c, uint32_t events) {
    for (;;) {
        if (!flush(c)) break;
        if (c->out_off < c->out_len) return; /* EPOLLOUT will call again */
        if (c->stalled) {
            size_t used = serve_buf(w, c, c->in, c->in_len);
            keep_rest(c, c->in, c->in_len, used);
            if (!send_out(w, c)) break;
            continue;
        }
        if (c->lingering) { /* discard what comes until EOF */
            ssize_t n = recv(c->fd, w->scratch, SCRATCH, 0);
            if (n > 0) continue;
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            break;
        }
        if (c->closing) {
            shutdown(c->fd, SHUT_WR);
            c->lingering = true;
            c->last = mono_s();
            continue;
        }
        if (c->peer_eof) break;
        char *dst = w->scratch;
        size_t room = SCRATCH;
        if (c->in_len) {
            if (c->in_len == c->in_cap) {
                c->in_cap *= 2;
                c->in = xrealloc(c->in, c->in_cap);
            }
            dst = c->in + c->in_len;
            room = c->in_cap - c->in_len;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0 && errno == EAGAIN) return;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        c->last = mono_s();
        if (n == 0) {
            c->peer_eof = true; /* answer what is whole, then close */
            if (!c->in_len) continue;
        }
        char *buf = c->in_len ? c->in : w->scratch;
        size_t len = c->in_len + (size_t)n;
        size_t used = serve_buf(w, c, buf, len);
        keep_rest(c, buf, len, used);
        if (!send_out(w, c)) break;
        /* A short read emptied the socket: more data makes a new edge, so
         * the read that would only say EAGAIN is saved (a third of the
         * system calls of one request per wake-up). Not when the peer's FIN
         * came with the data: its edge is spent, the EOF must be read. */
        if ((size_t)n < room && n > 0 && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !c->stalled &&
            !c->closing && c->out_off >= c->out_len)
            return;
    }
    conn_close(w, c);
}

static void accept_some(worker *w) {
    for (int k = 0; k < 64; k++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return; /* EAGAIN (another loop took it), or out of files: retried on the next event */
        }
        if (atomic_fetch_add(&open_conns, 1) >= opt.max_conns) {
            atomic_fetch_sub(&open_conns, 1);
            close(fd);
            continue;
        }
        BUMP(w->st.accepted, 1);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= w->nfd) {
            size_t nfd = w->nfd ? w->nfd : 1024;
            while (nfd <= (size_t)fd) nfd *= 2;
            w->byfd = xrealloc(w->byfd, nfd * sizeof *w->byfd);
            memset(w->byfd + w->nfd, 0, (nfd - w->nfd) * sizeof *w->byfd);
            w->nfd = nfd;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c) die("out of memory");
        c->fd = fd;
        c->last = mono_s();
        w->byfd[fd] = c;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = (uint64_t)fd};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            conn_close(w, c);
            continue;
        }
        conn_io(w, c, EPOLLRDHUP); /* no edge seen yet: read to EAGAIN */
    }
}

/* Once a second: idle and lingering connections past their time go. */
static void sweep(worker *w) {
    int64_t now = mono_s();
    for (size_t fd = 0; fd < w->nfd; fd++) {
        conn *c = w->byfd[fd];
        if (c && now - c->last >= (c->lingering ? LINGER_S : opt.idle_timeout)) conn_close(w, c);
    }
}

static void progress(int64_t t) {
    static uint64_t prev;
    static uint64_t prev_ev;
    uint64_t req = 0, bytes = 0, failed = 0, events = 0, uniq, dups, acc;
    for (int i = 0; i < opt.threads; i++) {
        req += GET(workers[i].st.requests);
        bytes += GET(workers[i].st.bytes);
        failed += GET(workers[i].st.failed);
        events += GET(workers[i].st.events);
    }
    ids_sum(&msg_ids, &uniq, &dups, &acc);
    fprintf(stderr, "recv: %4llds  requests %llu (+%llu/s)  failed %llu  bytes %llu  unique_ids %llu  duplicates %llu  "
                    "events %llu (+%llu/s)  conns %d\n",
            (long long)t, (unsigned long long)req, (unsigned long long)(req - prev), (unsigned long long)failed,
            (unsigned long long)bytes, (unsigned long long)uniq, (unsigned long long)dups, (unsigned long long)events,
            (unsigned long long)(events - prev_ev), atomic_load(&open_conns));
    prev = req;
    prev_ev = events;
}

static void *loop(void *arg) {
    worker *w = arg;
    struct epoll_event evs[256];
    int64_t ticks = 0;
    for (;;) {
        int n = epoll_wait(w->ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            int fd = (int)evs[k].data.u64;
            if (fd == lfd) {
                accept_some(w);
            } else if (fd == w->tfd) {
                uint64_t x;
                if (read(w->tfd, &x, sizeof x) == sizeof x) {
                    ticks += (int64_t)x;
                    sweep(w);
                    if (w->id == 0 && opt.progress) progress(ticks);
                }
            } else if (fd == w->sfd) {
                sbuf b = {0};
                count_json(&b);
                sb_add(&b, "\n", 1);
                fwrite(b.p, 1, b.len, stdout);
                fflush(stdout);
                if (opt.progress) fprintf(stderr, "recv: stopped, final counts on stdout\n");
                exit(0);
            } else if ((size_t)fd < w->nfd && w->byfd[fd]) {
                conn_io(w, w->byfd[fd], evs[k].events);
            }
        }
    }
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: recv [--listen ADDR] [--port N] [--status N] [--fail N] [--fail-status N]\n"
                    "            [--retry-after S|-1] [--threads N] [--progress] [--dump FILE] [--dump-max N]\n"
                    "            [--max-body BYTES] [--max-conns N] [--idle-timeout S] [--max-ids N]\n");
    exit(2);
}

static long long num(const char *v, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) usage();
    return x;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--progress")) {
            opt.progress = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--listen")) opt.listen = v;
        else if (!strcmp(a, "--port")) opt.port = (int)num(v, 0, 65535);
        else if (!strcmp(a, "--status")) opt.status = (int)num(v, 200, 599);
        else if (!strcmp(a, "--fail")) opt.fail = num(v, 0, (long long)1 << 62);
        else if (!strcmp(a, "--fail-status")) opt.fail_status = (int)num(v, 400, 599);
        else if (!strcmp(a, "--retry-after")) opt.retry_after = (int)num(v, -1, 1 << 30);
        else if (!strcmp(a, "--threads")) opt.threads = (int)num(v, 1, 64);
        else if (!strcmp(a, "--dump")) opt.dump = v;
        else if (!strcmp(a, "--dump-max")) opt.dump_max = num(v, 0, (long long)1 << 62);
        else if (!strcmp(a, "--max-body")) opt.max_body = (size_t)num(v, 0, (long long)1 << 30);
        else if (!strcmp(a, "--max-conns")) opt.max_conns = (int)num(v, 1, 1 << 24);
        else if (!strcmp(a, "--idle-timeout")) opt.idle_timeout = (int)num(v, 1, 1 << 24);
        else if (!strcmp(a, "--max-ids")) opt.max_ids = (size_t)num(v, 0, (long long)1 << 40);
        else usage();
    }
    /* a chunked body may take up to twice its size on the wire here */
    in_limit = HEAD_MAX + 2 * opt.max_body + 4096;
    atomic_store(&fail_left, opt.fail);
    ids_init(&msg_ids);
    ids_init(&ev_ids);
    signal(SIGPIPE, SIG_IGN);
    if (opt.dump && (dump_fd = open(opt.dump, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        die("cannot open the dump file");

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST}, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", opt.port);
    if (getaddrinfo(opt.listen, ps, &hints, &ai) != 0) {
        errno = 0;
        die("--listen takes a numeric address");
    }
    lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 4096) < 0)
        die("cannot listen");
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    if (getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) die("getsockname");
    int port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port : ((struct sockaddr_in *)&sa)->sin_port);

    /* SIGTERM and SIGINT reach loop 0 through a signalfd: blocked in every
     * thread (the mask is inherited). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    workers = calloc((size_t)opt.threads, sizeof *workers);
    if (!workers) die("out of memory");
    for (int i = 0; i < opt.threads; i++) {
        worker *w = &workers[i];
        w->id = i;
        w->sfd = -1;
        w->scratch = xrealloc(NULL, SCRATCH);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (w->ep < 0 || w->tfd < 0) die("epoll/timerfd");
        struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
        timerfd_settime(w->tfd, 0, &its, NULL);
        struct epoll_event ev = {.events = EPOLLIN | (opt.threads > 1 ? EPOLLEXCLUSIVE : 0), .data.u64 = (uint64_t)lfd};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");
        ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = (uint64_t)w->tfd};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev);
        if (i == 0) {
            if ((w->sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) die("signalfd");
            ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = (uint64_t)w->sfd};
            epoll_ctl(w->ep, EPOLL_CTL_ADD, w->sfd, &ev);
        }
    }
    printf("listening %d\n", port);
    fflush(stdout);
    if (opt.progress)
        fprintf(stderr, "recv: listening on %s port %d, %d thread%s, answering %d%s\n", opt.listen, port, opt.threads,
                opt.threads > 1 ? "s" : "", opt.status, opt.fail ? " (after the first failures)" : "");
    for (int i = 1; i < opt.threads; i++)
        if (pthread_create(&workers[i].th, NULL, loop, &workers[i])) die("pthread_create");
    loop(&workers[0]);
    return 0;
}
