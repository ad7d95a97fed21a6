/* campaign.c -- campaign documents: checks, normalisation, views
 * (campaign.h). */
#include "campaign.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/secret.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...)                           \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        rc = BR_EINVAL;                     \
        goto out;                           \
    } while (0)

static bool is_str(json_object *v) { return json_object_is_type(v, json_type_string); }
static bool is_num(json_object *v) { return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double); }

static json_object *str_or(json_object *o, const char *k, const char *dflt) {
    json_object *v = json_get(o, k);
    return v ? json_object_get(v) : json_object_new_string(dflt);
}

/* The value of k from body, else from old, else NULL (a new reference). */
static json_object *pick(json_object *body, json_object *old, const char *k) {
    json_object *v;
    if (json_object_object_get_ex(body, k, &v)) return json_object_get(v);
    return json_object_get(json_get(old, k));
}

/* Whether one of the first n variations of vars has the id vid. */
static bool id_taken(json_object *vars, size_t n, const char *vid) {
    for (size_t j = 0; j < n; j++)
        if (!strcmp(json_object_get_string(json_get(json_object_array_get_idx(vars, j), "id")), vid)) return true;
    return false;
}

static const char *const conv_types[] = {"performs_custom_event", "makes_purchase", "starts_session"};

int camp_build(json_object *body, json_object *old, int64_t now_ms, json_object **doc, char *why, size_t whylen) {
    int rc = 0;
    json_object *d = json_object_new_object(), *v = NULL;
    *doc = NULL;
    if (!json_object_is_type(body, json_type_object)) FAIL("the body must be a JSON object");
    static const char *const known[] = {"name", "kind", "tags", "description", "variations", "control_percent", "segment_id",
                                        "conversion_events", "rate_limit_per_minute", "frequency_capping", "draft", "archived",
                                        "email_tracking", "postback_url"};
    json_object_object_foreach(body, key, val) {
        (void)val;
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(key, known[i])) i++;
        if (i == sizeof known / sizeof *known) FAIL("unknown field '%.100s'", key);
    }
    char id[CAMP_ID_LEN + 1];
    if (old) snprintf(id, sizeof id, "%s", camp_id(old));
    else secret_new_key(id);
    json_object_object_add(d, "id", json_object_new_string(id));

    v = pick(body, old, "name");
    if (!is_str(v) || !json_object_get_string_len(v) || json_object_get_string_len(v) > CAMP_NAME_MAX)
        FAIL("'name' must be a string of 1 to %d bytes", CAMP_NAME_MAX);
    json_object_object_add(d, "name", v);

    v = pick(body, old, "kind");
    if (!is_str(v) || (strcmp(json_object_get_string(v), "api") && strcmp(json_object_get_string(v), "api_triggered") &&
                       strcmp(json_object_get_string(v), "transactional")))
        FAIL("'kind' must be \"api\", \"api_triggered\" or \"transactional\"");
    if (old && strcmp(json_object_get_string(v), camp_kind(old))) FAIL("'kind' cannot change once a campaign exists");
    /* A transactional campaign stores its message as an API-triggered one
     * does; it is one email to one user, so it has one email variation and
     * no control group (there is nothing to compare). */
    bool transactional = !strcmp(json_object_get_string(v), "transactional");
    bool triggered = transactional || !strcmp(json_object_get_string(v), "api_triggered");
    json_object_object_add(d, "kind", v);

    v = pick(body, old, "tags");
    if (!v) v = json_object_new_array();
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > CAMP_TAGS_MAX)
        FAIL("'tags' must be an array of at most %d strings", CAMP_TAGS_MAX);
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *t = json_object_array_get_idx(v, i);
        if (!is_str(t) || !json_object_get_string_len(t) || json_object_get_string_len(t) > CAMP_NAME_MAX)
            FAIL("'tags' must be an array of at most %d strings of 1 to %d bytes", CAMP_TAGS_MAX, CAMP_NAME_MAX);
    }
    json_object_object_add(d, "tags", v);

    v = pick(body, old, "description");
    if (!v) v = json_object_new_string("");
    if (!is_str(v) || json_object_get_string_len(v) > CAMP_DESCRIPTION_MAX)
        FAIL("'description' must be a string of at most %d bytes", CAMP_DESCRIPTION_MAX);
    json_object_object_add(d, "description", v);

    v = pick(body, old, "control_percent");
    if (!v) v = json_object_new_int(0);
    if (!is_num(v) || json_object_get_double(v) < 0 || json_object_get_double(v) > 100)
        FAIL("'control_percent' must be a number from 0 to 100");
    double control = json_object_get_double(v);
    json_object_object_add(d, "control_percent", v);
    json_object_object_add(d, "control_id", old ? str_or(old, "control_id", "") : NULL);
    if (!old) {
        char cid[CAMP_ID_LEN + 1];
        secret_new_key(cid);
        json_object_object_add(d, "control_id", json_object_new_string(cid));
    }

    /* Variations: ids kept by id, else by name, across updates. */
    v = pick(body, old, "variations");
    if (!json_object_is_type(v, json_type_array) || !json_object_array_length(v) ||
        json_object_array_length(v) > CAMP_VARIATIONS_MAX)
        FAIL("'variations' must be an array of 1 to %d variations", CAMP_VARIATIONS_MAX);
    if (transactional && json_object_array_length(v) != 1) FAIL("a transactional campaign has exactly one variation");
    if (transactional && control > 0) FAIL("a transactional campaign has no control group (control_percent 0)");
    json_object *vars = json_object_new_array(), *channels = json_object_new_array();
    json_object_object_add(d, "variations", vars);
    json_object_object_add(d, "channels", channels);
    size_t nv = json_object_array_length(v);
    double given = 0;
    int unsplit = 0;
    for (size_t i = 0; i < nv; i++) {
        json_object *in = json_object_array_get_idx(v, i), *x;
        char pre[48];
        snprintf(pre, sizeof pre, "variations[%zu]", i);
        if (!json_object_is_type(in, json_type_object)) FAIL("%s must be an object", pre);
        json_object_object_foreach(in, vk, vv) {
            (void)vv;
            if (strcmp(vk, "id") && strcmp(vk, "name") && strcmp(vk, "channel") && strcmp(vk, "percent") && strcmp(vk, "content"))
                FAIL("%s: unknown field '%.100s'", pre, vk);
        }
        json_object *out = json_object_new_object();
        json_object_array_add(vars, out);
        x = json_get(in, "name");
        char dflt[32];
        snprintf(dflt, sizeof dflt, "Variation %zu", i + 1);
        if (x && (!is_str(x) || !json_object_get_string_len(x) || json_object_get_string_len(x) > CAMP_NAME_MAX))
            FAIL("%s.name must be a string of 1 to %d bytes", pre, CAMP_NAME_MAX);
        const char *name = x ? json_object_get_string(x) : dflt;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(json_object_get_string(json_get(json_object_array_get_idx(vars, j), "name")), name))
                FAIL("%s.name '%.100s' is used twice", pre, name);
        /* the id: the one given (it must be this campaign's), else the old variation of that name, else new */
        const char *vid = NULL;
        json_object *ov = NULL;
        if ((x = json_get(in, "id"))) {
            bool ctl;
            if (!is_str(x) || !old || !(ov = camp_variation(old, json_object_get_string(x), &ctl)) || ctl)
                FAIL("%s.id is not a variation of this campaign", pre);
            vid = json_object_get_string(x);
            if (id_taken(vars, i, vid)) FAIL("%s.id '%.64s' is used twice", pre, vid);
        } else if (old) {
            json_object *ovs = json_get(old, "variations");
            for (size_t j = 0; j < json_object_array_length(ovs); j++)
                if (!strcmp(json_object_get_string(json_get(json_object_array_get_idx(ovs, j), "name")), name))
                    ov = json_object_array_get_idx(ovs, j), vid = json_object_get_string(json_get(ov, "id"));
            if (vid && id_taken(vars, i, vid)) ov = NULL, vid = NULL; /* its id went to a variation named by id: a new one */
        }
        char nid[CAMP_ID_LEN + 1];
        if (!vid) secret_new_key(nid), vid = nid;
        json_object_object_add(out, "id", json_object_new_string(vid));
        json_object_object_add(out, "name", json_object_new_string(name));
        x = json_get(in, "channel");
        if (!x && ov) x = json_get(ov, "channel");
        int ch = is_str(x) ? msg_channel_of(json_object_get_string(x)) : -1;
        if (ch < 0) FAIL("%s.channel must be \"webhook\" or \"email\"", pre);
        if (transactional && ch != CH_EMAIL) FAIL("%s.channel: a transactional campaign sends email", pre);
        json_object_object_add(out, "channel", json_object_get(x));
        bool seen = false;
        for (size_t j = 0; j < json_object_array_length(channels); j++)
            seen |= !strcmp(json_object_get_string(json_object_array_get_idx(channels, j)), json_object_get_string(x));
        if (!seen) json_object_array_add(channels, json_object_get(x));
        if ((x = json_get(in, "percent"))) {
            if (!is_num(x) || json_object_get_double(x) < 0 || json_object_get_double(x) > 100)
                FAIL("%s.percent must be a number from 0 to 100", pre);
            given += json_object_get_double(x);
            json_object_object_add(out, "percent", json_object_get(x));
        } else unsplit++;
        x = json_get(in, "content");
        if (x && !triggered) FAIL("%s.content: an API campaign's content comes with each /messages/send request", pre);
        if (triggered) {
            if (!x) FAIL("%s.content is required: an API-triggered or transactional campaign stores its message", pre);
            char cpre[64];
            snprintf(cpre, sizeof cpre, "%s.content", pre);
            if ((rc = msg_check((msg_channel)ch, x, true, cpre, why, whylen)) < 0) goto out;
            json_object_object_add(out, "content", json_object_get(x));
        }
    }
    json_object_put(v); /* the input list: what is kept was copied into vars */
    v = NULL;
    if (given + control > 100.0001) FAIL("the variations' percentages and control_percent add up to more than 100");
    if (!unsplit && fabs(given + control - 100) > 0.0001)
        FAIL("the variations' percentages and control_percent must add up to 100");
    for (size_t i = 0; unsplit && i < nv; i++) {
        json_object *o = json_object_array_get_idx(vars, i);
        if (!json_get(o, "percent")) json_object_object_add(o, "percent", json_object_new_double((100 - control - given) / unsplit));
    }

    /* Where the delivery postbacks of a transactional campaign go (Braze
     * keeps one URL for the workspace; brasa one per campaign). */
    v = pick(body, old, "postback_url");
    if (v && !transactional) FAIL("'postback_url' is for transactional campaigns");
    if (v && (!is_str(v) || json_object_get_string_len(v) > MSG_URL_MAX ||
              (strncmp(json_object_get_string(v), "http://", 7) && strncmp(json_object_get_string(v), "https://", 8))))
        FAIL("'postback_url' must be an http:// or https:// URL of at most %d bytes", MSG_URL_MAX);
    json_object_object_add(d, "postback_url", v);

    v = pick(body, old, "segment_id");
    if (v && (!is_str(v) || json_object_get_string_len(v) > 64)) FAIL("'segment_id' must be a segment id (a string)");
    json_object_object_add(d, "segment_id", v);

    v = pick(body, old, "conversion_events");
    if (!v) v = json_object_new_array();
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > CAMP_CONVERSIONS_MAX)
        FAIL("'conversion_events' must be an array of at most %d events", CAMP_CONVERSIONS_MAX);
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *c = json_object_array_get_idx(v, i), *t = json_get(c, "type"), *w = json_get(c, "window_hours");
        if (!json_object_is_type(c, json_type_object)) FAIL("conversion_events[%zu] must be an object", i);
        json_object_object_foreach(c, ck, cv) {
            (void)cv;
            if (strcmp(ck, "type") && strcmp(ck, "name") && strcmp(ck, "window_hours"))
                FAIL("conversion_events[%zu]: unknown field '%.100s'", i, ck);
        }
        size_t k = 0;
        while (is_str(t) && k < 3 && strcmp(json_object_get_string(t), conv_types[k])) k++;
        if (!is_str(t) || k == 3)
            FAIL("conversion_events[%zu].type must be performs_custom_event, makes_purchase or starts_session", i);
        if (k == 0 && !is_str(json_get(c, "name"))) FAIL("conversion_events[%zu].name is required for performs_custom_event", i);
        if (json_get(c, "name") && !is_str(json_get(c, "name"))) FAIL("conversion_events[%zu].name must be a string", i);
        if (w && (!json_object_is_type(w, json_type_int) || json_object_get_int64(w) < 1 || json_object_get_int64(w) > 720))
            FAIL("conversion_events[%zu].window_hours must be an integer from 1 to 720", i);
        if (!w) json_object_object_add(c, "window_hours", json_object_new_int(72));
    }
    if (transactional && json_object_array_length(v)) FAIL("a transactional campaign has no conversion events");
    json_object_object_add(d, "conversion_events", v); /* after the checks: a failed one puts v once */

    v = pick(body, old, "rate_limit_per_minute");
    if (!v) v = json_object_new_int(0);
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 || json_object_get_int64(v) > 100000000)
        FAIL("'rate_limit_per_minute' must be a non-negative integer (0: no limit)");
    json_object_object_add(d, "rate_limit_per_minute", v);

    static const char *const flags[] = {"frequency_capping", "draft", "archived"};
    for (int i = 0; i < 3; i++) {
        v = pick(body, old, flags[i]);
        if (!v) v = json_object_new_boolean(i == 0);
        if (!json_object_is_type(v, json_type_boolean)) FAIL("'%s' must be a boolean", flags[i]);
        json_object_object_add(d, flags[i], v);
    }
    /* email_tracking: {"opens", "clicks"}, both on unless turned off */
    v = pick(body, old, "email_tracking");
    if (v && !json_object_is_type(v, json_type_object)) FAIL("'email_tracking' must be an object such as {\"opens\": true, \"clicks\": false}");
    json_object *tr = json_object_new_object();
    json_object_object_add(d, "email_tracking", tr);
    static const char *const tracked[] = {"opens", "clicks"};
    if (v) {
        json_object_object_foreach(v, tk, tv) {
            (void)tv;
            if (strcmp(tk, "opens") && strcmp(tk, "clicks")) FAIL("unknown field 'email_tracking.%.60s'", tk);
        }
    }
    for (int i = 0; i < 2; i++) {
        json_object *t = json_get(v, tracked[i]);
        if (t && !json_object_is_type(t, json_type_boolean)) FAIL("'email_tracking.%s' must be a boolean", tracked[i]);
        json_object_object_add(tr, tracked[i], json_object_new_boolean(!t || json_object_get_boolean(t)));
    }
    json_object_put(v);
    v = NULL;
    json_object_object_add(d, "created_at", old ? json_object_get(json_get(old, "created_at")) : json_object_new_int64(now_ms));
    json_object_object_add(d, "updated_at", json_object_new_int64(now_ms));
    *doc = d;
    d = NULL;
out:
    json_object_put(v);
    json_object_put(d);
    return rc;
}

const char *camp_id(json_object *doc) { return json_object_get_string(json_get(doc, "id")); }
const char *camp_kind(json_object *doc) { return json_object_get_string(json_get(doc, "kind")); }
bool camp_is_triggered(json_object *doc) { return !strcmp(camp_kind(doc), "api_triggered"); }
bool camp_is_transactional(json_object *doc) { return !strcmp(camp_kind(doc), "transactional"); }

json_object *camp_variation(json_object *doc, const char *id, bool *is_control) {
    *is_control = false;
    const char *cid = json_object_get_string(json_get(doc, "control_id"));
    if (cid && !strcmp(cid, id) && json_object_get_double(json_get(doc, "control_percent")) > 0) {
        *is_control = true;
        return json_get(doc, "control_id");
    }
    json_object *vs = json_get(doc, "variations");
    for (size_t i = 0; i < json_object_array_length(vs); i++) {
        json_object *x = json_object_array_get_idx(vs, i);
        if (!strcmp(json_object_get_string(json_get(x, "id")), id)) return x;
    }
    return NULL;
}

json_object *camp_pick(json_object *doc, unsigned bucket) {
    double b = bucket % 100, acc = json_object_get_double(json_get(doc, "control_percent"));
    if (b < acc) return NULL;
    json_object *vs = json_get(doc, "variations"), *last = NULL;
    for (size_t i = 0; i < json_object_array_length(vs); i++) {
        json_object *x = json_object_array_get_idx(vs, i);
        double p = json_object_get_double(json_get(x, "percent"));
        if (p <= 0) continue;
        last = x;
        if (b < (acc += p)) return x;
    }
    return last; /* rounding of even splits */
}

json_object *camp_created_json(json_object *doc) {
    json_object *o = json_object_new_object(), *vs = json_object_new_array(), *in = json_get(doc, "variations");
    json_object_object_add(o, "campaign_id", json_object_new_string(camp_id(doc)));
    for (size_t i = 0; i < json_object_array_length(in); i++) {
        json_object *x = json_object_array_get_idx(in, i), *y = json_object_new_object();
        json_object_object_add(y, "id", json_object_get(json_get(x, "id")));
        json_object_object_add(y, "name", json_object_get(json_get(x, "name")));
        json_object_object_add(y, "channel", json_object_get(json_get(x, "channel")));
        json_object_array_add(vs, y);
    }
    json_object_object_add(o, "variations", vs);
    if (json_object_get_double(json_get(doc, "control_percent")) > 0)
        json_object_object_add(o, "control_id", json_object_get(json_get(doc, "control_id")));
    return o;
}

/* A variation in Braze's details shape (its dashboard-side field names). */
static json_object *details_message(json_object *x) {
    json_object *m = json_object_new_object(), *c = json_get(x, "content");
    const char *ch = json_object_get_string(json_get(x, "channel"));
    json_object_object_add(m, "channel", json_object_new_string(ch));
    json_object_object_add(m, "name", json_object_get(json_get(x, "name")));
    if (!strcmp(ch, "webhook")) {
        json_object_object_add(m, "url", c ? json_object_get(json_get(c, "url")) : NULL);
        json_object_object_add(m, "body", c ? json_object_get(json_get(c, "body")) : NULL);
        json_object_object_add(m, "type", NULL);
        json_object *h = c ? json_get(c, "request_headers") : NULL;
        json_object_object_add(m, "headers", h ? json_object_get(h) : json_object_new_object());
        json_object_object_add(m, "method", c ? json_object_get(json_get(c, "request_method")) : NULL);
    } else {
        static const char *const f[][2] = {{"subject", "subject"}, {"body", "body"}, {"from", "from"},
                                           {"reply_to", "reply_to"}, {"preheader", "preheader"},
                                           {"custom_plain_text", "plaintext_body"}, {"should_inline_css", "should_inline_css"}};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++) json_object_object_add(m, f[i][0], c ? json_object_get(json_get(c, f[i][1])) : NULL);
        json_object_object_add(m, "title", json_object_get(json_get(x, "name")));
        json_object_object_add(m, "extras", json_object_new_array());
        json_object_object_add(m, "email_headers", json_object_new_array());
    }
    return m;
}

json_object *camp_details_json(json_object *doc, int64_t first_sent, int64_t last_sent) {
    json_object *o = json_object_new_object(), *vs = json_get(doc, "variations"), *msgs = json_object_new_object();
    bool archived = json_object_get_boolean(json_get(doc, "archived")), draft = json_object_get_boolean(json_get(doc, "draft"));
    json_object_object_add(o, "created_at", json_time(json_object_get_int64(json_get(doc, "created_at"))));
    json_object_object_add(o, "updated_at", json_time(json_object_get_int64(json_get(doc, "updated_at"))));
    json_object_object_add(o, "archived", json_object_new_boolean(archived));
    json_object_object_add(o, "draft", json_object_new_boolean(draft));
    json_object_object_add(o, "enabled", json_object_new_boolean(!archived && !draft));
    json_object_object_add(o, "has_post_launch_draft", json_object_new_boolean(0));
    json_object_object_add(o, "name", json_object_get(json_get(doc, "name")));
    json_object_object_add(o, "description", json_object_get(json_get(doc, "description")));
    json_object_object_add(o, "schedule_type", json_object_new_string(camp_kind(doc)));
    json_object_object_add(o, "channels", json_object_get(json_get(doc, "channels")));
    json_object_object_add(o, "first_sent", json_time_or_null(first_sent));
    json_object_object_add(o, "last_sent", json_time_or_null(last_sent));
    json_object_object_add(o, "tags", json_object_get(json_get(doc, "tags")));
    json_object_object_add(o, "teams", json_object_new_array());
    for (size_t i = 0; i < json_object_array_length(vs); i++) {
        json_object *x = json_object_array_get_idx(vs, i);
        json_object_object_add(msgs, json_object_get_string(json_get(x, "id")), details_message(x));
    }
    if (json_object_get_double(json_get(doc, "control_percent")) > 0) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "channel", json_object_get(json_object_array_get_idx(json_get(doc, "channels"), 0)));
        json_object_object_add(c, "type", json_object_new_string("control"));
        json_object_object_add(msgs, json_object_get_string(json_get(doc, "control_id")), c);
    }
    json_object_object_add(o, "messages", msgs);
    json_object *conv = json_object_new_array(), *ce = json_get(doc, "conversion_events");
    for (size_t i = 0; i < json_object_array_length(ce); i++) {
        json_object *c = json_object_array_get_idx(ce, i), *b = json_object_new_object();
        const char *t = json_object_get_string(json_get(c, "type"));
        json_object *nm = json_get(c, "name");
        if (!strcmp(t, "performs_custom_event")) {
            json_object_object_add(b, "type", json_object_new_string("Performs Custom Event"));
            json_object_object_add(b, "custom_event_name", json_object_get(nm));
        } else if (!strcmp(t, "makes_purchase")) {
            json_object_object_add(b, "type", json_object_new_string(nm ? "Makes Specific Purchase" : "Makes Any Purchase"));
            if (nm) json_object_object_add(b, "product", json_object_get(nm));
        } else {
            json_object_object_add(b, "type", json_object_new_string("Starts Session"));
            json_object_object_add(b, "app_ids", NULL);
        }
        json_object_object_add(b, "window", json_object_new_int64(json_object_get_int64(json_get(c, "window_hours")) * 3600));
        json_object_array_add(conv, b);
    }
    json_object_object_add(o, "conversion_behaviors", conv);
    return o;
}
