/* messages.c -- Braze's messaging endpoints.
 *
 *   POST /messages/send                         messages.send                     send now
 *   POST /messages/schedule/create              messages.schedule.create          send later
 *   POST /messages/schedule/update              messages.schedule.update          change it before it goes
 *   POST /messages/schedule/delete              messages.schedule.delete          cancel it
 *   GET  /messages/scheduled_broadcasts         messages.schedule_broadcasts      what is scheduled until end_time
 *   POST /campaigns/trigger/send                campaigns.trigger.send            an API-triggered campaign, now
 *   POST /campaigns/trigger/schedule/create     campaigns.trigger.schedule.create ... later
 *   POST /campaigns/trigger/schedule/update     campaigns.trigger.schedule.update
 *   POST /campaigns/trigger/schedule/delete     campaigns.trigger.schedule.delete
 *   GET  /admin/dispatches/{id}                 brasa.marketing                        a dispatch's progress
 *
 * A body is checked here, field by field, into the request shape of
 * send/dispatch.h; nothing is sent unless all of it is valid. A send then
 * runs as steps of one request: an engine read checks the campaign, the
 * recipients' attributes are applied as /users/track would (when there
 * are any), an engine read fixes the audience, and a store op writes the
 * dispatch; 201 comes once that is durable, and the dispatcher delivers
 * (send/dispatch.h). A schedule is written the same way and becomes a
 * dispatch when its time comes (send/sched.h). */
#include "api.h"
#include "parse.h"
#include "templates.h"
#include "../core/audience.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../lib/timefmt.h"
#include "../send/dispatch.h"
#include "../send/message.h"
#include "../send/sched.h"
#include "../send/timing.h"
#include "../store/keys.h"
#include "../store/messaging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECIPIENTS 50
#define TRIGGER_PROPS_MAX (50 << 10)
#define SEND_ID_MAX 64

enum { K_SEND, K_SCHED_CREATE, K_SCHED_UPDATE, K_SCHED_DELETE };

typedef struct {
    eng_cmd cmd;
    int kind;
    bool trigger;
    json_object *req;      /* the checked request */
    json_object *campaign; /* from the check */
    char id[DSP_ID_LEN + 1];
    char schedule_id[SECRET_KEY_LEN + 1];
    dsp_new n;
    track_cmd track;
    api_track_result tres;
    bool has_track;
    store_schedule_row srow;
    int64_t now_ms, end_ms;
    json_object *out;
    char zone[64]; /* the workspace's time zone */
    bool email_ok; /* the server has an email relay */
    char why[400];
} msg_req;

static void msg_req_free(void *p) {
    msg_req *s = p;
    json_object_put(s->req);
    json_object_put(s->campaign);
    dsp_new_clear(&s->n);
    if (s->has_track) track_cmd_free(&s->track);
    json_object_put(s->tres.errors);
    store_schedule_row_free(&s->srow);
    json_object_put(s->out);
}

static msg_req *state(http_req *r) {
    msg_req *s = http_state(r, sizeof(msg_req), msg_req_free);
    s->email_ok = dsp_delivers(http_context(r)->dispatcher, CH_EMAIL);
    return s;
}

#define NO_RELAY "no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)"

/* ---- checking a body ----------------------------------------------------- */

#define FAIL(code, ...)                     \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return code;                        \
    } while (0)

static bool is_str(json_object *v) { return json_object_is_type(v, json_type_string); }
static bool is_bool(json_object *v) { return json_object_is_type(v, json_type_boolean); }

/* The first key of o not in known (NULL-terminated), or NULL. "api_key"
 * is known everywhere: legacy clients authenticate with it in the body
 * (http/server.c). */
static const char *unknown_key(json_object *o, const char *const *known) {
    json_object_object_foreach(o, key, val) {
        (void)val;
        size_t i = 0;
        while (known[i] && strcmp(key, known[i])) i++;
        if (!known[i] && strcmp(key, "api_key")) return key;
    }
    return NULL;
}

static int check_id(json_object *v, const char *field, char *why, size_t whylen) {
    if (!is_str(v) || !json_object_get_string_len(v) || json_object_get_string_len(v) > 64)
        FAIL(BR_EINVAL, "'%s' must be a string of 1 to 64 bytes", field);
    return 0;
}

/* A send id: ASCII, at most 64 characters. */
static int check_send_id(json_object *v, char *why, size_t whylen) {
    if (!is_str(v) || !json_object_get_string_len(v) || json_object_get_string_len(v) > SEND_ID_MAX)
        FAIL(BR_EINVAL, "'send_id' must be a string of 1 to %d ASCII characters", SEND_ID_MAX);
    for (const unsigned char *p = (const unsigned char *)json_object_get_string(v); *p; p++)
        if (*p < 0x20 || *p > 0x7e) FAIL(BR_EINVAL, "'send_id' must be printable ASCII");
    return 0;
}

static int check_alias(json_object *a, const char *field, char *why, size_t whylen) {
    json_object *n = json_get(a, "alias_name"), *l = json_get(a, "alias_label");
    if (!json_object_is_type(a, json_type_object) || !is_str(n) || !is_str(l) || !json_object_get_string_len(n) ||
        !json_object_get_string_len(l))
        FAIL(BR_EINVAL, "%s must be an object with string alias_name and alias_label", field);
    return 0;
}

static int prio_bits(json_object *p, size_t ri, char *why, size_t whylen, int *out) {
    *out = 0;
    if (!json_object_is_type(p, json_type_array) || !json_object_array_length(p))
        FAIL(BR_EINVAL, "recipients[%zu].prioritization (an array) is required with 'email'", ri);
    for (size_t i = 0; i < json_object_array_length(p); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(p, i));
        if (!is_str(json_object_array_get_idx(p, i)))
            FAIL(BR_EINVAL, "recipients[%zu].prioritization must be an array of strings", ri);
        if (!strcmp(s, "identified")) *out |= PRIO_IDENTIFIED;
        else if (!strcmp(s, "unidentified")) *out |= PRIO_UNIDENTIFIED;
        else if (!strcmp(s, "most_recently_updated")) *out |= PRIO_RECENT;
        else if (!strcmp(s, "least_recently_updated")) *out |= PRIO_LEAST;
        else
            FAIL(BR_EINVAL,
                 "recipients[%zu].prioritization: '%.60s' is not identified, unidentified, most_recently_updated or "
                 "least_recently_updated", ri, s);
    }
    return 0;
}

static int check_props(json_object *v, const char *field, char *why, size_t whylen) {
    if (!json_object_is_type(v, json_type_object)) FAIL(BR_EINVAL, "'%s' must be an object", field);
    size_t n;
    json_text(v, &n);
    if (n > TRIGGER_PROPS_MAX) FAIL(BR_EINVAL, "'%s' is larger than 50 KB", field);
    return 0;
}

/* One recipients object into out (and the /users/track object its
 * attributes make into attrs, or none). */
static int check_recipient(json_object *r, size_t i, json_object *out, json_object *attrs, char *why, size_t whylen) {
    char f[64];
    if (!json_object_is_type(r, json_type_object)) FAIL(BR_EINVAL, "recipients[%zu] must be an object", i);
    static const char *const ids[] = {"external_user_id", "user_alias", "braze_id", "email"};
    int given = 0;
    json_object *idv = NULL;
    const char *idk = NULL;
    for (int k = 0; k < 4; k++)
        if (json_get(r, ids[k])) given++, idk = ids[k], idv = json_get(r, ids[k]);
    if (given != 1)
        FAIL(BR_EINVAL, "recipients[%zu] needs exactly one of external_user_id, user_alias, braze_id or email", i);
    json_object_object_foreach(r, key, val) {
        (void)val;
        if (strcmp(key, "external_user_id") && strcmp(key, "user_alias") && strcmp(key, "braze_id") && strcmp(key, "email") &&
            strcmp(key, "prioritization") && strcmp(key, "trigger_properties") && strcmp(key, "send_to_existing_only") &&
            strcmp(key, "attributes") && strcmp(key, "context") && strcmp(key, "canvas_entry_properties"))
            FAIL(BR_EINVAL, "recipients[%zu]: unknown field '%.60s'", i, key);
    }
    int rc;
    snprintf(f, sizeof f, "recipients[%zu].%s", i, idk);
    if (!strcmp(idk, "user_alias")) {
        if ((rc = check_alias(idv, f, why, whylen)) < 0) return rc;
    } else if (!is_str(idv) || !json_object_get_string_len(idv) || json_object_get_string_len(idv) > 512)
        FAIL(BR_EINVAL, "%s must be a non-empty string", f);
    json_object_object_add(out, idk, json_object_get(idv));
    if (!strcmp(idk, "email")) {
        int prio;
        if ((rc = prio_bits(json_get(r, "prioritization"), i, why, whylen, &prio)) < 0) return rc;
        json_object_object_add(out, "prio", json_object_new_int(prio));
    }
    json_object *v;
    if ((v = json_get(r, "trigger_properties"))) {
        snprintf(f, sizeof f, "recipients[%zu].trigger_properties", i);
        if ((rc = check_props(v, f, why, whylen)) < 0) return rc;
        json_object_object_add(out, "trigger_properties", json_object_get(v));
    }
    bool existing = true;
    if ((v = json_get(r, "send_to_existing_only"))) {
        if (!is_bool(v)) FAIL(BR_EINVAL, "recipients[%zu].send_to_existing_only must be a boolean", i);
        existing = json_object_get_boolean(v);
    }
    json_object *a = json_get(r, "attributes");
    if (!existing && strcmp(idk, "external_user_id"))
        FAIL(BR_EINVAL, "recipients[%zu]: send_to_existing_only false creates users by external_user_id only", i);
    if (!existing && !a) FAIL(BR_EINVAL, "recipients[%zu]: 'attributes' is required when send_to_existing_only is false", i);
    if (a) {
        if (!json_object_is_type(a, json_type_object)) FAIL(BR_EINVAL, "recipients[%zu].attributes must be an object", i);
        json_object *o = json_object_new_object();
        json_object_object_foreach(a, ak, av) {
            /* The recipient's identifier names the user; email is an
             * attribute like any other unless it is that identifier. */
            if (!strcmp(ak, "external_id") || !strcmp(ak, "user_alias") || !strcmp(ak, "braze_id") ||
                !strcmp(ak, "_update_existing_only") || !strcmp(ak, "push_token_import") ||
                (!strcmp(ak, "email") && !strcmp(idk, "email")))
                continue;
            json_object_object_add(o, ak, json_object_get(av));
        }
        /* /users/track names the external id "external_id"; it takes no
         * prioritization (it would become a custom attribute). */
        json_object_object_add(o, strcmp(idk, "external_user_id") ? idk : "external_id", json_object_get(idv));
        if (existing) json_object_object_add(o, "_update_existing_only", json_object_new_boolean(1));
        json_object_array_add(attrs, o);
    }
    return 0;
}

/* The timing of a checked request's schedule (send/timing.h). */
static timing schedule_timing(json_object *req) {
    json_object *sch = json_get(req, "schedule");
    timing t = {.mode = TIMING_UTC, .time_ms = json_object_get_int64(json_get(sch, "time"))};
    if (json_object_get_boolean(json_get(sch, "in_local_time"))) t.mode = TIMING_LOCAL;
    if (json_object_get_boolean(json_get(sch, "at_optimal_time"))) t.mode = TIMING_OPTIMAL;
    return t;
}

/* When a checked schedule first fires: its time, or its first wave still to come. */
static int64_t schedule_at(json_object *req, int64_t now) {
    timing t = schedule_timing(req);
    return t.mode == TIMING_UTC ? t.time_ms : timing_next(&t, now);
}

/* schedule: {"time": ISO 8601, "in_local_time", "at_optimal_time"}. With
 * either flag the time is a wall-clock time, written without a zone (Braze
 * asks for none; a "Z" is taken as none); at_optimal_time wins over
 * in_local_time, as it ignores the time of day. */
static int check_schedule(json_object *v, int64_t now, json_object *out, char *why, size_t whylen) {
    if (!json_object_is_type(v, json_type_object)) FAIL(BR_EINVAL, "'schedule' must be an object with a 'time'");
    static const char *const keys[] = {"time", "in_local_time", "at_optimal_time", NULL};
    const char *uk = unknown_key(v, keys);
    if (uk) FAIL(BR_EINVAL, "schedule: unknown field '%.60s'", uk);
    json_object *t = json_get(v, "time"), *l = json_get(v, "in_local_time"), *o = json_get(v, "at_optimal_time");
    int64_t ms;
    int year;
    size_t n;
    const char *ts = is_str(t) ? json_strlen(t, &n) : NULL;
    if (!ts || timefmt_parse(ts, n, &ms, &year) < 0)
        FAIL(BR_EINVAL, "schedule.time must be an ISO 8601 time such as 2026-12-24T09:00:00Z");
    if ((l && !is_bool(l)) || (o && !is_bool(o))) FAIL(BR_EINVAL, "schedule.in_local_time and at_optimal_time must be booleans");
    bool local = l && json_object_get_boolean(l), optimal = o && json_object_get_boolean(o);
    /* a zone designator after the time of day: "+hh:mm" or "-hh:mm" */
    bool zoned = n > 19 && (memchr(ts + 19, '+', n - 19) || memchr(ts + 19, '-', n - 19));
    if ((local || optimal) && zoned)
        FAIL(BR_EINVAL, "schedule.time: with %s, give the time without a time zone (2026-12-24T09:00:00)",
             optimal ? "at_optimal_time" : "in_local_time");
    json_object *s = json_object_new_object();
    json_object_object_add(s, "time", json_object_new_int64(ms));
    if (optimal) json_object_object_add(s, "at_optimal_time", json_object_new_boolean(1));
    else if (local) json_object_object_add(s, "in_local_time", json_object_new_boolean(1));
    json_object_object_add(out, "schedule", s);
    if (schedule_at(out, now) < now) {
        if (local && !optimal) FAIL(BR_EINVAL, "in_local_time is true but time has passed in every time zone");
        if (optimal) FAIL(BR_EINVAL, "at_optimal_time is true but the date has passed in every time zone");
        FAIL(BR_EINVAL, "schedule.time is in the past");
    }
    return 0;
}

/* The messages object: known channels only, each checked. */
static int check_messages(json_object *m, json_object *out, bool email_ok, char *why, size_t whylen) {
    if (!m) FAIL(BR_ENOMESSAGE, "'messages' is required");
    if (!json_object_is_type(m, json_type_object)) FAIL(BR_EINVAL, "'messages' must be an object");
    if (!json_object_object_length(m)) FAIL(BR_ENOMESSAGE, "'messages' has no channel object");
    json_object *msgs = json_object_new_object();
    json_object_object_add(out, "messages", msgs);
    json_object_object_foreach(m, ch, v) {
        int c = msg_channel_of(ch);
        if (c < 0 && msg_channel_known_elsewhere(ch)) FAIL(BR_EINVAL, "messages.%s: brasa does not deliver this channel", ch);
        if (c < 0) FAIL(BR_EINVAL, "messages: unknown channel '%.60s'", ch);
        if (c == CH_EMAIL && !email_ok) FAIL(BR_EINVAL, "messages.email: " NO_RELAY);
        char pre[40];
        snprintf(pre, sizeof pre, "messages.%s", ch);
        int rc = msg_check((msg_channel)c, v, false, pre, why, whylen);
        if (rc < 0) return rc;
        json_object_object_add(msgs, ch, json_object_get(v));
    }
    return 0;
}

/* The body of a send or schedule create into s->req (and s->track, for
 * recipients' attributes). */
static int check_body(msg_req *s, json_object *b, bool schedule, char *why, size_t whylen) {
    int rc;
    json_object *out = s->req = json_object_new_object(), *v;
    if (!json_object_is_type(b, json_type_object)) FAIL(BR_EINVAL, "the body must be a JSON object");
    json_object_object_add(out, "type", json_object_new_string(s->trigger ? "trigger" : "messages"));
    static const char *const msg_keys[] = {"broadcast", "external_user_ids", "user_aliases", "segment_id", "audience",
                                           "campaign_id", "send_id", "override_frequency_capping", "override_messaging_limits",
                                           "recipient_subscription_state", "messages", "schedule", NULL};
    static const char *const trig_keys[] = {"campaign_id", "send_id", "trigger_properties", "broadcast", "audience",
                                            "recipients", "attachments", "schedule", NULL};
    const char *uk = unknown_key(b, s->trigger ? trig_keys : msg_keys);
    if (uk) FAIL(BR_EINVAL, "unknown field '%.60s'", uk);
    if (!schedule && json_object_object_get_ex(b, "schedule", NULL)) FAIL(BR_EINVAL, "unknown field 'schedule'");
    if ((v = json_get(b, "campaign_id"))) {
        if ((rc = check_id(v, "campaign_id", why, whylen)) < 0) return rc;
        json_object_object_add(out, "campaign_id", json_object_get(v));
    } else if (s->trigger) FAIL(BR_ECAMPAIGNID, "'campaign_id' is required");
    if ((v = json_get(b, "send_id"))) {
        if ((rc = check_send_id(v, why, whylen)) < 0) return rc;
        if (!json_get(b, "campaign_id")) FAIL(BR_EINVAL, "'send_id' needs a 'campaign_id'");
        json_object_object_add(out, "send_id", json_object_get(v));
    }
    bool broadcast = false;
    if ((v = json_get(b, "broadcast"))) {
        if (!is_bool(v)) FAIL(BR_EINVAL, "'broadcast' must be a boolean");
        broadcast = json_object_get_boolean(v);
    }
    json_object_object_add(out, "broadcast", json_object_new_boolean(broadcast));
    if ((v = json_get(b, "segment_id"))) {
        if ((rc = check_id(v, "segment_id", why, whylen)) < 0) return rc;
        json_object_object_add(out, "segment_id", json_object_get(v));
    }
    if ((v = json_get(b, "audience"))) {
        json_object *def;
        if ((rc = audience_compile(v, &def, why, whylen)) < 0) return rc;
        json_object_object_add(out, "audience", def);
    }
    /* recipients: external_user_ids and user_aliases (messages), recipients (trigger) */
    json_object *recips = json_object_new_array(), *attrs = json_object_new_array();
    json_object_object_add(out, "recipients", recips);
    json_object_object_add(out, "_attributes", attrs); /* until the end: freed with out on any error */
    json_object *ext = json_get(b, "external_user_ids"), *al = json_get(b, "user_aliases"), *rl = json_get(b, "recipients");
    if (ext && !json_object_is_type(ext, json_type_array)) FAIL(BR_EINVAL, "'external_user_ids' must be an array of strings");
    if (al && !json_object_is_type(al, json_type_array)) FAIL(BR_EINVAL, "'user_aliases' must be an array of alias objects");
    if (rl && !json_object_is_type(rl, json_type_array)) FAIL(BR_EINVAL, "'recipients' must be an array of recipient objects");
    size_t n = (ext ? json_object_array_length(ext) : 0) + (al ? json_object_array_length(al) : 0);
    if (n > MAX_RECIPIENTS) FAIL(BR_EMAXIDS, "at most %d external_user_ids and user_aliases together", MAX_RECIPIENTS);
    if (rl && json_object_array_length(rl) > MAX_RECIPIENTS) FAIL(BR_EMAXRECIPS, "at most %d recipients", MAX_RECIPIENTS);
    for (size_t i = 0; ext && i < json_object_array_length(ext); i++) {
        json_object *x = json_object_array_get_idx(ext, i), *o;
        if (!is_str(x) || !json_object_get_string_len(x) || json_object_get_string_len(x) > 512)
            FAIL(BR_EINVAL, "external_user_ids[%zu] must be a non-empty string", i);
        json_object_array_add(recips, o = json_object_new_object());
        json_object_object_add(o, "external_user_id", json_object_get(x));
    }
    for (size_t i = 0; al && i < json_object_array_length(al); i++) {
        char f[40];
        json_object *x = json_object_array_get_idx(al, i), *o;
        snprintf(f, sizeof f, "user_aliases[%zu]", i);
        if ((rc = check_alias(x, f, why, whylen)) < 0) return rc;
        json_object_array_add(recips, o = json_object_new_object());
        json_object_object_add(o, "user_alias", json_object_get(x));
    }
    for (size_t i = 0; rl && i < json_object_array_length(rl); i++) {
        json_object *o = json_object_new_object();
        json_object_array_add(recips, o);
        if ((rc = check_recipient(json_object_array_get_idx(rl, i), i, o, attrs, why, whylen)) < 0) return rc;
    }
    bool has_list = ext || al || rl;
    if (broadcast && has_list) FAIL(BR_EINVAL, "'broadcast' true sends to a segment or audience and cannot take a recipient list");
    if (!broadcast && !has_list)
        FAIL(BR_ENORECIPIENTS, "give recipients (external_user_ids, user_aliases or recipients), or broadcast: true with a "
                               "segment_id or audience");
    if (has_list && !json_object_array_length(recips)) FAIL(BR_ENORECIPIENTS, "the recipient list is empty");
    if (!has_list) json_object_object_del(out, "recipients");
    if (!s->trigger && broadcast && !json_get(b, "segment_id") && !json_get(b, "audience"))
        FAIL(BR_ENORECIPIENTS, "'broadcast' true needs a segment_id or an audience");
    if (json_get(b, "attachments")) {
        if (!json_object_is_type(json_get(b, "attachments"), json_type_array)) FAIL(BR_EINVAL, "'attachments' must be an array");
        if (broadcast) FAIL(BR_EINVAL, "'attachments' cannot be used with broadcast");
        if ((rc = msg_check_attachments(json_get(b, "attachments"), "attachments", why, whylen)) < 0) return rc;
        json_object_object_add(out, "attachments", json_object_get(json_get(b, "attachments")));
    }
    if ((v = json_get(b, "trigger_properties"))) {
        if ((rc = check_props(v, "trigger_properties", why, whylen)) < 0) return rc;
        json_object_object_add(out, "trigger_properties", json_object_get(v));
    }
    static const char *const flags[] = {"override_frequency_capping", "override_messaging_limits"};
    for (int i = 0; i < 2; i++)
        if ((v = json_get(b, flags[i]))) {
            if (!is_bool(v)) FAIL(BR_EINVAL, "'%s' must be a boolean", flags[i]);
            json_object_object_add(out, "override_frequency_capping", json_object_get(v));
        }
    if ((v = json_get(b, "recipient_subscription_state"))) {
        const char *st = json_object_get_string(v);
        if (!is_str(v) || (strcmp(st, "opted_in") && strcmp(st, "subscribed") && strcmp(st, "all")))
            FAIL(BR_EINVAL, "'recipient_subscription_state' must be opted_in, subscribed or all");
        json_object_object_add(out, "recipient_subscription_state", json_object_get(v));
    }
    if (!s->trigger && (rc = check_messages(json_get(b, "messages"), out, s->email_ok, why, whylen)) < 0) return rc;
    if (schedule) {
        if (!json_get(b, "schedule")) FAIL(BR_EINVAL, "'schedule' is required");
        if ((rc = check_schedule(json_get(b, "schedule"), s->now_ms, out, why, whylen)) < 0) return rc;
    }
    /* A campaign broadcast without a send id gets one (Braze answers it). */
    if (broadcast && json_get(out, "campaign_id") && !json_get(out, "send_id"))
        json_object_object_add(out, "send_id", json_object_new_string(s->id));
    if (json_object_array_length(attrs)) {
        json_object *tb = json_object_new_object();
        json_object_object_add(tb, "attributes", json_object_get(attrs));
        char twhy[200];
        rc = api_track_parse(tb, &s->track, &s->tres, twhy, sizeof twhy);
        json_object_put(tb);
        s->has_track = rc == 0;
        if (rc < 0) FAIL(BR_EINVAL, "recipients' attributes: %s", twhy);
        if (s->tres.errors && json_object_array_length(s->tres.errors)) {
            json_object *e = json_object_array_get_idx(s->tres.errors, 0);
            FAIL(BR_EINVAL, "recipients' attributes: %s", json_object_get_string(json_get(e, "type")));
        }
    }
    json_object_object_del(out, "_attributes");
    return 0;
}

/* ---- answers ------------------------------------------------------------- */

static int answer(http_req *r, msg_req *s, bool schedule) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "dispatch_id", json_object_new_string(s->id));
    if (schedule) json_object_object_add(o, "schedule_id", json_object_new_string(s->schedule_id));
    json_object *sid = json_get(s->req, "send_id");
    if (sid) json_object_object_add(o, "send_id", json_object_get(sid));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int fail(http_req *r, msg_req *s, int rc) {
    if (rc == BR_ESTORE || rc == BR_EUNAVAIL || rc == BR_EINTERNAL) return rc;
    return http_error(r, rc, s->why[0] ? s->why : s->n.why);
}

/* ---- send: check campaign, apply attributes, resolve, write -------------- */

static int inserted(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    dsp_wake(http_context(r)->dispatcher);
    return answer(r, s, false);
}

static int resolved(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    return api_store(r, &s->cmd, dsp_insert_op, &s->n, inserted);
}

static int resolve(http_req *r) {
    msg_req *s = http_state_get(r);
    s->n = (dsp_new){.req = s->req, .id = s->id, .now_ms = s->now_ms};
    return api_read(r, &s->cmd, dsp_resolve_read, &s->n, resolved);
}

static int tracked(http_req *r, int rc) { return rc < 0 ? rc : resolve(r); }

static int check_read(engine_t *e, void *arg) {
    msg_req *s = arg;
    json_object_put(s->campaign);
    int rc = dsp_check_campaign(engine_reader(e), s->req, &s->campaign, s->why, sizeof s->why);
    if (rc == 0 && s->trigger && !s->campaign) rc = BR_ECAMPAIGNID;
    json_object *em = json_get(json_get(s->req, "messages"), "email");
    if (rc == 0 && em) rc = api_template_apply(engine_reader(e), em, "messages.email", s->why, sizeof s->why);
    json_object *vs = rc == 0 && s->trigger && !s->email_ok ? json_get(s->campaign, "variations") : NULL;
    for (size_t i = 0; vs && i < json_object_array_length(vs) && rc == 0; i++)
        if (msg_channel_of(json_object_get_string(json_get(json_object_array_get_idx(vs, i), "channel"))) == CH_EMAIL) {
            snprintf(s->why, sizeof s->why, "campaign '%.64s' has an email variation, and " NO_RELAY,
                     json_object_get_string(json_get(s->req, "campaign_id")));
            rc = BR_EINVAL;
        }
    return rc;
}

static int checked_for_send(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    if (s->has_track) {
        s->cmd = (eng_cmd){.kind = ENG_TRACK, .arg = &s->track};
        return api_submit(r, &s->cmd, tracked);
    }
    return resolve(r);
}

static int begin(http_req *r, bool trigger, bool schedule, http_finish next) {
    msg_req *s = state(r);
    s->trigger = trigger;
    s->now_ms = clock_wall_ms();
    dsp_new_id(s->id);
    int rc = check_body(s, http_body(r), schedule, s->why, sizeof s->why);
    if (rc < 0) return http_error(r, rc, s->why);
    return api_read(r, &s->cmd, check_read, s, next);
}

static int post_send(http_req *r) { return begin(r, false, false, checked_for_send); }
static int post_trigger_send(http_req *r) { return begin(r, true, false, checked_for_send); }

/* ---- schedules ----------------------------------------------------------- */

static int sched_insert_op(sqlite3 *db, void *arg) {
    msg_req *s = arg;
    store_schedule_row row = {
        .id = s->schedule_id,
        .campaign_id = (char *)json_object_get_string(json_get(s->req, "campaign_id")),
        .send_id = (char *)json_object_get_string(json_get(s->req, "send_id")),
        .request = (char *)json_text(s->req, NULL),
        .at = schedule_at(s->req, s->now_ms),
        .dispatch_id = s->id,
        .created_at = s->now_ms,
    };
    return store_schedule_insert(db, &row);
}

static int sched_written(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    sched_wake(http_context(r)->scheduler);
    return s->kind == K_SCHED_CREATE ? answer(r, s, true) : http_reply(r, 201, json_object_get(s->out));
}

static int sched_tracked(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return rc;
    return api_store(r, &s->cmd, sched_insert_op, s, sched_written);
}

/* The audience was resolved only as a check (a segment that exists, a
 * broadcast that has one): it is fixed when the schedule fires. */
static int resolved_for_schedule(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    dsp_new_clear(&s->n);
    s->kind = K_SCHED_CREATE;
    secret_new_key(s->schedule_id);
    if (s->has_track) {
        s->cmd = (eng_cmd){.kind = ENG_TRACK, .arg = &s->track};
        return api_submit(r, &s->cmd, sched_tracked);
    }
    return api_store(r, &s->cmd, sched_insert_op, s, sched_written);
}

static int checked_for_schedule(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    s->n = (dsp_new){.req = s->req, .id = s->id, .now_ms = s->now_ms};
    return api_read(r, &s->cmd, dsp_resolve_read, &s->n, resolved_for_schedule);
}

static int post_schedule_create(http_req *r) { return begin(r, false, true, checked_for_schedule); }
static int post_trigger_schedule_create(http_req *r) { return begin(r, true, true, checked_for_schedule); }

/* Update and delete: the schedule is read, checked against the request
 * (its endpoint family, its campaign), then changed by a store op that
 * applies only while it is still pending. */
static int take_schedule_id(http_req *r, msg_req *s, json_object *b) {
    json_object *v = json_get(b, "schedule_id");
    if (!json_object_is_type(b, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object"), -1;
    if (!is_str(v) || !json_object_get_string_len(v) || json_object_get_string_len(v) > SECRET_KEY_LEN)
        return http_error(r, BR_EINVAL, "'schedule_id' is required (a string)"), -1;
    snprintf(s->schedule_id, sizeof s->schedule_id, "%s", json_object_get_string(v));
    if (s->trigger) {
        json_object *c = json_get(b, "campaign_id");
        if (!is_str(c)) return http_error(r, BR_ECAMPAIGNID, "'campaign_id' is required"), -1;
    }
    return 0;
}

static int sched_get_read(engine_t *e, void *arg) {
    msg_req *s = arg;
    int rc = store_schedule_get(engine_reader(e), s->schedule_id, &s->srow);
    if (rc == BR_ENOTFOUND) {
        snprintf(s->why, sizeof s->why, "no schedule with id '%s'", s->schedule_id);
        return BR_EINVAL;
    }
    if (rc < 0) return rc;
    json_object *req = json_parse(s->srow.request, strlen(s->srow.request));
    if (!req) return BR_ESTORE;
    bool trig = !strcmp(json_object_get_string(json_get(req, "type")), "trigger");
    json_object_put(req);
    if (trig != s->trigger) {
        snprintf(s->why, sizeof s->why, "schedule '%s' was made with %s", s->schedule_id,
                 trig ? "/campaigns/trigger/schedule/create" : "/messages/schedule/create");
        return BR_EINVAL;
    }
    if (s->srow.state != SCHED_PENDING) {
        snprintf(s->why, sizeof s->why, "schedule '%s' has already been %s", s->schedule_id,
                 s->srow.state == SCHED_FIRED ? "sent" : "deleted");
        return BR_EINVAL;
    }
    /* Braze: a local-time schedule cannot change once its time has come in some zone. */
    if (s->kind == K_SCHED_UPDATE && s->srow.sent) {
        snprintf(s->why, sizeof s->why,
                 "schedule '%s' has begun sending in some time zones: it can be deleted, not changed", s->schedule_id);
        return BR_EINVAL;
    }
    return 0;
}

static int sched_change_op(sqlite3 *db, void *arg) {
    msg_req *s = arg;
    int rc = s->kind == K_SCHED_DELETE
                 ? store_schedule_set_state(db, s->schedule_id, SCHED_DELETED, s->now_ms)
                 : store_schedule_update(db, s->schedule_id, json_text(s->req, NULL), schedule_at(s->req, s->now_ms),
                                         s->now_ms);
    if (rc == BR_ENOTFOUND) { /* it fired (or was deleted) since it was read */
        snprintf(s->why, sizeof s->why, "schedule '%s' has already been sent or deleted", s->schedule_id);
        return BR_EINVAL;
    }
    return rc;
}

static int sched_changed(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    sched_wake(http_context(r)->scheduler);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static bool same_campaign(msg_req *s, json_object *b) {
    const char *want = json_object_get_string(json_get(b, "campaign_id"));
    return !s->trigger || (s->srow.campaign_id && want && !strcmp(s->srow.campaign_id, want));
}

static int got_for_delete(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    if (!same_campaign(s, http_body(r)))
        return http_error(r, BR_ECAMPAIGNID, "the schedule does not belong to that campaign");
    return api_store(r, &s->cmd, sched_change_op, s, sched_changed);
}

static int delete_schedule(http_req *r, bool trigger) {
    msg_req *s = state(r);
    s->trigger = trigger;
    s->kind = K_SCHED_DELETE;
    s->now_ms = clock_wall_ms();
    if (take_schedule_id(r, s, http_body(r)) < 0) return 0;
    static const char *const keys[] = {"schedule_id", NULL}, *const tkeys[] = {"schedule_id", "campaign_id", NULL};
    const char *uk = unknown_key(http_body(r), trigger ? tkeys : keys);
    if (uk) {
        snprintf(s->why, sizeof s->why, "unknown field '%.60s'", uk);
        return http_error(r, BR_EINVAL, s->why);
    }
    return api_read(r, &s->cmd, sched_get_read, s, got_for_delete);
}

static int post_schedule_delete(http_req *r) { return delete_schedule(r, false); }
static int post_trigger_schedule_delete(http_req *r) { return delete_schedule(r, true); }

/* An update: the stored request with the new schedule and/or messages,
 * checked again in full (the campaign too) before it replaces the old. */
static int update_checked(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    return api_store(r, &s->cmd, sched_change_op, s, sched_changed);
}

static int got_for_update(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    json_object *b = http_body(r), *old = json_parse(s->srow.request, strlen(s->srow.request)), *v;
    if (!old) return BR_ESTORE;
    if (!same_campaign(s, b)) {
        json_object_put(old);
        return http_error(r, BR_ECAMPAIGNID, "the schedule does not belong to that campaign");
    }
    json_object_put(s->req);
    s->req = old;
    if ((v = json_get(b, "schedule"))) {
        if ((rc = check_schedule(v, s->now_ms, s->req, s->why, sizeof s->why)) < 0) return http_error(r, rc, s->why);
    }
    if ((v = json_get(b, "messages"))) {
        if ((rc = check_messages(v, s->req, s->email_ok, s->why, sizeof s->why)) < 0) return http_error(r, rc, s->why);
    }
    return api_read(r, &s->cmd, check_read, s, update_checked);
}

static int update_schedule(http_req *r, bool trigger) {
    msg_req *s = state(r);
    s->trigger = trigger;
    s->kind = K_SCHED_UPDATE;
    s->now_ms = clock_wall_ms();
    json_object *b = http_body(r);
    if (take_schedule_id(r, s, b) < 0) return 0;
    if (trigger && !json_get(b, "schedule")) return http_error(r, BR_EINVAL, "'schedule' is required");
    if (!trigger && !json_get(b, "schedule") && !json_get(b, "messages"))
        return http_error(r, BR_EINVAL, "give a 'schedule', 'messages', or both");
    static const char *const keys[] = {"schedule_id", "schedule", "messages", NULL},
                             *const tkeys[] = {"schedule_id", "schedule", "campaign_id", NULL};
    const char *uk = unknown_key(b, trigger ? tkeys : keys);
    if (uk) {
        snprintf(s->why, sizeof s->why, "unknown field '%.60s'", uk);
        return http_error(r, BR_EINVAL, s->why);
    }
    return api_read(r, &s->cmd, sched_get_read, s, got_for_update);
}

static int post_schedule_update(http_req *r) { return update_schedule(r, false); }
static int post_trigger_schedule_update(http_req *r) { return update_schedule(r, true); }

/* ---- GET /messages/scheduled_broadcasts ---------------------------------- */

static int broadcasts_read(engine_t *e, void *arg) {
    msg_req *s = arg;
    sqlite3 *db = engine_reader(e);
    store_schedule_row *rows;
    int n, rc = store_schedule_due(db, s->end_ms, 100000, &rows, &n);
    if (rc < 0) return rc;
    store_time_zone(db, s->zone, sizeof s->zone);
    s->out = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *o = json_object_new_object(), *doc = NULL;
        store_campaign_row c;
        if (rows[i].campaign_id && store_campaign_get(db, rows[i].campaign_id, &c) == 0) {
            doc = json_parse(c.doc, strlen(c.doc));
            store_campaign_row_free(&c);
        }
        char t[40];
        timefmt_iso(rows[i].at, t, sizeof t);
        json_object_object_add(o, "name", doc ? json_object_get(json_get(doc, "name")) : json_object_new_string("API schedule"));
        json_object_object_add(o, "id", json_object_new_string(rows[i].campaign_id ? rows[i].campaign_id : rows[i].id));
        json_object_object_add(o, "type", json_object_new_string("Campaign"));
        json_object_object_add(o, "tags", doc ? json_object_get(json_get(doc, "tags")) : json_object_new_array());
        json_object_object_add(o, "next_send_time", json_object_new_string(t));
        json_object *req = json_parse(rows[i].request, strlen(rows[i].request));
        int mode = req ? schedule_timing(req).mode : TIMING_UTC;
        json_object_put(req);
        json_object_object_add(o, "schedule_type", json_object_new_string(mode == TIMING_LOCAL     ? "local_time_zones"
                                                                          : mode == TIMING_OPTIMAL ? "intelligent_delivery"
                                                                                                   : s->zone));
        json_object_object_add(o, "schedule_id", json_object_new_string(rows[i].id));
        json_object_array_add(s->out, o);
        json_object_put(doc);
    }
    store_schedule_rows_free(rows, n);
    return 0;
}

static int broadcasts_done(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "scheduled_broadcasts", json_object_get(s->out));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 200, o);
}

static int get_broadcasts(http_req *r) {
    msg_req *s = state(r);
    const char *e = http_query(r, "end_time");
    int year;
    if (!e || !*e) return http_error(r, BR_EINVAL, "'end_time' is required (an ISO 8601 time)");
    if (timefmt_parse(e, strlen(e), &s->end_ms, &year) < 0) return http_error(r, BR_EINVAL, "'end_time' must be an ISO 8601 time");
    /* Braze treats the end time as that day's midnight (UTC): the whole day counts. */
    s->end_ms = (s->end_ms / 86400000LL + 1) * 86400000LL - 1;
    return api_read(r, &s->cmd, broadcasts_read, s, broadcasts_done);
}

/* ---- GET /admin/dispatches/{id} ------------------------------------------ */

static int dispatch_read(engine_t *e, void *arg) {
    msg_req *s = arg;
    store_dispatch_row d;
    int waves;
    int rc = store_dispatch_total(engine_reader(e), s->id, &d, &waves);
    if (rc == BR_ENOTFOUND) snprintf(s->why, sizeof s->why, "no dispatch with id '%s'", s->id);
    if (rc < 0) return rc;
    json_object *o = s->out = json_object_new_object();
    json_object_object_add(o, "dispatch_id", json_object_new_string(d.id));
    json_object_object_add(o, "campaign_id", d.campaign_id ? json_object_new_string(d.campaign_id) : NULL);
    json_object_object_add(o, "send_id", d.send_id ? json_object_new_string(d.send_id) : NULL);
    json_object_object_add(o, "state", json_object_new_string(d.state == DISPATCH_DONE ? "done" : "sending"));
    json_object_object_add(o, "total", json_object_new_int64(d.total));
    json_object_object_add(o, "done", json_object_new_int64(d.cursor));
    json_object_object_add(o, "sent", json_object_new_int64(d.sent));
    json_object_object_add(o, "errors", json_object_new_int64(d.errors));
    json_object_object_add(o, "skipped", json_object_new_int64(d.skipped));
    json_object_object_add(o, "aborted", json_object_new_int64(d.aborted));
    json_object_object_add(o, "created_at", json_time(d.created_at));
    json_object_object_add(o, "done_at", json_time_or_null(d.done_at));
    json_object_object_add(o, "waves", json_object_new_int(waves));
    store_dispatch_row_free(&d);
    return 0;
}

static int dispatch_done(http_req *r, int rc) {
    msg_req *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) return http_error(r, BR_ENOTFOUND, s->why);
    if (rc < 0) return rc;
    return http_reply(r, 200, json_object_get(s->out));
}

static int get_dispatch(http_req *r) {
    msg_req *s = state(r);
    const char *id = http_param(r, "id");
    if (!id || strlen(id) > DSP_ID_LEN) return http_error(r, BR_ENOTFOUND, "no such dispatch");
    snprintf(s->id, sizeof s->id, "%s", id);
    return api_read(r, &s->cmd, dispatch_read, s, dispatch_done);
}

const http_route api_messages_routes[] = {
    {"POST", "/messages/send", PERM_MESSAGES_SEND, RL_DEFAULT, post_send, 0},
    {"POST", "/messages/schedule/create", PERM_MESSAGES_SCHEDULE_CREATE, RL_DEFAULT, post_schedule_create, 0},
    {"POST", "/messages/schedule/update", PERM_MESSAGES_SCHEDULE_UPDATE, RL_DEFAULT, post_schedule_update, 0},
    {"POST", "/messages/schedule/delete", PERM_MESSAGES_SCHEDULE_DELETE, RL_DEFAULT, post_schedule_delete, 0},
    {"GET", "/messages/scheduled_broadcasts", PERM_MESSAGES_SCHEDULE_BROADCASTS, RL_DEFAULT, get_broadcasts, 0},
    {"POST", "/campaigns/trigger/send", PERM_CAMPAIGNS_TRIGGER_SEND, RL_DEFAULT, post_trigger_send, 0},
    {"POST", "/campaigns/trigger/schedule/create", PERM_CAMPAIGNS_TRIGGER_SCHEDULE_CREATE, RL_DEFAULT, post_trigger_schedule_create, 0},
    {"POST", "/campaigns/trigger/schedule/update", PERM_CAMPAIGNS_TRIGGER_SCHEDULE_UPDATE, RL_DEFAULT, post_trigger_schedule_update, 0},
    {"POST", "/campaigns/trigger/schedule/delete", PERM_CAMPAIGNS_TRIGGER_SCHEDULE_DELETE, RL_DEFAULT, post_trigger_schedule_delete, 0},
    {"GET", "/admin/dispatches/{id}", PERM_BRASA_MARKETING, RL_DEFAULT, get_dispatch, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
