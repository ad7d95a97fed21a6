/* campaigns.c -- campaigns, apps and send analytics.
 *
 *   GET  /campaigns/list          campaigns.list          100 per page by creation time; include_archived,
 *                                                         sort_direction, last_edit.time[gt]
 *   GET  /campaigns/details       campaigns.details       one campaign in Braze's shape
 *   GET  /campaigns/data_series   campaigns.data_series   per day and variation: sent, errors, ...
 *   POST /sends/id/create         sends.id.create         a send id for a campaign (100 new a day)
 *   GET  /sends/data_series       sends.data_series       the same series for one send id
 *   GET  /admin/campaigns         brasa.marketing  every campaign (?archived=true: archived ones too)
 *   POST /admin/campaigns         brasa.marketing  create (send/campaign.h) -> 201 {"campaign_id", "variations"}
 *   GET  /admin/campaigns/{id}    brasa.marketing  the stored document
 *   POST /admin/campaigns/{id}    brasa.marketing  update any field, or {"archived": true}
 *   GET  /admin/frequency_caps    brasa.marketing  the workspace's frequency capping rules
 *   POST /admin/frequency_caps    brasa.marketing  replace them: {"rules": [{"channel", "max_messages", "period_hours"}]}
 *   GET  /admin/workspace         brasa.marketing  the workspace's settings: {"time_zone", "remove_bot_clicks"}
 *   POST /admin/workspace         brasa.keys  {"time_zone": IANA name (the zone of users who have none),
 *                                              "remove_bot_clicks": bool}: either or both
 *   GET  /admin/apps              brasa.marketing  the workspace's apps
 *   POST /admin/apps              brasa.keys  {"name", "platform"} -> 201 {"app_id"}
 *
 * Braze creates campaigns in its dashboard; brasa's admin routes (and the
 * CLI, cli/campaigns.c, through the same store ops) do it here. */
#include "api.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../lib/timefmt.h"
#include "../liquid/liquid.h"
#include "../send/campaign.h"
#include "../store/keys.h"
#include "../store/messaging.h"
#include "../store/segments.h"
#include "campaigns.h"
#include "templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE 100
#define DAY_MS 86400000LL
#define SEND_IDS_PER_DAY 100

typedef struct {
    eng_cmd cmd;
    char id[65];
    const char *send_id; /* sends: the one asked about */
    char new_send_id[65];
    int page;
    bool desc, archived;
    int64_t edited_after, from_day, to_day;
    api_campaign_write w;
    json_object *out;
    char why[400];
} camp_req;

static void camp_req_free(void *p) {
    camp_req *s = p;
    json_object_put(s->out);
    json_object_put(s->w.doc);
}

static camp_req *state(http_req *r) { return http_state(r, sizeof(camp_req), camp_req_free); }

static int fail(http_req *r, camp_req *s, int rc) {
    if (rc == BR_ENOTFOUND || rc == BR_EINVAL || rc == BR_ECAMPAIGNID || rc == BR_EEXISTS || rc == BR_ERATE)
        return http_error(r, rc == BR_ENOTFOUND ? BR_ECAMPAIGNID : rc, s->why);
    return rc;
}

/* A campaign id from the query or the path; 0, or -1 with the answer set. */
static int take_id(http_req *r, camp_req *s, const char *v, const char *what) {
    if (!v || !*v) return http_error(r, BR_ECAMPAIGNID, what), -1;
    if (strlen(v) > 64) return http_error(r, BR_ECAMPAIGNID, "not a campaign id"), -1;
    snprintf(s->id, sizeof s->id, "%s", v);
    snprintf(s->why, sizeof s->why, "no campaign with id '%s'", s->id);
    return 0;
}

/* The same from an admin path, where a campaign that is not there is a
 * 404 whatever its id looks like. */
static int take_path_id(http_req *r, camp_req *s) {
    const char *v = http_param(r, "id");
    if (!v || !*v || strlen(v) > 64) return http_error(r, BR_ENOTFOUND, "no such campaign"), -1;
    return take_id(r, s, v, NULL);
}

/* ---- the write and the view, shared with the CLI ------------------------- */

json_object *api_campaign_view(json_object *doc, int64_t first_sent, int64_t last_sent) {
    json_object_object_add(doc, "created_at", json_time(json_object_get_int64(json_get(doc, "created_at"))));
    json_object_object_add(doc, "updated_at", json_time(json_object_get_int64(json_get(doc, "updated_at"))));
    json_object_object_add(doc, "first_sent", json_time_or_null(first_sent));
    json_object_object_add(doc, "last_sent", json_time_or_null(last_sent));
    return doc;
}

int api_campaign_write_op(sqlite3 *db, void *arg) {
    api_campaign_write *w = arg;
    json_object *old = NULL;
    int rc;
    if (w->id) {
        store_campaign_row row;
        if ((rc = store_campaign_get(db, w->id, &row)) == BR_ENOTFOUND) {
            snprintf(w->why, sizeof w->why, "no campaign with id '%.64s'", w->id);
            return rc;
        }
        if (rc < 0) return rc;
        old = json_parse(row.doc, strlen(row.doc));
        w->first_sent = row.first_sent;
        w->last_sent = row.last_sent;
        store_campaign_row_free(&row);
        if (!old) return BR_ESTORE;
    }
    rc = camp_build(w->body, old, w->now_ms, &w->doc, w->why, sizeof w->why);
    json_object_put(old);
    if (rc < 0) return rc;
    json_object *vs = json_get(w->doc, "variations");
    for (size_t i = 0; i < json_object_array_length(vs) && rc == 0; i++) {
        char pre[48];
        snprintf(pre, sizeof pre, "variations[%zu].content", i);
        json_object *c = json_get(json_object_array_get_idx(vs, i), "content");
        if (c && !strcmp(json_object_get_string(json_get(json_object_array_get_idx(vs, i), "channel")), "email"))
            rc = api_template_apply(db, c, pre, w->why, sizeof w->why);
    }
    if (rc < 0) return rc;
    const char *seg = json_object_get_string(json_get(w->doc, "segment_id"));
    store_segment_row sr;
    if (seg && (rc = store_segment_get(db, seg, &sr)) == 0) store_segment_row_free(&sr);
    if (seg && rc == BR_ENOTFOUND) {
        snprintf(w->why, sizeof w->why, "segment_id: no segment with id '%.64s'", seg);
        return BR_EINVAL;
    }
    if (seg && rc < 0) return rc;
    return store_campaign_put(db, camp_id(w->doc), json_object_get_string(json_get(w->doc, "name")), camp_kind(w->doc),
                              json_object_get_boolean(json_get(w->doc, "archived")), json_text(w->doc, NULL),
                              json_object_get_int64(json_get(w->doc, "created_at")),
                              json_object_get_int64(json_get(w->doc, "updated_at")));
}

int api_app_create_op(sqlite3 *db, void *arg) {
    api_app_create *a = arg;
    secret_new_key(a->app_id);
    return store_app_insert(db, a->app_id, a->name, a->platform, a->now_ms);
}

int api_app_parse(json_object *b, api_app_create *a, char *why, size_t whylen) {
    static const char *const platforms[] = {"ios", "android", "web", "kindle", "tvos", "roku", "other"};
    const char *n = json_object_get_string(json_get(b, "name")), *p = json_object_get_string(json_get(b, "platform"));
    if (!json_object_is_type(b, json_type_object)) return snprintf(why, whylen, "the body must be a JSON object"), BR_EINVAL;
    json_object_object_foreach(b, key, val) {
        (void)val;
        if (strcmp(key, "name") && strcmp(key, "platform") && strcmp(key, "api_key"))
            return snprintf(why, whylen, "unknown field '%.60s'", key), BR_EINVAL;
    }
    if (!json_object_is_type(json_get(b, "name"), json_type_string) || !*n || strlen(n) > 255)
        return snprintf(why, whylen, "'name' must be a string of 1 to 255 bytes"), BR_EINVAL;
    if (!p) p = "web";
    size_t i = 0;
    while (i < sizeof platforms / sizeof *platforms && strcmp(p, platforms[i])) i++;
    if (i == sizeof platforms / sizeof *platforms)
        return snprintf(why, whylen, "'platform' must be one of ios, android, web, kindle, tvos, roku, other"), BR_EINVAL;
    a->name = n;
    a->platform = p;
    return 0;
}

/* ---- admin: campaigns ---------------------------------------------------- */

static int written(http_req *r, int rc) {
    camp_req *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) return http_error(r, BR_ENOTFOUND, s->w.why);
    if (rc == BR_EINVAL || rc == BR_ETPLID) return http_error(r, rc, s->w.why);
    if (rc < 0) return rc;
    if (!s->w.id) return http_reply(r, 201, camp_created_json(s->w.doc));
    return http_reply(r, 200, api_campaign_view(json_object_get(s->w.doc), s->w.first_sent, s->w.last_sent));
}

static int admin_create(http_req *r) {
    camp_req *s = state(r);
    s->w = (api_campaign_write){.body = http_body(r), .now_ms = clock_wall_ms()};
    return api_store(r, &s->cmd, api_campaign_write_op, &s->w, written);
}

static int admin_update(http_req *r) {
    camp_req *s = state(r);
    if (take_path_id(r, s) < 0) return 0;
    s->w = (api_campaign_write){.id = s->id, .body = http_body(r), .now_ms = clock_wall_ms()};
    return api_store(r, &s->cmd, api_campaign_write_op, &s->w, written);
}

static int get_one_read(engine_t *e, void *arg) {
    camp_req *s = arg;
    store_campaign_row row;
    int rc = store_campaign_get(engine_reader(e), s->id, &row);
    if (rc < 0) return rc;
    s->out = json_parse(row.doc, strlen(row.doc));
    if (s->out) api_campaign_view(s->out, row.first_sent, row.last_sent);
    store_campaign_row_free(&row);
    return s->out ? 0 : BR_ESTORE;
}

static int one_done(http_req *r, int rc) {
    camp_req *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) return http_error(r, BR_ENOTFOUND, s->why);
    if (rc < 0) return rc;
    return http_reply(r, 200, json_object_get(s->out));
}

static int admin_get(http_req *r) {
    camp_req *s = state(r);
    if (take_path_id(r, s) < 0) return 0;
    return api_read(r, &s->cmd, get_one_read, s, one_done);
}

/* ---- lists --------------------------------------------------------------- */

static int list_read(engine_t *e, void *arg) {
    camp_req *s = arg;
    store_campaign_row *rows;
    int n, rc = store_campaign_list(engine_reader(e), s->archived, s->desc, s->edited_after,
                                    s->page >= 0 ? s->page * LIST_PAGE : 0, s->page >= 0 ? LIST_PAGE : -1, &rows, &n);
    if (rc < 0) return rc;
    s->out = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *doc = json_parse(rows[i].doc, strlen(rows[i].doc)), *o;
        if (!doc) continue;
        if (s->page >= 0) { /* Braze's shape */
            char t[40];
            timefmt_braze(rows[i].updated_at, t, sizeof t);
            o = json_object_new_object();
            json_object_object_add(o, "id", json_object_new_string(rows[i].id));
            json_object_object_add(o, "last_edited", json_object_new_string(t));
            json_object_object_add(o, "name", json_object_get(json_get(doc, "name")));
            json_object_object_add(o, "is_api_campaign", json_object_new_boolean(1));
            json_object_object_add(o, "tags", json_object_get(json_get(doc, "tags")));
            json_object_put(doc);
        } else o = api_campaign_view(doc, rows[i].first_sent, rows[i].last_sent);
        json_object_array_add(s->out, o);
    }
    store_campaign_rows_free(rows, n);
    return 0;
}

static int list_done(http_req *r, int rc) {
    camp_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = api_success();
    json_object_object_add(o, "campaigns", json_object_get(s->out));
    return http_reply(r, 200, o);
}

static int get_list(http_req *r) {
    camp_req *s = state(r);
    const char *a = http_query(r, "include_archived"), *t = http_query(r, "last_edit.time[gt]");
    if (api_query_page(r, &s->page, &s->desc) < 0) return 0;
    if (a && strcmp(a, "true") && strcmp(a, "false")) return http_error(r, BR_EINVAL, "'include_archived' must be true or false");
    s->archived = a && !strcmp(a, "true");
    s->edited_after = INT64_MIN;
    int year;
    if (t && timefmt_parse(t, strlen(t), &s->edited_after, &year) < 0)
        return http_error(r, BR_EINVAL, "'last_edit.time[gt]' must be an ISO 8601 time");
    return api_read(r, &s->cmd, list_read, s, list_done);
}

static int admin_list(http_req *r) {
    camp_req *s = state(r);
    const char *a = http_query(r, "archived");
    if (a && strcmp(a, "true") && strcmp(a, "false")) return http_error(r, BR_EINVAL, "'archived' must be true or false");
    s->archived = a && !strcmp(a, "true");
    s->page = -1;
    s->edited_after = INT64_MIN;
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* ---- GET /campaigns/details ---------------------------------------------- */

static int details_read(engine_t *e, void *arg) {
    camp_req *s = arg;
    store_campaign_row row;
    int rc = store_campaign_get(engine_reader(e), s->id, &row);
    if (rc < 0) return rc;
    json_object *doc = json_parse(row.doc, strlen(row.doc));
    if (doc) {
        s->out = api_success();
        json_object *d = camp_details_json(doc, row.first_sent, row.last_sent);
        json_object_object_foreach(d, k, v) json_object_object_add(s->out, k, json_object_get(v));
        json_object_put(d);
    }
    json_object_put(doc);
    store_campaign_row_free(&row);
    return s->out ? 0 : BR_ESTORE;
}

static int details_done(http_req *r, int rc) {
    camp_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    return http_reply(r, 200, json_object_get(s->out));
}

static int get_details(http_req *r) {
    camp_req *s = state(r);
    if (take_id(r, s, http_query(r, "campaign_id"), "'campaign_id' is required") < 0) return 0;
    return api_read(r, &s->cmd, details_read, s, details_done);
}

/* ---- data series ---------------------------------------------------------- */

static void add_int(json_object *o, const char *k, int64_t v) { json_object_object_add(o, k, json_object_new_int64(v)); }

/* One day's entry: rows of that day per channel, and the day's totals. */
static json_object *day_entry(json_object *doc, int64_t day, store_stat_row *rows, int n, bool sends) {
    json_object *o = json_object_new_object(), *msgs = json_object_new_object();
    char t[16];
    timefmt_date(day, t, sizeof t);
    json_object_object_add(o, "time", json_object_new_string(t));
    json_object_object_add(o, "messages", msgs);
    json_object *chs = json_get(doc, "channels");
    for (size_t i = 0; i < json_object_array_length(chs); i++)
        json_object_object_add(msgs, json_object_get_string(json_object_array_get_idx(chs, i)), json_object_new_array());
    int64_t uniq = 0, conv[4] = {0};
    double revenue = 0;
    for (int i = 0; i < n; i++) {
        store_stat_row *r = &rows[i];
        json_object *row = json_object_new_object(), *list = json_get(msgs, r->channel);
        if (!list) json_object_object_add(msgs, r->channel, list = json_object_new_array());
        bool ctl = false;
        json_object *var = *r->variation_id ? camp_variation(doc, r->variation_id, &ctl) : NULL;
        const char *vname = ctl ? "Control" : var ? json_object_get_string(json_get(var, "name")) : NULL;
        json_object_object_add(row, sends ? "variation_name" : "variation_api_id",
                               json_object_new_string(sends ? (vname ? vname : "") : r->variation_id));
        if (!sends && vname) json_object_object_add(row, "variation_name", json_object_new_string(vname));
        if (ctl) {
            /* Control users convert too (for lift): shown in their row,
             * not in the day's totals, which count recipients. */
            add_int(row, "enrolled", r->enrolled);
            add_int(row, "conversions", r->conversions[0]);
            json_object_object_add(row, "revenue", json_object_new_double(r->revenue));
        }
        else if (!strcmp(r->channel, "webhook")) {
            add_int(row, "sent", r->sent);
            add_int(row, "errors", r->errors);
        } else {
            /* sent: offered to the relay; delivered: it accepted; bounces: it refused for good */
            static const char *const email[] = STORE_EMAIL_STATS;
            add_int(row, "sent", r->sent + r->errors + r->bounces);
            add_int(row, "delivered", r->sent);
            add_int(row, "bounces", r->bounces);
            for (size_t k = 0; k < sizeof email / sizeof *email; k++) add_int(row, email[k], r->email[k]);
            add_int(row, "reported_spam", 0); /* no feedback loop reports spam to brasa */
        }
        if (sends) add_int(row, "unique_recipients", r->unique_recipients);
        if (sends && !ctl) { /* the control row has them already */
            add_int(row, "conversions", r->conversions[0]);
            json_object_object_add(row, "revenue", json_object_new_double(r->revenue));
        }
        json_object_array_add(list, row);
        uniq += r->unique_recipients;
        if (ctl) continue;
        for (int k = 0; k < 4; k++) conv[k] += r->conversions[k];
        revenue += r->revenue;
    }
    int nconv = (int)json_object_array_length(json_get(doc, "conversion_events"));
    static const char *const cn[] = {"conversions", "conversions1", "conversions2", "conversions3"};
    /* By send time: the same numbers as by conversion time for now (the
     * day of a conversion, not of the message it converts). */
    for (int k = 0; k < (nconv ? nconv : 1); k++) {
        char bt[40];
        snprintf(bt, sizeof bt, "%s_by_send_time", cn[k]);
        add_int(o, cn[k], conv[k]);
        add_int(o, bt, conv[k]);
    }
    add_int(o, "unique_recipients", uniq);
    json_object_object_add(o, "revenue", json_object_new_double(revenue));
    return o;
}

static int series_read(engine_t *e, void *arg) {
    camp_req *s = arg;
    sqlite3 *db = engine_reader(e);
    store_campaign_row row;
    int rc = store_campaign_get(db, s->id, &row);
    if (rc < 0) return rc;
    json_object *doc = json_parse(row.doc, strlen(row.doc));
    store_campaign_row_free(&row);
    if (!doc) return BR_ESTORE;
    if (s->send_id && store_send_id_exists(db, s->id, s->send_id) == BR_ENOTFOUND) {
        snprintf(s->why, sizeof s->why, "no send_id '%.64s' for campaign '%s'", s->send_id, s->id);
        json_object_put(doc);
        return BR_EINVAL;
    }
    store_stat_row *rows;
    int n;
    if ((rc = store_msg_stats(db, s->id, s->send_id, s->from_day, s->to_day, &rows, &n)) < 0) {
        json_object_put(doc);
        return rc;
    }
    s->out = json_object_new_array();
    for (int64_t d = s->from_day, i = 0; d <= s->to_day; d++) {
        int64_t j = i;
        while (j < n && rows[j].day == d) j++;
        json_object_array_add(s->out, day_entry(doc, d, rows + i, (int)(j - i), s->send_id != NULL));
        i = j;
    }
    store_stat_rows_free(rows, n);
    json_object_put(doc);
    return 0;
}

static int series_done(http_req *r, int rc) {
    camp_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    json_object *o = api_success();
    json_object_object_add(o, "data", json_object_get(s->out));
    return http_reply(r, 200, o);
}

static int series(http_req *r, bool sends) {
    camp_req *s = state(r);
    if (take_id(r, s, http_query(r, "campaign_id"), "'campaign_id' is required") < 0) return 0;
    if (sends) {
        s->send_id = http_query(r, "send_id");
        if (!s->send_id || !*s->send_id || strlen(s->send_id) > 64)
            return http_error(r, BR_EINVAL, "'send_id' is required (a string of at most 64 characters)");
    }
    const char *e = http_query(r, "ending_at");
    long len;
    if (api_query_length(r, &len) < 0) return 0;
    int64_t at = clock_wall_ms();
    int year;
    if (e && timefmt_parse(e, strlen(e), &at, &year) < 0) return http_error(r, BR_EINVAL, "'ending_at' must be an ISO 8601 time");
    s->to_day = at / DAY_MS;
    s->from_day = s->to_day - len + 1;
    return api_read(r, &s->cmd, series_read, s, series_done);
}

static int get_series(http_req *r) { return series(r, false); }
static int get_send_series(http_req *r) { return series(r, true); }

/* ---- POST /sends/id/create ----------------------------------------------- */

static int send_id_op(sqlite3 *db, void *arg) {
    camp_req *s = arg;
    store_campaign_row row;
    int rc = store_campaign_get(db, s->id, &row);
    if (rc < 0) return rc;
    json_object *doc = json_parse(row.doc, strlen(row.doc));
    store_campaign_row_free(&row);
    bool api = doc && !strcmp(camp_kind(doc), "api");
    if (!api)
        snprintf(s->why, sizeof s->why, "send ids are for API campaigns; '%s' is %s", s->id,
                 doc && camp_is_transactional(doc) ? "transactional" : "API-triggered");
    json_object_put(doc);
    if (!api) return BR_ECAMPAIGNID;
    int64_t now = clock_wall_ms();
    rc = store_send_id_create(db, s->id, s->new_send_id, now, now / DAY_MS * DAY_MS, SEND_IDS_PER_DAY);
    if (rc == BR_EEXISTS) snprintf(s->why, sizeof s->why, "send_id '%s' exists already for this campaign", s->new_send_id);
    if (rc == BR_ERATE) snprintf(s->why, sizeof s->why, "at most %d send ids can be created a day", SEND_IDS_PER_DAY);
    if (rc == BR_EEXISTS) rc = BR_EINVAL;
    return rc;
}

static int send_id_done(http_req *r, int rc) {
    camp_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    json_object *o = api_success();
    json_object_object_add(o, "send_id", json_object_new_string(s->new_send_id));
    return http_reply(r, 201, o);
}

static int post_send_id(http_req *r) {
    camp_req *s = state(r);
    json_object *b = http_body(r), *c = json_get(b, "campaign_id"), *v = json_get(b, "send_id");
    if (!json_object_is_type(b, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object");
    if (!json_object_is_type(c, json_type_string)) return http_error(r, BR_ECAMPAIGNID, "'campaign_id' is required (a string)");
    json_object_object_foreach(b, key, val) {
        (void)val;
        if (strcmp(key, "campaign_id") && strcmp(key, "send_id") && strcmp(key, "api_key")) { /* api_key: legacy auth */
            snprintf(s->why, sizeof s->why, "unknown field '%.60s'", key);
            return http_error(r, BR_EINVAL, s->why);
        }
    }
    if (take_id(r, s, json_object_get_string(c), "'campaign_id' is required") < 0) return 0;
    if (v) {
        const char *p = json_object_get_string(v);
        bool ok = json_object_is_type(v, json_type_string) && *p && strlen(p) <= 64;
        for (const unsigned char *q = (const unsigned char *)p; ok && *q; q++) ok = *q >= 0x20 && *q <= 0x7e;
        if (!ok) return http_error(r, BR_EINVAL, "'send_id' must be a string of 1 to 64 printable ASCII characters");
        snprintf(s->new_send_id, sizeof s->new_send_id, "%s", p);
    } else secret_new_key(s->new_send_id);
    return api_store(r, &s->cmd, send_id_op, s, send_id_done);
}

/* ---- admin: apps --------------------------------------------------------- */

typedef struct {
    eng_cmd cmd;
    api_app_create a;
    char *list;
} app_req;

static void app_req_free(void *p) { free(((app_req *)p)->list); }

static int app_created(http_req *r, int rc) {
    app_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "app_id", json_object_new_string(s->a.app_id));
    json_object_object_add(o, "name", json_object_new_string(s->a.name));
    json_object_object_add(o, "platform", json_object_new_string(s->a.platform));
    return http_reply(r, 201, o);
}

static int admin_app_create(http_req *r) {
    app_req *s = http_state(r, sizeof *s, app_req_free);
    char why[160];
    int rc = api_app_parse(http_body(r), &s->a, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    s->a.now_ms = clock_wall_ms();
    return api_store(r, &s->cmd, api_app_create_op, &s->a, app_created);
}

static int apps_read(engine_t *e, void *arg) { return store_app_list(engine_reader(e), &((app_req *)arg)->list); }

static int apps_done(http_req *r, int rc) {
    app_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *l = json_parse(s->list, strlen(s->list));
    json_object_object_add(o, "apps", l ? l : json_object_new_array());
    return http_reply(r, 200, o);
}

static int admin_apps(http_req *r) {
    app_req *s = http_state(r, sizeof *s, app_req_free);
    return api_read(r, &s->cmd, apps_read, s, apps_done);
}

/* ---- admin: frequency caps ------------------------------------------------ */

typedef struct {
    eng_cmd cmd;
    store_cap caps[STORE_CAPS_MAX];
    int n;
} caps_req;

static int caps_read(engine_t *e, void *arg) {
    caps_req *c = arg;
    return store_caps_get(engine_reader(e), c->caps, &c->n);
}

static int caps_write_op(sqlite3 *db, void *arg) {
    caps_req *c = arg;
    return store_caps_set(db, c->caps, c->n);
}

static int caps_done(http_req *r, int rc) {
    caps_req *c = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    for (int i = 0; i < c->n; i++) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "channel", json_object_new_string(c->caps[i].channel));
        json_object_object_add(x, "max_messages", json_object_new_int64(c->caps[i].max_messages));
        json_object_object_add(x, "period_hours", json_object_new_int64(c->caps[i].period_hours));
        json_object_array_add(a, x);
    }
    json_object_object_add(o, "rules", a);
    return http_reply(r, 200, o);
}

static int admin_caps(http_req *r) {
    caps_req *c = http_state(r, sizeof *c, NULL);
    return api_read(r, &c->cmd, caps_read, c, caps_done);
}

static int admin_caps_set(http_req *r) {
    caps_req *c = http_state(r, sizeof *c, NULL);
    json_object *rules = json_get(http_body(r), "rules");
    char why[200];
    static const char *const fields[] = {"rules", NULL};
    if (api_body_fields(r, fields) < 0) return 0;
    if (!json_object_is_type(rules, json_type_array) || json_object_array_length(rules) > STORE_CAPS_MAX)
        return snprintf(why, sizeof why, "'rules' must be an array of at most %d rules", STORE_CAPS_MAX), http_error(r, BR_EINVAL, why);
    for (size_t i = 0; i < json_object_array_length(rules); i++) {
        json_object *x = json_object_array_get_idx(rules, i), *ch = json_get(x, "channel"), *m = json_get(x, "max_messages"),
                    *p = json_get(x, "period_hours");
        const char *cs = json_object_get_string(ch);
        if (!json_object_is_type(x, json_type_object) || json_object_object_length(x) != 3 ||
            !json_object_is_type(ch, json_type_string) || (strcmp(cs, "webhook") && strcmp(cs, "email") && strcmp(cs, "any")) ||
            !json_object_is_type(m, json_type_int) || json_object_get_int64(m) < 1 || json_object_get_int64(m) > 1000000 ||
            !json_object_is_type(p, json_type_int) || json_object_get_int64(p) < 1 || json_object_get_int64(p) > STORE_CAP_HOURS_MAX)
            return snprintf(why, sizeof why,
                            "rules[%zu] must be {\"channel\": \"webhook\"|\"email\"|\"any\", \"max_messages\": 1 to 1000000, "
                            "\"period_hours\": 1 to %d}", i, STORE_CAP_HOURS_MAX),
                   http_error(r, BR_EINVAL, why);
        snprintf(c->caps[i].channel, sizeof c->caps[i].channel, "%s", cs);
        c->caps[i].max_messages = json_object_get_int64(m);
        c->caps[i].period_hours = json_object_get_int64(p);
    }
    c->n = (int)json_object_array_length(rules);
    return api_store(r, &c->cmd, caps_write_op, c, caps_done);
}

/* ---- workspace settings -------------------------------------------------- */

typedef struct {
    eng_cmd cmd;
    char zone[64];    /* "": keep */
    int remove_bots;  /* Braze's "Remove bot clicks" (api/tracking.c): 0, 1; -1: keep */
} ws_req;

static int ws_read(engine_t *e, void *arg) {
    ws_req *w = arg;
    char *v = NULL;
    int rc = store_meta_get(engine_reader(e), "remove_bot_clicks", &v);
    w->remove_bots = rc == 0 && !strcmp(v, "1");
    free(v);
    if (rc < 0 && rc != BR_ENOTFOUND) return rc;
    return store_time_zone(engine_reader(e), w->zone, sizeof w->zone);
}

static int ws_write_op(sqlite3 *db, void *arg) {
    ws_req *w = arg;
    int rc = 0;
    if (*w->zone) rc = store_meta_set(db, "time_zone", w->zone);
    if (rc == 0 && w->remove_bots >= 0) rc = store_meta_set(db, "remove_bot_clicks", w->remove_bots ? "1" : "0");
    return rc;
}

static int ws_done(http_req *r, int rc) {
    ws_req *w = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "time_zone", json_object_new_string(w->zone));
    json_object_object_add(o, "remove_bot_clicks", json_object_new_boolean(w->remove_bots));
    return http_reply(r, 200, o);
}

static int admin_workspace(http_req *r) {
    ws_req *w = http_state(r, sizeof *w, NULL);
    return api_read(r, &w->cmd, ws_read, w, ws_done);
}

/* The answer is the settings as they are after the write. */
static int ws_written(http_req *r, int rc) {
    ws_req *w = http_state_get(r);
    if (rc < 0) return rc;
    return api_read(r, &w->cmd, ws_read, w, ws_done);
}

static int admin_workspace_set(http_req *r) {
    ws_req *w = http_state(r, sizeof *w, NULL);
    json_object *b = http_body(r), *z = json_get(b, "time_zone"), *rb = json_get(b, "remove_bot_clicks");
    static const char *const fields[] = {"time_zone", "remove_bot_clicks", NULL};
    if (api_body_fields(r, fields) < 0) return 0;
    if (!z && !rb) return http_error(r, BR_EINVAL, "give 'time_zone' or 'remove_bot_clicks' to change");
    size_t n = 0;
    const char *zs = json_object_is_type(z, json_type_string) ? json_strlen(z, &n) : NULL;
    if (z && (!zs || n >= sizeof w->zone || !liq_tz_get(zs, n)))
        return http_error(r, BR_EINVAL, "'time_zone' must be an IANA time zone name such as America/New_York");
    if (rb && !json_object_is_type(rb, json_type_boolean))
        return http_error(r, BR_EINVAL, "'remove_bot_clicks' must be true or false");
    if (zs) memcpy(w->zone, zs, n + 1);
    w->remove_bots = rb ? json_object_get_boolean(rb) : -1;
    return api_store(r, &w->cmd, ws_write_op, w, ws_written);
}

const http_route api_campaigns_routes[] = {
    {"GET", "/campaigns/list", PERM_CAMPAIGNS_LIST, RL_DEFAULT, get_list, 0},
    {"GET", "/campaigns/details", PERM_CAMPAIGNS_DETAILS, RL_DEFAULT, get_details, 0},
    {"GET", "/campaigns/data_series", PERM_CAMPAIGNS_DATA_SERIES, RL_CAMPAIGNS_DATA_SERIES, get_series, 0},
    {"POST", "/sends/id/create", PERM_SENDS_ID_CREATE, RL_DEFAULT, post_send_id, 0},
    {"GET", "/sends/data_series", PERM_SENDS_DATA_SERIES, RL_DEFAULT, get_send_series, 0},
    {"GET", "/admin/campaigns", PERM_BRASA_MARKETING, RL_DEFAULT, admin_list, 0},
    {"POST", "/admin/campaigns", PERM_BRASA_MARKETING, RL_DEFAULT, admin_create, 0},
    {"GET", "/admin/campaigns/{id}", PERM_BRASA_MARKETING, RL_DEFAULT, admin_get, 0},
    {"POST", "/admin/campaigns/{id}", PERM_BRASA_MARKETING, RL_DEFAULT, admin_update, 0},
    {"GET", "/admin/frequency_caps", PERM_BRASA_MARKETING, RL_DEFAULT, admin_caps, 0},
    {"POST", "/admin/frequency_caps", PERM_BRASA_MARKETING, RL_DEFAULT, admin_caps_set, 0},
    {"GET", "/admin/workspace", PERM_BRASA_MARKETING, RL_DEFAULT, admin_workspace, 0},
    {"POST", "/admin/workspace", PERM_BRASA_KEYS, RL_DEFAULT, admin_workspace_set, 0},
    {"GET", "/admin/apps", PERM_BRASA_MARKETING, RL_DEFAULT, admin_apps, 0},
    {"POST", "/admin/apps", PERM_BRASA_KEYS, RL_DEFAULT, admin_app_create, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
