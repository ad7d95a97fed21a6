/* partners.c -- Partner Cohort Import (Braze's API for technology partners)
 * and brasa's admin routes for data import keys and cohorts.
 *
 *   POST /partners/{partner}/cohorts              data import key (body)  create or rename a cohort
 *   POST /partners/{partner}/cohorts/users        data import key (body)  add/remove members
 *   GET  /admin/partners                          brasa.marketing  partners, their keys (never the text), settings
 *   POST /admin/partners/{partner}/keys           brasa.keys  a new data import key, once; {"rotate", "overlap_seconds"}
 *   POST /admin/partners/{partner}/keys/invalidate brasa.keys end every key of the partner now
 *   POST /admin/partners/{partner}/settings       brasa.keys  {"partner_api_key": "K" | null}
 *   GET  /admin/cohorts[?partner=P]               brasa.marketing  cohorts with size, times, last import
 *
 * The partner routes need no REST key (PERM_NONE): the body's
 * client_secret, a data import key of that partner, authorises them
 * (http/auth.h), and they have no rate limit beyond the 1,000-id cap, as in
 * Braze. What the journal keeps of a call is what changed (the cohort's
 * metadata, the rows that entered or left it), never the secrets. */
#include "api.h"
#include "parse.h"
#include "../core/partner.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../store/partners.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_ECHO_MAX 128 /* a client secret is echoed like Braze does, but bounded */

/* ---- the partner's requests ---------------------------------------------- */

#define FAIL(code, ...)                         \
    do {                                        \
        snprintf(why, whylen, __VA_ARGS__);     \
        return code;                            \
    } while (0)

static int parse_cohort_id(json_object *body, const char *partner, cohort_cmd *cmd, char *why, size_t whylen) {
    memset(cmd, 0, sizeof *cmd);
    cmd->partner = partner;
    json_object *v = json_get(body, "cohort_id");
    if (!v) FAIL(BR_ECOHORTID, "'cohort_id' is required");
    if (!json_object_is_type(v, json_type_string)) FAIL(BR_ECOHORTID, "'cohort_id' is not a string");
    cmd->cohort_id = json_strlen(v, &cmd->idlen);
    if (cmd->idlen == 0) FAIL(BR_ECOHORTID, "'cohort_id' is empty");
    if (cmd->idlen > COHORT_ID_MAX) FAIL(BR_ECOHORTID, "'cohort_id' is longer than %d bytes", COHORT_ID_MAX);
    return 0;
}

/* ISO-8601 as Braze's partners send it: a calendar date first
 * (YYYY-MM-DD, then optionally a time and zone); timefmt's US forms are not
 * ISO-8601. */
static bool iso8601(const char *s, size_t n, int64_t *ms) {
    int year;
    if (n < 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 4; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return timefmt_parse(s, n, ms, &year) == 0;
}

int api_cohort_parse_name(json_object *body, const char *partner, cohort_cmd *cmd, char *why, size_t whylen) {
    int rc = parse_cohort_id(body, partner, cmd, why, whylen);
    if (rc < 0) return rc;
    json_object *v = json_get(body, "name");
    if (!v) FAIL(BR_ECOHORTNAME, "'name' is required");
    if (!json_object_is_type(v, json_type_string)) FAIL(BR_ECOHORTNAME, "'name' is not a string");
    size_t n;
    cmd->name = json_strlen(v, &n);
    if (n == 0) FAIL(BR_ECOHORTNAME, "'name' is empty");
    if (n > COHORT_NAME_MAX) FAIL(BR_ECOHORTNAME, "'name' is longer than %d bytes", COHORT_NAME_MAX);
    if (!(v = json_get(body, "created_at"))) FAIL(BR_ECOHORTTIME, "'created_at' is required");
    const char *t = json_object_is_type(v, json_type_string) ? json_strlen(v, &n) : NULL;
    if (!t || !iso8601(t, n, &cmd->created_at)) FAIL(BR_ECOHORTTIME, "got %.64s", json_text(v, NULL));
    return 0;
}

/* Keeps a ref while fewer than COHORT_MAX_IDS are kept; counts them all. */
static void keep(cohort_cmd *cmd, cohort_ref *refs, const cohort_ref *r, size_t *total) {
    if (++*total <= COHORT_MAX_IDS) refs[cmd->nrefs++] = *r;
}

/* Appends the ids of cohort_changes[i].key (user_ids or device_ids). */
static int add_strings(json_object *ch, size_t i, const char *key, uint8_t kind, bool remove, cohort_cmd *cmd,
                       cohort_ref *refs, size_t *total, bool *present, char *why, size_t whylen) {
    json_object *a = json_get(ch, key);
    if (!a) return 0;
    *present = true;
    if (!json_object_is_type(a, json_type_array)) FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].%s is not an array", i, key);
    size_t n = json_object_array_length(a);
    for (size_t j = 0; j < n; j++) {
        json_object *v = json_object_array_get_idx(a, j);
        if (!json_object_is_type(v, json_type_string))
            FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].%s[%zu] is not a string", i, key, j);
        cohort_ref r = {.kind = kind, .remove = remove};
        r.a = json_strlen(v, &r.an);
        keep(cmd, refs, &r, total);
    }
    return 0;
}

static int add_aliases(json_object *ch, size_t i, bool remove, cohort_cmd *cmd, cohort_ref *refs, size_t *total,
                       bool *present, char *why, size_t whylen) {
    json_object *a = json_get(ch, "aliases");
    if (!a) return 0;
    *present = true;
    if (!json_object_is_type(a, json_type_array)) FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].aliases is not an array", i);
    size_t n = json_object_array_length(a);
    for (size_t j = 0; j < n; j++) {
        json_object *al = json_object_array_get_idx(a, j);
        cohort_ref r = {.kind = COHORT_REF_ALIAS, .remove = remove};
        r.a = json_str(al, "alias_label", &r.an);
        r.b = json_str(al, "alias_name", &r.bn);
        if (!r.a || !r.b)
            FAIL(BR_ECOHORTCHANGES,
                 "cohort_changes[%zu].aliases[%zu] is not an object with string alias_name and alias_label", i, j);
        keep(cmd, refs, &r, total);
    }
    return 0;
}

int api_cohort_parse_users(json_object *body, const char *partner, cohort_cmd *cmd, cohort_ref *refs, char *why,
                           size_t whylen) {
    int rc = parse_cohort_id(body, partner, cmd, why, whylen);
    if (rc < 0) return rc;
    json_object *changes = json_get(body, "cohort_changes"), *v;
    if (!changes) FAIL(BR_ECOHORTCHANGES, "'cohort_changes' is required");
    if (!json_object_is_type(changes, json_type_array)) FAIL(BR_ECOHORTCHANGES, "'cohort_changes' is not an array");
    cmd->refs = refs;
    /* An empty list is a valid call that changes nothing: Segment's Braze
     * Cohorts destination checks its credentials that way. */
    size_t n = json_object_array_length(changes), total = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *ch = json_object_array_get_idx(changes, i);
        bool present = false, remove = false;
        if (!json_object_is_type(ch, json_type_object)) FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu] is not an object", i);
        if ((v = json_get(ch, "should_remove"))) {
            if (!json_object_is_type(v, json_type_boolean))
                FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].should_remove is not a boolean", i);
            remove = json_object_get_boolean(v);
        }
        if ((rc = add_strings(ch, i, "user_ids", COHORT_REF_USER, remove, cmd, refs, &total, &present, why, whylen)) < 0 ||
            (rc = add_strings(ch, i, "device_ids", COHORT_REF_DEVICE, remove, cmd, refs, &total, &present, why, whylen)) < 0 ||
            (rc = add_aliases(ch, i, remove, cmd, refs, &total, &present, why, whylen)) < 0)
            return rc;
        if (!present) FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu] has none of user_ids, device_ids, aliases", i);
    }
    if (total > COHORT_MAX_IDS) FAIL(BR_ECOHORTMAX, "this request has %zu", total);
    if (n && !total) FAIL(BR_ECOHORTCHANGES, "no user_ids, device_ids or aliases were given");
    return 0;
}

typedef struct {
    eng_cmd cmd;
    char partner[PARTNER_NAME_MAX + 1];
    cohort_cmd cohort;
    cohort_ref refs[COHORT_MAX_IDS];
} cohort_req;

static int cohort_answer(http_req *r, const cohort_req *s) {
    json_object *o = json_object_new_object();
    if (s->cmd.kind == ENG_COHORT_USERS) {
        json_object_object_add(o, "added", json_object_new_int64(s->cmd.cohort.added));
        json_object_object_add(o, "removed", json_object_new_int64(s->cmd.cohort.removed));
        json_object_object_add(o, "unchanged", json_object_new_int64(s->cmd.cohort.unchanged));
        json_object_object_add(o, "unmatched", json_object_new_int64(s->cmd.cohort.unmatched));
    }
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int cohort_done(http_req *r, int rc) {
    cohort_req *s = http_state_get(r);
    if (rc == BR_ENOCOHORT) {
        char d[PARTNER_NAME_MAX * 2 + COHORT_ID_MAX + 128];
        snprintf(d, sizeof d, "no cohort '%s' for partner '%s'; create it with POST /partners/%s/cohorts first",
                 s->cohort.cohort_id, s->partner, s->partner);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    return cohort_answer(r, s);
}

static int partner_request(http_req *r, eng_kind kind) {
    json_object *body = http_body(r);
    if (!json_object_is_type(body, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object");
    cohort_req *s = http_state(r, sizeof *s, NULL);
    /* A name no key can have still gets the uniform answers below. */
    if (partner_name(http_param(r, "partner"), s->partner) < 0) s->partner[0] = '\0';
    size_t kl, sl;
    const char *key = json_str(body, "partner_api_key", &kl), *secret = json_str(body, "client_secret", &sl);
    int rc = auth_partner_check(http_context(r)->auth, s->partner, key, kl, secret, sl);
    if (rc == BR_EPARTNEROFF) {
        char echo[SECRET_ECHO_MAX + 4];
        snprintf(echo, sizeof echo, "%.*s%s", (int)(sl > SECRET_ECHO_MAX ? SECRET_ECHO_MAX : sl), secret,
                 sl > SECRET_ECHO_MAX ? "..." : "");
        return http_error(r, rc, echo);
    }
    if (rc < 0) return http_error(r, rc, NULL);
    char why[256];
    rc = kind == ENG_COHORT_NAME ? api_cohort_parse_name(body, s->partner, &s->cohort, why, sizeof why)
                                 : api_cohort_parse_users(body, s->partner, &s->cohort, s->refs, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    s->cmd = (eng_cmd){.kind = kind, .arg = &s->cohort};
    if (kind == ENG_COHORT_USERS && !s->cohort.nrefs) return cohort_answer(r, s); /* changes nothing */
    return api_submit(r, &s->cmd, cohort_done);
}

static int post_cohorts(http_req *r) { return partner_request(r, ENG_COHORT_NAME); }
static int post_cohort_users(http_req *r) { return partner_request(r, ENG_COHORT_USERS); }

/* ---- admin: data import keys --------------------------------------------- */

typedef struct {
    eng_cmd cmd;
    partner_keygen gen;
    partner_invalidate inv;
    json_object *list; /* GET /admin/partners */
} admin_req;

static void admin_req_free(void *p) {
    admin_req *s = p;
    json_object_put(s->list);
    memset(&s->gen, 0, sizeof s->gen); /* the key text must not outlive its showing */
}

/* The {partner} segment, normalised into out; sets a 400 reply if invalid. */
static int path_partner(http_req *r, char out[PARTNER_NAME_MAX + 1]) {
    if (partner_name(http_param(r, "partner"), out) == 0) return 0;
    http_error(r, BR_EINVAL, "the partner name must be 1-64 characters of a-z, 0-9, '.', '_' or '-'");
    return BR_EINVAL;
}

static int partners_list_read(engine_t *e, void *arg) {
    admin_req *s = arg;
    partner_listing l;
    int rc = store_partner_listing(engine_reader(e), &l);
    if (rc < 0) return rc;
    s->list = partner_list_json(&l, clock_wall_ms());
    partner_listing_free(&l);
    return 0;
}

static int partners_list_done(http_req *r, int rc) {
    admin_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "partners", json_object_get(s->list));
    return http_reply(r, 200, o);
}

static int get_partners(http_req *r) {
    admin_req *s = http_state(r, sizeof *s, admin_req_free);
    return api_read(r, &s->cmd, partners_list_read, s, partners_list_done);
}

static int keygen_done(http_req *r, int rc) {
    admin_req *s = http_state_get(r);
    if (rc == BR_EEXISTS) {
        char d[PARTNER_NAME_MAX + 96];
        snprintf(d, sizeof d, "%s has a valid data import key; rotate or invalidate it", s->gen.partner);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    auth_forget_partner(http_context(r)->auth, s->gen.partner); /* a rotation shortened the old keys */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "key", partner_keygen_json(&s->gen));
    return http_reply(r, 201, o);
}

static int post_partner_key(http_req *r) {
    json_object *body = http_body(r), *v;
    if (body && !json_object_is_type(body, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object");
    admin_req *s = http_state(r, sizeof *s, admin_req_free);
    if (path_partner(r, s->gen.partner) < 0) return 0;
    s->gen.overlap_ms = PARTNER_DEFAULT_OVERLAP_MS;
    if (json_object_object_get_ex(body, "rotate", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_boolean)) return http_error(r, BR_EINVAL, "'rotate' must be a boolean");
        s->gen.rotate = json_object_get_boolean(v);
    }
    if (json_object_object_get_ex(body, "overlap_seconds", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_get_int64(v) > 365LL * 86400)
            return http_error(r, BR_EINVAL, "'overlap_seconds' must be an integer from 0 to 31536000");
        s->gen.overlap_ms = json_object_get_int64(v) * 1000;
    }
    return api_store(r, &s->cmd, store_partner_keygen_op, &s->gen, keygen_done);
}

static int invalidate_done(http_req *r, int rc) {
    admin_req *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) {
        char d[PARTNER_NAME_MAX + 48];
        snprintf(d, sizeof d, "%s has no valid data import key", s->inv.partner);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    auth_forget_partner(http_context(r)->auth, s->inv.partner); /* effective now, not after the cache time */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "invalidated", json_object_new_int(s->inv.n));
    return http_reply(r, 201, o);
}

static int post_partner_invalidate(http_req *r) {
    admin_req *s = http_state(r, sizeof *s, admin_req_free);
    if (path_partner(r, s->inv.partner) < 0) return 0;
    return api_store(r, &s->cmd, store_partner_invalidate_op, &s->inv, invalidate_done);
}

/* ---- admin: settings ---------------------------------------------------- */

#define PARTNER_API_KEY_MAX 255

typedef struct {
    eng_cmd cmd;
    partner_setting set;
    char api_key[PARTNER_API_KEY_MAX + 1];
} setting_req;

static void setting_req_free(void *p) {
    setting_req *s = p;
    memset(s->api_key, 0, sizeof s->api_key); /* only its hash is kept */
}

static int settings_done(http_req *r, int rc) {
    setting_req *s = http_state_get(r);
    if (rc < 0) return rc;
    auth_forget_partner(http_context(r)->auth, s->set.partner); /* effective now, not after the cache time */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "partner_api_key", json_object_new_string(s->set.api_key ? "configured" : "any"));
    return http_reply(r, 200, o);
}

/* What `brasa partners set` does: the partner_api_key to require, or null
 * to accept any (the default, as brasa cannot know the one Braze issued). */
static int post_partner_settings(http_req *r) {
    static const char *const known[] = {"partner_api_key", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    setting_req *s = http_state(r, sizeof *s, setting_req_free);
    if (path_partner(r, s->set.partner) < 0) return 0;
    json_object *v;
    if (!json_object_object_get_ex(http_body(r), "partner_api_key", &v))
        return http_error(r, BR_EINVAL, "give 'partner_api_key': the key to require, or null to accept any");
    if (!json_object_is_type(v, json_type_null)) {
        size_t n;
        const char *k = json_object_is_type(v, json_type_string) ? json_strlen(v, &n) : NULL;
        if (!k || n == 0 || n > PARTNER_API_KEY_MAX)
            return http_error(r, BR_EINVAL, "'partner_api_key' must be a string of 1 to 255 bytes, or null");
        memcpy(s->api_key, k, n);
        s->set.api_key = s->api_key;
    }
    return api_store(r, &s->cmd, store_partner_set_api_key_op, &s->set, settings_done);
}

/* ---- admin: cohorts ------------------------------------------------------ */

typedef struct {
    eng_cmd cmd;
    char partner[PARTNER_NAME_MAX + 1]; /* "" = all */
    json_object *list;
} cohorts_req;

static void cohorts_req_free(void *p) { json_object_put(((cohorts_req *)p)->list); }

/* ENG_READ: the engine thread owns the cohorts. */
static int cohorts_list_read(engine_t *e, void *arg) {
    cohorts_req *s = arg;
    cohorts_t *c = engine_cohorts(e);
    s->list = json_object_new_array();
    for (uint32_t i = 0, n = cohorts_count(c); i < n; i++) {
        cohort_t *k = cohorts_at(c, i);
        if (s->partner[0] && strcmp(k->partner, s->partner)) continue;
        cohort_meta m = cohort_meta_of(k);
        json_object *o = cohort_meta_json(&m);
        json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)bitmap_memory(k->members)));
        json_object_array_add(s->list, o);
    }
    return 0;
}

static int cohorts_list_done(http_req *r, int rc) {
    cohorts_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "cohorts", json_object_get(s->list));
    return http_reply(r, 200, o);
}

static int get_cohorts(http_req *r) {
    cohorts_req *s = http_state(r, sizeof *s, cohorts_req_free);
    const char *p = http_query(r, "partner");
    if (p && partner_name(p, s->partner) < 0)
        return http_error(r, BR_EINVAL, "'partner' must be 1-64 characters of a-z, 0-9, '.', '_' or '-'");
    return api_read(r, &s->cmd, cohorts_list_read, s, cohorts_list_done);
}

const http_route api_partners_routes[] = {
    {"POST", "/partners/{partner}/cohorts", PERM_NONE, RL_DEFAULT, post_cohorts, 0},
    {"POST", "/partners/{partner}/cohorts/users", PERM_NONE, RL_DEFAULT, post_cohort_users, 0},
    {"GET", "/admin/partners", PERM_BRASA_MARKETING, RL_DEFAULT, get_partners, 0},
    {"POST", "/admin/partners/{partner}/keys", PERM_BRASA_KEYS, RL_DEFAULT, post_partner_key, 0},
    {"POST", "/admin/partners/{partner}/keys/invalidate", PERM_BRASA_KEYS, RL_DEFAULT, post_partner_invalidate, 0},
    {"POST", "/admin/partners/{partner}/settings", PERM_BRASA_KEYS, RL_DEFAULT, post_partner_settings, 0},
    {"GET", "/admin/cohorts", PERM_BRASA_MARKETING, RL_DEFAULT, get_cohorts, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
