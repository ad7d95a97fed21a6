/* fetch_test.c -- unit tests for src/send/fetch.c (the connected_content
 * fetcher) and src/store/credentials.c, against a tiny HTTP server each
 * test starts on 127.0.0.1 (a thread with a socket): what goes out (method,
 * headers, body, basic auth), what comes back, retries, the size cap, the
 * timeout, the cache, and a template rendered through liq_render. */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "liquid/liquid.h"
#include "send/fetch.h"
#include "store/credentials.h"
#include "version.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the test server ----------------------------------------------------- */

enum {
    ANSWER,     /* status, headers, body; Connection: close */
    ECHO,       /* 200 with the request's path as the body */
    HANG,       /* reads the request, never answers (until the client leaves) */
    HANG_UP,    /* reads the request, closes without an answer */
    HUGE_LEN,   /* 5 MB with a Content-Length */
    HUGE_CHUNKS /* 5 MB chunked, no length announced */
};

typedef struct {
    int mode;
    int status;
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;
} answer;

typedef struct {
    int fd, port;
    pthread_t th;
    atomic_int requests;
    atomic_bool stop;
    answer script[8]; /* answer i for request i; the last one repeats */
    int nscript;
    pthread_mutex_t m;
    char head[8192];   /* the last request's head */
    char body[4096];   /* and body */
    size_t body_len;
    size_t sent;       /* bytes of the last huge answer written */
} tsrv;

static void send_all(int fd, const void *p, size_t n) {
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w, n -= (size_t)w;
    }
}

/* Sends up to 5 MB until the client stops reading; returns bytes sent. */
static size_t send_huge(int fd, bool chunked) {
    static char block[64 << 10];
    memset(block, 'x', sizeof block);
    size_t total = 0;
    char line[32];
    while (total < (5u << 20)) {
        if (chunked) {
            int n = snprintf(line, sizeof line, "%zx\r\n", sizeof block);
            if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) break;
        }
        if (send(fd, block, sizeof block, MSG_NOSIGNAL) != (ssize_t)sizeof block) break;
        if (chunked && send(fd, "\r\n", 2, MSG_NOSIGNAL) != 2) break;
        total += sizeof block;
    }
    if (chunked) send_all(fd, "0\r\n\r\n", 5);
    return total;
}

static void serve_one(tsrv *s, int c) {
    char req[8192 + 4096];
    req[0] = '\0';
    size_t n = 0;
    char *end = NULL;
    while (n < sizeof req - 1 && !(end = strstr(req, "\r\n\r\n"))) {
        ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) return;
        n += (size_t)r;
        req[n] = '\0';
    }
    if (!end) return;
    size_t head_len = (size_t)(end - req) + 4, want = 0;
    for (char *l = strstr(req, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
        if (!strncasecmp(l + 2, "Content-Length:", 15)) want = strtoul(l + 17, NULL, 10);
    while (n < head_len + want && n < sizeof req - 1) {
        ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    int i = atomic_fetch_add(&s->requests, 1);
    pthread_mutex_lock(&s->m);
    snprintf(s->head, sizeof s->head, "%.*s", (int)head_len, req);
    s->body_len = n - head_len < sizeof s->body ? n - head_len : sizeof s->body - 1;
    memcpy(s->body, req + head_len, s->body_len);
    s->body[s->body_len] = '\0';
    pthread_mutex_unlock(&s->m);
    answer a = s->script[i < s->nscript ? i : s->nscript - 1];
    char out[8192];
    switch (a.mode) {
    case ANSWER:
    case ECHO: {
        char path[1024] = "";
        sscanf(req, "%*s %1023s", path);
        const char *body = a.mode == ECHO ? path : a.body ? a.body : "";
        int k = snprintf(out, sizeof out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                         a.status ? a.status : 200, strlen(body), a.headers ? a.headers : "");
        send_all(c, out, (size_t)k);
        send_all(c, body, strlen(body));
        break;
    }
    case HANG: {
        struct pollfd p = {.fd = c, .events = POLLIN};
        while (!atomic_load(&s->stop)) /* until the client gives up */
            if (poll(&p, 1, 20) > 0 && recv(c, out, sizeof out, 0) <= 0) break;
        break;
    }
    case HANG_UP:
        break;
    case HUGE_LEN:
    case HUGE_CHUNKS: {
        int k = a.mode == HUGE_LEN
                    ? snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nConnection: close\r\n\r\n",
                               5u << 20)
                    : snprintf(out, sizeof out,
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        send_all(c, out, (size_t)k);
        size_t sent = send_huge(c, a.mode == HUGE_CHUNKS);
        pthread_mutex_lock(&s->m);
        s->sent = sent;
        pthread_mutex_unlock(&s->m);
        break;
    }
    }
}

static void *srv_main(void *arg) {
    tsrv *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            if (atomic_load(&s->stop)) break;
            continue;
        }
        serve_one(s, c);
        close(c);
    }
    return NULL;
}

/* Starts a server answering with script[0..n) (the last answer repeats). */
static tsrv *srv_start(const answer *script, int n) {
    tsrv *s = calloc(1, sizeof *s);
    memcpy(s->script, script, (size_t)n * sizeof *script);
    s->nscript = n;
    pthread_mutex_init(&s->m, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 64) < 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) < 0) {
        perror("test server");
        abort();
    }
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, srv_main, s);
    return s;
}

static void srv_stop(tsrv *s) {
    atomic_store(&s->stop, true);
    shutdown(s->fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(s->th, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->m);
    free(s);
}

static const char *url(const tsrv *s, const char *path) {
    static char u[4][256];
    static int k;
    char *p = u[k++ % 4];
    snprintf(p, 256, "http://127.0.0.1:%d%s", s->port, path);
    return p;
}

/* Whether the last request's head has this line (case-insensitive name). */
static bool has_line(tsrv *s, const char *line) {
    pthread_mutex_lock(&s->m);
    bool found = false;
    size_t n = strlen(line);
    for (char *l = strstr(s->head, "\r\n"); l && !found; l = strstr(l + 2, "\r\n"))
        found = !strncasecmp(l + 2, line, n) && l[2 + n] == '\r';
    pthread_mutex_unlock(&s->m);
    return found;
}

static liq_fetch_req get_req(const char *u) {
    return (liq_fetch_req){.url = u, .method = "GET", .cache_max_age = -1};
}

/* Tests talk to 127.0.0.1 on a free port, with short timeouts. */
static send_fetcher *fetcher(long timeout_ms) {
    send_fetch_opts o = {.timeout_ms = timeout_ms, .any_port = true, .retry_backoff_ms = 20};
    return send_fetcher_new(&o);
}

/* ---- what goes out, what comes back -------------------------------------- */

TEST(fetch_get_200_body_and_headers) {
    answer a[] = {{ANSWER, 200, "Content-Type: application/json\r\n", "{\"name\":\"Ada\"}"}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    liq_fetch_req r = get_req(url(s, "/u?id=1"));
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 200);
    T_EQ_STR(b.data, "{\"name\":\"Ada\"}");
    T_TRUE(!strncmp(s->head, "GET /u?id=1 HTTP/1.1\r\n", 22));
    T_TRUE(has_line(s, "User-Agent: brasa/" BRASA_VERSION));
    /* Braze's defaults for a GET. */
    T_TRUE(has_line(s, "Content-Type: application/json"));
    T_TRUE(has_line(s, "Accept: */*"));
    T_TRUE(!strstr(s->head, "Authorization"));
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

/* Any status is an answer: the renderer decides (a 404 prints nothing). */
TEST(fetch_status_404_is_an_answer) {
    answer a[] = {{ANSWER, 404, NULL, "nope"}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    liq_fetch_req r = get_req(url(s, "/missing"));
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 404);
    T_EQ_STR(b.data, "nope");
    /* Not cached: asked again. */
    buf_reset(&b);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 2);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_post_body_content_type_and_headers) {
    answer a[] = {{ANSWER, 201, NULL, "ok"}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    json_object *h = json_tokener_parse("{\"X-Token\": \"abc\", \"X-Num\": 7, \"X-Empty\": \"\", \"X-Null\": null}");
    liq_fetch_req r = {.url = url(s, "/p"), .method = "POST", .body = "a=1&b=2", .body_len = 7,
                       .headers = h, .cache_max_age = -1};
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 201);
    T_TRUE(!strncmp(s->head, "POST /p HTTP/1.1\r\n", 18));
    T_EQ_STR(s->body, "a=1&b=2");
    T_TRUE(has_line(s, "Content-Type: application/x-www-form-urlencoded"));
    T_TRUE(has_line(s, "Accept: */*"));
    T_TRUE(has_line(s, "X-Token: abc"));
    T_TRUE(has_line(s, "X-Num: 7"));
    T_TRUE(has_line(s, "X-Empty:"));
    T_TRUE(!strstr(s->head, "X-Null"));
    T_TRUE(!strstr(s->head, "Expect"));

    /* :content_type sets Content-Type and Accept (Braze); a Content-Type in
     * :headers wins over both defaults and :content_type. */
    r.content_type = "application/json";
    r.body = "{\"a\":\"1\"}";
    r.body_len = strlen(r.body);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_TRUE(has_line(s, "Content-Type: application/json"));
    T_TRUE(has_line(s, "Accept: application/json"));
    T_EQ_STR(s->body, "{\"a\":\"1\"}");
    json_object_object_add(h, "content-type", json_object_new_string("text/plain"));
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_TRUE(has_line(s, "content-type: text/plain"));
    T_TRUE(!has_line(s, "Content-Type: application/json"));

    /* Other methods; a :body with GET is not sent. */
    liq_fetch_req p = {.url = url(s, "/x"), .method = "PUT", .body = "v", .body_len = 1, .cache_max_age = -1};
    T_EQ_INT(send_fetch(f, &p, &st, &b), 0);
    T_TRUE(!strncmp(s->head, "PUT /x HTTP/1.1\r\n", 17));
    T_EQ_STR(s->body, "v");
    p.method = "DELETE";
    p.body = NULL;
    T_EQ_INT(send_fetch(f, &p, &st, &b), 0);
    T_TRUE(!strncmp(s->head, "DELETE /x HTTP/1.1\r\n", 20));
    p.method = "GET";
    p.body = "zzz";
    p.body_len = 3;
    p.no_cache = true;
    T_EQ_INT(send_fetch(f, &p, &st, &b), 0);
    T_EQ_STR(s->body, "");
    json_object_put(h);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_refuses_bad_requests_without_sending) {
    answer a[] = {{ANSWER, 200, NULL, "ok"}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    buf_t b = BUF_INIT;
    buf_puts(&b, "keep");
    int st = 0;
    char ftp[64];
    snprintf(ftp, sizeof ftp, "ftp://127.0.0.1:%d/x", s->port);
    const char *urls[] = {"file:///etc/passwd", ftp, "gopher://127.0.0.1/", "http:///nohost", "http://a b/",
                          "http://127.0.0.1:99999/", "ldap://127.0.0.1/", "/relative"};
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        liq_fetch_req r = get_req(urls[i]);
        if (send_fetch(f, &r, &st, &b) != BR_EINVAL) T_FAIL_("accepted %s", urls[i]);
    }
    /* Methods beyond GET, POST, PUT, PATCH, DELETE; a header that would
     * inject another; a header value that is not a scalar. */
    liq_fetch_req r = get_req(url(s, "/"));
    r.method = "TRACE";
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EINVAL);
    r.method = "GET\r\nX: y";
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EINVAL);
    r.method = "GET";
    const char *bad[] = {"{\"X-A\": \"1\\r\\nEvil: 1\"}", "{\"Bad Name\": \"1\"}", "{\"X\": {\"a\": 1}}",
                         "{\"X\": [1]}", "{\"\": \"1\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r.headers = json_tokener_parse(bad[i]);
        int rc = send_fetch(f, &r, &st, &b);
        json_object_put(r.headers);
        if (rc != BR_EINVAL) T_FAIL_("accepted headers %s", bad[i]);
    }
    r.headers = NULL;
    r.content_type = "text/plain\r\nEvil: 1";
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EINVAL);
    T_EQ_INT(atomic_load(&s->requests), 0);
    T_EQ_STR(b.data, "keep"); /* the buffer is as it was */
    T_EQ_INT(send_fetcher_stats(f).failures, 16);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_ports_80_and_443_only_by_default) {
    answer a[] = {{ANSWER, 200, NULL, "ok"}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = send_fetcher_new(NULL);
    liq_fetch_req r = get_req(url(s, "/"));
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EINVAL);
    T_EQ_INT(atomic_load(&s->requests), 0);
    send_fetcher_free(f);
    f = fetcher(2000); /* any_port */
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 200);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

/* ---- retries -------------------------------------------------------------- */

TEST(fetch_retry_after_500) {
    answer a[] = {{ANSWER, 500, NULL, "down"}, {ANSWER, 200, NULL, "up"}};
    tsrv *s = srv_start(a, 2);
    send_fetcher *f = fetcher(2000);
    liq_fetch_req r = get_req(url(s, "/r"));
    r.retry = true;
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 200);
    T_EQ_STR(b.data, "up"); /* the 500's body is gone */
    T_EQ_INT(atomic_load(&s->requests), 2);
    T_EQ_INT(send_fetcher_stats(f).retries, 1);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_500_without_retry_is_the_answer) {
    answer a[] = {{ANSWER, 500, NULL, "down"}, {ANSWER, 200, NULL, "up"}};
    tsrv *s = srv_start(a, 2);
    send_fetcher *f = fetcher(2000);
    liq_fetch_req r = get_req(url(s, "/r"));
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 500);
    T_EQ_INT(atomic_load(&s->requests), 1);
    /* A 5xx is not cached: the next call asks again. */
    buf_reset(&b);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 200);
    T_EQ_INT(atomic_load(&s->requests), 2);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_retry_once_only) {
    answer a[] = {{ANSWER, 503, NULL, "down"}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    liq_fetch_req r = get_req(url(s, "/r"));
    r.retry = true;
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 503);
    T_EQ_STR(b.data, "down");
    T_EQ_INT(atomic_load(&s->requests), 2);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_retry_after_transport_error) {
    answer a[] = {{HANG_UP, 0, NULL, NULL}, {ANSWER, 200, NULL, "up"}};
    tsrv *s = srv_start(a, 2);
    send_fetcher *f = fetcher(2000);
    liq_fetch_req r = get_req(url(s, "/r"));
    r.retry = true;
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 200);
    T_EQ_STR(b.data, "up");
    T_EQ_INT(atomic_load(&s->requests), 2);
    srv_stop(s);
    /* Without :retry the failure is the call's. */
    answer c[] = {{HANG_UP, 0, NULL, NULL}, {ANSWER, 200, NULL, "up"}};
    s = srv_start(c, 2);
    r = get_req(url(s, "/r"));
    buf_reset(&b);
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EIO);
    T_EQ_INT(b.len, 0);
    T_EQ_INT(atomic_load(&s->requests), 1);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

/* ---- limits ---------------------------------------------------------------- */

static void refuse_huge(int mode) {
    answer a[] = {{mode, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(5000);
    liq_fetch_req r = get_req(url(s, "/huge"));
    buf_t b = BUF_INIT;
    int st = 0;
    int64_t t0 = clock_mono_us();
    int rc = send_fetch(f, &r, &st, &b);
    int64_t ms = (clock_mono_us() - t0) / 1000;
    if (rc != BR_ETOOBIG) T_FAIL_("rc %d, want BR_ETOOBIG", rc);
    T_EQ_INT(b.len, 0);
    /* Never buffered past the cap: the buffer grew to at most the next
     * power of two above 1 MiB. */
    if (b.cap > (2u << 20)) T_FAIL_("buffered %zu bytes", b.cap);
    T_TRUE(ms < 4000);
    T_EQ_INT(send_fetcher_stats(f).too_big, 1);
    T_EQ_INT(send_fetcher_stats(f).cache_entries, 0);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_refuses_5mb_with_content_length) { refuse_huge(HUGE_LEN); }
TEST(fetch_refuses_5mb_chunked) { refuse_huge(HUGE_CHUNKS); }

TEST(fetch_body_up_to_the_cap_is_fine) {
    static char big[8193];
    memset(big, 'y', 8192);
    answer a[] = {{ANSWER, 200, NULL, big}};
    tsrv *s = srv_start(a, 1);
    send_fetch_opts o = {.any_port = true, .max_body = 8192};
    send_fetcher *f = send_fetcher_new(&o);
    liq_fetch_req r = get_req(url(s, "/exact"));
    buf_t b = BUF_INIT;
    buf_puts(&b, "ab");
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0); /* the cap counts this answer only */
    T_EQ_INT(b.len, 8194);
    big[8191] = '\0';
    srv_stop(s);
    answer c[] = {{ANSWER, 200, NULL, "123456789"}};
    s = srv_start(c, 1);
    o.max_body = 8;
    send_fetcher_free(f);
    f = send_fetcher_new(&o);
    r = get_req(url(s, "/over"));
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_ETOOBIG);
    T_EQ_INT(b.len, 8194);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_times_out_on_a_silent_server) {
    answer a[] = {{HANG, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(300);
    liq_fetch_req r = get_req(url(s, "/slow"));
    buf_t b = BUF_INIT;
    int st = 0;
    int64_t t0 = clock_mono_us();
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EIO);
    int64_t ms = (clock_mono_us() - t0) / 1000;
    if (ms < 250 || ms > 1500) T_FAIL_("took %lld ms for a 300 ms timeout", (long long)ms);
    /* With :retry: two attempts and one backoff, still bounded. */
    r.retry = true;
    t0 = clock_mono_us();
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EIO);
    ms = (clock_mono_us() - t0) / 1000;
    if (ms < 550 || ms > 2500) T_FAIL_("took %lld ms for two 300 ms attempts", (long long)ms);
    T_EQ_INT(atomic_load(&s->requests), 3);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

/* ---- redirects ------------------------------------------------------------- */

/* A credential source with one credential, c = u:p. */
static int fake_cred(void *ud, const char *name, char *user, size_t user_size, char *pass, size_t pass_size) {
    (void)ud;
    if (strcmp(name, "c")) return BR_ENOTFOUND;
    snprintf(user, user_size, "u");
    snprintf(pass, pass_size, "p");
    return 0;
}


TEST(fetch_redirects_are_answers_by_default) {
    answer a[] = {{ANSWER, 302, "Location: /elsewhere\r\n", "moved"}, {ANSWER, 200, NULL, "here"}};
    tsrv *s = srv_start(a, 2);
    send_fetcher *f = fetcher(2000);
    liq_fetch_req r = get_req(url(s, "/old"));
    r.no_cache = true;
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 302);
    T_EQ_INT(atomic_load(&s->requests), 1);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_redirects_when_allowed_only_to_http) {
    answer a[] = {{ANSWER, 301, "Location: /new\r\n", "moved"},
                  {ANSWER, 200, NULL, "here"},
                  {ANSWER, 302, "Location: file:///etc/passwd\r\n", "moved"},
                  {ANSWER, 302, "Location: ftp://127.0.0.1/x\r\n", "moved"}};
    tsrv *s = srv_start(a, 4);
    send_fetch_opts o = {.any_port = true, .max_redirects = 3, .credential = fake_cred};
    send_fetcher *f = send_fetcher_new(&o);
    liq_fetch_req r = get_req(url(s, "/old"));
    r.no_cache = true;
    r.basic_auth = "c";
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 200);
    T_EQ_STR(b.data, "here"); /* the 301's body is not kept */
    T_TRUE(!strncmp(s->head, "GET /new HTTP/1.1\r\n", 19));
    T_TRUE(has_line(s, "Authorization: Basic dTpw")); /* same origin: u:p goes along */
    buf_reset(&b);
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EINVAL);
    T_EQ_INT(send_fetch(f, &r, &st, &b), BR_EINVAL);
    T_EQ_INT(b.len, 0);
    T_EQ_INT(atomic_load(&s->requests), 4);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

/* ---- the cache ------------------------------------------------------------- */

TEST(fetch_cache_serves_repeated_gets) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    buf_t b = BUF_INIT;
    int st = 0;
    liq_fetch_req r = get_req(url(s, "/a"));
    for (int i = 0; i < 3; i++) {
        buf_reset(&b);
        T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
        T_EQ_INT(st, 200);
        T_EQ_STR(b.data, "/a");
    }
    T_EQ_INT(atomic_load(&s->requests), 1);
    T_EQ_INT(send_fetcher_stats(f).cache_hits, 2);
    /* Another URL, another header, another content type: other requests. */
    liq_fetch_req r2 = get_req(url(s, "/b"));
    T_EQ_INT(send_fetch(f, &r2, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 2);
    json_object *h = json_tokener_parse("{\"X-Lang\": \"fr\"}");
    r.headers = h;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 3);
    r.content_type = "text/plain";
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 4);
    T_EQ_INT(send_fetcher_stats(f).cache_entries, 4);
    json_object_put(h);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_cache_max_age_0_and_no_cache) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    buf_t b = BUF_INIT;
    int st = 0;
    liq_fetch_req r = get_req(url(s, "/z"));
    r.cache_max_age = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 2);
    T_EQ_INT(send_fetcher_stats(f).cache_entries, 0);
    r.cache_max_age = -1;
    r.no_cache = true; /* neither reads nor fills */
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 4);
    T_EQ_INT(send_fetcher_stats(f).cache_entries, 0);
    /* A cached answer is not used by a :no_cache call either. */
    r.no_cache = false;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 5);
    r.no_cache = true;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 6);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_cache_post_only_with_max_age) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    buf_t b = BUF_INIT;
    int st = 0;
    liq_fetch_req r = {.url = url(s, "/p"), .method = "POST", .body = "a=1", .body_len = 3, .cache_max_age = -1};
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 2);
    r.cache_max_age = 900;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 3);
    r.body = "a=2"; /* the body is part of the request */
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 4);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_cache_entry_ages_out) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetcher *f = fetcher(2000);
    buf_t b = BUF_INIT;
    int st = 0;
    liq_fetch_req r = get_req(url(s, "/t"));
    r.cache_max_age = 1;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 1);
    usleep(1100 * 1000);
    /* Too old for max age 1, young enough for the default 5 minutes. */
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 2);
    r.cache_max_age = -1;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 2);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

TEST(fetch_cache_is_bounded_lru) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetch_opts o = {.any_port = true, .cache_entries = 3};
    send_fetcher *f = send_fetcher_new(&o);
    buf_t b = BUF_INIT;
    int st = 0;
    const char *paths[] = {"/1", "/2", "/3"};
    for (int i = 0; i < 3; i++) {
        liq_fetch_req r = get_req(url(s, paths[i]));
        T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    }
    liq_fetch_req r1 = get_req(url(s, "/1")), r2 = get_req(url(s, "/2")), r4 = get_req(url(s, "/4"));
    T_EQ_INT(send_fetch(f, &r1, &st, &b), 0); /* /1 is now the most recent */
    T_EQ_INT(atomic_load(&s->requests), 3);
    T_EQ_INT(send_fetch(f, &r4, &st, &b), 0); /* evicts /2, the least recent */
    T_EQ_INT(atomic_load(&s->requests), 4);
    T_EQ_INT(send_fetcher_stats(f).cache_entries, 3);
    T_EQ_INT(send_fetch(f, &r1, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 4);
    T_EQ_INT(send_fetch(f, &r2, &st, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 5);
    send_fetcher_free(f);

    /* The byte cap: answers of ~2 KB in a cache of 5 KB keep two. */
    static char big[2049];
    memset(big, 'q', 2048);
    srv_stop(s);
    answer c[] = {{ANSWER, 200, NULL, big}};
    s = srv_start(c, 1);
    o = (send_fetch_opts){.any_port = true, .cache_bytes = 5000};
    f = send_fetcher_new(&o);
    for (int i = 0; i < 3; i++) {
        liq_fetch_req r = get_req(url(s, paths[i]));
        buf_reset(&b);
        T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
        T_EQ_INT(b.len, 2048);
    }
    send_fetch_stats fs = send_fetcher_stats(f);
    T_EQ_INT(fs.cache_entries, 2);
    T_TRUE(fs.cache_bytes <= 5000);
    /* An answer bigger than the whole cache is not kept. */
    o.cache_bytes = 1000;
    send_fetcher_free(f);
    f = send_fetcher_new(&o);
    liq_fetch_req r = get_req(url(s, "/x"));
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(send_fetcher_stats(f).cache_entries, 0);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

/* ---- basic auth from stored credentials ------------------------------------ */

TEST(fetch_basic_auth_from_a_stored_credential) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    char *dir = tmpdir();
    store_t *st;
    T_EQ_INT(store_open(dir, &st), 0);
    store_cred_new c = {.name = "partner_api", .username = "alice", .password = "pa:ss w0rd", .password_len = 10};
    T_EQ_INT(store_exec(st, store_cred_insert_op, &c), 0);
    store_cred_reader *rd;
    T_EQ_INT(store_cred_reader_open(st, &rd), 0);
    send_fetch_opts o = {.any_port = true, .credential = store_cred_lookup, .credential_ud = rd};
    send_fetcher *f = send_fetcher_new(&o);
    buf_t b = BUF_INIT;
    int status = 0;
    liq_fetch_req r = get_req(url(s, "/secret"));
    r.basic_auth = "partner_api";
    T_EQ_INT(send_fetch(f, &r, &status, &b), 0);
    T_EQ_INT(status, 200);
    T_TRUE(has_line(s, "Authorization: Basic YWxpY2U6cGE6c3MgdzByZA==")); /* alice:pa:ss w0rd */
    /* An unknown name fails the call (the message aborts) and sends nothing. */
    r.basic_auth = "nope";
    T_EQ_INT(send_fetch(f, &r, &status, &b), BR_EINVAL);
    T_EQ_INT(atomic_load(&s->requests), 1);
    /* A deleted credential fails from then on, cached answer or not; a
     * changed password is another request. */
    r.basic_auth = "partner_api";
    T_EQ_INT(store_exec(st, store_cred_delete_op, "partner_api"), 0);
    T_EQ_INT(send_fetch(f, &r, &status, &b), BR_EINVAL);
    c.password = "new";
    c.password_len = 3;
    T_EQ_INT(store_exec(st, store_cred_insert_op, &c), 0);
    T_EQ_INT(send_fetch(f, &r, &status, &b), 0);
    T_EQ_INT(atomic_load(&s->requests), 2);
    T_TRUE(has_line(s, "Authorization: Basic YWxpY2U6bmV3")); /* alice:new */
    /* Without a credential callback every :basic_auth fails. */
    send_fetcher_free(f);
    f = fetcher(2000);
    T_EQ_INT(send_fetch(f, &r, &status, &b), BR_EINVAL);
    buf_free(&b);
    send_fetcher_free(f);
    store_cred_reader_close(rd);
    store_close(st);
    rmdir_r(dir);
    srv_stop(s);
}

TEST(fetch_basic_auth_not_sent_to_another_origin) {
    /* The redirect goes to the same server by another name (localhost):
     * another origin, so the credential and an Authorization header stay
     * behind. */
    char loc[128] = ""; /* filled in once the port is known, before any request */
    answer a[] = {{ANSWER, 302, loc, "moved"}, {ANSWER, 200, NULL, "here"}};
    tsrv *s = srv_start(a, 2);
    snprintf(loc, sizeof loc, "Location: http://localhost:%d/there\r\n", s->port);
    send_fetch_opts o = {.any_port = true, .max_redirects = 1, .credential = fake_cred};
    send_fetcher *f = send_fetcher_new(&o);
    json_object *h = json_tokener_parse("{\"Authorization\": \"Bearer t\", \"X-Keep\": \"1\"}");
    liq_fetch_req r = get_req(url(s, "/here"));
    r.headers = h;
    r.basic_auth = "c";
    buf_t b = BUF_INIT;
    int st = 0;
    T_EQ_INT(send_fetch(f, &r, &st, &b), 0);
    T_EQ_INT(st, 200);
    T_TRUE(!strncmp(s->head, "GET /there HTTP/1.1\r\n", 21));
    T_TRUE(has_line(s, "X-Keep: 1"));
    T_TRUE(!strstr(s->head, "Authorization"));
    json_object_put(h);
    buf_free(&b);
    send_fetcher_free(f);
    srv_stop(s);
}

/* ---- the credential store --------------------------------------------------- */

TEST(credentials_store_insert_list_delete) {
    char *dir = tmpdir();
    store_t *st;
    T_EQ_INT(store_open(dir, &st), 0);
    store_cred_new a = {.name = "b_cred", .username = "u1", .password = "p1", .password_len = 2};
    store_cred_new c = {.name = "a_cred", .username = "u2", .password = "", .password_len = 0, .created_at = 1000};
    T_EQ_INT(store_exec(st, store_cred_insert_op, &a), 0);
    T_EQ_INT(store_exec(st, store_cred_insert_op, &c), 0);
    T_EQ_INT(store_exec(st, store_cred_insert_op, &a), BR_EEXISTS);
    sqlite3 *db;
    T_EQ_INT(store_open_reader(st, &db), 0);
    store_cred_row *rows;
    int n;
    T_EQ_INT(store_cred_list(db, &rows, &n), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(rows[0].name, "a_cred"); /* by name */
    T_EQ_STR(rows[0].username, "u2");
    T_EQ_INT(rows[0].created_at, 1000);
    T_EQ_STR(rows[1].name, "b_cred");
    T_TRUE(rows[1].created_at > 1000);
    store_cred_rows_free(rows, n);
    char u[8], p[8];
    T_EQ_INT(store_cred_get(db, "b_cred", u, sizeof u, p, sizeof p), 0);
    T_EQ_STR(u, "u1");
    T_EQ_STR(p, "p1");
    T_EQ_INT(store_cred_get(db, "b_cred", u, 2, p, sizeof p), BR_ETOOMANY);
    T_EQ_INT(store_cred_get(db, "zzz", u, sizeof u, p, sizeof p), BR_ENOTFOUND);
    T_EQ_INT(store_exec(st, store_cred_delete_op, "b_cred"), 0);
    T_EQ_INT(store_exec(st, store_cred_delete_op, "b_cred"), BR_ENOTFOUND);
    T_EQ_INT(store_cred_get(db, "b_cred", u, sizeof u, p, sizeof p), BR_ENOTFOUND);
    /* The reader cannot write. */
    store_cred_reader *rd;
    T_EQ_INT(store_cred_reader_open(st, &rd), 0);
    T_EQ_INT(store_cred_lookup(rd, "a_cred", u, sizeof u, p, sizeof p), 0);
    T_EQ_STR(p, "");
    store_cred_reader_close(rd);
    sqlite3_close(db);
    store_close(st);
    rmdir_r(dir);
}

TEST(credentials_check_rules) {
    char why[160];
    T_EQ_INT(store_cred_check("a-b_c.D9", "user@x", "any thing:", 10, why, sizeof why), 0);
    const char *names[] = {"", "a b", "a/b", "a:b", "é", "{{x}}",
                           "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (store_cred_check(names[i], NULL, NULL, 0, why, sizeof why) != BR_EINVAL) T_FAIL_("accepted '%s'", names[i]);
    T_TRUE(strstr(why, "'name'") != NULL);
    const char *users[] = {"", "a:b", "a\nb", "a\x7f"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++)
        if (store_cred_check(NULL, users[i], NULL, 0, why, sizeof why) != BR_EINVAL) T_FAIL_("accepted user %zu", i);
    T_TRUE(strstr(why, "'username'") != NULL);
    T_EQ_INT(store_cred_check(NULL, NULL, "a\0b", 3, why, sizeof why), BR_EINVAL);
    T_TRUE(strstr(why, "'password'") != NULL);
    static char longpass[1026];
    memset(longpass, 'p', 1025);
    T_EQ_INT(store_cred_check(NULL, NULL, longpass, 1025, why, sizeof why), BR_EINVAL);
    T_EQ_INT(store_cred_check(NULL, NULL, longpass, 1024, why, sizeof why), 0);
}

/* ---- through the renderer --------------------------------------------------- */

static int render(send_fetcher *f, const char *src, liq_result *res, liq_renderer *rr) {
    liq_template *t;
    liq_error err;
    if (liq_compile(src, strlen(src), &t, &err) < 0) {
        printf("    compile: %d:%d: %s\n", err.line, err.col, err.message);
        return -999;
    }
    liq_render_opts o = {.fetch = send_fetch, .fetch_ud = f, .max_time_us = 10000000};
    int rc = liq_render(rr, t, &o, res);
    liq_template_free(t);
    return rc;
}

TEST(fetch_liquid_connected_content_end_to_end) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    answer j[] = {{ANSWER, 200, "Content-Type: application/json\r\n", "{\"name\":\"Ada\",\"tags\":[\"a\",\"b\"]}"},
                  {ANSWER, 500, NULL, "oops"}};
    tsrv *js = srv_start(j, 2);
    send_fetcher *f = fetcher(2000);
    liq_renderer *rr = liq_renderer_new();
    liq_result res;
    char src[1024];

    /* JSON saved into a variable, with the status; text printed in place. */
    snprintf(src, sizeof src,
             "{%% connected_content http://127.0.0.1:%d/u :save u %%}Hi {{u.name}} ({{u.__http_status_code__}}, "
             "{{u.tags | join: '+'}}); {%% connected_content http://127.0.0.1:%d/echo/{{u.name}} %%}",
             js->port, s->port);
    T_EQ_INT(render(f, src, &res, rr), 0);
    T_EQ_STR(res.out, "Hi Ada (200, a+b); /echo/Ada");
    /* The same template again: the JSON comes from the cache. */
    T_EQ_INT(render(f, src, &res, rr), 0);
    T_EQ_STR(res.out, "Hi Ada (200, a+b); /echo/Ada");
    T_EQ_INT(atomic_load(&js->requests), 1);

    /* A 5xx aborts the message, a refused URL too. */
    snprintf(src, sizeof src, "{%% connected_content http://127.0.0.1:%d/u :no_cache :save u %%}x", js->port);
    T_EQ_INT(render(f, src, &res, rr), LIQ_EABORT);
    T_TRUE(strstr(res.err.message, "answered HTTP 500") != NULL);
    T_EQ_INT(render(f, "{% connected_content http://127.0.0.1:0/ %}x", &res, rr), LIQ_EABORT);
    T_TRUE(strstr(res.err.message, "failed") != NULL);
    /* :basic_auth with no credential source aborts. */
    snprintf(src, sizeof src, "{%% connected_content http://127.0.0.1:%d/a :basic_auth x %%}", s->port);
    T_EQ_INT(render(f, src, &res, rr), LIQ_EABORT);

    /* A POST with a form body sent as JSON (:content_type application/json). */
    snprintf(src, sizeof src,
             "{%% connected_content http://127.0.0.1:%d/p :method post :body a=1&b={{'x'}} "
             ":content_type application/json :save r %%}{{r}}",
             s->port);
    T_EQ_INT(render(f, src, &res, rr), 0);
    T_EQ_STR(res.out, "/p");
    T_EQ_STR(s->body, "{\"a\":\"1\",\"b\":\"x\"}");
    T_TRUE(has_line(s, "Content-Type: application/json"));
    liq_renderer_free(rr);
    send_fetcher_free(f);
    srv_stop(s);
    srv_stop(js);
}

/* ---- threads ---------------------------------------------------------------- */

typedef struct {
    send_fetcher *f;
    tsrv *s;
    int id, bad;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    buf_t b = BUF_INIT;
    for (int i = 0; i < 40; i++) {
        char path[64], u[128];
        snprintf(path, sizeof path, "/t%d/%d", w->id, i % 10); /* each path 4 times: hits and misses */
        snprintf(u, sizeof u, "http://127.0.0.1:%d%s", w->s->port, path);
        liq_fetch_req r = get_req(u);
        int st = 0;
        buf_reset(&b);
        if (send_fetch(w->f, &r, &st, &b) != 0 || st != 200 || strcmp(b.data, path)) w->bad++;
    }
    buf_free(&b);
    return NULL;
}

TEST(fetch_is_thread_safe) {
    answer a[] = {{ECHO, 0, NULL, NULL}};
    tsrv *s = srv_start(a, 1);
    send_fetch_opts o = {.any_port = true, .pool_size = 2, .cache_entries = 16};
    send_fetcher *f = send_fetcher_new(&o);
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.f = f, .s = s, .id = i};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) T_EQ_INT(w[i].bad, 0);
    send_fetch_stats fs = send_fetcher_stats(f);
    T_EQ_INT(fs.calls, 160);
    T_EQ_INT(fs.cache_hits + fs.attempts, 160);
    T_TRUE(fs.cache_entries <= 16);
    send_fetcher_free(f);
    srv_stop(s);
}
