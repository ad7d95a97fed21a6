/* smtp_test.c -- unit tests for src/send/smtp.c (the email channel's SMTP
 * driver) and src/send/relays.c (the channel over several relays) against a real SMTP server, tests/e2e/smtp_receiver.py
 * (aiosmtpd, run by /usr/bin/python3), whose answers each recipient
 * address programs (bounce-*, soft-*, softonce-*, reject-*) and which
 * can be slow to accept a message, and against tiny TCP servers in this
 * file for relays that are down, garbled, hostile or silent. What the receiver got is compared byte for byte with what
 * was submitted; its client ports count the SMTP sessions. Tests that need
 * the receiver say so and pass when aiosmtpd is missing. */
#define _GNU_SOURCE
#include "test.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "send/relays.h"
#include "send/smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- the receiver (smtp_receiver.py) -------------------------------------- */

#define RCV_MAX 64

typedef struct {
    char mail_from[256];
    char rcpt[512]; /* the recipients, joined by "," */
    unsigned char *data;
    size_t len;
    int peer_port;
} rcv_msg;

/* The receiver's stdout is drained by a thread of ours as it comes: a
 * message's line carries its bytes in base64, and a pipe left unread
 * would stall the receiver in its write after 64 KB -- and with it every
 * SMTP session waiting for its final reply. */
typedef struct {
    pid_t pid;
    int out, in; /* its stdout (we read), its stdin (closing it ends it) */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int port;    /* (mu) from its first line; -1 when it ended without one */
    rcv_msg msgs[RCV_MAX];
    int n;       /* (mu) */
} receiver;

static bool have_aiosmtpd(void) {
    static int have = -1;
    if (have < 0) have = system("/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1") == 0;
    if (!have) printf("    skipped: /usr/bin/python3 cannot import aiosmtpd (apt-get install python3-aiosmtpd)\n");
    return have;
}

static unsigned char *b64_decode(const char *s, size_t *len) {
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 4);
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (k < 0) abort();
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    while (n && s[n - 1] == '=') n--, k--;
    *len = (size_t)k;
    return out;
}

static void rcv_parse(receiver *r, const char *line) {
    json_object *j = json_tokener_parse(line), *v;
    if (!j) {
        printf("    the receiver said: %s\n", line);
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (json_object_object_get_ex(j, "port", &v)) r->port = json_object_get_int(v);
    else if (r->n < RCV_MAX) {
        rcv_msg *m = &r->msgs[r->n];
        if (json_object_object_get_ex(j, "mail_from", &v))
            snprintf(m->mail_from, sizeof m->mail_from, "%s", json_object_get_string(v));
        if (json_object_object_get_ex(j, "rcpt_tos", &v))
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                size_t k = strlen(m->rcpt);
                snprintf(m->rcpt + k, sizeof m->rcpt - k, "%s%s", i ? "," : "", json_object_get_string(json_object_array_get_idx(v, i)));
            }
        if (json_object_object_get_ex(j, "data_b64", &v)) m->data = b64_decode(json_object_get_string(v), &m->len);
        if (json_object_object_get_ex(j, "peer_port", &v)) m->peer_port = json_object_get_int(v);
        r->n++;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    json_object_put(j);
}

static void *rcv_reader(void *arg) {
    receiver *r = arg;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        ssize_t got = read(r->out, buf + n, cap - n);
        if (got <= 0) break;
        n += (size_t)got;
        char *nl;
        while ((nl = memchr(buf, '\n', n))) {
            *nl = 0;
            rcv_parse(r, buf);
            n -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, n);
        }
    }
    free(buf);
    pthread_mutex_lock(&r->mu);
    if (!r->port) r->port = -1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Waits, for at most timeout_ms, until the receiver has said its port
 * (n < 0) or reported n messages in all. */
static bool rcv_wait(receiver *r, int n, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_mutex_lock(&r->mu);
    while (!(n < 0 ? r->port != 0 : r->n >= n))
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts)) break;
    bool ok = n < 0 ? r->port > 0 : r->n >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

/* Starts the receiver on port (0: any), answering each DATA after
 * delay_ms; NULL when it did not come up. */
static receiver *rcv_start_slow(int port, int delay_ms) {
    int out[2], in[2];
    if (pipe(out) || pipe(in)) abort();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char portarg[16], delayarg[16];
    snprintf(portarg, sizeof portarg, "%d", port);
    snprintf(delayarg, sizeof delayarg, "%d", delay_ms);
    char *argv[] = {"/usr/bin/python3", "tests/e2e/smtp_receiver.py", "--port", portarg, "--data-delay-ms", delayarg, NULL};
    receiver *r = calloc(1, sizeof *r);
    int rc = posix_spawn(&r->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc) abort();
    r->out = out[0];
    r->in = in[1];
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_create(&r->th, NULL, rcv_reader, r);
    if (!rcv_wait(r, -1, 15000)) {
        printf("    the receiver did not start\n");
        return NULL;
    }
    return r;
}

static receiver *rcv_start(int port) {
    return rcv_start_slow(port, 0);
}

/* Distinct client ports among the messages received: the SMTP sessions. */
static int rcv_sessions(const receiver *r) {
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        bool seen = false;
        for (int k = 0; k < i; k++) seen |= r->msgs[k].peer_port == r->msgs[i].peer_port;
        n += !seen;
    }
    return n;
}

static void rcv_stop(receiver *r) {
    if (!r) return;
    close(r->in); /* it ends when its stdin does */
    kill(r->pid, SIGTERM);
    while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR) {}
    pthread_join(r->th, NULL);
    close(r->out);
    for (int i = 0; i < r->n; i++) free(r->msgs[i].data);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* ---- tiny relays: down, garbled, silent ---------------------------------- */

/* A port nothing listens on (bound, then closed). */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &al)) abort();
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct {
    int fd, port;
    const char *say; /* written to each client, which is then closed; NULL: say nothing, keep it open */
    pthread_t th;
    atomic_int conns;
    atomic_bool stop;
    int held[256];
    int nheld;
} tcpsrv;

static void *tcp_main(void *arg) {
    tcpsrv *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            if (atomic_load(&s->stop)) break;
            continue;
        }
        atomic_fetch_add(&s->conns, 1);
        if (s->say) {
            if (send(c, s->say, strlen(s->say), MSG_NOSIGNAL) < 0) {}
            close(c);
        } else if (s->nheld < 256) s->held[s->nheld++] = c;
        else close(c);
    }
    return NULL;
}

static tcpsrv *tcp_start(const char *say) {
    tcpsrv *s = calloc(1, sizeof *s);
    s->say = say;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) || listen(s->fd, 64) || getsockname(s->fd, (struct sockaddr *)&a, &al))
        abort();
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, tcp_main, s);
    return s;
}

static void tcp_stop(tcpsrv *s) {
    atomic_store(&s->stop, true);
    shutdown(s->fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(s->th, NULL);
    close(s->fd);
    for (int i = 0; i < s->nheld; i++) close(s->held[i]);
    free(s);
}

/* ---- messages and outcomes ----------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} waiter;

static waiter W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void on_done(void *ud, send_msg *m) {
    (void)ud, (void)m;
    pthread_mutex_lock(&W.mu);
    W.done++;
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
}

/* Waits for n done() calls in all; false after timeout_ms. */
static bool wait_done(int n, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_mutex_lock(&W.mu);
    while (W.done < n)
        if (pthread_cond_timedwait(&W.cv, &W.mu, &ts)) break;
    bool ok = W.done >= n;
    pthread_mutex_unlock(&W.mu);
    return ok;
}

/* A message from sender@brasa.test to `to` (and bcc, when not NULL): an
 * RFC 5322 message of about body_kb KB, CRLF lines, with a line that
 * starts with a dot (which must arrive unstuffed) and UTF-8 text. */
static void msg_init(send_msg *m, int i, const char *to, const char *bcc, int body_kb) {
    memset(m, 0, sizeof *m);
    snprintf(m->message_id, sizeof m->message_id, "msg-%d", i);
    m->mail_from = strdup("sender@brasa.test");
    m->rcpt = calloc(3, sizeof *m->rcpt);
    m->rcpt[0] = strdup(to);
    if (bcc) m->rcpt[1] = strdup(bcc);
    size_t cap = (size_t)body_kb * 1024 + 1024, n = 0;
    m->body = malloc(cap);
    n += (size_t)snprintf(m->body + n, cap - n,
                          "From: Brasa <sender@brasa.test>\r\nTo: <%s>\r\nSubject: message %d, =?utf-8?q?ol=C3=A1?=\r\n"
                          "Message-ID: <%d@brasa.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                          "Olá, número %d.\r\n.a line that starts with a dot\r\n..and two\r\n",
                          to, i, i, i);
    for (int line = 0; n + 80 < (size_t)body_kb * 1024; line++)
        n += (size_t)snprintf(m->body + n, cap - n, "%04d %-69.69s\r\n", line,
                              "The quick brown fox jumps over the lazy dog; message body padding.");
    m->body_len = n;
}

static smtp_opts opts_for(int port) {
    static char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
    return (smtp_opts){.url = url, .max_attempts = 3, .base_backoff_ms = 20, .max_backoff_ms = 100, .timeout_ms = 10000};
}

/* ---- the tests ------------------------------------------------------------ */

TEST(smtp_delivers_exact_bytes_over_few_sessions) {
    if (!have_aiosmtpd()) return;
    receiver *r = rcv_start(0);
    T_TRUE(r);
    smtp_opts o = opts_for(r->port);
    o.max_connections = 4;
    send_channel *c = smtp_new(&o, on_done, NULL);
    T_TRUE(c);
    enum { N = 20 };
    static send_msg m[N];
    for (int i = 0; i < N; i++) {
        char to[64];
        snprintf(to, sizeof to, "user%d@example.test", i);
        msg_init(&m[i], i, to, i % 5 == 0 ? "bcc@example.test" : NULL, 20 + i);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(N, 30000));
    /* pending() counts a message out just after its done(). */
    for (int64_t t0 = clock_mono_us(); c->pending(c) && clock_mono_us() - t0 < 1000000;) usleep(1000);
    T_EQ_INT(c->pending(c), 0);
    for (int i = 0; i < N; i++) {
        T_EQ_INT(m[i].outcome, SEND_OK);
        T_EQ_INT(m[i].status, 250);
        T_EQ_INT(m[i].attempts, 1);
        T_EQ_STR(m[i].error, "");
    }
    T_TRUE(rcv_wait(r, N, 10000));
    /* Each message arrived once, byte for byte, with its envelope. */
    int seen[N] = {0};
    for (int k = 0; k < r->n; k++) {
        rcv_msg *g = &r->msgs[k];
        int i = -1;
        for (int j = 0; j < N; j++)
            if (g->len == m[j].body_len && !memcmp(g->data, m[j].body, g->len)) i = j;
        T_TRUE(i >= 0);
        seen[i]++;
        T_EQ_STR(g->mail_from, "sender@brasa.test");
        char want[128];
        snprintf(want, sizeof want, "user%d@example.test%s", i, i % 5 == 0 ? ",bcc@example.test" : "");
        T_EQ_STR(g->rcpt, want);
    }
    for (int i = 0; i < N; i++) T_EQ_INT(seen[i], 1);
    /* Sessions reused: no more than max_connections for 20 messages. */
    int sessions = rcv_sessions(r);
    printf("    %d messages over %d SMTP sessions\n", N, sessions);
    T_TRUE(sessions >= 1 && sessions <= 4);
    /* stop(drain=true) waits for what is queued. */
    for (int i = 0; i < N; i++) {
        send_msg_clear(&m[i]);
        msg_init(&m[i], 100 + i, "late@example.test", NULL, 2);
        c->submit(c, &m[i]);
    }
    c->stop(c, true);
    T_EQ_INT(W.done, 2 * N);
    for (int i = 0; i < N; i++) T_EQ_INT(m[i].outcome, SEND_OK);
    T_TRUE(rcv_wait(r, 2 * N, 10000));
    c->free(c);
    for (int i = 0; i < N; i++) send_msg_clear(&m[i]);
    rcv_stop(r);
}

TEST(smtp_bounces_and_soft_failures) {
    if (!have_aiosmtpd()) return;
    receiver *r = rcv_start(0);
    T_TRUE(r);
    smtp_opts o = opts_for(r->port);
    send_channel *c = smtp_new(&o, on_done, NULL);
    static send_msg m[5];
    const char *to[5] = {"bounce-1@example.test", "soft-1@example.test", "softonce-1@example.test", "reject-1@example.test",
                         "ok@example.test"};
    for (int i = 0; i < 5; i++) {
        msg_init(&m[i], i, to[i], NULL, 4);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(5, 30000));
    /* 5xx to RCPT TO: bounced at once, the relay's reply kept. */
    T_EQ_INT(m[0].outcome, SEND_BOUNCED);
    T_EQ_INT(m[0].status, 550);
    T_EQ_INT(m[0].attempts, 1);
    T_EQ_STR(m[0].error, "550 5.1.1 No such user");
    /* 4xx: retried until max_attempts, then failed (a soft bounce). */
    T_EQ_INT(m[1].outcome, SEND_FAILED);
    T_EQ_INT(m[1].status, 451);
    T_EQ_INT(m[1].attempts, 3);
    T_EQ_STR(m[1].error, "451 4.3.0 Try again later");
    /* 4xx once: delivered on the second attempt. */
    T_EQ_INT(m[2].outcome, SEND_OK);
    T_EQ_INT(m[2].status, 250);
    T_EQ_INT(m[2].attempts, 2);
    /* 5xx after DATA (the body was sent): bounced too, no retry. */
    T_EQ_INT(m[3].outcome, SEND_BOUNCED);
    T_EQ_INT(m[3].status, 554);
    T_EQ_INT(m[3].attempts, 1);
    T_EQ_STR(m[3].error, "554 5.6.0 Message refused");
    T_EQ_INT(m[4].outcome, SEND_OK);
    /* Only the delivered ones reached the mailbox. */
    T_TRUE(rcv_wait(r, 2, 5000));
    T_TRUE(!rcv_wait(r, 3, 300));
    c->stop(c, false);
    c->free(c);
    for (int i = 0; i < 5; i++) send_msg_clear(&m[i]);
    rcv_stop(r);
}

TEST(smtp_relay_down_then_up) {
    if (!have_aiosmtpd()) return;
    int port = closed_port();
    smtp_opts o = opts_for(port);
    send_channel *c = smtp_new(&o, on_done, NULL);
    static send_msg m[2];
    msg_init(&m[0], 0, "a@example.test", NULL, 1);
    c->submit(c, &m[0]);
    T_TRUE(wait_done(1, 20000));
    T_EQ_INT(m[0].outcome, SEND_FAILED);
    T_EQ_INT(m[0].status, 0);
    T_EQ_INT(m[0].attempts, 3);
    printf("    relay down: %s\n", m[0].error);
    T_TRUE(m[0].error[0]);
    /* The relay comes up on that port: the same channel delivers. */
    receiver *r = rcv_start(port);
    T_TRUE(r);
    msg_init(&m[1], 1, "b@example.test", NULL, 1);
    c->submit(c, &m[1]);
    T_TRUE(wait_done(2, 20000));
    T_EQ_INT(m[1].outcome, SEND_OK);
    T_EQ_INT(m[1].status, 250);
    T_TRUE(rcv_wait(r, 1, 5000));
    T_TRUE(r->msgs[0].len == m[1].body_len && !memcmp(r->msgs[0].data, m[1].body, m[1].body_len));
    c->stop(c, false);
    c->free(c);
    for (int i = 0; i < 2; i++) send_msg_clear(&m[i]);
    rcv_stop(r);
}

TEST(smtp_garbage_and_hostile_relays) {
    /* A relay that answers garbage and hangs up: a transport error, retried. */
    tcpsrv *s = tcp_start("hello\r\n");
    smtp_opts o = opts_for(s->port);
    send_channel *c = smtp_new(&o, on_done, NULL);
    static send_msg m[3];
    msg_init(&m[0], 0, "a@example.test", NULL, 1);
    c->submit(c, &m[0]);
    T_TRUE(wait_done(1, 20000));
    T_EQ_INT(m[0].outcome, SEND_FAILED);
    T_EQ_INT(m[0].attempts, 3);
    T_TRUE(m[0].error[0]);
    printf("    garbage: %s\n", m[0].error);
    T_EQ_INT(atomic_load(&s->conns), 3);
    /* The channel and the server both still work. */
    msg_init(&m[1], 1, "b@example.test", NULL, 1);
    c->submit(c, &m[1]);
    T_TRUE(wait_done(2, 20000));
    T_EQ_INT(m[1].outcome, SEND_FAILED);
    T_EQ_INT(atomic_load(&s->conns), 6);
    c->stop(c, false);
    c->free(c);
    tcp_stop(s);
    /* A relay that refuses us in its greeting (5xx): failed at once, but
     * not a bounce -- the recipient did nothing. */
    s = tcp_start("554 5.7.1 No service for you\r\n");
    o = opts_for(s->port);
    c = smtp_new(&o, on_done, NULL);
    msg_init(&m[2], 2, "c@example.test", NULL, 1);
    c->submit(c, &m[2]);
    T_TRUE(wait_done(3, 20000));
    T_EQ_INT(m[2].outcome, SEND_FAILED);
    T_EQ_INT(m[2].status, 554);
    T_EQ_INT(m[2].attempts, 1);
    T_EQ_STR(m[2].error, "554 5.7.1 No service for you");
    c->stop(c, false);
    c->free(c);
    tcp_stop(s);
    for (int i = 0; i < 3; i++) send_msg_clear(&m[i]);
}

TEST(smtp_stop_without_drain) {
    /* A relay that never says a word: everything stays in flight or queued. */
    tcpsrv *s = tcp_start(NULL);
    smtp_opts o = opts_for(s->port);
    o.max_connections = 2;
    send_channel *c = smtp_new(&o, on_done, NULL);
    enum { N = 50 };
    static send_msg m[N];
    for (int i = 0; i < N; i++) {
        msg_init(&m[i], i, "a@example.test", NULL, 1);
        c->submit(c, &m[i]);
    }
    int64_t t0 = clock_mono_us();
    while (atomic_load(&s->conns) < 2 && clock_mono_us() - t0 < 5000000) usleep(1000);
    T_EQ_INT(atomic_load(&s->conns), 2); /* no more sessions than max_connections */
    T_EQ_INT(c->pending(c), N);
    c->stop(c, false);
    T_EQ_INT(W.done, N);
    T_EQ_INT(c->pending(c), 0);
    for (int i = 0; i < N; i++) {
        T_EQ_INT(m[i].outcome, SEND_FAILED);
        T_EQ_STR(m[i].error, "stopped");
    }
    c->free(c);
    tcp_stop(s);
    for (int i = 0; i < N; i++) send_msg_clear(&m[i]);
}

TEST(smtp_rate_per_second) {
    if (!have_aiosmtpd()) return;
    receiver *r = rcv_start(0);
    T_TRUE(r);
    smtp_opts o = opts_for(r->port);
    o.rate_per_second = 20;
    send_channel *c = smtp_new(&o, on_done, NULL);
    enum { N = 10 };
    static send_msg m[N];
    int64_t t0 = clock_mono_us();
    for (int i = 0; i < N; i++) {
        msg_init(&m[i], i, "a@example.test", NULL, 1);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(N, 20000));
    int64_t ms = (clock_mono_us() - t0) / 1000;
    printf("    %d messages at 20/s took %lld ms\n", N, (long long)ms);
    /* 50 ms apart: the tenth starts 450 ms after the first. */
    T_TRUE(ms >= 430 && ms < 5000);
    for (int i = 0; i < N; i++) T_EQ_INT(m[i].outcome, SEND_OK);
    c->stop(c, false);
    c->free(c);
    for (int i = 0; i < N; i++) send_msg_clear(&m[i]);
    rcv_stop(r);
}

TEST(smtp_probe_and_bad_options) {
    char why[256];
    /* Refused before any connection (and logged: quiet here). */
    log_set_level(LOG_OFF);
    smtp_opts bad = {.url = "http://127.0.0.1:25"};
    T_TRUE(!smtp_new(&bad, on_done, NULL));
    bad.url = NULL;
    T_TRUE(!smtp_new(&bad, on_done, NULL));
    bad.url = "smtp://";
    T_TRUE(!smtp_new(&bad, on_done, NULL));
    log_set_level(LOG_ERROR);
    T_EQ_INT(smtp_probe(&bad, "a@b.test", "c@d.test", why, sizeof why), -1);
    T_EQ_STR(why, "the relay URL must be smtp://host:port or smtps://host:port");
    smtp_opts down = opts_for(closed_port());
    T_EQ_INT(smtp_probe(&down, "a@b.test", "c\r\nBcc: x@y.test", why, sizeof why), -1);
    T_TRUE(strstr(why, "not an email address"));
    T_EQ_INT(smtp_probe(&down, "a@b.test", "c@d.test", why, sizeof why), -1);
    printf("    probe, relay down: %s\n", why);
    T_TRUE(why[0]);
    if (!have_aiosmtpd()) return;
    receiver *r = rcv_start(0);
    T_TRUE(r);
    smtp_opts o = opts_for(r->port);
    T_EQ_INT(smtp_probe(&o, "ops@brasa.test", "inbox@example.test", why, sizeof why), 0);
    T_EQ_STR(why, "");
    T_TRUE(rcv_wait(r, 1, 5000));
    T_EQ_STR(r->msgs[0].mail_from, "ops@brasa.test");
    T_EQ_STR(r->msgs[0].rcpt, "inbox@example.test");
    char *data = strndup((char *)r->msgs[0].data, r->msgs[0].len);
    bool subject = strstr(data, "\r\nSubject: brasa smtp test\r\n"), date = strstr(data, "\r\nDate: ");
    free(data);
    T_TRUE(subject && date);
    T_EQ_INT(smtp_probe(&o, "ops@brasa.test", "bounce-x@example.test", why, sizeof why), -1);
    T_EQ_STR(why, "550 5.1.1 No such user");
    /* A 4xx is not retried by a probe: it says so at once. */
    T_EQ_INT(smtp_probe(&o, "ops@brasa.test", "soft-x@example.test", why, sizeof why), -1);
    T_EQ_STR(why, "451 4.3.0 Try again later");
    rcv_stop(r);
}

/* A relay that takes 200 ms to accept each message: the sessions carry
 * messages in parallel. */
TEST(smtp_slow_relay_concurrency) {
    if (!have_aiosmtpd()) return;
    receiver *r = rcv_start_slow(0, 200);
    T_TRUE(r);
    smtp_opts o = opts_for(r->port);
    o.max_connections = 16;
    send_channel *c = smtp_new(&o, on_done, NULL);
    enum { N = 32 };
    static send_msg m[N];
    int64_t t0 = clock_mono_us();
    for (int i = 0; i < N; i++) {
        msg_init(&m[i], i, "a@example.test", NULL, 2);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(N, 60000));
    int64_t ms = (clock_mono_us() - t0) / 1000;
    printf("    %d messages, relay answering DATA in 200 ms, 16 sessions: %lld ms\n", N, (long long)ms);
    /* Two rounds of 16 sessions, not 32 messages one after the other
     * (6.4 s: libcurl blocks on that reply, see curlq.c). */
    T_TRUE(ms >= 400 && ms < 2000);
    for (int i = 0; i < N; i++) T_EQ_INT(m[i].outcome, SEND_OK);
    c->stop(c, false);
    c->free(c);
    for (int i = 0; i < N; i++) send_msg_clear(&m[i]);
    rcv_stop(r);
}

/* ---- several relays (relays.c) -------------------------------------------- */

static rly_relay relay_at(const char *name, int port) {
    smtp_opts o = opts_for(port);
    char *url = malloc(64); /* opts_for's is static: one per relay here */
    snprintf(url, 64, "%s", o.url);
    o.url = url;
    o.max_connections = 1; /* one session: the tests see it kept */
    return (rly_relay){name, o};
}

static int to_port(const receiver *r, int k) { return r->n > k ? r->msgs[k].peer_port : -1; }

/* Waits until a and b received n messages between them (their output may
 * come after the relay's 250). */
static bool wait_total(receiver *a, receiver *b, int n, int timeout_ms) {
    for (int64_t t0 = clock_mono_us(); clock_mono_us() - t0 < (int64_t)timeout_ms * 1000; usleep(2000)) {
        pthread_mutex_lock(&a->mu);
        int k = a->n;
        pthread_mutex_unlock(&a->mu);
        pthread_mutex_lock(&b->mu);
        k += b->n;
        pthread_mutex_unlock(&b->mu);
        if (k >= n) return true;
    }
    return false;
}

/* Two relays share the messages; one down, the other takes all of them at
 * once (no retry counted, no soft bounce); the list changed in place. */
TEST(relays_spread_failover_and_update) {
    if (!have_aiosmtpd()) return;
    receiver *ra = rcv_start(0), *rb = rcv_start(0);
    T_TRUE(ra && rb);
    rly_set *s = rly_new(on_done, NULL);
    send_channel *c = rly_channel(s);
    /* No relay: failed at once. */
    static send_msg m0;
    msg_init(&m0, 0, "a@example.test", NULL, 1);
    c->submit(c, &m0);
    T_TRUE(wait_done(1, 5000));
    T_EQ_INT(m0.outcome, SEND_FAILED);
    T_EQ_STR(m0.error, "no email relay is configured");
    rly_relay two[2] = {relay_at("a", ra->port), relay_at("b", rb->port)};
    T_EQ_INT(rly_update(s, two, 2), 2);
    T_EQ_INT(rly_count(s), 2);
    T_TRUE(rly_has(s, "a") && rly_has(s, "b") && !rly_has(s, "c"));
    enum { N = 20 };
    static send_msg m[N];
    for (int i = 0; i < N; i++) {
        msg_init(&m[i], i, "ok@example.test", NULL, 1);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(1 + N, 30000));
    for (int i = 0; i < N; i++) T_EQ_INT(m[i].outcome, SEND_OK);
    T_TRUE(wait_total(ra, rb, N, 5000));
    printf("    %d messages: %d through a, %d through b\n", N, ra->n, rb->n);
    T_EQ_INT(ra->n + rb->n, N);
    T_TRUE(ra->n >= N / 4 && rb->n >= N / 4);
    /* "a" moves to a port nothing listens on: its messages go to "b"
     * at once, delivered on their first attempt there. */
    int a_before = ra->n, b_before = rb->n;
    rly_relay down[2] = {relay_at("a", closed_port()), relay_at("b", rb->port)};
    T_EQ_INT(rly_update(s, down, 2), 2);
    for (int i = 0; i < N; i++) {
        send_msg_clear(&m[i]);
        msg_init(&m[i], 100 + i, "ok@example.test", NULL, 1);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(1 + 2 * N, 30000));
    for (int i = 0; i < N; i++) {
        T_EQ_INT(m[i].outcome, SEND_OK);
        T_EQ_INT(m[i].attempts, 1);
        T_TRUE(m[i].hops >= 1 && m[i].hops <= 2);
    }
    T_TRUE(rcv_wait(rb, b_before + N, 5000));
    T_EQ_INT(ra->n, a_before);
    /* Both down: each message tries the other relay, then the last one's
     * retries, then fails (a soft bounce). */
    rly_relay both[2] = {relay_at("a", closed_port()), relay_at("b", closed_port())};
    T_EQ_INT(rly_update(s, both, 2), 2);
    send_msg_clear(&m[0]);
    msg_init(&m[0], 200, "ok@example.test", NULL, 1);
    c->submit(c, &m[0]);
    T_TRUE(wait_done(2 + 2 * N, 30000));
    T_EQ_INT(m[0].outcome, SEND_FAILED);
    T_EQ_INT(m[0].hops, 2);
    T_EQ_INT(m[0].attempts, 3); /* the last relay's max_attempts */
    T_TRUE(m[0].relay_down);
    /* Only "b" (on the receiver again): "a" retired, not sent through. */
    rly_relay one[1] = {relay_at("b", rb->port)};
    T_EQ_INT(rly_update(s, one, 1), 1);
    T_TRUE(!rly_has(s, "a") && rly_has(s, "b"));
    b_before = rb->n;
    for (int i = 0; i < 4; i++) {
        send_msg_clear(&m[i]);
        msg_init(&m[i], 300 + i, "ok@example.test", NULL, 1);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(2 + 2 * N + 4, 30000));
    for (int i = 0; i < 4; i++) T_EQ_INT(m[i].outcome, SEND_OK);
    T_TRUE(rcv_wait(rb, b_before + 4, 5000));
    T_EQ_INT(ra->n, a_before);
    /* The same list again keeps the relay and its session. */
    rly_relay same[1] = {relay_at("b", rb->port)};
    T_EQ_INT(rly_update(s, same, 1), 1);
    send_msg_clear(&m[0]);
    msg_init(&m[0], 400, "ok@example.test", NULL, 1);
    c->submit(c, &m[0]);
    T_TRUE(wait_done(2 + 2 * N + 5, 30000));
    T_TRUE(rcv_wait(rb, b_before + 5, 5000));
    T_EQ_INT(rb->msgs[rb->n - 1].peer_port, to_port(rb, rb->n - 2));
    /* An answer to the message is not the relay's failure: no failover. */
    rly_relay ab[2] = {relay_at("a", ra->port), relay_at("b", rb->port)};
    T_EQ_INT(rly_update(s, ab, 2), 2);
    send_msg_clear(&m[0]);
    msg_init(&m[0], 500, "bounce-x@example.test", NULL, 1);
    c->submit(c, &m[0]);
    T_TRUE(wait_done(2 + 2 * N + 6, 30000));
    T_EQ_INT(m[0].outcome, SEND_BOUNCED);
    T_EQ_INT(m[0].hops, 1);
    T_TRUE(!m[0].relay_down);
    rly_update(s, NULL, 0);
    T_EQ_INT(rly_count(s), 0);
    c->stop(c, false);
    c->free(c);
    send_msg_clear(&m0);
    for (int i = 0; i < N; i++) send_msg_clear(&m[i]);
    free((char *)two[0].o.url), free((char *)two[1].o.url), free((char *)down[0].o.url), free((char *)down[1].o.url);
    free((char *)both[0].o.url), free((char *)both[1].o.url), free((char *)one[0].o.url), free((char *)same[0].o.url);
    free((char *)ab[0].o.url), free((char *)ab[1].o.url);
    rcv_stop(ra);
    rcv_stop(rb);
}

/* A relay that refuses brasa itself (a 554 greeting, garbage) is the
 * relay's failure, as a connection refused is: the other relay delivers. */
TEST(relays_failover_from_a_refusing_relay) {
    if (!have_aiosmtpd()) return;
    receiver *rb = rcv_start(0);
    T_TRUE(rb);
    tcpsrv *no = tcp_start("554 5.7.1 go away\r\n"), *junk = tcp_start("hello\r\n");
    rly_set *s = rly_new(on_done, NULL);
    send_channel *c = rly_channel(s);
    rly_relay l[3] = {relay_at("no", no->port), relay_at("junk", junk->port), relay_at("b", rb->port)};
    T_EQ_INT(rly_update(s, l, 3), 3);
    enum { N = 12 };
    static send_msg m[N];
    for (int i = 0; i < N; i++) {
        msg_init(&m[i], i, "ok@example.test", NULL, 1);
        c->submit(c, &m[i]);
    }
    T_TRUE(wait_done(N, 30000));
    for (int i = 0; i < N; i++) {
        T_EQ_INT(m[i].outcome, SEND_OK);
        T_EQ_INT(m[i].attempts, 1);
    }
    T_TRUE(rcv_wait(rb, N, 5000));
    /* Each refusing relay was tried, then passed over while cooling down. */
    T_TRUE(atomic_load(&no->conns) >= 1 && atomic_load(&junk->conns) >= 1);
    printf("    %d messages: the 554 relay saw %d connections, the garbled one %d\n", N, atomic_load(&no->conns),
           atomic_load(&junk->conns));
    T_TRUE(atomic_load(&no->conns) <= 3 && atomic_load(&junk->conns) <= 3); /* not once per message */
    c->stop(c, false);
    c->free(c);
    for (int i = 0; i < N; i++) send_msg_clear(&m[i]);
    for (int i = 0; i < 3; i++) free((char *)l[i].o.url);
    tcp_stop(no);
    tcp_stop(junk);
    rcv_stop(rb);
}
