/* dispatch.c -- dispatches: creation and delivery (dispatch.h). */
#include "dispatch.h"
#include "campaign.h"
#include "attach.h"
#include "email.h"
#include "links.h"
#include "message.h"
#include "fetch.h"
#include "postback.h"
#include "timing.h"
#include "relays.h"
#include "smtp.h"
#include "dkim.h"
#include "webhook.h"
#include "../core/export.h"
#include "../core/gcg.h"
#include "../core/engage.h"
#include "../core/identity.h"
#include "../engine/segments.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/httpc.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"
#include "../lib/secret.h"
#include "../lib/str.h"
#include "../liquid/liquid.h"
#include "../store/content_blocks.h"
#include "../store/credentials.h"
#include "../store/email.h"
#include "../store/keys.h"
#include "../store/messaging.h"
#include "../store/relays.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
/* A render may wait for connected_content (2 s a call, retried once). */
#define DSP_RENDER_TIME_US 10000000
#define DSP_RENDER_THREADS 4

void dsp_new_id(char out[DSP_ID_LEN + 1]) {
    uint8_t b[DSP_ID_LEN / 2];
    secret_random(b, sizeof b);
    str_hex(b, sizeof b, out);
}

/* ---- the campaign a request names ---------------------------------------- */

#define FAIL(code, ...)                     \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        rc = code;                          \
        goto out;                           \
    } while (0)

int dsp_check_campaign(sqlite3 *db, json_object *req, json_object **doc, char *why, size_t whylen) {
    int rc = 0;
    *doc = NULL;
    const char *cid = json_object_get_string(json_get(req, "campaign_id"));
    bool trigger = !strcmp(json_object_get_string(json_get(req, "type")), "trigger");
    store_campaign_row row;
    json_object *d = NULL;
    if (!cid) return 0;
    if ((rc = store_campaign_get(db, cid, &row)) == BR_ENOTFOUND) {
        snprintf(why, whylen, "no campaign with id '%.64s'", cid);
        return BR_ECAMPAIGNID;
    }
    if (rc < 0) return rc;
    d = json_parse(row.doc, strlen(row.doc));
    store_campaign_row_free(&row);
    if (!d) return BR_ESTORE;
    bool tx = !strcmp(json_object_get_string(json_get(req, "type")), "transactional");
    if (tx != camp_is_transactional(d))
        FAIL(BR_ECAMPAIGNID, tx ? "campaign '%.64s' is not a transactional campaign"
                                : "campaign '%.64s' is transactional: send it with /transactional/v1/campaigns/{id}/send", cid);
    if (trigger && !camp_is_triggered(d)) FAIL(BR_ECAMPAIGNID, "campaign '%.64s' is not an API-triggered campaign", cid);
    if (!trigger && camp_is_triggered(d))
        FAIL(BR_ECAMPAIGNID, "campaign '%.64s' is API-triggered: send it with /campaigns/trigger/send", cid);
    if (json_object_get_boolean(json_get(d, "archived"))) FAIL(BR_ECAMPAIGNID, "campaign '%.64s' is archived", cid);
    if (json_object_get_boolean(json_get(d, "draft"))) FAIL(BR_ECAMPAIGNID, "campaign '%.64s' is a draft", cid);
    json_object *msgs = json_get(req, "messages");
    if (msgs) {
        json_object_object_foreach(msgs, ch, m) {
            json_object *vid = json_get(m, "message_variation_id");
            if (!vid) FAIL(BR_EVARUNSPEC, "messages.%s.message_variation_id is required with a campaign_id", ch);
            bool ctl;
            json_object *v = camp_variation(d, json_object_get_string(vid), &ctl);
            if (!v) FAIL(BR_EVARIANT, "'%.64s' is not a message variation of campaign '%.64s'", json_object_get_string(vid), cid);
            if (ctl) FAIL(BR_EVARIANT, "'%.64s' is the campaign's control group, which gets no message", json_object_get_string(vid));
            const char *vch = json_object_get_string(json_get(v, "channel"));
            if (strcmp(vch, ch))
                FAIL(BR_EMSGTYPE, "variation '%.64s' is %s %s variation, not %s", json_object_get_string(vid),
                     strchr("aeiou", vch[0]) ? "an" : "a", vch, ch);
        }
    }
    *doc = d;
    d = NULL;
out:
    json_object_put(d);
    return rc;
}

/* ---- creation ------------------------------------------------------------ */

void dsp_new_clear(dsp_new *n) {
    json_object_put(n->campaign);
    json_object_put(n->props);
    bitmap_free(n->rows);
    bitmap_free(n->sent);
    n->campaign = n->props = NULL;
    n->rows = n->sent = NULL;
}

/* The rows of a segment or a compiled audience (NULL on error, rc set). */
static bitmap_t *members(engine_t *e, dsp_new *n, const char *seg, json_object *aud, int *rc) {
    if (seg) {
        segs_eval ev = {.id = seg, .keep_rows = true};
        if ((*rc = segs_eval_read(e, &ev)) < 0) {
            if (*rc == BR_ENOTFOUND) snprintf(n->why, sizeof n->why, "no segment with id '%.64s'", seg), *rc = BR_EINVAL;
            else snprintf(n->why, sizeof n->why, "segment '%.64s': %.300s", seg, ev.why);
            bitmap_free(ev.rows);
            return NULL;
        }
        return ev.rows;
    }
    segs_eval_json ej = {.def = aud};
    if ((*rc = segs_eval_json_read(e, &ej)) < 0) {
        snprintf(n->why, sizeof n->why, "audience: %.300s", ej.why);
        bitmap_free(ej.rows);
        return NULL;
    }
    return ej.rows;
}

static uint32_t find_recipient(identity_ctx *ic, json_object *r) {
    identity_item it = {0};
    json_object *v;
    if ((v = json_get(r, "external_user_id"))) it.list = IDL_EXTERNAL, it.ext = json_strlen(v, &it.extn);
    else if ((v = json_get(r, "braze_id"))) it.list = IDL_BRAZE, it.a = json_strlen(v, &it.an);
    else if ((v = json_get(r, "user_alias"))) {
        it.list = IDL_ALIAS;
        it.a = json_str(v, "alias_label", &it.an);
        it.b = json_str(v, "alias_name", &it.bn);
    } else if ((v = json_get(r, "email"))) {
        it.list = IDL_EMAIL;
        it.a = json_strlen(v, &it.an);
        it.prio = (uint8_t)json_object_get_int(json_get(r, "prio"));
    } else return USERS_NONE;
    uint32_t row = identity_find(ic, &it);
    if (row != USERS_NONE && (users_get(ic->users, row)->flags & PROFILE_DELETED)) return USERS_NONE;
    return row;
}

static int resolve(engine_t *e, dsp_new *n);

/* ---- waves of local-time and optimal-time schedules (timing.h) ----------- */

typedef struct {
    users_t *users;
    const bitmap_t *sent;
    uint32_t hist[24];
    timing_zones *zones;
    bool optimal;
    int64_t wave;
    bitmap_t *keep;
} wave_ctx;

static bool sum_hours(uint32_t row, void *arg) {
    wave_ctx *w = arg;
    engage_sum(users_get(w->users, row)->blob, w->hist);
    return true;
}

static bool due_now(uint32_t row, void *arg) {
    wave_ctx *w = arg;
    if (w->sent && bitmap_contains(w->sent, row)) return true;
    const uint8_t *blob = users_get(w->users, row)->blob;
    pfield f;
    bool zoned = blob && profile_get(blob, pkey(PF_TIME_ZONE, PK_ATTR), &f) && f.type == PT_STR;
    uint32_t hist[24] = {0};
    int hour = w->optimal && engage_sum(blob, hist) ? engage_best_hour(hist, ENGAGE_MIN_WEIGHT) : -1;
    if (timing_due(w->zones, zoned ? (const char *)f.p : NULL, zoned ? f.len : 0, hour) == w->wave) bitmap_add(w->keep, row);
    return true;
}

/* Keeps the rows of n->rows due at this wave. The fallback hour of an
 * optimal-time schedule is its audience's most engaged hour, as the
 * audience is at the first wave. */
static void wave_filter(engine_t *e, dsp_new *n) {
    json_object *sch = json_get(n->req, "schedule");
    timing t = {.mode = json_object_get_boolean(json_get(sch, "at_optimal_time")) ? TIMING_OPTIMAL : TIMING_LOCAL,
                .time_ms = json_object_get_int64(json_get(sch, "time"))};
    wave_ctx w = {.users = engine_users(e), .sent = n->sent, .optimal = t.mode == TIMING_OPTIMAL, .wave = n->wave_at,
                  .keep = bitmap_new()};
    if (t.mode == TIMING_OPTIMAL && !n->has_fallback) {
        bitmap_iterate(n->rows, sum_hours, &w);
        n->fallback_hour = engage_best_hour(w.hist, 1);
        n->has_fallback = true;
    }
    t.fallback_hour = n->fallback_hour;
    char ws[64];
    store_time_zone(engine_reader(e), ws, sizeof ws);
    w.zones = timing_zones_new(&t, ws);
    bitmap_iterate(n->rows, due_now, &w);
    timing_zones_free(w.zones);
    bitmap_free(n->rows);
    n->rows = w.keep;
}

int dsp_resolve_read(engine_t *e, void *arg) {
    int rc = resolve(e, arg);
    dsp_new *n = arg;
    if (rc == 0 && n->wave_at) wave_filter(e, n);
    return rc;
}

static int resolve(engine_t *e, dsp_new *n) {
    json_object *req = n->req;
    int rc = dsp_check_campaign(engine_reader(e), req, &n->campaign, n->why, sizeof n->why);
    if (rc < 0) return rc;
    const char *seg = json_object_get_string(json_get(req, "segment_id"));
    json_object *aud = json_get(req, "audience"), *recips = json_get(req, "recipients");
    /* A triggered broadcast without its own audience goes to the campaign's segment. */
    if (!seg && !aud && !recips && n->campaign) seg = json_object_get_string(json_get(n->campaign, "segment_id"));
    if (!seg && !aud && !recips) {
        snprintf(n->why, sizeof n->why, "a broadcast needs a segment_id or an audience (the campaign has no segment)");
        return BR_ENORECIPIENTS;
    }
    bitmap_t *base = NULL;
    if (seg && !(base = members(e, n, seg, NULL, &rc))) return rc;
    if (aud) {
        bitmap_t *a = members(e, n, NULL, aud, &rc);
        if (!a) return bitmap_free(base), rc;
        if (base) bitmap_and_inplace(base, a), bitmap_free(a);
        else base = a;
    }
    if (!recips) {
        n->rows = base;
        return 0;
    }
    identity_ctx ic = {.users = engine_users(e), .names = engine_names(e), .now_ms = n->now_ms};
    n->rows = bitmap_new();
    for (size_t i = 0; i < json_object_array_length(recips); i++) {
        json_object *r = json_object_array_get_idx(recips, i), *tp = json_get(r, "trigger_properties");
        uint32_t row = find_recipient(&ic, r);
        if (row == USERS_NONE || (base && !bitmap_contains(base, row))) {
            n->skipped++;
            continue;
        }
        if (!bitmap_add(n->rows, row)) continue; /* the same user twice: the first one's properties */
        if (tp) {
            char k[16];
            snprintf(k, sizeof k, "%u", row);
            if (!n->props) n->props = json_object_new_object();
            json_object_object_add(n->props, k, json_object_get(tp));
        }
    }
    bitmap_free(base);
    return 0;
}

/* A wave's update of its schedule: the rows sent so far, the next wave. */
static int fire_wave(sqlite3 *db, dsp_new *n) {
    bitmap_t *sent = n->sent ? bitmap_copy(n->sent) : bitmap_new();
    bitmap_or_inplace(sent, n->rows);
    bitmap_optimize(sent);
    size_t len = bitmap_serialized_size(sent);
    void *buf = xmalloc(len + 1);
    bitmap_serialize(sent, buf);
    bitmap_free(sent);
    store_schedule_wave w = {.next = n->next_wave, .sent = buf, .sent_len = len, .fallback_hour = n->fallback_hour};
    int rc = store_schedule_fire(db, n->schedule_id, n->schedule_updated_at, n->now_ms, &w);
    free(buf);
    return rc;
}

int dsp_insert_op(sqlite3 *db, void *arg) {
    dsp_new *n = arg;
    int rc;
    if (n->schedule_id && n->wave_at) rc = fire_wave(db, n);
    else if (n->schedule_id) rc = store_schedule_fire(db, n->schedule_id, n->schedule_updated_at, n->now_ms, NULL);
    else rc = 0;
    if (rc < 0) return rc;
    if (n->wave_at && !bitmap_cardinality(n->rows)) return 0;
    json_object *req = n->props ? NULL : json_object_get(n->req);
    if (n->props) {
        /* the stored request carries the recipients' properties by row */
        req = json_object_new_object();
        json_object_object_foreach(n->req, k, v) json_object_object_add(req, k, json_object_get(v));
        json_object_object_add(req, "recipient_properties", json_object_get(n->props));
    }
    bitmap_optimize(n->rows);
    size_t len = bitmap_serialized_size(n->rows);
    store_dispatch_row r = {
        .id = (char *)n->id,
        .campaign_id = (char *)json_object_get_string(json_get(n->req, "campaign_id")),
        .send_id = (char *)json_object_get_string(json_get(n->req, "send_id")),
        .request = (char *)json_text(req, NULL),
        .audience = xmalloc(len + 1),
        .audience_len = len,
        .total = (int64_t)bitmap_cardinality(n->rows),
        .skipped = n->skipped,
        .created_at = n->now_ms,
    };
    bitmap_serialize(n->rows, r.audience);
    rc = store_dispatch_insert(db, &r);
    free(r.audience);
    json_object_put(req);
    return rc;
}

/* ---- delivery ------------------------------------------------------------ */

/* A message source: the request's channel object (API campaigns, sends
 * without a campaign) or a triggered campaign's variation, compiled once
 * per dispatch. */
typedef struct {
    msg_channel ch;
    const char *variation_id, *variation_name; /* NULL: none */
    bool control;
    const char *method;
    liq_template *url, *body;
    int nh;
    char **hname;
    liq_template **hval;
    email_src *email;          /* the email channel's fields (the others are the webhook's) */
    mime_attachment *att;      /* its attachments, fetched when the dispatch loads */
    int natt;
    char *att_error;           /* one could not be fetched: each recipient's message aborts with this */
    json_object *campaign_var; /* the "campaign" Liquid object for it */
} source;

typedef struct job job;
typedef struct slice slice;

typedef struct chunk {
    job *j;
    size_t from, to;    /* audience positions */
    int pending;        /* messages without an outcome (dispatcher mutex) */
    send_msg *msgs;
    int nmsgs;
    send_msg *copies;   /* bcc copies of emails: sent, their outcome nobody's */
    int ncopies;
    int *msrc;          /* each message's source */
    uint32_t *mrow;
    uint8_t (*bz)[12];  /* per position in the chunk */
    char **ext;         /* external ids per position (may be NULL) */
    int64_t skipped, aborted;
    int *ctl;           /* positions enrolled in the control group */
    int nctl;
    buf_t events;       /* Currents events of aborts */
    int64_t at;         /* rendered (ms) */
    char *why;          /* the first abort's reason (transactional postbacks) */
    struct chunk *next;
} chunk;

struct job {
    struct dispatcher *d;
    json_object *blocks; /* content blocks as first read: {"name": source or null} */
    char *id, *campaign_id, *send_id;
    char bid[DSP_ID_LEN + 1]; /* Braze's dispatch id: id without the ".wave" of a schedule's waves */
    json_object *req, *campaign, *props, *tprops;
    uint32_t *aud;
    size_t n, issued, cursor;
    source *src;
    int nsrc;
    chunk *head, *tail;
    int inflight;
    store_cap caps[STORE_CAPS_MAX]; /* frequency capping, when the send obeys it */
    int ncaps;
    bool record_deliveries;
    const char *subscription; /* recipient_subscription_state (email), NULL: "subscribed" */
    bool track_opens, track_clicks; /* the campaign's email_tracking (default: both) */
    const char *postback_url; /* a transactional campaign's (postback.h), NULL: none */
    bool bounces;             /* the workspace had hard-bounced addresses when the job loaded */
    double tokens;       /* per-campaign rate limit (messages) */
    double rate_per_ms;  /* 0: none */
    int64_t refill_at;
    int64_t sent, errors, skipped, aborted; /* not yet recorded */
    bool over; /* done, or its progress could not be recorded: dropped by the loop */
    job *next;
};

struct dispatcher {
    engine_t *e;
    sqlite3 *db;
    send_channel *ch[CH__COUNT];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t relays_asked, relays_loaded; /* dsp_sync_relays' requests, and the last one served */
    pthread_cond_t relays_cv;
    bool stop, wake;
    job *jobs;
    const gcg_t *gcg; /* its users get no campaign message */
    dkim_signer *dkim; /* email: signs what email_render produced (NULL: no DKIM) */
    rly_set *relays;   /* the email channel (d->ch[CH_EMAIL]) */
    smtp_opts smtp;    /* BRASA_SMTP_URL's relay, when url: strings owned */
    /* render threads (render_all) */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_go, pool_done;
    slice *pool_tasks;
    int pool_n, pool_next, pool_finished;
    bool pool_stop;
    /* what rendering reads: connected_content, content blocks */
    send_fetcher *fetcher;
    store_cred_reader *creds;
    sqlite3 *blocks_db;
    pthread_mutex_t blocks_mu;
    /* email links (dsp_set_links): set once, before the thread renders email */
    char *links_base;
    uint8_t links_key[LNK_KEY_LEN];
    bool links_ready;
    long att_timeout_ms; /* per attachment fetch (BRASA_ATTACHMENT_TIMEOUT_MS) */
    postback *postback; /* transactional sends' delivery postbacks */
};

static void source_free(source *s) {
    liq_template_free(s->url);
    liq_template_free(s->body);
    for (int i = 0; i < s->nh; i++) {
        free(s->hname[i]);
        liq_template_free(s->hval[i]);
    }
    free(s->hname);
    free(s->hval);
    email_src_free(s->email);
    for (int i = 0; i < s->natt; i++) att_free(&s->att[i]);
    free(s->att);
    free(s->att_error);
    json_object_put(s->campaign_var);
}

/* The files of list into s (the first failure stops: s->att_error). The
 * dispatcher thread waits for them, once per dispatch, each for at most
 * the attachment timeout. */
static void fetch_attachments(dispatcher *d, source *s, json_object *list) {
    if (!json_object_is_type(list, json_type_array)) return;
    for (size_t i = 0; !s->att_error && i < json_object_array_length(list); i++) {
        json_object *a = json_object_array_get_idx(list, i);
        const char *name = json_object_get_string(json_get(a, "file_name")), *cred = json_object_get_string(json_get(a, "basic_auth_credential"));
        char user[256], pass[1024], why[400];
        if (cred && store_cred_lookup(d->creds, cred, user, sizeof user, pass, sizeof pass) < 0) {
            snprintf(why, sizeof why, "attachment '%s': no credential named '%.100s'", name, cred);
            s->att_error = xstrdup(why);
            break;
        }
        s->att = xrealloc(s->att, (size_t)(s->natt + 1) * sizeof *s->att);
        if (att_fetch(json_object_get_string(json_get(a, "url")), name, cred ? user : NULL, cred ? pass : NULL,
                      d->att_timeout_ms, &s->att[s->natt], why, sizeof why) < 0)
            s->att_error = xstrdup(why);
        else s->natt++;
    }
}

static void chunk_free(chunk *c) {
    for (int i = 0; i < c->nmsgs; i++) send_msg_clear(&c->msgs[i]);
    for (int i = 0; i < c->ncopies; i++) send_msg_clear(&c->copies[i]);
    free(c->copies);
    for (size_t i = 0; c->ext && i < c->to - c->from; i++) free(c->ext[i]);
    free(c->ext);
    free(c->msgs);
    free(c->msrc);
    free(c->mrow);
    free(c->bz);
    free(c->ctl);
    buf_free(&c->events);
    free(c->why);
    free(c);
}

static void job_free(job *j) {
    while (j->head) {
        chunk *c = j->head;
        j->head = c->next;
        chunk_free(c);
    }
    for (int i = 0; i < j->nsrc; i++) source_free(&j->src[i]);
    free(j->src);
    free(j->aud);
    free(j->id);
    free(j->campaign_id);
    free(j->send_id);
    json_object_put(j->req);
    json_object_put(j->campaign);
    json_object_put(j->blocks);
    free(j);
}

static void add_source(job *j, msg_channel ch, json_object *m, json_object *var, bool control) {
    j->src = xrealloc(j->src, (size_t)(j->nsrc + 1) * sizeof *j->src);
    source *s = &j->src[j->nsrc++];
    memset(s, 0, sizeof *s);
    s->ch = ch;
    s->control = control;
    if (var) {
        s->variation_id = json_object_get_string(json_get(var, "id"));
        s->variation_name = json_object_get_string(json_get(var, "name"));
    }
    if (m && ch == CH_EMAIL) {
        s->email = email_src_new(m);
        fetch_attachments(j->d, s, json_get(m, "attachments"));
        fetch_attachments(j->d, s, json_get(j->req, "attachments")); /* /campaigns/trigger/send's, for its email */
    } else if (m) {
        s->method = json_object_get_string(json_get(m, "request_method"));
        s->url = msg_compile(json_get(m, "url"));
        s->body = msg_compile(json_get(m, "body"));
        json_object *h = json_get(m, "request_headers");
        if (h) {
            int n = json_object_object_length(h);
            s->hname = xcalloc((size_t)n + 1, sizeof *s->hname);
            s->hval = xcalloc((size_t)n + 1, sizeof *s->hval);
            json_object_object_foreach(h, k, v) {
                s->hname[s->nh] = xstrdup(k);
                s->hval[s->nh++] = msg_compile(v);
            }
        }
    }
    json_object *cv = s->campaign_var = json_object_new_object();
    json_object_object_add(cv, "api_id", j->campaign_id ? json_object_new_string(j->campaign_id) : NULL);
    json_object_object_add(cv, "name", json_object_get(json_get(j->campaign, "name")));
    json_object_object_add(cv, "message_name", s->variation_name ? json_object_new_string(s->variation_name) : NULL);
    json_object_object_add(cv, "message_api_id", s->variation_id ? json_object_new_string(s->variation_id) : NULL);
    json_object_object_add(cv, "dispatch_id", json_object_new_string(j->bid));
    json_object_object_add(cv, "send_id", j->send_id ? json_object_new_string(j->send_id) : NULL);
}

/* Loads a dispatch still sending; NULL when it cannot be read. */
static job *job_load(dispatcher *d, const char *id) {
    store_dispatch_row row;
    if (store_dispatch_get(d->db, id, true, &row) < 0) return NULL;
    job *j = xcalloc(1, sizeof *j);
    j->d = d;
    j->blocks = json_object_new_object();
    j->id = row.id;
    snprintf(j->bid, sizeof j->bid, "%.*s", (int)strcspn(row.id, "."), row.id);
    j->campaign_id = row.campaign_id;
    j->send_id = row.send_id;
    row.id = row.campaign_id = row.send_id = NULL;
    j->req = json_parse(row.request, strlen(row.request));
    bitmap_t *b = bitmap_deserialize(row.audience, row.audience_len);
    if (!j->req || !b) {
        log_error("dispatch %s: its stored request or audience does not read", id);
        bitmap_free(b);
        store_dispatch_row_free(&row);
        job_free(j);
        return NULL;
    }
    j->n = bitmap_cardinality(b);
    j->aud = xmalloc((j->n + 1) * sizeof *j->aud);
    bitmap_to_array(b, j->aud);
    bitmap_free(b);
    j->issued = j->cursor = (size_t)row.cursor;
    store_dispatch_row_free(&row);
    if (j->campaign_id) {
        store_campaign_row cr;
        if (store_campaign_get(d->db, j->campaign_id, &cr) == 0) {
            j->campaign = json_parse(cr.doc, strlen(cr.doc));
            store_campaign_row_free(&cr);
        }
    }
    j->props = json_get(j->req, "recipient_properties");
    j->subscription = json_object_get_string(json_get(j->req, "recipient_subscription_state"));
    json_object *tr = json_get(j->campaign, "email_tracking");
    j->track_opens = !json_object_is_type(json_get(tr, "opens"), json_type_boolean) || json_object_get_boolean(json_get(tr, "opens"));
    j->track_clicks = !json_object_is_type(json_get(tr, "clicks"), json_type_boolean) || json_object_get_boolean(json_get(tr, "clicks"));
    if (j->campaign && camp_is_transactional(j->campaign))
        j->postback_url = json_object_get_string(json_get(j->campaign, "postback_url"));
    /* Without any bounce, a million-user broadcast is spared a million lookups. */
    bool bounced = false;
    j->bounces = store_email_bounced(d->db, NULL, &bounced) < 0 || bounced;
    j->tprops = json_get(j->req, "trigger_properties");
    json_object *msgs = json_get(j->req, "messages");
    if (msgs) {
        json_object_object_foreach(msgs, ch, m) {
            bool ctl;
            json_object *vid = json_get(m, "message_variation_id");
            json_object *var = j->campaign && vid ? camp_variation(j->campaign, json_object_get_string(vid), &ctl) : NULL;
            add_source(j, (msg_channel)msg_channel_of(ch), m, var, false);
        }
    } else if (j->campaign) {
        json_object *vs = json_get(j->campaign, "variations");
        for (size_t i = 0; i < json_object_array_length(vs); i++) {
            json_object *v = json_object_array_get_idx(vs, i);
            add_source(j, (msg_channel)msg_channel_of(json_object_get_string(json_get(v, "channel"))), json_get(v, "content"), v,
                       false);
        }
    }
    bool obeys = !json_object_get_boolean(json_get(j->req, "override_frequency_capping")) &&
                 (!j->campaign || json_object_get_boolean(json_get(j->campaign, "frequency_capping")));
    /* Deliveries are recorded while the workspace has caps (none: nothing
     * would read them, and a million-user broadcast is spared a million
     * rows); they are checked for the sends that obey them. */
    if (store_caps_get(d->db, j->caps, &j->ncaps) < 0) j->ncaps = 0;
    j->record_deliveries = j->ncaps > 0;
    if (!obeys) j->ncaps = 0;
    int64_t rate = j->campaign ? json_object_get_int64(json_get(j->campaign, "rate_limit_per_minute")) : 0;
    if (rate > 0) {
        j->rate_per_ms = rate / 60000.0;
        j->tokens = rate < 60 ? 1 : rate / 60.0; /* a second's worth at once */
        j->refill_at = clock_wall_ms();
    }
    return j;
}

/* ---- one chunk: copy, render, submit ------------------------------------- */

/* What Liquid sees of a user: the export's fields without the event and
 * purchase histories, which no message template reads whole. */
static export_fields context_fields;
static pthread_once_t context_once = PTHREAD_ONCE_INIT;

static void context_fields_init(void) {
    static const char *const names[] = {"created_at", "external_id", "user_aliases", "braze_id", "random_bucket",
                                        "first_name", "last_name", "email", "dob", "home_city", "country", "phone",
                                        "language", "time_zone", "gender", "total_revenue", "push_subscribe",
                                        "email_subscribe", "custom_attributes"};
    json_object *f = json_object_new_array();
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) json_object_array_add(f, json_object_new_string(names[i]));
    char why[200];
    if (export_fields_parse(f, &context_fields, why, sizeof why) < 0) abort();
    json_object_put(f);
}

json_object *dsp_user_context(engine_t *e, uint32_t row) {
    pthread_once(&context_once, context_fields_init);
    users_t *u = engine_users(e);
    json_object *o = export_user(u, engine_names(e), row, &context_fields);
    /* subscribed_state.${<group id>} (subscribed_state.${email_global} is email_subscribe) */
    json_object_object_add(o, "subscribed_state", subs_group_states(users_get(u, row)->blob));
    return o;
}

typedef struct {
    dispatcher *d;
    const uint32_t *rows;
    size_t n;
    json_object **users; /* NULL for a deleted user */
    uint8_t (*bz)[12];
    char **ext;
    bool everyone; /* a transactional send: the Global Control Group too */
} copy_arg;

static int copy_read(engine_t *e, void *arg) {
    copy_arg *a = arg;
    users_t *u = engine_users(e);
    for (size_t i = 0; i < a->n; i++) {
        uint32_t row = a->rows[i];
        if (row >= users_rows(u) || (users_get(u, row)->flags & PROFILE_DELETED)) continue;
        if (!a->everyone && a->d->gcg && gcg_enabled(a->d->gcg) && gcg_has(a->d->gcg, u, row))
            continue; /* the Global Control Group */
        users_braze_id(u, row, a->bz[i]);
        a->users[i] = dsp_user_context(e, row);
        const char *x = json_object_get_string(json_get(a->users[i], "external_id"));
        a->ext[i] = x ? xstrdup(x) : NULL;
    }
    return 0;
}

typedef struct {
    job *j;
    source *s;
    json_object *tprops;
    const uint8_t *bz;
    json_object *links[4]; /* made on first use: the subscription links and the footer */
} render_ctx;

/* ${set_user_to_unsubscribed_url} and its kin: signed links to the
 * recipient's subscription pages (links.h). */
static const struct {
    const char *name;
    lnk_kind kind;
} sub_links[] = {
    {"set_user_to_unsubscribed_url", LNK_UNSUB},
    {"set_user_to_subscribed_url", LNK_SUB},
    {"set_user_to_opted_in_url", LNK_OPTIN},
    {"email_footer", LNK_UNSUB},
};

static void who_of(const render_ctx *rc, lnk_token *t) {
    memset(t, 0, sizeof *t);
    memcpy(t->bz, rc->bz, 12);
    snprintf(t->dispatch_id, sizeof t->dispatch_id, "%s", rc->j->id);
    snprintf(t->variation_id, sizeof t->variation_id, "%s", rc->s->variation_id ? rc->s->variation_id : "");
}

static json_object *sub_link(render_ctx *rc, size_t i) {
    if (rc->links[i]) return rc->links[i];
    dispatcher *d = rc->j->d;
    lnk_token t;
    who_of(rc, &t);
    t.kind = sub_links[i].kind;
    buf_t b = BUF_INIT;
    if (!strcmp(sub_links[i].name, "email_footer")) {
        /* Braze's default footer, which CAN-SPAM wants in every commercial email */
        buf_puts(&b, "<p style=\"font-size:12px;line-height:1.5;color:#6b6b6b;text-align:center\">"
                     "You are receiving this email because you subscribed to it. <a href=\"");
        lnk_url(&b, d->links_base, d->links_key, &t, NULL);
        buf_puts(&b, "\" style=\"color:#6b6b6b\">Unsubscribe</a></p>");
    } else {
        lnk_url(&b, d->links_base, d->links_key, &t, NULL);
    }
    rc->links[i] = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
    buf_free(&b);
    return rc->links[i];
}


static int resolve_name(void *ud, const char *name, size_t len, json_object **out) {
    render_ctx *rc = ud;
#define IS(w) (len == sizeof(w) - 1 && !memcmp(name, w, len))
    if (IS("campaign")) *out = rc->s->campaign_var;
    else if (IS("api_trigger_properties")) *out = rc->tprops;
    else if (IS("dispatch_id")) *out = json_get(rc->s->campaign_var, "dispatch_id");
    else if (IS("send_id")) *out = json_get(rc->s->campaign_var, "send_id");
    else if (IS("message_api_id")) *out = json_get(rc->s->campaign_var, "message_api_id");
    else *out = NULL;
    for (size_t i = 0; !*out && rc->s->ch == CH_EMAIL && i < sizeof sub_links / sizeof *sub_links; i++)
        if (len == strlen(sub_links[i].name) && !memcmp(name, sub_links[i].name, len)) *out = sub_link(rc, i);
#undef IS
    return 0;
}

/* {{content_blocks.${name}}}: the block as it is when the dispatch first
 * uses it, so every recipient of a dispatch gets the same version. */
static int block_lookup(void *ud, const char *name, const char **src, size_t *len) {
    job *j = ud;
    dispatcher *d = j->d;
    pthread_mutex_lock(&d->blocks_mu);
    int rc = store_block_memo(d->blocks_db, j->blocks, name, src, len);
    pthread_mutex_unlock(&d->blocks_mu);
    return rc;
}

/* A Currents event head for a recipient (the caller adds fields and "}"). */
static void event_head(buf_t *b, const char *type, const char *id_suffix, job *j, const uint8_t bz[12], const char *ext,
                       const source *s, int64_t now_ms) {
    char hex[25];
    str_hex(bz, 12, hex);
    if (b->len) buf_append(b, ",", 1);
    buf_printf(b, "{\"id\":\"%s-%s-%s\",\"event_type\":\"%s\",\"user_id\":\"%s\"", j->bid, hex, id_suffix, type, hex);
    if (ext) buf_puts(b, ",\"external_user_id\":"), buf_json_str(b, ext, strlen(ext));
    buf_printf(b, ",\"time\":%" PRId64 ",\"dispatch_id\":\"%s\"", now_ms / 1000, j->bid);
    const char *cname = json_object_get_string(json_get(j->campaign, "name"));
    const char *kv[][2] = {{"campaign_id", j->campaign_id}, {"campaign_name", cname}, {"send_id", j->send_id},
                           {"message_variation_id", s ? s->variation_id : NULL},
                           {"message_variation_name", s ? s->variation_name : NULL}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        if (kv[i][1]) buf_printf(b, ",\"%s\":", kv[i][0]), buf_json_str(b, kv[i][1], strlen(kv[i][1]));
}

/* FNV-1a of the campaign and the user: the user's bucket for the split. */
static unsigned bucket(const char *cid, const uint8_t bz[12]) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = cid; p && *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    for (int i = 0; i < 12; i++) h = (h ^ bz[i]) * 1099511628211ULL;
    return (unsigned)(h % 100);
}

static int source_of(job *j, json_object *var) {
    for (int i = 0; i < j->nsrc; i++)
        if (j->src[i].variation_id && !strcmp(j->src[i].variation_id, json_object_get_string(json_get(var, "id")))) return i;
    return -1;
}

/* One recipient's rendering: what the render threads fill in. */
typedef struct {
    json_object *user;   /* NULL: deleted, or nothing to render */
    json_object *tprops; /* the trigger properties it sees (a reference) */
    const uint8_t *bz;   /* its braze_id */
    int from, to;        /* its sources; from < 0: the control group */
    struct slot {
        char *url, *body;
        char **hdr;
        size_t body_len;
        char *mail_from, *rcpt; /* email: the envelope */
        char *bcc;              /* email: where a copy goes too, or NULL */
        bool ok, skip;          /* skip: email the user cannot get (no address, unsubscribed, bounced) */
        liq_error err;
    } slot[CH__COUNT * 2];
} recipient;

/* One recipient's email (slot->rcpt is its address). */
static void render_email(job *j, liq_renderer *r, render_ctx *rc, const liq_render_opts *o, struct slot *sl, int64_t now) {
    char hex[25], mid[112];
    str_hex(rc->bz, 12, hex);
    snprintf(mid, sizeof mid, "%s-%s-email", j->bid, hex); /* as send_msg.message_id: the same on a re-send */
    dispatcher *d = j->d;
    lnk_token who;
    who_of(rc, &who);
    email_links links = {.track = {.base = d->links_base, .key = d->links_key, .who = &who, .opens = j->track_opens,
                                   .clicks = j->track_clicks}};
    /* List-Unsubscribe on marketing mail; transactional mail ("all") has none */
    buf_t unsub = BUF_INIT;
    if (!j->subscription || strcmp(j->subscription, "all")) {
        who.kind = LNK_UNSUB;
        lnk_url(&unsub, d->links_base, d->links_key, &who, NULL);
        links.unsubscribe = unsub.data;
    }
    if (rc->s->att_error) { /* as Braze: a message whose attachment failed is not sent */
        memset(&sl->err, 0, sizeof sl->err);
        sl->err.code = LIQ_ERENDER;
        snprintf(sl->err.message, sizeof sl->err.message, "%s", rc->s->att_error);
        buf_free(&unsub);
        return;
    }
    links.attachments = rc->s->att;
    links.nattachments = rc->s->natt;
    email_out out;
    int rc_ = email_render(rc->s->email, r, o, &links, sl->rcpt, mid, now, &out, &sl->err);
    buf_free(&unsub);
    if (rc_ != 0) return;
    if (d->dkim) dkim_signer_prepend(d->dkim, &out.data, &out.len, out.mail_from); /* mail_from: the From address */
    sl->body = out.data;
    sl->body_len = out.len;
    sl->mail_from = out.mail_from;
    sl->bcc = out.bcc;
    sl->ok = true;
}

static void render_one(dispatcher *d, liq_renderer *r, job *j, recipient *rc_, int64_t now) {
    for (int s = rc_->from; s >= 0 && s < rc_->to; s++) {
        source *src = &j->src[s];
        struct slot *sl = &rc_->slot[s - rc_->from];
        render_ctx rc = {j, src, rc_->tprops, rc_->bz, {0}};
        liq_render_opts o = {.context = rc_->user, .resolve = resolve_name, .resolve_ud = &rc, .now_ms = now,
                             .fetch = d->fetcher ? send_fetch : NULL, .fetch_ud = d->fetcher,
                             .content_block = block_lookup, .block_ud = j, .max_time_us = DSP_RENDER_TIME_US};
        if (src->ch == CH_EMAIL) {
            if (!sl->skip) render_email(j, r, &rc, &o, sl, now);
            for (size_t i = 0; i < sizeof rc.links / sizeof *rc.links; i++) json_object_put(rc.links[i]);
            continue;
        }
        size_t ul, bl = 0;
        char *url = msg_render(r, src->url, &o, &ul, &sl->err), *body = url ? msg_render(r, src->body, &o, &bl, &sl->err) : NULL;
        char **hdr = xcalloc((size_t)src->nh + 1, sizeof *hdr);
        for (int h = 0; body && h < src->nh; h++) {
            size_t vl;
            char *v = msg_render(r, src->hval[h], &o, &vl, &sl->err);
            if (!v) {
                free(body);
                body = NULL;
                break;
            }
            size_t nl = strlen(src->hname[h]);
            hdr[h] = xmalloc(nl + vl + 3);
            snprintf(hdr[h], nl + vl + 3, "%s: %s", src->hname[h], v);
            for (char *p = hdr[h]; *p; p++)
                if (*p == '\r' || *p == '\n') *p = ' '; /* a rendered value cannot add headers */
            free(v);
        }
        if (url && !httpc_url_valid(url)) {
            snprintf(sl->err.message, sizeof sl->err.message, "the url rendered to '%.200s', not an http:// or https:// URL", url);
            sl->err.code = LIQ_ERENDER;
            free(body);
            body = NULL;
        }
        if (!body) {
            free(url);
            for (char **p = hdr; *p; p++) free(*p);
            free(hdr);
            continue;
        }
        *sl = (struct slot){.url = url, .body = body, .hdr = hdr, .body_len = bl, .ok = true};
    }
}

/* ---- render threads: a chunk's recipients, in slices ---------------------- */

struct slice {
    job *j;
    recipient *rs;
    size_t lo, hi;
    int64_t now;
};

static void *render_thread(void *arg) {
    dispatcher *d = arg;
    thread_name("brasa-render");
    liq_renderer *r = liq_renderer_new();
    pthread_mutex_lock(&d->pool_mu);
    for (;;) {
        while (d->pool_next >= d->pool_n && !d->pool_stop) pthread_cond_wait(&d->pool_go, &d->pool_mu);
        if (d->pool_stop) break;
        slice *sl = &d->pool_tasks[d->pool_next++];
        pthread_mutex_unlock(&d->pool_mu);
        for (size_t i = sl->lo; i < sl->hi; i++)
            if (sl->rs[i].user) render_one(d, r, sl->j, &sl->rs[i], sl->now);
        pthread_mutex_lock(&d->pool_mu);
        if (++d->pool_finished == d->pool_n) pthread_cond_signal(&d->pool_done);
    }
    pthread_mutex_unlock(&d->pool_mu);
    liq_renderer_free(r);
    return NULL;
}

/* Renders rs[0..n) on the render threads and waits for them. */
static void render_all(dispatcher *d, job *j, recipient *rs, size_t n, int64_t now) {
    size_t per = (n + (size_t)d->nthreads * 4 - 1) / ((size_t)d->nthreads * 4);
    if (per < 16) per = 16;
    int k = 0;
    slice tasks[256];
    for (size_t lo = 0; lo < n && k < 256; lo += per, k++) tasks[k] = (slice){j, rs, lo, lo + per < n ? lo + per : n, now};
    pthread_mutex_lock(&d->pool_mu);
    d->pool_tasks = tasks;
    d->pool_n = k;
    d->pool_next = d->pool_finished = 0;
    pthread_cond_broadcast(&d->pool_go);
    while (d->pool_finished < d->pool_n) pthread_cond_wait(&d->pool_done, &d->pool_mu);
    d->pool_n = d->pool_next = 0;
    pthread_mutex_unlock(&d->pool_mu);
}

/* Whether the workspace's frequency caps leave the user no room for a
 * message on channel ch (the deliveries recorded so far count). */
static bool capped(dispatcher *d, job *j, const uint8_t bz[12], msg_channel ch, int64_t now) {
    for (int k = 0; k < j->ncaps; k++) {
        const store_cap *c = &j->caps[k];
        bool any = !strcmp(c->channel, "any");
        if (!any && strcmp(c->channel, msg_channel_name(ch))) continue;
        int64_t n;
        if (store_deliveries_count(d->db, bz, any ? NULL : c->channel, now - c->period_hours * 3600000, &n) == 0 &&
            n >= c->max_messages)
            return true;
    }
    return false;
}

static void on_done(void *ud, send_msg *m);

static void issue(dispatcher *d, job *j, size_t count) {
    chunk *c = xcalloc(1, sizeof *c);
    size_t n = count;
    c->j = j;
    c->from = j->issued;
    c->to = j->issued + n;
    c->bz = xcalloc(n, sizeof *c->bz);
    c->ext = xcalloc(n, sizeof *c->ext);
    json_object **users = xcalloc(n, sizeof *users);
    /* Braze's transactional email counts every user eligible: the Global Control Group gets it too. */
    copy_arg ca = {d, j->aud + c->from, n, users, c->bz, c->ext, j->campaign && camp_is_transactional(j->campaign)};
    eng_exec_read(d->e, copy_read, &ca);
    bool triggered = j->campaign && camp_is_triggered(j->campaign);
    int per = triggered ? 1 : (j->nsrc ? j->nsrc : 1);
    recipient *rs = xcalloc(n, sizeof *rs);
    c->ctl = xcalloc(n, sizeof *c->ctl);
    int64_t now = clock_wall_ms();
    c->at = now;
    for (size_t i = 0; i < n; i++) {
        recipient *r = &rs[i];
        if (!(r->user = users[i])) {
            c->skipped++;
            continue;
        }
        r->from = 0, r->to = j->nsrc;
        if (triggered) {
            json_object *var = camp_pick(j->campaign, bucket(j->campaign_id, c->bz[i]));
            if (!var) { /* the control group: recorded, not sent */
                c->ctl[c->nctl++] = (int)i;
                json_object_put(r->user);
                r->user = NULL;
                continue;
            }
            r->from = source_of(j, var);
            r->to = r->from + 1;
        }
        r->bz = c->bz[i];
        for (int k = r->from; k < r->to; k++) {
            if (j->src[k].ch != CH_EMAIL) continue;
            struct slot *sl = &r->slot[k - r->from];
            const char *to = email_recipient(r->user, j->subscription);
            bool bounced = false;
            if (to && (!j->bounces || (store_email_bounced(d->db, to, &bounced) == 0 && !bounced))) sl->rcpt = xstrdup(to);
            else sl->skip = true;
        }
        bool over = false;
        for (int k = r->from; j->ncaps && k < r->to && !over; k++) over = capped(d, j, c->bz[i], j->src[k].ch, now);
        if (over) { /* frequency capping: not sent, counted as skipped */
            c->skipped++;
            json_object_put(r->user);
            r->user = NULL;
            continue;
        }
        /* trigger properties: the request's, with the recipient's over them key by key */
        json_object *own = NULL;
        char key[16];
        snprintf(key, sizeof key, "%u", j->aud[c->from + i]);
        r->tprops = json_object_get(j->tprops);
        if (j->props && (own = json_get(j->props, key))) {
            json_object_put(r->tprops);
            r->tprops = json_object_new_object();
            if (json_object_is_type(j->tprops, json_type_object)) {
                json_object_object_foreach(j->tprops, k, v) json_object_object_add(r->tprops, k, json_object_get(v));
            }
            json_object_object_foreach(own, k2, v2) json_object_object_add(r->tprops, k2, json_object_get(v2));
        }
    }
    free(users);
    render_all(d, j, rs, n, now);
    c->msgs = xcalloc(n * (size_t)per, sizeof *c->msgs);
    c->msrc = xcalloc(n * (size_t)per, sizeof *c->msrc);
    c->mrow = xcalloc(n * (size_t)per, sizeof *c->mrow);
    for (size_t i = 0; i < n; i++) {
        recipient *r = &rs[i];
        for (int s = r->from; r->user && s >= 0 && s < r->to; s++) {
            struct slot *sl = &r->slot[s - r->from];
            source *src = &j->src[s];
            if (sl->skip) { /* an email the user cannot get */
                c->skipped++;
                continue;
            }
            if (!sl->ok) { /* a render error or abort_message: this recipient's message only */
                c->aborted++;
                event_head(&c->events, src->ch == CH_EMAIL ? "users.messages.email.Abort" : "users.messages.webhook.Abort", "abort",
                           j, c->bz[i], c->ext[i], src, now);
                char log[600];
                liq_error_format(&sl->err, log, sizeof log);
                if (!c->why) c->why = xstrdup(log);
                const char *type = sl->err.code == LIQ_EABORT ? "liquid_abort_message" : "liquid_error";
                buf_puts(&c->events, ",\"abort_type\":");
                buf_json_str(&c->events, type, strlen(type));
                buf_puts(&c->events, ",\"abort_log\":");
                buf_json_str(&c->events, log, strlen(log));
                if (sl->rcpt) { /* required in Braze's schema of email.Abort (the storage files check it) */
                    buf_puts(&c->events, ",\"email_address\":");
                    buf_json_str(&c->events, sl->rcpt, strlen(sl->rcpt));
                }
                buf_puts(&c->events, "}");
                continue;
            }
            send_msg *m = &c->msgs[c->nmsgs];
            c->msrc[c->nmsgs] = s;
            c->mrow[c->nmsgs] = (uint32_t)i;
            m->owner = c;
            m->index = (uint32_t)c->nmsgs++;
            char hex[25];
            str_hex(c->bz[i], 12, hex);
            snprintf(m->message_id, sizeof m->message_id, "%s-%s-%s", j->bid, hex, msg_channel_name(src->ch));
            m->url = sl->url;
            snprintf(m->method, sizeof m->method, "%s", src->method ? src->method : "POST");
            m->headers = sl->hdr;
            m->body = sl->body;
            m->body_len = sl->body_len;
            if (src->ch == CH_EMAIL) {
                m->mail_from = sl->mail_from;
                m->rcpt = xcalloc(2, sizeof *m->rcpt);
                m->rcpt[0] = sl->rcpt;
                sl->rcpt = NULL;
            }
            if (sl->bcc) { /* its own transaction: a refused bcc address must not bounce the user's message */
                c->copies = xrealloc(c->copies, (size_t)(c->ncopies + 1) * sizeof *c->copies);
                send_msg *x = &c->copies[c->ncopies++];
                *x = (send_msg){.owner = c, .index = UINT32_MAX, .body_len = m->body_len, .mail_from = xstrdup(m->mail_from)};
                snprintf(x->message_id, sizeof x->message_id, "%.100s-bcc", m->message_id);
                x->body = xmalloc(m->body_len);
                memcpy(x->body, m->body, m->body_len);
                x->rcpt = xcalloc(2, sizeof *x->rcpt);
                x->rcpt[0] = sl->bcc;
                sl->bcc = NULL;
            }
        }
        for (int k = 0; k < CH__COUNT * 2; k++) { /* those that made no message */
            free(r->slot[k].rcpt);
            free(r->slot[k].bcc);
        }
        json_object_put(r->tprops);
        json_object_put(r->user);
    }
    free(rs);
    j->issued = c->to;
    if (j->tail) j->tail->next = c;
    else j->head = c;
    j->tail = c;
    j->inflight++;
    pthread_mutex_lock(&d->mu);
    c->pending = c->nmsgs + c->ncopies;
    pthread_mutex_unlock(&d->mu);
    for (int k = 0; k < c->ncopies; k++) {
        if (d->ch[CH_EMAIL]) d->ch[CH_EMAIL]->submit(d->ch[CH_EMAIL], &c->copies[k]);
        else on_done(d, &c->copies[k]);
    }
    for (int k = 0; k < c->nmsgs; k++) {
        source *src = &j->src[c->msrc[k]];
        send_channel *ch = d->ch[src->ch];
        if (ch) ch->submit(ch, &c->msgs[k]);
        else { /* a channel brasa cannot deliver through yet */
            c->msgs[k].outcome = SEND_FAILED;
            snprintf(c->msgs[k].error, sizeof c->msgs[k].error, "the %s channel is not available", msg_channel_name(src->ch));
            on_done(d, &c->msgs[k]);
        }
    }
}

static void on_done(void *ud, send_msg *m) {
    dispatcher *d = ud;
    pthread_mutex_lock(&d->mu);
    chunk *c = m->owner;
    if (--c->pending == 0) {
        d->wake = true;
        pthread_cond_signal(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
}

/* ---- recording ----------------------------------------------------------- */

typedef struct {
    store_stat_delta *v;
    int n, cap;
} stats;

static store_stat_delta *stat_of(stats *st, job *j, const source *s, int64_t day) {
    const char *vid = s ? s->variation_id : NULL, *ch = s ? msg_channel_name(s->ch) : "webhook";
    for (int i = 0; i < st->n; i++) {
        store_stat_delta *x = &st->v[i];
        if (x->day == day && !strcmp(x->channel, ch) && ((!vid && !x->variation_id) || (vid && x->variation_id && !strcmp(vid, x->variation_id))))
            return x;
    }
    if (st->n == st->cap) st->v = xrealloc(st->v, (size_t)(st->cap = st->cap ? st->cap * 2 : 4) * sizeof *st->v);
    store_stat_delta *x = &st->v[st->n++];
    *x = (store_stat_delta){j->campaign_id, j->send_id, vid, ch, day, 0, 0, 0, 0};
    return x;
}

/* Appends an entry for a user to a growing list of the progress op. */
static store_received *push(store_received **v, int *n, int *cap, const uint8_t bz[12]) {
    if (*n == *cap) *v = xrealloc(*v, (size_t)(*cap = *cap ? *cap * 2 : 64) * sizeof **v);
    store_received *r = &(*v)[(*n)++];
    memset(r, 0, sizeof *r);
    memcpy(r->braze_id, bz, 12);
    return r;
}

/* The Currents events of an email's outcome: Send for every message the
 * relay was offered, then Delivery, Bounce (5xx) or SoftBounce (4xx or no
 * answer, retries exhausted). */
static void record_email(buf_t *b, job *j, chunk *c, int k, const source *s, int64_t now) {
    send_msg *m = &c->msgs[k];
    uint32_t i = c->mrow[k];
    const char *addr = m->rcpt[0];
    event_head(b, "users.messages.email.Send", "send", j, c->bz[i], c->ext[i], s, now);
    buf_puts(b, ",\"email_address\":");
    buf_json_str(b, addr, strlen(addr));
    buf_puts(b, "}");
    const char *type = m->outcome == SEND_OK ? "users.messages.email.Delivery"
                       : m->outcome == SEND_BOUNCED ? "users.messages.email.Bounce" : "users.messages.email.SoftBounce";
    event_head(b, type, m->outcome == SEND_OK ? "delivery" : m->outcome == SEND_BOUNCED ? "bounce" : "softbounce", j, c->bz[i],
               c->ext[i], s, now);
    buf_puts(b, ",\"email_address\":");
    buf_json_str(b, addr, strlen(addr));
    const char *at = strchr(addr, '@');
    if (at && m->outcome == SEND_OK) buf_puts(b, ",\"to_domain\":"), buf_json_str(b, at + 1, strlen(at + 1));
    if (m->outcome != SEND_OK) buf_puts(b, ",\"bounce_reason\":"), buf_json_str(b, m->error, strlen(m->error));
    buf_puts(b, "}");
}

/* The postbacks of a transactional send's recorded chunks (up to end; a
 * transactional dispatch has one recipient, or none when the request
 * named no user). */
static void postbacks(postback_list *l, job *j, chunk *end, bool finished, int64_t now) {
    postback_send ps = {j->postback_url, j->bid, j->campaign_id, json_object_get_string(json_get(j->req, "external_send_id")),
                        json_object_get_int64(json_get(j->req, "received_at")), now};
    if (finished && !j->n) postback_aborted(l, &ps, "User does not exist", now);
    for (chunk *c = j->head; c != end; c = c->next) {
        ps.executed_at = c->at;
        for (int k = 0; k < c->nmsgs; k++) postback_outcome(l, &ps, &c->msgs[k], now);
        if (!c->nmsgs && c->aborted) postback_aborted(l, &ps, c->why ? c->why : "Liquid abort", now);
        else if (!c->nmsgs && c->skipped) postback_aborted(l, &ps, "User not emailable", now);
    }
}

/* Records the chunks at the head of j whose messages all have an outcome:
 * one store op. Returns false when the store failed. */
static bool record(dispatcher *d, job *j, bool *progressed) {
    pthread_mutex_lock(&d->mu);
    chunk *last = NULL;
    for (chunk *c = j->head; c && c->pending == 0; c = c->next) last = c;
    pthread_mutex_unlock(&d->mu);
    *progressed = false;
    bool finished = !last && j->issued == j->n && j->cursor == j->n;
    if (!last && !finished) return true;
    int64_t now = clock_wall_ms(), day = now / DAY_MS;
    store_progress p = {.dispatch_id = j->id, .campaign_id = j->campaign_id, .send_id = j->send_id, .now_ms = now};
    stats st = {0};
    int cap = 0, dcap = 0;
    const char **bounced = NULL;
    buf_t ev = BUF_INIT;
    buf_append(&ev, "[", 1);
    buf_t body = BUF_INIT;
    chunk *end = last ? last->next : NULL;
    for (chunk *c = j->head; c != end; c = c->next) {
        p.cursor = (int64_t)c->to;
        p.skipped += c->skipped;
        p.aborted += c->aborted;
        if (c->events.len) buf_append(&body, ",", body.len ? 1 : 0), buf_append(&body, c->events.data, c->events.len);
        for (int k = 0; k < c->nmsgs; k++) {
            send_msg *m = &c->msgs[k];
            source *s = &j->src[c->msrc[k]];
            uint32_t i = c->mrow[k];
            store_stat_delta *x = j->campaign_id ? stat_of(&st, j, s, day) : NULL;
            if (s->ch == CH_EMAIL) {
                record_email(&body, j, c, k, s, now);
                if (m->outcome == SEND_BOUNCED) {
                    bounced = xrealloc(bounced, (size_t)(p.nbounced + 1) * 2 * sizeof *bounced);
                    bounced[2 * p.nbounced] = m->rcpt[0];
                    bounced[2 * p.nbounced++ + 1] = m->error;
                }
            }
            if (m->outcome == SEND_OK) {
                p.sent++;
                if (x) x->sent++;
                if (s->ch == CH_WEBHOOK) {
                    event_head(&body, "users.messages.webhook.Send", "send", j, c->bz[i], c->ext[i], s, now);
                    buf_puts(&body, "}");
                }
                if (j->record_deliveries) {
                    store_received *dl = push(&p.delivered, &p.ndelivered, &dcap, c->bz[i]);
                    dl->channel = msg_channel_name(s->ch);
                    dl->at = now;
                }
                if (j->campaign_id) {
                    store_received *r = push(&p.received, &p.nreceived, &cap, c->bz[i]);
                    r->variation_id = s->variation_id;
                    r->channel = msg_channel_name(s->ch);
                    r->at = now;
                }
            } else if (s->ch == CH_EMAIL) { /* bounced (5xx) or soft-bounced */
                p.errors++;
                if (x && m->outcome == SEND_BOUNCED) x->bounces++;
                else if (x) x->errors++;
            } else {
                p.errors++;
                if (x) x->errors++;
                event_head(&body, "users.messages.webhook.Failure", "failure", j, c->bz[i], c->ext[i], s, now);
                buf_printf(&body, ",\"http_status_code\":%d,\"retry_count\":%d,\"webhook_duration\":%" PRId64
                                  ",\"is_terminal\":true,\"webhook_failure_source\":\"%s\",\"endpoint_url\":",
                           m->status, m->attempts > 0 ? m->attempts - 1 : 0, m->duration_ms, m->status ? "endpoint" : "network");
                buf_json_str(&body, m->url ? m->url : "", m->url ? strlen(m->url) : 0);
                buf_puts(&body, ",\"raw_response\":");
                buf_json_str(&body, m->error, strlen(m->error));
                buf_puts(&body, "}");
            }
        }
        for (int k = 0; k < c->nctl; k++) {
            int i = c->ctl[k];
            source ctl = {.variation_id = json_object_get_string(json_get(j->campaign, "control_id")), .variation_name = "Control",
                          .ch = (msg_channel)msg_channel_of(json_object_get_string(json_object_array_get_idx(json_get(j->campaign, "channels"), 0)))};
            store_stat_delta *x = stat_of(&st, j, &ctl, day);
            x->enrolled++;
            event_head(&body, "users.campaigns.EnrollInControl", "control", j, c->bz[i], c->ext[i], &ctl, now);
            buf_puts(&body, "}");
            store_received *r = push(&p.received, &p.nreceived, &cap, c->bz[i]);
            r->variation_id = x->variation_id;
            r->channel = x->channel;
            r->in_control = true;
            r->at = now;
        }
    }
    if (!last) p.cursor = (int64_t)j->cursor;
    p.done = (size_t)p.cursor == j->n && j->issued == j->n;
    buf_append(&ev, body.data, body.len);
    buf_append(&ev, "]", 1);
    buf_append(&ev, "", 1);
    p.events = body.len ? ev.data : NULL;
    p.stats = st.v;
    p.nstats = st.n;
    p.bounced = bounced;
    /* Queued with the outcome they report: none is lost to a restart. */
    postback_list pl = {0};
    if (j->postback_url) postbacks(&pl, j, end, finished, now);
    p.postbacks = pl.v;
    p.npostbacks = pl.n;
    int rc = eng_exec_store(d->e, store_progress_op, &p);
    postback_list_free(&pl);
    buf_free(&ev);
    buf_free(&body);
    free(st.v);
    free(p.received);
    free(p.delivered);
    free(bounced);
    if (rc < 0) {
        log_error("dispatch %s: recording progress failed: %s", j->id, br_err_message(rc));
        return false;
    }
    *progressed = true;
    if (p.npostbacks && d->postback) postback_wake(d->postback);
    while (j->head != end) {
        chunk *c = j->head;
        j->head = c->next;
        j->inflight--;
        chunk_free(c);
    }
    if (!j->head) j->tail = NULL;
    j->cursor = (size_t)p.cursor;
    if (p.done) j->over = true;
    return true;
}

/* ---- the thread ---------------------------------------------------------- */

static void load_new(dispatcher *d) {
    char **ids;
    int n;
    if (store_dispatch_active(d->db, &ids, &n) < 0) return;
    for (int i = 0; i < n; i++) {
        job *j = d->jobs;
        while (j && strcmp(j->id, ids[i])) j = j->next;
        if (!j && (j = job_load(d, ids[i]))) {
            job **pp = &d->jobs;
            while (*pp) pp = &(*pp)->next;
            *pp = j;
        }
        free(ids[i]);
    }
    free(ids);
}

/* The email relays: BRASA_SMTP_URL's ("default", not stored) and the
 * enabled ones of the store, read at every send and every second, so
 * `brasa smtp add|remove` and /admin/smtp_relays apply without a restart.
 * A store that cannot be read leaves the list as is. */
static void load_relays(dispatcher *d) {
    store_relay *rows;
    int n;
    if (store_relay_list(d->db, true, &rows, &n) < 0) return;
    rly_relay *rl = xcalloc((size_t)n + 1, sizeof *rl);
    int k = 0;
    if (d->smtp.url) rl[k++] = (rly_relay){"default", d->smtp};
    for (int i = 0; i < n; i++)
        rl[k++] = (rly_relay){rows[i].name,
                              {.url = rows[i].url, .user = rows[i].username, .password = rows[i].password,
                               .max_connections = rows[i].max_connections, .rate_per_second = rows[i].rate_per_second,
                               .timeout_ms = rows[i].timeout_ms}};
    rly_update(d->relays, rl, k);
    free(rl);
    store_relay_rows_free(rows, n);
}

static void *run(void *arg) {
    dispatcher *d = arg;
    thread_name("brasa-dispatch");
    bool reload = true;
    int64_t last_load = 0, last_relays = 0;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        if (d->stop) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        if (!d->links_ready) { /* the server is not listening yet: emails would have no links */
            pthread_cond_wait(&d->cv, &d->mu);
            pthread_mutex_unlock(&d->mu);
            continue;
        }
        if (d->wake) reload = true;
        d->wake = false;
        uint64_t asked = d->relays_asked;
        pthread_mutex_unlock(&d->mu);
        int64_t now = clock_wall_ms();
        if (reload || now - last_load > 5000) {
            load_new(d);
            last_load = now;
        }
        /* After load_new: a dispatch just loaded goes by the relays as they
         * were once it was written. Every second besides: a relay the CLI
         * added lets email in (dsp_delivers) soon after. */
        if (reload || now - last_relays >= 1000) {
            load_relays(d);
            last_relays = now;
            pthread_mutex_lock(&d->mu);
            d->relays_loaded = asked;
            pthread_cond_broadcast(&d->relays_cv);
            pthread_mutex_unlock(&d->mu);
        }
        reload = false;
        bool busy = false;
        int64_t wait_ms = 1000;
        for (job **pp = &d->jobs; *pp;) {
            job *j = *pp;
            bool progressed;
            if (!j->over && !record(d, j, &progressed)) j->over = true; /* the store failed: the server is stopping */
            if (j->over) {
                *pp = j->next;
                job_free(j);
                continue;
            }
            busy |= progressed;
            if (j->inflight < DSP_WINDOW && j->issued < j->n) {
                size_t count = j->n - j->issued < DSP_CHUNK ? j->n - j->issued : DSP_CHUNK;
                if (j->rate_per_ms > 0) {
                    double cap = j->rate_per_ms * 1000 < 1 ? 1 : j->rate_per_ms * 1000;
                    j->tokens += (double)(now - j->refill_at) * j->rate_per_ms;
                    if (j->tokens > cap) j->tokens = cap;
                    j->refill_at = now;
                    if (j->tokens < count) count = (size_t)j->tokens;
                    if (!count) {
                        int64_t w = (int64_t)((1 - j->tokens) / j->rate_per_ms) + 1;
                        if (w < wait_ms) wait_ms = w;
                    }
                    j->tokens -= (double)count;
                }
                if (count) {
                    issue(d, j, count);
                    busy = true;
                }
            }
            pp = &j->next;
        }
        if (busy) continue;
        pthread_mutex_lock(&d->mu);
        if (!d->wake && !d->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            ts.tv_sec += wait_ms / 1000 + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        }
        pthread_mutex_unlock(&d->mu);
    }
    return NULL;
}

void dsp_set_links(dispatcher *d, const char *base, const uint8_t key[32]) {
    pthread_mutex_lock(&d->mu);
    free(d->links_base);
    d->links_base = xstrdup(base);
    memcpy(d->links_key, key, LNK_KEY_LEN);
    d->links_ready = d->wake = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

bool dsp_delivers(const dispatcher *d, int channel) {
    if (d && channel == CH_EMAIL) return rly_count(d->relays) > 0;
    return d && channel >= 0 && channel < CH__COUNT && d->ch[channel];
}

bool dsp_relay_in_use(const dispatcher *d, const char *name) { return d && rly_has(d->relays, name); }

dispatcher *dsp_start(engine_t *e, const gcg_t *gcg, const smtp_opts *smtp) {
    dispatcher *d = xcalloc(1, sizeof *d);
    d->e = e;
    d->gcg = gcg;
    d->dkim = smtp ? smtp->dkim : NULL;
    if (store_open_reader(engine_store(e), &d->db) < 0) {
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    pthread_cond_init(&d->relays_cv, NULL);
    pthread_mutex_init(&d->pool_mu, NULL);
    pthread_cond_init(&d->pool_go, NULL);
    pthread_cond_init(&d->pool_done, NULL);
    pthread_mutex_init(&d->blocks_mu, NULL);
    store_t *st = engine_store(e);
    if (store_open_reader(st, &d->blocks_db) < 0 || store_cred_reader_open(st, &d->creds) < 0) abort();
    const char *at = getenv("BRASA_ATTACHMENT_TIMEOUT_MS");
    d->att_timeout_ms = at && atol(at) > 0 ? atol(at) : ATT_TIMEOUT_MS;
    send_fetch_opts fo = {.credential = store_cred_lookup, .credential_ud = d->creds};
    d->fetcher = send_fetcher_new(&fo);
    const char *nt = getenv("BRASA_RENDER_THREADS");
    d->nthreads = nt && atoi(nt) > 0 && atoi(nt) <= 64 ? atoi(nt) : DSP_RENDER_THREADS;
    d->threads = xcalloc((size_t)d->nthreads, sizeof *d->threads);
    for (int i = 0; i < d->nthreads; i++)
        if (pthread_create(&d->threads[i], NULL, render_thread, d)) abort();
    d->ch[CH_WEBHOOK] = webhook_new(NULL, on_done, d);
    if (!(d->postback = postback_new(e))) abort(); /* a reader on the store, as above */
    if (smtp && smtp->url) {
        d->smtp = *smtp;
        d->smtp.url = xstrdup(smtp->url);
        d->smtp.user = smtp->user ? xstrdup(smtp->user) : NULL;
        d->smtp.password = smtp->password ? xstrdup(smtp->password) : NULL;
    }
    d->relays = rly_new(on_done, d);
    d->ch[CH_EMAIL] = rly_channel(d->relays);
    load_relays(d);
    if (pthread_create(&d->th, NULL, run, d)) abort();
    return d;
}

void dsp_wake(dispatcher *d) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->wake = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void dsp_sync_relays(dispatcher *d) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    uint64_t want = ++d->relays_asked;
    d->wake = true;
    pthread_cond_signal(&d->cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2; /* bounded: before the server listens, the thread waits for its links */
    while (d->relays_loaded < want && !d->stop)
        if (pthread_cond_timedwait(&d->relays_cv, &d->mu, &until)) break;
    pthread_mutex_unlock(&d->mu);
}

void dsp_stop(dispatcher *d) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    for (int i = 0; i < CH__COUNT; i++)
        if (d->ch[i]) d->ch[i]->stop(d->ch[i], false);
    for (int i = 0; i < CH__COUNT; i++)
        if (d->ch[i]) d->ch[i]->free(d->ch[i]);
    postback_free(d->postback);
    while (d->jobs) {
        job *j = d->jobs;
        d->jobs = j->next;
        job_free(j);
    }
    pthread_mutex_lock(&d->pool_mu);
    d->pool_stop = true;
    pthread_cond_broadcast(&d->pool_go);
    pthread_mutex_unlock(&d->pool_mu);
    for (int i = 0; i < d->nthreads; i++) pthread_join(d->threads[i], NULL);
    free(d->threads);
    send_fetcher_free(d->fetcher);
    store_cred_reader_close(d->creds);
    sqlite3_close(d->blocks_db);
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->pool_mu);
    pthread_cond_destroy(&d->pool_go);
    pthread_cond_destroy(&d->pool_done);
    pthread_mutex_destroy(&d->blocks_mu);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    pthread_cond_destroy(&d->relays_cv);
    free(d->links_base);
    free((char *)d->smtp.url);
    free((char *)d->smtp.user);
    free((char *)d->smtp.password);
    free(d);
}
