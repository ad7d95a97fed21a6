/* smtp.c -- the email channel's SMTP driver (smtp.h): a curlq driver
 * (curlq.h runs the threads, the queue, the retries) that hands each
 * message to the relay with libcurl's SMTP client and judges the reply.
 *
 * libcurl speaks the protocol: EHLO, STARTTLS, AUTH, MAIL FROM, one RCPT
 * TO per recipient, DATA with the body dot-stuffed, and it keeps the
 * session open in the multi handle's connection cache for the next message
 * (the next MAIL FROM goes on it, no new EHLO). One worker thread per
 * session, each with one message at a time. A failed transaction closes
 * its session (libcurl does), so a bounce costs a reconnect.
 *
 * What libcurl does not give is which command a 5xx answered and the
 * reply's text: the reply lines come through the header callback, and the
 * read callback tells whether the whole body went out (see judge()). A
 * message costs no allocation here beyond libcurl's own, unless it has
 * more than RCPT_INLINE recipients. */
#include "smtp.h"
#include "curlq.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Up to 128 transfers, like the webhook channel. Each SMTP session has a
 * worker thread of its own (curlq.c says why: libcurl blocks on the reply
 * to a message's end) carrying one message at a time on its one
 * connection: max_connections workers, capped here. */
#define MAX_ACTIVE 128
/* Recipients whose list nodes live in the slot (To, and a few Bcc). */
#define RCPT_INLINE 4

/* The options, with defaults applied and strings owned. */
typedef struct {
    smtp_opts o;
    char *url, *user, *password;
} smtp_conf;

/* A transfer slot (curlq_xfer first). */
typedef struct {
    curlq_xfer x;
    size_t off;          /* of the body handed to libcurl */
    bool sent_all;       /* the read callback reached the end of the body */
    struct curl_slist rcpt[RCPT_INLINE]; /* pointing at m->rcpt's strings */
    struct curl_slist *more;             /* when they do not fit (allocated) */
    char reply[160];     /* the relay's last 4xx/5xx reply line */
    char errbuf[CURL_ERROR_SIZE];
} sxfer;

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
    sxfer *x = ud;
    const send_msg *m = x->x.m;
    size_t left = m->body_len - x->off, k = size * n < left ? size * n : left;
    if (k) memcpy(buf, m->body + x->off, k);
    x->off += k;
    if (x->off == m->body_len) x->sent_all = true;
    return k;
}

/* libcurl hands every reply line of the session to the header callback:
 * the last 4xx/5xx one is the error text a failed message keeps. */
static size_t on_reply(char *p, size_t size, size_t n, void *ud) {
    sxfer *x = ud;
    size_t len = size * n;
    if (len >= 3 && (p[0] == '4' || p[0] == '5') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9') {
        size_t k = len;
        while (k && (p[k - 1] == '\r' || p[k - 1] == '\n')) k--;
        if (k >= sizeof x->reply) k = sizeof x->reply - 1;
        /* It goes into events and logs: printable ASCII only. */
        for (size_t i = 0; i < k; i++) x->reply[i] = p[i] >= ' ' && p[i] < 127 ? p[i] : '?';
        x->reply[k] = 0;
    }
    return len;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p, (void)ud;
    return size * n;
}

static bool setup(void *ud, curlq_xfer *cx) {
    const smtp_conf *c = ud;
    sxfer *x = (sxfer *)cx;
    send_msg *m = cx->m;
    CURL *h = cx->h;
    size_t n = 0;
    while (m->rcpt && m->rcpt[n]) n++;
    if (m->failover && c->o.down && c->o.down(c->o.down_ud)) {
        /* Queued here before the relay failed: another relay takes it. */
        m->outcome = SEND_FAILED;
        m->relay_down = true;
        m->status = 0;
        snprintf(m->error, sizeof m->error, "the relay is down");
        return false;
    }
    if (!n) {
        m->outcome = SEND_FAILED;
        snprintf(m->error, sizeof m->error, "no envelope recipient");
        return false;
    }
    /* The list libcurl reads (and does not copy) is built over the
     * message's own strings: curl_slist_append would copy each. */
    struct curl_slist *r = n <= RCPT_INLINE ? x->rcpt : (x->more = xmalloc(n * sizeof *x->more));
    for (size_t i = 0; i < n; i++) r[i] = (struct curl_slist){m->rcpt[i], i + 1 < n ? &r[i + 1] : NULL};
    curl_easy_setopt(h, CURLOPT_URL, c->o.url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USE_SSL, c->o.require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    if (c->o.insecure_tls) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->o.user) curl_easy_setopt(h, CURLOPT_USERNAME, c->o.user);
    if (c->o.password) curl_easy_setopt(h, CURLOPT_PASSWORD, c->o.password);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
    /* libcurl adds the angle brackets (and sends "<>" for ""). */
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, m->mail_from ? m->mail_from : "");
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, r);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->body_len);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_reply);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    return true;
}

/* 2xx after DATA is delivered. A 5xx is a refusal: of the message (a
 * bounce) when it answered MAIL FROM, RCPT TO or DATA -- libcurl fails
 * those three with CURLE_SEND_ERROR, and the reply after the body comes
 * once all of it was read -- else of brasa by the relay (greeting, EHLO,
 * AUTH), not the recipient's doing, and no retry would change it either.
 * A 4xx and a transport error may be retried. */
static bool judge(void *ud, curlq_xfer *cx, CURLcode res, long *retry_after_ms) {
    (void)ud, (void)retry_after_ms;
    sxfer *x = (sxfer *)cx;
    send_msg *m = cx->m;
    if (res == CURLE_OK) {
        m->outcome = SEND_OK;
        m->error[0] = 0;
        m->relay_down = false;
        return false;
    }
    int st = m->status;
    if (st >= 400 && st < 600 && x->reply[0] && atoi(x->reply) == st) snprintf(m->error, sizeof m->error, "%s", x->reply);
    else snprintf(m->error, sizeof m->error, "%.*s", (int)sizeof m->error - 1, x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
    m->outcome = SEND_FAILED;
    /* Anything but an answer to the message is the relay's own failure:
     * over several relays (m->failover), another one takes the message
     * rather than this one's retries (relays.h). */
    bool answered = st >= 400 && st < 600 && (res == CURLE_SEND_ERROR || x->sent_all);
    m->relay_down = !answered;
    if (st >= 500 && st < 600) {
        if (answered) m->outcome = SEND_BOUNCED;
        return false;
    }
    return !(m->relay_down && m->failover);
}

static void release(curlq_xfer *cx) {
    sxfer *x = (sxfer *)cx;
    free(x->more);
    x->more = NULL;
    x->off = 0;
    x->sent_all = false;
    x->reply[0] = x->errbuf[0] = 0;
}

static void conf_free(void *ud) {
    smtp_conf *c = ud;
    free(c->url);
    free(c->user);
    free(c->password);
    free(c);
}

static const curlq_driver driver = {"smtp", sizeof(sxfer), setup, judge, release, conf_free};

/* smtp:// or smtps://, and a host after it. */
static bool url_ok(const char *url) {
    if (!url) return false;
    size_t scheme = !strncasecmp(url, "smtp://", 7) ? 7 : !strncasecmp(url, "smtps://", 8) ? 8 : 0;
    return scheme && url[scheme] && url[scheme] != '/';
}

/* o with the defaults and env overrides applied (strings not copied). */
static smtp_opts defaults(const smtp_opts *o) {
    smtp_opts d = *o;
    if (d.max_connections <= 0) d.max_connections = 16;
    if (d.rate_per_second < 0) d.rate_per_second = 0;
    if (!d.connect_timeout_ms) d.connect_timeout_ms = 10000;
    if (!d.timeout_ms) d.timeout_ms = curlq_env_long("BRASA_SMTP_TIMEOUT_MS", 60000);
    if (!d.max_attempts) d.max_attempts = (int)curlq_env_long("BRASA_SMTP_ATTEMPTS", 5);
    if (!d.base_backoff_ms) d.base_backoff_ms = curlq_env_long("BRASA_SMTP_BACKOFF_MS", 2000);
    if (!d.max_backoff_ms) d.max_backoff_ms = 300000;
    return d;
}

send_channel *smtp_new(const smtp_opts *o, send_done_fn done, void *ud) {
    if (!o || !url_ok(o->url)) {
        log_error("smtp: the relay URL must be smtp://host:port or smtps://host:port");
        return NULL;
    }
    smtp_conf *c = xcalloc(1, sizeof *c);
    c->o = defaults(o);
    c->o.url = c->url = xstrdup(o->url);
    c->o.user = c->user = o->user ? xstrdup(o->user) : NULL;
    c->o.password = c->password = o->password ? xstrdup(o->password) : NULL;
    if (c->o.max_connections > MAX_ACTIVE) c->o.max_connections = MAX_ACTIVE;
    curlq_limits lim = {
        .threads = c->o.max_connections,
        .max_active = 1,
        .max_attempts = c->o.max_attempts,
        .base_backoff_ms = c->o.base_backoff_ms,
        .max_backoff_ms = c->o.max_backoff_ms,
        .rate_per_second = c->o.rate_per_second,
        .max_host_connections = 1,
        .max_total_connections = 1,
        .max_cached_connections = 1,
    };
    return curlq_new(&driver, c, &lim, done, ud);
}

/* Whether s can go into a header and an envelope as it is. */
static bool addr_ok(const char *s) {
    if (!s || !*s || !strchr(s, '@')) return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '<' || *s == '>' || *s == 127) return false;
    return true;
}

int smtp_probe(const smtp_opts *o, const char *from, const char *to, char *why, size_t whylen) {
    if (!o || !url_ok(o->url)) {
        snprintf(why, whylen, "the relay URL must be smtp://host:port or smtps://host:port");
        return -1;
    }
    if (!addr_ok(from) || !addr_ok(to)) {
        snprintf(why, whylen, "not an email address: %s", addr_ok(from) ? to : from);
        return -1;
    }
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t now = clock_wall_ms();
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char body[1024];
    int n = snprintf(body, sizeof body,
                     "From: <%s>\r\nTo: <%s>\r\nSubject: brasa smtp test\r\n"
                     "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n"
                     "Message-ID: <probe.%lld@brasa>\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                     "This message was sent by `brasa smtp test` to check the relay.\r\n",
                     from, to, days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (long long)now);
    if (n < 0 || (size_t)n >= sizeof body) {
        snprintf(why, whylen, "the addresses are too long");
        return -1;
    }
    /* The channel's own setup and judge, over one easy handle. */
    char *rcpt[] = {(char *)to, NULL};
    send_msg m = {.body = body, .body_len = (size_t)n, .mail_from = (char *)from, .rcpt = rcpt};
    smtp_conf c = {.o = defaults(o)};
    sxfer x = {.x = {.m = &m, .h = curl_easy_init()}};
    if (!x.x.h) abort();
    setup(&c, &x.x);
    CURLcode res = curl_easy_perform(x.x.h);
    long status = 0;
    curl_easy_getinfo(x.x.h, CURLINFO_RESPONSE_CODE, &status);
    m.status = (int)status;
    judge(&c, &x.x, res, NULL);
    release(&x.x);
    curl_easy_cleanup(x.x.h);
    if (m.outcome == SEND_OK) {
        if (whylen) why[0] = 0;
        return 0;
    }
    snprintf(why, whylen, "%s", m.error);
    return -1;
}
