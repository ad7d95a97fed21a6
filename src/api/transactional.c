/* transactional.c -- Braze's transactional email endpoint.
 *
 *   POST /transactional/v1/campaigns/{campaign_id}/send   transactional.send
 *        {"external_send_id", "trigger_properties", "recipient": {"external_user_id" | "user_alias", "attributes"}}
 *        -> 201 {"dispatch_id", "status": "queued", "metadata": {"external_send_id", "campaign_api_id"}}
 *
 * One email to one user through a transactional campaign's email variation
 * (send/campaign.h, kind "transactional"). The send is a dispatch like any
 * other (send/dispatch.h) with a request of type "transactional": it goes
 * to the user whatever the user's subscription state (Braze's transactional
 * email reaches the unsubscribed: a receipt or a password reset is not
 * marketing), and frequency caps do not hold it back. The steps are
 * /campaigns/trigger/send's: an engine read checks the campaign (Braze's
 * texts: lib/err.h, the BR_ETX* group), the recipient's attributes are
 * applied as /users/track would (creating the user when it does not exist,
 * as Braze does), an engine read resolves the user, and a store op writes
 * the dispatch; 201 comes once that is durable.
 *
 * external_send_id is Braze's deduplication key: another request with the
 * same one for the same campaign within 24 hours sends nothing and is
 * answered with the first request's dispatch_id (store/templates.h, table
 * transactional_sends; the store op checks and writes in one step, so two
 * requests racing send one email). A recipient that names no user once the
 * attributes are applied still gets a dispatch (of no one): its outcome,
 * like every outcome of a transactional send, goes to the campaign's
 * postback_url (send/postback.h). */
#include "api.h"
#include "parse.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../send/campaign.h"
#include "../send/dispatch.h"
#include "../store/messaging.h"
#include "../store/templates.h"

#include <stdio.h>
#include <string.h>

#define EXTERNAL_SEND_ID_MAX 255
#define TRIGGER_PROPS_MAX (50 << 10)
#define DEDUP_MS (24 * 3600 * 1000LL)

#define NO_RELAY "no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)"

typedef struct {
    eng_cmd cmd;
    char campaign_id[65];
    const char *external_send_id; /* NULL: none */
    json_object *req;             /* the dispatch's request */
    char id[DSP_ID_LEN + 1];
    char first[DSP_ID_LEN + 1];   /* a repeat: the first request's dispatch */
    bool repeat;
    int64_t now_ms;
    dsp_new n;
    track_cmd track;
    api_track_result tres;
    bool has_track, email_ok;
    char why[400];
} tx_req;

static void tx_req_free(void *p) {
    tx_req *s = p;
    json_object_put(s->req);
    dsp_new_clear(&s->n);
    if (s->has_track) track_cmd_free(&s->track);
    json_object_put(s->tres.errors);
}

#define FAIL(...)                                     \
    do {                                              \
        snprintf(s->why, sizeof s->why, __VA_ARGS__); \
        return BR_EINVAL;                             \
    } while (0)

static bool is_str(json_object *v) { return json_object_is_type(v, json_type_string); }

/* Braze's regex for it: /^[a-zA-Z0-9-_+\/=]+$/ (a Base64 string). */
static bool base64ish(const char *v) {
    if (!*v) return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_+/=", *p)))
            return false;
    return true;
}

/* The body into s->req (and s->track for the recipient's attributes). */
static int check_body(tx_req *s, json_object *b) {
    json_object *v, *req = s->req = json_object_new_object();
    if (!json_object_is_type(b, json_type_object)) FAIL("the body must be a JSON object");
    json_object_object_foreach(b, key, val) {
        (void)val;
        if (strcmp(key, "external_send_id") && strcmp(key, "trigger_properties") && strcmp(key, "recipient") &&
            strcmp(key, "api_key"))
            FAIL("unknown field '%.60s'", key);
    }
    json_object_object_add(req, "type", json_object_new_string("transactional"));
    json_object_object_add(req, "campaign_id", json_object_new_string(s->campaign_id));
    json_object_object_add(req, "broadcast", json_object_new_boolean(0));
    json_object_object_add(req, "recipient_subscription_state", json_object_new_string("all"));
    json_object_object_add(req, "override_frequency_capping", json_object_new_boolean(1));
    json_object_object_add(req, "received_at", json_object_new_int64(s->now_ms));
    if ((v = json_get(b, "external_send_id"))) {
        if (!is_str(v) || !base64ish(json_object_get_string(v)) || json_object_get_string_len(v) > EXTERNAL_SEND_ID_MAX)
            FAIL("'external_send_id' must be a string of 1 to %d characters of A-Z, a-z, 0-9, -, _, +, / and =",
                 EXTERNAL_SEND_ID_MAX);
        json_object_object_add(req, "external_send_id", json_object_get(v));
        s->external_send_id = json_object_get_string(v);
    }
    if ((v = json_get(b, "trigger_properties"))) {
        size_t n;
        if (!json_object_is_type(v, json_type_object)) FAIL("'trigger_properties' must be an object");
        json_text(v, &n);
        if (n > TRIGGER_PROPS_MAX) FAIL("'trigger_properties' is larger than 50 KB");
        json_object_object_add(req, "trigger_properties", json_object_get(v));
    }
    json_object *r = json_get(b, "recipient");
    if (!json_object_is_type(r, json_type_object)) FAIL("'recipient' is required (an object)");
    json_object_object_foreach(r, rk, rv) {
        (void)rv;
        if (strcmp(rk, "external_user_id") && strcmp(rk, "user_alias") && strcmp(rk, "attributes"))
            FAIL("recipient: unknown field '%.60s'", rk);
    }
    json_object *ext = json_get(r, "external_user_id"), *al = json_get(r, "user_alias"), *a = json_get(r, "attributes");
    if (!ext == !al) FAIL("recipient needs exactly one of external_user_id or user_alias");
    if (ext && (!is_str(ext) || !json_object_get_string_len(ext) || json_object_get_string_len(ext) > 512))
        FAIL("recipient.external_user_id must be a non-empty string");
    if (al && (!json_object_is_type(al, json_type_object) || !is_str(json_get(al, "alias_name")) ||
               !is_str(json_get(al, "alias_label")) || !json_object_get_string_len(json_get(al, "alias_name")) ||
               !json_object_get_string_len(json_get(al, "alias_label"))))
        FAIL("recipient.user_alias must be an object with string alias_name and alias_label");
    json_object *one = json_object_new_object(), *list = json_object_new_array();
    json_object_object_add(one, ext ? "external_user_id" : "user_alias", json_object_get(ext ? ext : al));
    json_object_array_add(list, one);
    json_object_object_add(req, "recipients", list);
    if (a) {
        if (!json_object_is_type(a, json_type_object)) FAIL("recipient.attributes must be an object");
        /* a /users/track attributes object for the recipient; it creates the user when there is none */
        json_object *o = json_object_new_object(), *tb = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_foreach(a, ak, av) {
            if (strcmp(ak, "external_id") && strcmp(ak, "user_alias") && strcmp(ak, "braze_id") &&
                strcmp(ak, "_update_existing_only") && strcmp(ak, "push_token_import"))
                json_object_object_add(o, ak, json_object_get(av));
        }
        json_object_object_add(o, ext ? "external_id" : "user_alias", json_object_get(ext ? ext : al));
        json_object_object_add(o, "_update_existing_only", json_object_new_boolean(0));
        json_object_array_add(arr, o);
        json_object_object_add(tb, "attributes", arr);
        char twhy[200];
        int rc = api_track_parse(tb, &s->track, &s->tres, twhy, sizeof twhy);
        json_object_put(tb);
        s->has_track = rc == 0;
        if (rc < 0) FAIL("recipient.attributes: %s", twhy);
        if (s->tres.errors && json_object_array_length(s->tres.errors))
            FAIL("recipient.attributes: %s", json_object_get_string(json_get(json_object_array_get_idx(s->tres.errors, 0), "type")));
    }
    return 0;
}

static int answer(http_req *r, tx_req *s) {
    json_object *o = json_object_new_object(), *md = json_object_new_object();
    json_object_object_add(o, "dispatch_id", json_object_new_string(s->repeat ? s->first : s->id));
    json_object_object_add(o, "status", json_object_new_string("queued"));
    if (s->external_send_id) json_object_object_add(md, "external_send_id", json_object_new_string(s->external_send_id));
    json_object_object_add(md, "campaign_api_id", json_object_new_string(s->campaign_id));
    json_object_object_add(o, "metadata", md);
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int fail(http_req *r, tx_req *s, int rc) {
    if (rc == BR_ESTORE || rc == BR_EUNAVAIL || rc == BR_EINTERNAL) return rc;
    const char *why = s->why[0] ? s->why : s->n.why[0] ? s->n.why : NULL;
    return http_error(r, rc, why);
}

/* ---- the steps ------------------------------------------------------------ */

static int insert_op(sqlite3 *db, void *arg) {
    tx_req *s = arg;
    int rc;
    if (s->external_send_id) {
        rc = store_txsend_get(db, s->campaign_id, s->external_send_id, s->now_ms - DEDUP_MS, s->first, sizeof s->first);
        if (rc < 0) return rc;
        if ((s->repeat = rc == 1)) return 0;
        rc = store_txsend_put(db, s->campaign_id, s->external_send_id, s->id, s->now_ms, s->now_ms - DEDUP_MS);
        if (rc < 0) return rc;
    }
    return dsp_insert_op(db, &s->n);
}

static int inserted(http_req *r, int rc) {
    tx_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    if (!s->repeat) dsp_wake(http_context(r)->dispatcher);
    return answer(r, s);
}

static int resolved(http_req *r, int rc) {
    tx_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    return api_store(r, &s->cmd, insert_op, s, inserted);
}

static int resolve(http_req *r) {
    tx_req *s = http_state_get(r);
    s->n = (dsp_new){.req = s->req, .id = s->id, .now_ms = s->now_ms};
    return api_read(r, &s->cmd, dsp_resolve_read, &s->n, resolved);
}

static int tracked(http_req *r, int rc) { return rc < 0 ? rc : resolve(r); }

/* The campaign, with Braze's texts; a repeat of a recent external_send_id
 * is found here too, so that it applies no attributes (the store op checks
 * again: two requests may race). */
static int check_read(engine_t *e, void *arg) {
    tx_req *s = arg;
    sqlite3 *db = engine_reader(e);
    store_campaign_row row;
    int rc = store_campaign_get(db, s->campaign_id, &row);
    if (rc == BR_ENOTFOUND) return BR_ETXNOCAMPAIGN;
    if (rc < 0) return rc;
    json_object *d = json_parse(row.doc, strlen(row.doc));
    store_campaign_row_free(&row);
    if (!d) return BR_ESTORE;
    rc = !camp_is_transactional(d)                                 ? BR_ETXNOTTX
         : json_object_get_boolean(json_get(d, "archived"))        ? BR_ETXARCHIVED
         : json_object_get_boolean(json_get(d, "draft"))           ? BR_ETXPAUSED
         : 0;
    json_object_put(d);
    if (rc == 0 && !s->email_ok) {
        snprintf(s->why, sizeof s->why, "campaign '%s' sends email, and " NO_RELAY, s->campaign_id);
        rc = BR_EINVAL;
    }
    if (rc == 0 && s->external_send_id)
        rc = store_txsend_get(db, s->campaign_id, s->external_send_id, s->now_ms - DEDUP_MS, s->first, sizeof s->first);
    if (rc == 1) s->repeat = true, rc = 0;
    return rc;
}

static int checked(http_req *r, int rc) {
    tx_req *s = http_state_get(r);
    if (rc < 0) return fail(r, s, rc);
    if (s->repeat) return answer(r, s);
    if (s->has_track) {
        s->cmd = (eng_cmd){.kind = ENG_TRACK, .arg = &s->track};
        return api_submit(r, &s->cmd, tracked);
    }
    return resolve(r);
}

static int post_send(http_req *r) {
    tx_req *s = http_state(r, sizeof(tx_req), tx_req_free);
    const char *cid = http_param(r, "campaign_id");
    if (!cid || !*cid || strlen(cid) > 64) return http_error(r, BR_ETXCAMPAIGNID, NULL);
    snprintf(s->campaign_id, sizeof s->campaign_id, "%s", cid);
    s->email_ok = dsp_delivers(http_context(r)->dispatcher, CH_EMAIL);
    s->now_ms = clock_wall_ms();
    dsp_new_id(s->id);
    int rc = check_body(s, http_body(r));
    if (rc < 0) return http_error(r, rc, s->why);
    return api_read(r, &s->cmd, check_read, s, checked);
}

const http_route api_transactional_routes[] = {
    {"POST", "/transactional/v1/campaigns/{campaign_id}/send", PERM_TRANSACTIONAL_SEND, RL_DEFAULT, post_send, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
