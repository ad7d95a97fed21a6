/* partners.c -- Partner Cohort Import (Braze's API for technology partners)
 * and brasa's admin routes for data import keys and cohorts.
 *
 *   POST /partners/{partner}/cohorts              data import key (body)  create or rename a cohort
 *   POST /partners/{partner}/cohorts/users        data import key (body)  add/remove members
 *   GET  /admin/partners                          brasa.keys  partners, their keys (never the text), settings
 *   POST /admin/partners/{partner}/keys           brasa.keys  a new data import key, once; {"rotate", "overlap_seconds"}
 *   POST /admin/partners/{partner}/keys/invalidate brasa.keys end every key of the partner now
 *   GET  /admin/cohorts[?partner=P]               brasa.keys  cohorts with size, times, last import
 *
 * The partner routes need no REST key (PERM_NONE): the body's
 * client_secret, a data import key of that partner, authorises them
 * (http/pauth.h), and they have no rate limit beyond the 1,000-id cap, as in
 * Braze. Cohort commands are journaled without the secrets: the body is
 * reduced to the partner, the cohort id and the change (cohort_body). */
#include "api.h"
#include "../core/cohort.h"
#include "../core/partner.h"
#include "../engine/engine.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_ECHO_MAX 128 /* a client secret is echoed like Braze does, but bounded */

/* ---- partner cohort import ----------------------------------------------- */

typedef struct {
    eng_command cmd;
    char partner[PARTNER_NAME_MAX + 1];
    char *raw; /* the journaled body */
} cohort_req;

static void cohort_req_free(void *p) {
    cohort_req *s = p;
    eng_command_free(&s->cmd);
    json_object_put(s->cmd.body);
    free(s->raw);
}

static const char *str_field(json_object *o, const char *k, size_t *n) {
    json_object *v;
    *n = 0;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    *n = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static int cohort_done(http_req *r, int rc) {
    cohort_req *s = http_state_get(r);
    if (rc == BR_ENOCOHORT) {
        size_t n;
        char d[PARTNER_NAME_MAX * 2 + COHORT_ID_MAX + 128];
        snprintf(d, sizeof d, "no cohort '%s' for partner '%s'; create it with POST /partners/%s/cohorts first",
                 str_field(s->cmd.body, "cohort_id", &n), s->partner, s->partner);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    if (s->cmd.kind == CMD_COHORT_USERS && s->cmd.result) {
        json_object_object_foreach(s->cmd.result, k, v) json_object_object_add(o, k, json_object_get(v));
    }
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int partner_request(http_req *r, int kind) {
    json_object *body = http_body(r);
    if (!json_object_is_type(body, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object");
    char partner[PARTNER_NAME_MAX + 1];
    /* A name no key can have still gets the uniform answers below. */
    if (partner_name(http_param(r, "partner"), partner) < 0) partner[0] = '\0';
    size_t kl, sl;
    const char *key = str_field(body, "partner_api_key", &kl), *secret = str_field(body, "client_secret", &sl);
    int rc = pauth_check(http_context(r)->pauth, partner, key, kl, secret, sl);
    if (rc == BR_EPARTNEROFF) {
        char echo[SECRET_ECHO_MAX + 4];
        snprintf(echo, sizeof echo, "%.*s%s", (int)(sl > SECRET_ECHO_MAX ? SECRET_ECHO_MAX : sl), secret,
                 sl > SECRET_ECHO_MAX ? "..." : "");
        return http_error(r, rc, echo);
    }
    if (rc < 0) return http_error(r, rc, NULL);
    char why[256];
    rc = kind == CMD_COHORT_NAME ? cohort_check_name(body, why, sizeof why) : cohort_check_users(body, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);

    cohort_req *s = http_state(r, sizeof *s, cohort_req_free);
    memcpy(s->partner, partner, sizeof partner);
    eng_command *c = &s->cmd;
    c->eng = http_context(r)->engine;
    c->kind = kind;
    c->body = cohort_body(kind, partner, body);
    size_t len;
    const char *j = json_object_to_json_string_length(c->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    s->raw = xstrndup(j, len);
    c->raw = s->raw;
    c->rawlen = len;
    return http_commit(r, engine_command_op, c, cohort_done);
}

static int post_cohorts(http_req *r) { return partner_request(r, CMD_COHORT_NAME); }
static int post_cohort_users(http_req *r) { return partner_request(r, CMD_COHORT_USERS); }

/* ---- admin: data import keys --------------------------------------------- */

typedef struct {
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

static int partners_list_op(sqlite3 *db, void *arg) {
    admin_req *s = arg;
    return partner_list_json(db, &s->list);
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
    return http_commit(r, partners_list_op, s, partners_list_done);
}

static int keygen_done(http_req *r, int rc) {
    admin_req *s = http_state_get(r);
    if (rc == BR_EEXISTS) {
        char d[PARTNER_NAME_MAX + 96];
        snprintf(d, sizeof d, "%s has a valid data import key; rotate or invalidate it", s->gen.partner);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    pauth_forget(http_context(r)->pauth, s->gen.partner); /* a rotation shortened the old keys */
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
    return http_commit(r, partner_keygen_op, &s->gen, keygen_done);
}

static int invalidate_done(http_req *r, int rc) {
    admin_req *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) {
        char d[PARTNER_NAME_MAX + 48];
        snprintf(d, sizeof d, "%s has no valid data import key", s->inv.partner);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    pauth_forget(http_context(r)->pauth, s->inv.partner); /* effective now, not after the cache time */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "invalidated", json_object_new_int(s->inv.n));
    return http_reply(r, 201, o);
}

static int post_partner_invalidate(http_req *r) {
    admin_req *s = http_state(r, sizeof *s, admin_req_free);
    if (path_partner(r, s->inv.partner) < 0) return 0;
    return http_commit(r, partner_invalidate_op, &s->inv, invalidate_done);
}

/* ---- admin: cohorts ------------------------------------------------------ */

typedef struct {
    engine_t *eng;
    char partner[PARTNER_NAME_MAX + 1]; /* "" = all */
    json_object *list;
} cohorts_req;

static void cohorts_req_free(void *p) { json_object_put(((cohorts_req *)p)->list); }

/* Runs on the writer thread, which owns the cohorts. */
static int cohorts_list_op(sqlite3 *db, void *arg) {
    (void)db;
    cohorts_req *s = arg;
    cohorts_t *c = engine_cohorts(s->eng);
    s->list = json_object_new_array();
    for (uint32_t i = 0, n = cohorts_count(c); i < n; i++) {
        cohort_t *k = cohorts_at(c, i);
        if (s->partner[0] && strcmp(k->partner, s->partner)) continue;
        store_cohort_row row = cohort_row(k);
        json_object *o = cohort_row_json(&row);
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
    s->eng = http_context(r)->engine;
    return http_commit(r, cohorts_list_op, s, cohorts_list_done);
}

const http_route api_partners_routes[] = {
    {"POST", "/partners/{partner}/cohorts", PERM_NONE, RL_DEFAULT, post_cohorts},
    {"POST", "/partners/{partner}/cohorts/users", PERM_NONE, RL_DEFAULT, post_cohort_users},
    {"GET", "/admin/partners", PERM_BRASA_KEYS, RL_DEFAULT, get_partners},
    {"POST", "/admin/partners/{partner}/keys", PERM_BRASA_KEYS, RL_DEFAULT, post_partner_key},
    {"POST", "/admin/partners/{partner}/keys/invalidate", PERM_BRASA_KEYS, RL_DEFAULT, post_partner_invalidate},
    {"GET", "/admin/cohorts", PERM_BRASA_KEYS, RL_DEFAULT, get_cohorts},
    {NULL, NULL, 0, 0, NULL},
};
