/* postback.c -- transactional email's delivery postbacks: their bodies,
 * and the thread that posts the durable queue of them (postback.h). */
#include "postback.h"
#include "curlq.h"
#include "webhook.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INFLIGHT 64            /* posts at once (one per dispatch) */
#define RETRY_MS 60000L        /* after the channel's own retries failed: a minute, */
#define RETRY_MAX_MS 3600000LL /* doubling to an hour, */
#define GIVE_UP_MS (24LL * 3600 * 1000) /* for a day */

/* A post on its way; its answer comes back to the thread as a result. */
typedef struct post {
    int64_t id, created_at;
    int attempts;
    bool ok;
    char error[160];
    struct post *next;
} post;

struct postback {
    engine_t *e;
    sqlite3 *db; /* the thread's reads */
    send_channel *ch;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, wake;
    post *answered;           /* by the channel, for the thread */
    int64_t inflight[INFLIGHT]; /* the thread's: ids posted, not answered */
    int ninflight;
    int64_t retry_ms; /* RETRY_MS, or BRASA_POSTBACK_RETRY_MS (tests) */
};

static void on_done(void *ud, send_msg *m) { /* the channel's thread */
    postback *p = ud;
    post *x = m->owner;
    x->ok = m->outcome == SEND_OK;
    snprintf(x->error, sizeof x->error, "%s", m->error);
    send_msg_clear(m);
    free(m);
    pthread_mutex_lock(&p->mu);
    x->next = p->answered;
    p->answered = x;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void forget(postback *p, int64_t id) {
    for (int i = 0; i < p->ninflight; i++)
        if (p->inflight[i] == id) {
            p->inflight[i] = p->inflight[--p->ninflight];
            return;
        }
}

static bool in_flight(const postback *p, int64_t id) {
    for (int i = 0; i < p->ninflight; i++)
        if (p->inflight[i] == id) return true;
    return false;
}

/* Answers into the queue: answered posts leave it, failed ones wait. */
static void settle(postback *p, post *list) {
    for (post *x = list, *next; x; x = next) {
        next = x->next;
        forget(p, x->id);
        int64_t now = clock_wall_ms();
        int rc;
        if (x->ok || now - x->created_at > GIVE_UP_MS) {
            if (!x->ok) log_warn("postback %lld: given up after a day of failures (%s)", (long long)x->id, x->error);
            rc = eng_exec_store(p->e, store_postback_done_op, &x->id);
        } else {
            int64_t wait = p->retry_ms << (x->attempts < 6 ? x->attempts : 6);
            store_postback_retry r = {x->id, now + (wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS)};
            log_warn("postback %lld failed (%s): tried again in %lld s", (long long)x->id, x->error,
                     (long long)(r.next_at - now) / 1000);
            rc = eng_exec_store(p->e, store_postback_retry_op, &r);
        }
        if (rc < 0) log_error("postback %lld: cannot record its answer: %s", (long long)x->id, br_err_message(rc));
        free(x);
    }
}

/* Posts what is due, the oldest of each dispatch, up to INFLIGHT at once. */
static void fill(postback *p) {
    store_postback *rows;
    int n;
    if (p->ninflight == INFLIGHT || store_postbacks_due(p->db, clock_wall_ms(), INFLIGHT, &rows, &n) < 0) return;
    for (int i = 0; i < n && p->ninflight < INFLIGHT; i++) {
        store_postback *r = &rows[i];
        if (in_flight(p, r->id)) continue;
        post *x = xcalloc(1, sizeof *x);
        x->id = r->id;
        x->created_at = r->created_at;
        x->attempts = r->attempts;
        send_msg *m = xcalloc(1, sizeof *m);
        m->owner = x;
        snprintf(m->message_id, sizeof m->message_id, "postback-%lld", (long long)r->id);
        snprintf(m->method, sizeof m->method, "POST");
        m->url = r->url;
        m->body = r->body;
        m->body_len = strlen(r->body);
        r->url = r->body = NULL; /* the message's now */
        m->headers = xcalloc(2, sizeof *m->headers);
        m->headers[0] = xstrdup("Content-Type: application/json");
        p->inflight[p->ninflight++] = r->id;
        p->ch->submit(p->ch, m);
    }
    store_postbacks_free(rows, n);
}

static void *run(void *arg) {
    postback *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        post *list = p->answered;
        p->answered = NULL;
        p->wake = false;
        pthread_mutex_unlock(&p->mu);
        settle(p, list);
        fill(p);
        pthread_mutex_lock(&p->mu);
        if (!p->stop && !p->wake && !p->answered) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1; /* retries come due on their own */
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

postback *postback_new(engine_t *e) {
    postback *p = xcalloc(1, sizeof *p);
    p->e = e;
    p->retry_ms = curlq_env_long("BRASA_POSTBACK_RETRY_MS", RETRY_MS);
    if (p->retry_ms < 1) p->retry_ms = RETRY_MS;
    if (store_open_reader(engine_store(e), &p->db) < 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->ch = webhook_new(NULL, on_done, p);
    if (pthread_create(&p->th, NULL, run, p)) abort();
    return p;
}

void postback_wake(postback *p) {
    pthread_mutex_lock(&p->mu);
    p->wake = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void postback_free(postback *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    p->ch->stop(p->ch, false); /* what was not answered stays queued */
    p->ch->free(p->ch);
    for (post *x = p->answered, *next; x; x = next) {
        next = x->next;
        free(x);
    }
    sqlite3_close(p->db);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* Braze writes these times with an offset: "2020-08-31T18:58:41.000+00:00". */
static void put_time(buf_t *b, const char *name, int64_t ms) {
    char t[40];
    timefmt_iso(ms, t, sizeof t);
    size_t n = strlen(t);
    if (n && t[n - 1] == 'Z') t[n - 1] = '\0';
    buf_printf(b, ",\"%s\":\"%s+00:00\"", name, t);
}

/* One post's body: the status and its times (NULL-terminated names,
 * all at the matching ms), a reason (may be NULL). */
static char *body(const postback_send *s, const char *status, const char *const *names, const int64_t *at,
                  const char *reason) {
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"dispatch_id\":");
    buf_json_str(&b, s->dispatch_id, strlen(s->dispatch_id));
    buf_printf(&b, ",\"status\":\"%s\",\"metadata\":{\"campaign_api_id\":", status);
    buf_json_str(&b, s->campaign_id, strlen(s->campaign_id));
    if (s->external_send_id) {
        buf_puts(&b, ",\"external_send_id\":");
        buf_json_str(&b, s->external_send_id, strlen(s->external_send_id));
    }
    for (int i = 0; names[i]; i++) put_time(&b, names[i], at[i]);
    if (reason) {
        buf_puts(&b, ",\"reason\":");
        buf_json_str(&b, reason, strlen(reason));
    }
    buf_puts(&b, "}}");
    return buf_take(&b);
}

static void add(postback_list *l, const postback_send *s, char *text) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (store_postback){.dispatch_id = xstrdup(s->dispatch_id), .url = xstrdup(s->url), .body = text};
}

void postback_outcome(postback_list *l, const postback_send *s, const send_msg *m, int64_t now) {
    static const char *const sent[] = {"received_at", "enqueued_at", "executed_at", "sent_at", NULL};
    int64_t sent_at[] = {s->received_at, s->received_at, s->executed_at, s->executed_at};
    add(l, s, body(s, "sent", sent, sent_at, NULL));
    if (m->outcome == SEND_OK) {
        static const char *const processed[] = {"processed_at", NULL}, *const delivered[] = {"delivered_at", NULL};
        add(l, s, body(s, "processed", processed, &now, NULL));
        add(l, s, body(s, "delivered", delivered, &now, NULL));
    } else {
        static const char *const bounced[] = {"bounced_at", NULL};
        add(l, s, body(s, "bounced", bounced, &now, m->error));
    }
}

void postback_aborted(postback_list *l, const postback_send *s, const char *reason, int64_t now) {
    static const char *const aborted[] = {"aborted_at", NULL};
    add(l, s, body(s, "aborted", aborted, &now, reason));
}

void postback_list_free(postback_list *l) {
    store_postbacks_free(l->v, l->n);
    l->v = NULL;
    l->n = l->cap = 0;
}
