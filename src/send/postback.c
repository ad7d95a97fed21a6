/* postback.c -- transactional email's delivery postbacks (postback.h). */
#include "postback.h"
#include "webhook.h"
#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct postback {
    send_channel *ch;
    atomic_bool stopping;
};

/* The posts of one message, sent one after the other. */
typedef struct {
    postback *p;
    send_msg m;
    char *url;
    char *body[3];
    int n, next;
} chain;

static void chain_free(chain *c) {
    send_msg_clear(&c->m);
    for (int i = 0; i < c->n; i++) free(c->body[i]);
    free(c->url);
    free(c);
}

static void submit_next(chain *c) {
    send_msg *m = &c->m;
    send_msg_clear(m);
    memset(m, 0, sizeof *m);
    m->owner = c;
    snprintf(m->message_id, sizeof m->message_id, "postback");
    snprintf(m->method, sizeof m->method, "POST");
    m->url = xstrdup(c->url);
    m->headers = xcalloc(2, sizeof *m->headers);
    m->headers[0] = xstrdup("Content-Type: application/json");
    m->body = c->body[c->next];
    m->body_len = strlen(m->body);
    c->body[c->next++] = NULL; /* the message owns it now */
    c->p->ch->submit(c->p->ch, m);
}

static void on_done(void *ud, send_msg *m) {
    postback *p = ud;
    chain *c = m->owner;
    if (m->outcome != SEND_OK)
        log_warn("postback to %s failed (%s): the later ones of this message are not sent", c->url, m->error);
    if (m->outcome == SEND_OK && c->next < c->n && !atomic_load(&p->stopping)) submit_next(c);
    else chain_free(c);
}

postback *postback_new(void) {
    postback *p = xcalloc(1, sizeof *p);
    p->ch = webhook_new(NULL, on_done, p);
    return p;
}

void postback_free(postback *p) {
    if (!p) return;
    atomic_store(&p->stopping, true);
    p->ch->stop(p->ch, false);
    p->ch->free(p->ch);
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

static chain *chain_new(postback *p, const postback_send *s) {
    chain *c = xcalloc(1, sizeof *c);
    c->p = p;
    c->url = xstrdup(s->url);
    return c;
}

void postback_outcome(postback *p, const postback_send *s, const send_msg *m, int64_t now) {
    chain *c = chain_new(p, s);
    static const char *const sent[] = {"received_at", "enqueued_at", "executed_at", "sent_at", NULL};
    int64_t sent_at[] = {s->received_at, s->received_at, s->executed_at, s->executed_at};
    c->body[c->n++] = body(s, "sent", sent, sent_at, NULL);
    if (m->outcome == SEND_OK) {
        static const char *const processed[] = {"processed_at", NULL}, *const delivered[] = {"delivered_at", NULL};
        c->body[c->n++] = body(s, "processed", processed, &now, NULL);
        c->body[c->n++] = body(s, "delivered", delivered, &now, NULL);
    } else {
        static const char *const bounced[] = {"bounced_at", NULL};
        c->body[c->n++] = body(s, "bounced", bounced, &now, m->error);
    }
    submit_next(c);
}

void postback_aborted(postback *p, const postback_send *s, const char *reason, int64_t now) {
    chain *c = chain_new(p, s);
    static const char *const aborted[] = {"aborted_at", NULL};
    c->body[c->n++] = body(s, "aborted", aborted, &now, reason);
    submit_next(c);
}
