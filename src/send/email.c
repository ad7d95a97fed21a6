/* email.c -- an email object compiled, a recipient's message rendered (see email.h).
 *
 * The body's two parts (the plain text derived from the HTML with
 * libxml2, both quoted-printable) were four fifths of a broadcast's CPU
 * with a 20 KB body, and most broadcasts give every recipient the same
 * body. So an email_src keeps the last parts it built, with the HTML, text
 * and preheader they came from; a recipient whose rendered ones are the
 * same bytes gets them as they are (the comparison costs a memcmp), and
 * any other builds them anew and becomes the one kept. The render threads
 * share it: reference counted, under a mutex held only to look and swap. */
#include "email.h"
#include "message.h"
#include "mime.h"
#include "../lib/buf.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The rendered fields, in this order. */
enum { F_SUBJECT, F_FROM, F_REPLY_TO, F_BODY, F_PLAIN, F_PREHEADER, F_BCC, F__COUNT };
static const char *const field_names[F__COUNT] = {"subject", "from", "reply_to", "body", "plaintext_body", "preheader", "bcc"};

/* Built parts and what they were built from: the HTML, text and
 * preheader, one after the other in key (text and preheader may be
 * absent: length -1). */
typedef struct {
    int refs; /* under the memo's mutex */
    char *key;
    size_t html_len;
    ptrdiff_t text_len, pre_len;
    mime_body body;
} built;

/* A tracked body's plan (links.h) and plain text, made once from the
 * rendered HTML, before its links are the recipient's own. */
typedef struct {
    int refs; /* under the memo's mutex */
    char *html, *base;
    size_t len;
    lnk_plan *plan;
    char *text;
    size_t text_len;
} planned;

typedef struct {
    pthread_mutex_t mu;
    built *last;
    planned *plan;
} memo;

struct email_src {
    liq_template *f[F__COUNT]; /* NULL: the field is absent */
    int nh;
    char **hname;              /* custom headers, then X-SMTPAPI */
    liq_template **hval;
    memo *memo;                /* (a pointer: a const email_src still shares it) */
};

static void built_unref(memo *mo, built *b) {
    if (!b) return;
    pthread_mutex_lock(&mo->mu);
    bool last = --b->refs == 0;
    pthread_mutex_unlock(&mo->mu);
    if (!last) return;
    mime_body_free(&b->body);
    free(b->key);
    free(b);
}

static bool same(const built *b, const mime_email *e) {
    ptrdiff_t tl = e->text ? (ptrdiff_t)e->text_len : -1, pl = e->preheader ? (ptrdiff_t)e->preheader_len : -1;
    if (b->html_len != e->html_len || b->text_len != tl || b->pre_len != pl) return false;
    const char *k = b->key;
    if (memcmp(k, e->html, e->html_len)) return false;
    k += e->html_len;
    if (tl > 0 && memcmp(k, e->text, (size_t)tl)) return false;
    k += tl > 0 ? tl : 0;
    return pl <= 0 || !memcmp(k, e->preheader, (size_t)pl);
}

/* The parts of e: the last ones when e has the same HTML, text and
 * preheader, else new ones, kept in their place. Release with built_unref. */
static built *body_of(memo *mo, const mime_email *e) {
    pthread_mutex_lock(&mo->mu);
    built *b = mo->last;
    if (b && same(b, e)) b->refs++;
    else b = NULL;
    pthread_mutex_unlock(&mo->mu);
    if (b) return b;
    b = xcalloc(1, sizeof *b);
    b->html_len = e->html_len;
    b->text_len = e->text ? (ptrdiff_t)e->text_len : -1;
    b->pre_len = e->preheader ? (ptrdiff_t)e->preheader_len : -1;
    size_t tl = b->text_len > 0 ? (size_t)b->text_len : 0, pl = b->pre_len > 0 ? (size_t)b->pre_len : 0;
    b->key = xmalloc(e->html_len + tl + pl + 1);
    memcpy(b->key, e->html, e->html_len);
    if (tl) memcpy(b->key + e->html_len, e->text, tl);
    if (pl) memcpy(b->key + e->html_len + tl, e->preheader, pl);
    mime_body_build(e, &b->body);
    b->refs = 2; /* the caller's, and the memo's */
    pthread_mutex_lock(&mo->mu);
    built *old = mo->last;
    mo->last = b;
    pthread_mutex_unlock(&mo->mu);
    built_unref(mo, old);
    return b;
}

static void planned_unref(memo *mo, planned *p) {
    if (!p) return;
    pthread_mutex_lock(&mo->mu);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&mo->mu);
    if (!last) return;
    lnk_plan_free(p->plan);
    free(p->html);
    free(p->base);
    free(p->text);
    free(p);
}

/* The plan and text of html[0..n) under base: the last ones when they are
 * for the same bytes, else new ones, kept in their place. Release with
 * planned_unref. Tracking makes every recipient's HTML differ, so this,
 * not body_of, is what spares a shared body its parses. */
static planned *plan_of(memo *mo, const char *base, const char *html, size_t n) {
    pthread_mutex_lock(&mo->mu);
    planned *p = mo->plan;
    if (p && p->len == n && !memcmp(p->html, html, n) && !strcmp(p->base, base)) p->refs++;
    else p = NULL;
    pthread_mutex_unlock(&mo->mu);
    if (p) return p;
    p = xcalloc(1, sizeof *p);
    p->html = xmalloc(n + 1);
    memcpy(p->html, html, n);
    p->len = n;
    p->base = xstrdup(base);
    p->plan = lnk_plan_new(base, html, n);
    buf_t t = BUF_INIT;
    mime_html_to_text(html, n, &t);
    p->text_len = t.len;
    p->text = t.data ? buf_take(&t) : xstrdup("");
    p->refs = 2; /* the caller's, and the memo's */
    pthread_mutex_lock(&mo->mu);
    planned *old = mo->plan;
    mo->plan = p;
    pthread_mutex_unlock(&mo->mu);
    planned_unref(mo, old);
    return p;
}

static void add_header(email_src *s, const char *name, liq_template *t) {
    s->hname = xrealloc(s->hname, (size_t)(s->nh + 1) * sizeof *s->hname);
    s->hval = xrealloc(s->hval, (size_t)(s->nh + 1) * sizeof *s->hval);
    s->hname[s->nh] = xstrdup(name);
    s->hval[s->nh++] = t;
}

email_src *email_src_new(json_object *m) {
    email_src *s = xcalloc(1, sizeof *s);
    s->memo = xcalloc(1, sizeof *s->memo);
    pthread_mutex_init(&s->memo->mu, NULL);
    for (int i = 0; i < F__COUNT; i++) s->f[i] = msg_compile(json_get(m, field_names[i]));
    json_object *h = json_get(m, "headers"), *x = json_get(m, "extras");
    if (json_object_is_type(h, json_type_object)) {
        json_object_object_foreach(h, k, v) add_header(s, k, msg_compile(v));
    }
    /* extras: Braze hands them to SendGrid as unique args; so does brasa,
     * in SendGrid's SMTP API header, which other relays ignore. */
    if (json_object_is_type(x, json_type_object) && json_object_object_length(x)) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "unique_args", json_object_get(x));
        const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        liq_template *t = NULL;
        /* a raw tag: the extras are data, not Liquid */
        buf_t b = BUF_INIT;
        buf_puts(&b, "{% raw %}");
        buf_puts(&b, txt);
        buf_puts(&b, "{% endraw %}");
        if (liq_compile(b.data, b.len, &t, NULL) == 0) add_header(s, "X-SMTPAPI", t);
        buf_free(&b);
        json_object_put(o);
    }
    return s;
}

void email_src_free(email_src *s) {
    if (!s) return;
    for (int i = 0; i < F__COUNT; i++) liq_template_free(s->f[i]);
    for (int i = 0; i < s->nh; i++) {
        free(s->hname[i]);
        liq_template_free(s->hval[i]);
    }
    free(s->hname);
    free(s->hval);
    built_unref(s->memo, s->memo->last);
    planned_unref(s->memo, s->memo->plan);
    pthread_mutex_destroy(&s->memo->mu);
    free(s->memo);
    free(s);
}

const char *email_recipient(json_object *user, const char *rule) {
    const char *to = json_object_get_string(json_get(user, "email"));
    if (!to || !*to) return NULL;
    const char *state = json_object_get_string(json_get(user, "email_subscribe"));
    if (rule && !strcmp(rule, "all")) return to;
    if (rule && !strcmp(rule, "opted_in")) return state && !strcmp(state, "opted_in") ? to : NULL;
    return state && !strcmp(state, "unsubscribed") ? NULL : to;
}

static int bad_address(liq_error *err, const char *field, const char *v) {
    memset(err, 0, sizeof *err);
    err->code = LIQ_ERENDER;
    snprintf(err->message, sizeof err->message, "the %s rendered to '%.200s', not an address such as Brand <news@brand.com>",
             field, v);
    return LIQ_ERENDER;
}

int email_render(const email_src *s, liq_renderer *r, const liq_render_opts *o, const email_links *links, const char *to,
                 const char *message_id, int64_t now_ms, email_out *out, liq_error *err) {
    char *v[F__COUNT] = {0};
    size_t n[F__COUNT] = {0};
    char **hv = xcalloc((size_t)s->nh * 2 + 5, sizeof *hv);
    int rc = 0;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < F__COUNT && rc == 0; i++)
        if (s->f[i] && !(v[i] = msg_render(r, s->f[i], o, &n[i], err))) rc = err->code ? err->code : LIQ_ERENDER;
    for (int i = 0; i < s->nh && rc == 0; i++) {
        size_t len;
        hv[2 * i] = s->hname[i];
        if (!(hv[2 * i + 1] = msg_render(r, s->hval[i], o, &len, err))) rc = err->code ? err->code : LIQ_ERENDER;
    }
    int nh = s->nh;
    bool own_unsub = false;
    for (int i = 0; i < s->nh; i++) own_unsub |= !strcasecmp(s->hname[i], "List-Unsubscribe");
    char *unsub = NULL;
    if (rc == 0 && links && links->unsubscribe && !own_unsub) {
        /* RFC 2369's angle brackets; RFC 8058: a POST to it unsubscribes */
        size_t ul = strlen(links->unsubscribe) + 3;
        unsub = xmalloc(ul);
        snprintf(unsub, ul, "<%s>", links->unsubscribe);
        hv[2 * nh] = "List-Unsubscribe", hv[2 * nh++ + 1] = unsub;
        hv[2 * nh] = "List-Unsubscribe-Post", hv[2 * nh++ + 1] = "List-Unsubscribe=One-Click";
    }
    if (rc == 0 && links && v[F_BODY] && (links->track.opens || links->track.clicks)) {
        planned *p = plan_of(s->memo, links->track.base, v[F_BODY], n[F_BODY]);
        /* the text part reads the links as written: a tracking URL in
         * plain text is a line of noise */
        if (!v[F_PLAIN]) {
            v[F_PLAIN] = xmalloc(p->text_len + 1);
            memcpy(v[F_PLAIN], p->text, p->text_len + 1);
            n[F_PLAIN] = p->text_len;
        }
        buf_t b = BUF_INIT;
        lnk_apply(p->plan, &links->track, v[F_BODY], &b);
        planned_unref(s->memo, p);
        free(v[F_BODY]);
        n[F_BODY] = b.len;
        v[F_BODY] = buf_take(&b);
    }
    mime_addr from, rcpt, reply;
    char why[200];
    if (rc == 0 && (!v[F_FROM] || mime_addr_parse(v[F_FROM], n[F_FROM], &from, why, sizeof why) < 0))
        rc = bad_address(err, "from", v[F_FROM] ? v[F_FROM] : "");
    bool has_reply = rc == 0 && v[F_REPLY_TO] && n[F_REPLY_TO] && strcmp(v[F_REPLY_TO], "NO_REPLY_TO");
    if (has_reply && mime_addr_parse(v[F_REPLY_TO], n[F_REPLY_TO], &reply, why, sizeof why) < 0)
        rc = bad_address(err, "reply_to", v[F_REPLY_TO]);
    if (rc == 0 && mime_addr_parse(to, strlen(to), &rcpt, why, sizeof why) < 0) rc = bad_address(err, "recipient's email", to);
    mime_addr bcc;
    bool has_bcc = rc == 0 && v[F_BCC] && n[F_BCC];
    if (has_bcc && mime_addr_parse(v[F_BCC], n[F_BCC], &bcc, why, sizeof why) < 0) rc = bad_address(err, "bcc", v[F_BCC]);
    if (rc == 0) {
        mime_email e = {
            .from = &from, .to = &rcpt, .reply_to = has_reply ? &reply : NULL,
            .subject = v[F_SUBJECT] ? v[F_SUBJECT] : "", .subject_len = n[F_SUBJECT],
            .html = v[F_BODY] ? v[F_BODY] : "", .html_len = n[F_BODY],
            .text = v[F_PLAIN], .text_len = n[F_PLAIN],
            .preheader = v[F_PREHEADER] && n[F_PREHEADER] ? v[F_PREHEADER] : NULL, .preheader_len = n[F_PREHEADER],
            .headers = (const char *const *)hv, .message_id = message_id, .date_ms = now_ms,
            .attachments = links ? links->attachments : NULL, .nattachments = links ? links->nattachments : 0,
        };
        buf_t b = BUF_INIT;
        built *body = body_of(s->memo, &e);
        int built_rc = mime_build_with(&e, &body->body, &b, why, sizeof why);
        built_unref(s->memo, body);
        if (built_rc < 0) {
            memset(err, 0, sizeof *err);
            err->code = LIQ_ERENDER;
            snprintf(err->message, sizeof err->message, "%s", why);
            rc = LIQ_ERENDER;
            buf_free(&b);
        } else {
            out->data = b.data;
            out->len = b.len;
            out->mail_from = xstrdup(from.addr);
            out->bcc = has_bcc ? xstrdup(bcc.addr) : NULL;
        }
    }
    for (int i = 0; i < F__COUNT; i++) free(v[i]);
    for (int i = 0; i < s->nh; i++) free(hv[2 * i + 1]);
    free(hv);
    free(unsub);
    return rc;
}
