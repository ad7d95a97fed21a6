/* convert.c -- the converter thread (see convert.h). */
#include "convert.h"
#include "campaign.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/str.h"
#include "../lib/thread.h"
#include "../store/conversions.h"
#include "../store/messaging.h"
#include "../store/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_WINDOW_H 72

struct converter {
    engine_t *e;
    sqlite3 *db; /* the thread's reader */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int64_t cursor;
    bool have_cursor;
};

/* Campaign documents read during one batch. */
typedef struct {
    char *id;
    json_object *doc; /* NULL: no such campaign any more */
} camp_cache;

typedef struct {
    camp_cache *c;
    int n, cap;
} camps;

static json_object *campaign_of(converter *cv, camps *cs, const char *id) {
    for (int i = 0; i < cs->n; i++)
        if (!strcmp(cs->c[i].id, id)) return cs->c[i].doc;
    if (cs->n == cs->cap) cs->c = xrealloc(cs->c, (size_t)(cs->cap = cs->cap ? cs->cap * 2 : 8) * sizeof *cs->c);
    camp_cache *c = &cs->c[cs->n++];
    c->id = xstrdup(id);
    c->doc = NULL;
    store_campaign_row row;
    if (store_campaign_get(cv->db, id, &row) == 0) {
        c->doc = json_parse(row.doc, strlen(row.doc));
        store_campaign_row_free(&row);
    }
    return c->doc;
}

static void camps_free(camps *cs) {
    for (int i = 0; i < cs->n; i++) {
        free(cs->c[i].id);
        json_object_put(cs->c[i].doc);
    }
    free(cs->c);
}

/* What one batch records; strings owned by `strs`. */
typedef struct {
    store_conversion *v;
    int n, cap;
    char **strs;
    int nstrs, capstrs;
} found;

static const char *keep(found *f, char *s) {
    if (f->nstrs == f->capstrs) f->strs = xrealloc(f->strs, (size_t)(f->capstrs = f->capstrs ? f->capstrs * 2 : 32) * sizeof *f->strs);
    return f->strs[f->nstrs++] = s;
}

static store_conversion *add(found *f) {
    if (f->n == f->cap) f->v = xrealloc(f->v, (size_t)(f->cap = f->cap ? f->cap * 2 : 32) * sizeof *f->v);
    store_conversion *c = &f->v[f->n++];
    memset(c, 0, sizeof *c);
    return c;
}

static void found_free(found *f) {
    for (int i = 0; i < f->nstrs; i++) free(f->strs[i]);
    free(f->strs);
    free(f->v);
}

static bool hex12(const char *s, uint8_t out[12]) {
    if (!s || strlen(s) != 24) return false;
    for (int i = 0; i < 12; i++) {
        int hi = str_hexval(s[2 * i]), lo = str_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void put_str(json_object *o, const char *k, const char *v) {
    if (v) json_object_object_add(o, k, json_object_new_string(v));
}

/* The users.campaigns.Conversion event of a conversion (malloc'd text). */
static char *conversion_event(json_object *doc, const store_recv_row *r, json_object *ev, const char *user_hex, int k,
                              json_object *behavior, int64_t t_s) {
    json_object *o = json_object_new_object();
    char id[200];
    snprintf(id, sizeof id, "%s-%s-conv%d-%" PRId64, r->campaign_id, user_hex, k, r->at);
    put_str(o, "id", id);
    put_str(o, "event_type", "users.campaigns.Conversion");
    put_str(o, "user_id", user_hex);
    put_str(o, "external_user_id", json_object_get_string(json_get(ev, "external_user_id")));
    put_str(o, "app_id", json_object_get_string(json_get(ev, "app_id")));
    json_object_object_add(o, "time", json_object_new_int64(t_s));
    put_str(o, "campaign_id", r->campaign_id);
    put_str(o, "campaign_name", json_object_get_string(json_get(doc, "name")));
    put_str(o, "message_variation_id", r->variation_id);
    bool ctl = false;
    json_object *var = *r->variation_id ? camp_variation(doc, r->variation_id, &ctl) : NULL;
    put_str(o, "message_variation_name", ctl ? "Control" : var ? json_object_get_string(json_get(var, "name")) : NULL);
    put_str(o, "send_id", *r->send_id ? r->send_id : NULL);
    put_str(o, "dispatch_id", *r->dispatch_id ? r->dispatch_id : NULL);
    put_str(o, "conversion_behavior", json_object_to_json_string_ext(behavior, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_object_add(o, "conversion_behavior_index", json_object_new_int(k));
    char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* Whether behaviour b is matched by an event of this type. */
static bool matches(json_object *b, bool purchase, const char *name) {
    const char *type = json_object_get_string(json_get(b, "type")), *want = json_object_get_string(json_get(b, "name"));
    if (!type) return false;
    if (!strcmp(type, "performs_custom_event")) return !purchase && want && name && !strcmp(want, name);
    if (!strcmp(type, "makes_purchase")) return purchase && (!want || (name && !strcmp(want, name)));
    return false; /* starts_session: brasa has no session events */
}

static int64_t window_ms(json_object *b) {
    json_object *w = json_get(b, "window_hours");
    return (w ? json_object_get_int64(w) : DEFAULT_WINDOW_H) * 3600000LL;
}

/* One outbox event: what it converts. */
static void examine(converter *cv, camps *cs, found *f, json_object *ev) {
    const char *type = json_object_get_string(json_get(ev, "event_type"));
    if (!type) return;
    bool purchase = !strcmp(type, "users.behaviors.Purchase");
    if (!purchase && strcmp(type, "users.behaviors.CustomEvent")) return;
    const char *user = json_object_get_string(json_get(ev, "user_id"));
    uint8_t bz[12];
    if (!hex12(user, bz)) return;
    json_object *tv = json_get(ev, "time");
    if (!tv) return;
    int64_t t_s = json_object_get_int64(tv), t_ms = t_s * 1000;
    const char *name = json_object_get_string(json_get(ev, purchase ? "product_id" : "name"));
    store_recv_row *rows;
    int n;
    if (store_conv_received(cv->db, bz, &rows, &n) < 0) return;
    for (int i = 0; i < n; i++) {
        store_recv_row *r = &rows[i];
        /* Event times are whole seconds: an event in the second of the
         * message counts. */
        if (t_s < r->at / 1000) continue;
        json_object *doc = campaign_of(cv, cs, r->campaign_id);
        if (!doc) continue;
        json_object *ces = json_get(doc, "conversion_events");
        size_t nce = json_object_array_length(ces);
        const char *cid = NULL, *vid = NULL, *ch = NULL, *sid = NULL;
        for (size_t k = 0; k < nce && k < 4; k++) {
            json_object *b = json_object_array_get_idx(ces, k);
            if (!matches(b, purchase, name) || t_ms > r->at + window_ms(b)) continue;
            if (!cid) {
                cid = keep(f, xstrdup(r->campaign_id));
                vid = keep(f, xstrdup(r->variation_id));
                ch = keep(f, xstrdup(r->channel));
                sid = keep(f, xstrdup(r->send_id));
            }
            store_conversion *c = add(f);
            memcpy(c->braze_id, bz, 12);
            c->campaign_id = cid;
            c->variation_id = vid;
            c->channel = ch;
            c->send_id = sid;
            c->idx = (int)k;
            c->received_at = r->at;
            c->at = t_ms;
            c->event = keep(f, conversion_event(doc, r, ev, user, (int)k, b, t_s));
        }
        /* Revenue: purchases within the primary behaviour's window. */
        json_object *pv = purchase ? json_get(ev, "price") : NULL;
        double price = pv ? json_object_get_double(pv) : 0;
        if (price != 0 && t_ms <= r->at + (nce ? window_ms(json_object_array_get_idx(ces, 0)) : DEFAULT_WINDOW_H * 3600000LL)) {
            if (!cid) {
                cid = keep(f, xstrdup(r->campaign_id));
                vid = keep(f, xstrdup(r->variation_id));
                ch = keep(f, xstrdup(r->channel));
                sid = keep(f, xstrdup(r->send_id));
            }
            store_conversion *c = add(f);
            memcpy(c->braze_id, bz, 12);
            c->campaign_id = cid;
            c->variation_id = vid;
            c->channel = ch;
            c->send_id = sid;
            c->idx = -1;
            c->received_at = r->at;
            c->at = t_ms;
            c->revenue = price;
        }
    }
    store_recv_rows_free(rows, n);
}

/* What an outbox row must contain to convert anything: the needles
 * `"name":"<event>"` of every custom event a campaign converts on. Rows
 * with none of them and no purchase are skipped without parsing them, so
 * ingest that converts nothing costs the converter a string search. */
static json_object *needles(converter *cv) {
    store_campaign_row *rows;
    int n;
    json_object *out = json_object_new_array();
    if (store_campaign_list(cv->db, true, false, INT64_MIN, 0, -1, &rows, &n) < 0) return out;
    for (int i = 0; i < n; i++) {
        json_object *doc = json_parse(rows[i].doc, strlen(rows[i].doc)), *ces = json_get(doc, "conversion_events");
        for (size_t k = 0; k < json_object_array_length(ces); k++) {
            json_object *b = json_object_array_get_idx(ces, k);
            const char *t = json_object_get_string(json_get(b, "type")), *nm = json_object_get_string(json_get(b, "name"));
            if (!t || strcmp(t, "performs_custom_event") || !nm) continue;
            buf_t x = BUF_INIT;
            buf_puts(&x, "\"name\":");
            buf_json_str(&x, nm, strlen(nm));
            json_object_array_add(out, json_object_new_string_len(x.data, (int)x.len));
            buf_free(&x);
        }
        json_object_put(doc);
    }
    store_campaign_rows_free(rows, n);
    return out;
}

static bool may_convert(const char *events, json_object *nd) {
    if (strstr(events, "\"users.behaviors.Purchase\"")) return true;
    for (size_t i = 0; i < json_object_array_length(nd); i++)
        if (strstr(events, json_object_get_string(json_object_array_get_idx(nd, i)))) return true;
    return false;
}

/* One batch: returns how many outbox rows it consumed, or -1 when the
 * store failed. */
static int batch(converter *cv) {
    if (!cv->have_cursor) {
        if (store_conv_cursor(cv->db, &cv->cursor) < 0) return -1;
        cv->have_cursor = true;
    }
    store_outbox_row *rows;
    int n;
    if (store_conv_outbox(cv->db, cv->cursor, CONV_BATCH, &rows, &n) < 0) return -1;
    if (!n) return 0;
    found f = {0};
    camps cs = {0};
    if (store_conv_any_received(cv->db) == 0) {
        json_object *nd = needles(cv);
        for (int i = 0; i < n; i++) {
            if (!may_convert(rows[i].events, nd)) continue;
            json_object *arr = json_parse(rows[i].events, strlen(rows[i].events));
            for (size_t k = 0; arr && k < json_object_array_length(arr); k++)
                examine(cv, &cs, &f, json_object_array_get_idx(arr, k));
            json_object_put(arr);
        }
        json_object_put(nd);
    }
    store_conv_batch b = {.cursor = rows[n - 1].seq, .now_ms = clock_wall_ms(), .v = f.v, .n = f.n};
    int rc = eng_exec_store(cv->e, store_conv_op, &b);
    if (rc == 0) {
        cv->cursor = b.cursor;
        if (b.counted) log_info("conversions: %d recorded (outbox up to seq %" PRId64 ")", b.counted, b.cursor);
    } else log_error("conversions: recording a batch failed: %s", br_err_message(rc));
    found_free(&f);
    camps_free(&cs);
    store_outbox_rows_free(rows, n);
    return rc == 0 ? n : -1;
}

static void *run(void *arg) {
    converter *cv = arg;
    thread_name("brasa-convert");
    for (;;) {
        pthread_mutex_lock(&cv->mu);
        bool stop = cv->stop;
        pthread_mutex_unlock(&cv->mu);
        if (stop) break;
        int got = batch(cv);
        if (got == CONV_BATCH) continue; /* more is waiting */
        int64_t wait_ms = got < 0 ? 1000 : CONV_POLL_MS;
        pthread_mutex_lock(&cv->mu);
        if (!cv->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            ts.tv_sec += wait_ms / 1000 + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&cv->cv, &cv->mu, &ts);
        }
        pthread_mutex_unlock(&cv->mu);
    }
    return NULL;
}

converter *conv_start(engine_t *e) {
    converter *cv = xcalloc(1, sizeof *cv);
    cv->e = e;
    if (store_open_reader(engine_store(e), &cv->db) < 0) {
        free(cv);
        return NULL;
    }
    pthread_mutex_init(&cv->mu, NULL);
    pthread_cond_init(&cv->cv, NULL);
    if (pthread_create(&cv->th, NULL, run, cv)) abort();
    return cv;
}

void conv_stop(converter *cv) {
    if (!cv) return;
    pthread_mutex_lock(&cv->mu);
    cv->stop = true;
    pthread_cond_signal(&cv->cv);
    pthread_mutex_unlock(&cv->mu);
    pthread_join(cv->th, NULL);
    sqlite3_close(cv->db);
    pthread_mutex_destroy(&cv->mu);
    pthread_cond_destroy(&cv->cv);
    free(cv);
}
