/* http.c -- libFuzzer target for the HTTP edge: whole requests, heads and
 * bodies, through the real server.
 *
 * LLVMFuzzerInitialize starts brasa's server in this process once, on a
 * loopback port, with its data in a new temporary directory (start_server()
 * is what `brasa serve` sets up; keep the two alike) and a key with every
 * permission whose text the seeds use, so inputs reach the handlers. Each
 * input is written as raw bytes on a new connection, followed by a last
 * request with "Connection: close" (so that the server closes the
 * connection once it answered everything; libmicrohttpd does not notice a
 * client's half-close on a connection it is not reading), and everything
 * the server sends is read until it closes -- or, when the input left the
 * server waiting for more (a body shorter than its length), until nothing
 * has come for QUIET_MS after the last complete answer.
 *
 * Findings: a crash or sanitizer report in any of the server's threads, a
 * connection the server does not close within 10 s, and an answer that is
 * not an HTTP/1.1 response with a Content-Length and a JSON object body
 * (with a string "message" when the status is an error) -- except the
 * refusals libmicrohttpd 0.9.75 makes itself (docs/operations.md: its own
 * HTML body, one of a few statuses, and the connection closed after it). */
#define _GNU_SOURCE
#include "api/api.h"
#include "engine/engine.h"
#include "engine/exporter.h"
#include "http/http.h"
#include "lib/clock.h"
#include "lib/hash.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "store/keys.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

#define QUIET_MS 100
#define PATIENCE_MS 10000 /* for the rest of an answer that has begun */

static const char SENTINEL[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/* The seeds in fuzz/corpus/http authenticate with this key. */
#define FUZZ_KEY "00000000-0000-4000-8000-00000000f022"

static struct {
    char dir[64];
    store_t *store;
    engine_t *engine;
    auth_t *auth;
    sqlite3 *creds; /* the credential cache's reader */
    rl_t *rl;
    exporter_t *exporter;
    http_ctx ctx;
    http_server *srv;
    int port;
} S;

static int add_key_op(sqlite3 *db, void *arg) {
    (void)arg;
    uint8_t h[SECRET_HASH_LEN];
    secret_hash(FUZZ_KEY, strlen(FUZZ_KEY), h);
    int64_t id;
    return store_key_insert(db, "fuzz", h, "all,brasa.keys", "", clock_wall_ms(), &id);
}

/* What `brasa serve` does before its main loop (src/cli/serve.c), with
 * limits that would only get in the way of fuzzing turned off: failed
 * authentications are not throttled, requests are not rate limited. */
static void start_server(void) {
    signal(SIGPIPE, SIG_IGN);
    httpc_global_init();
    snprintf(S.dir, sizeof S.dir, "%s/brasa-fuzz-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(S.dir) || store_open(S.dir, &S.store) < 0) abort();
    secret_random(&hash_seed, sizeof hash_seed);
    api_legacy_register();
    if (store_exec(S.store, add_key_op, NULL) < 0 || engine_open(S.store, &S.engine) < 0 || store_start(S.store) < 0 ||
        engine_start(S.engine) < 0 || store_open_reader(S.store, &S.creds) < 0)
        abort();
    auth_loader loader = api_creds_loader(S.creds);
    S.auth = auth_new(&loader, 1000);
    rl_config rlc;
    rl_defaults(&rlc);
    for (int g = 0; g < RL__COUNT; g++) rlc.limit[g] = 0;
    S.rl = rl_new(&rlc);
    exporter_config ec = {.engine = S.engine, .ttl_hours = 1};
    if (exporter_start(&ec, &S.exporter) < 0) abort();
    S.ctx = (http_ctx){.engine = S.engine, .auth = S.auth, .rl = S.rl, .exporter = S.exporter, .public_url = NULL,
                       .data_dir = S.dir, .started_ms = clock_wall_ms()};
    http_config hc = {.listen = "127.0.0.1", .port = 0, .threads = 2, .max_body = 4194304, .max_headers = 32768,
                      .timeout_s = 60, .auth_fail_limit = 0, .auth_fail_window_s = 60, .max_conns = 4096,
                      .max_conns_per_ip = 0, .header_timeout_s = 10, .body_timeout_s = 60};
    if (http_start(&hc, &S.ctx, api_tables, &S.srv) < 0) abort();
    S.port = http_port(S.srv);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* serve.c's shutdown order, then the data directory goes. */
static void stop_server(void) {
    http_quiesce(S.srv);
    http_drain(S.srv, 5000);
    http_stop(S.srv);
    exporter_free(S.exporter);
    engine_stop(S.engine, true);
    store_stop(S.store);
    auth_free(S.auth);
    sqlite3_close(S.creds);
    rl_free(S.rl);
    engine_free(S.engine);
    store_close(S.store);
    httpc_global_cleanup();
    nftw(S.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    log_set_level(LOG_OFF);
    start_server();
    atexit(stop_server);
    return 0;
}

static void finding(const char *what, const uint8_t *got, size_t n) {
    fprintf(stderr, "http fuzz: %s; the server sent %zu bytes:\n%.*s\n", what, n, (int)(n > 2000 ? 2000 : n),
            (const char *)got);
    abort();
}

static const char *find(const char *p, const char *end, const char *s) {
    return memmem(p, (size_t)(end - p), s, strlen(s));
}

/* The value of header name in the head [p, end), or NULL. */
static const char *header(const char *p, const char *end, const char *name, size_t *len) {
    size_t nl = strlen(name);
    for (const char *l = find(p, end, "\r\n"); l && l + 2 < end; l = find(l + 2, end, "\r\n")) {
        const char *s = l + 2;
        if ((size_t)(end - s) > nl && strncasecmp(s, name, nl) == 0 && s[nl] == ':') {
            s += nl + 1;
            while (s < end && *s == ' ') s++;
            const char *e = find(s, end, "\r\n");
            *len = (size_t)((e ? e : end) - s);
            return s;
        }
    }
    return NULL;
}

/* The statuses libmicrohttpd answers itself, with its own HTML. */
static bool library_status(int status) {
    return status == 400 || status == 413 || status == 414 || status == 431 || status == 500 || status == 505;
}

/* Checks every response in got[0, n). partial: the last one may still be
 * coming (or was cut short by a reset). Returns whether got ends with a
 * whole response (or is empty). */
static bool check_answers(const uint8_t *got, size_t n, bool partial) {
    const char *p = (const char *)got, *end = p + n;
    while (p < end) {
        if ((size_t)(end - p) < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0) {
            if (partial && (size_t)(end - p) < 12 && !memcmp(p, "HTTP/1.1 ", (size_t)(end - p) < 9 ? (size_t)(end - p) : 9))
                return false;
            finding("not an HTTP/1.1 status line", got, n);
        }
        int status = atoi(p + 9);
        const char *he = find(p, end, "\r\n\r\n");
        if (!he) {
            if (partial) return false;
            finding("a response head without its end", got, n);
        }
        const char *body = he + 4;
        if (status >= 100 && status < 200) { /* 100 Continue: no body */
            p = body;
            continue;
        }
        size_t cll, ctl = 0;
        const char *cl = header(p, he + 2, "Content-Length", &cll);
        const char *ct = header(p, he + 2, "Content-Type", &ctl);
        if (!cl) finding("a response without Content-Length", got, n);
        size_t len = strtoul(cl, NULL, 10);
        /* An answer to HEAD has the length and no body (and so does the
         * first head of libmicrohttpd 0.9.75's doubled error response). */
        if (len && (size_t)(end - body) >= 7 && !memcmp(body, "HTTP/1.", 7)) {
            p = body;
            continue;
        }
        if ((size_t)(end - body) < len) {
            /* A HEAD answer last: nothing follows its head. Whole so far,
             * even while more may come: the server need not close (a
             * HEAD whose body swallowed the sentinel leaves it waiting
             * for a request), and a body that is still coming arrives
             * within the quiet wait and is checked then. */
            if (body == end) return true;
            if (partial) return false;
            finding("a body shorter than its Content-Length", got, n);
        }
        if (ct && ctl >= 15 && (!strncmp(ct, "application/zip", 15) || !strncmp(ct, "application/gzip", 16))) {
            p = body + len; /* an export file */
            continue;
        }
        if (len >= 6 && !memcmp(body, "<html>", 6)) {
            if (!library_status(status)) finding("an HTML answer with a status libmicrohttpd does not send", got, n);
            if (body + len != end) finding("more after libmicrohttpd's own answer", got, n);
            return true;
        }
        if (!ct || ctl < 16 || strncmp(ct, "application/json", 16) != 0) finding("an answer that is not JSON", got, n);
        json_tokener *tok = json_tokener_new();
        json_object *o = json_tokener_parse_ex(tok, body, (int)len);
        bool whole = json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        json_object *m = NULL;
        bool ok = whole && json_object_is_type(o, json_type_object) &&
                  (status < 400 || (json_object_object_get_ex(o, "message", &m) && json_object_is_type(m, json_type_string)));
        json_object_put(o);
        if (!ok) finding(status >= 400 ? "an error answer that is not {\"message\": \"...\"}" : "a body that is not a JSON object", got, n);
        p = body + len;
    }
    return true;
}

static void send_all(int fd, const void *data, size_t size) {
    for (size_t off = 0; off < size;) {
        ssize_t w = send(fd, (const char *)data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0) return; /* the server answered and closed before reading it all */
        off += (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) abort();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {PATIENCE_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) abort();
    send_all(fd, data, size);
    send_all(fd, SENTINEL, sizeof SENTINEL - 1);
    shutdown(fd, SHUT_WR);

    static uint8_t got[1 << 20];
    size_t n = 0;
    bool reset = false;
    int64_t last = clock_mono_us() / 1000;
    for (;;) {
        /* Until the server closes; or, once what came is whole answers,
         * until it stays quiet (it waits for input that will not come). */
        bool whole = check_answers(got, n, true);
        int64_t now = clock_mono_us() / 1000, wait = (whole ? QUIET_MS : PATIENCE_MS) - (now - last);
        if (wait <= 0) {
            if (!whole) finding("an answer not finished within 10 s", got, n);
            break;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)wait) == 0) continue;
        ssize_t r = recv(fd, got + n, sizeof got - n, 0);
        if (r > 0) {
            n += (size_t)r;
            last = clock_mono_us() / 1000;
            if (n == sizeof got) break;
        } else if (r == 0) {
            break;
        } else if (errno != EINTR && errno != EAGAIN) {
            reset = true; /* it closed with input unread: the end may be lost */
            break;
        }
    }
    close(fd);
    check_answers(got, n, reset);
    return 0;
}
