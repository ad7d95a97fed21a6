/* users.c -- the /users/... endpoints: track, export, identity.
 *
 *   POST /users/track                 users.track                attributes, events, purchases
 *   POST /users/export/ids            users.export.ids           profiles by identifier
 *   POST /users/alias/new             users.alias.new            add aliases / alias-only users
 *   POST /users/identify              users.identify             merge unidentified users into identified ones
 *   POST /users/delete                users.delete               delete users
 *   POST /users/external_ids/rename   users.external_ids.rename  rename, keeping the old id deprecated
 *   POST /users/external_ids/remove   users.external_ids.remove  drop deprecated ids
 *
 * Handlers check the request's shape here, on the HTTP thread; the engine
 * applies it on the writer thread (engine.h) and the answer is built after
 * the commit. */
#include "api.h"
#include "../core/export.h"
#include "../core/identity.h"
#include "../engine/engine.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    eng_command cmd;
    char *scrubbed; /* the body without a legacy api_key, when it had one */
} command_state;

static void command_free(void *p) {
    command_state *s = p;
    eng_command_free(&s->cmd);
    free(s->scrubbed);
}

/* Queues a journaled command of this kind with the request body. A legacy
 * `api_key` in the body is a secret: it is not written to the journal. */
static int submit(http_req *r, int kind, http_finish finish) {
    command_state *s = http_state(r, sizeof *s, command_free);
    eng_command *c = &s->cmd;
    c->eng = http_context(r)->engine;
    c->kind = kind;
    c->body = http_body(r);
    c->raw = http_raw_body(r, &c->rawlen);
    if (json_object_object_get_ex(c->body, "api_key", NULL)) {
        json_object_object_del(c->body, "api_key");
        s->scrubbed = xstrdup(json_object_to_json_string_ext(c->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        c->raw = s->scrubbed;
        c->rawlen = strlen(s->scrubbed);
    }
    return http_commit(r, engine_command_op, c, finish);
}

/* ---- /users/track -------------------------------------------------------- */

static const char *const processed_keys[3] = {"attributes_processed", "events_processed", "purchases_processed"};

static int track_done(http_req *r, int rc) {
    eng_command *c = &((command_state *)http_state_get(r))->cmd;
    if (rc < 0) return rc;
    track_result *t = &c->track;
    int total = 0;
    json_object *o = json_object_new_object();
    for (int a = 0; a < 3; a++)
        if (t->present[a]) {
            json_object_object_add(o, processed_keys[a], json_object_new_int(t->processed[a]));
            total += t->processed[a];
        }
    /* Nothing valid at all is Braze's fatal case. */
    json_object_object_add(o, "message",
                           json_object_new_string(total ? "success" : br_err_message(BR_ENODATA)));
    if (t->errors) json_object_object_add(o, "errors", json_object_get(t->errors));
    return http_reply(r, total ? 201 : 400, o);
}

static int post_track(http_req *r) {
    char why[160];
    json_object *body = http_body(r);
    int rc = track_check(body, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    return submit(r, CMD_TRACK, track_done);
}

/* ---- identity ------------------------------------------------------------ */

static int identity_done(http_req *r, int rc) {
    eng_command *c = &((command_state *)http_state_get(r))->cmd;
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_foreach(c->result, k, v) json_object_object_add(o, k, json_object_get(v));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int identity_request(http_req *r, int kind) {
    char why[200];
    int rc = identity_check(kind, http_body(r), why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    return submit(r, kind, identity_done);
}

static int post_alias_new(http_req *r) { return identity_request(r, CMD_ALIAS_NEW); }
static int post_identify(http_req *r) { return identity_request(r, CMD_IDENTIFY); }
static int post_delete(http_req *r) { return identity_request(r, CMD_DELETE); }
static int post_rename(http_req *r) { return identity_request(r, CMD_RENAME); }
static int post_remove(http_req *r) { return identity_request(r, CMD_REMOVE); }

/* ---- /users/export/ids --------------------------------------------------- */

#define EXPORT_MAX_IDS 50

typedef struct {
    engine_t *eng;
    json_object *body;
    export_fields fields;
    json_object *users, *invalid; /* out */
} export_req;

static void export_free(void *p) {
    export_req *x = p;
    json_object_put(x->users);
    json_object_put(x->invalid);
}

static const char *str_of(json_object *body, const char *k, size_t *n) {
    json_object *v;
    if (!json_object_object_get_ex(body, k, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    *n = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

typedef struct {
    export_req *x;
    users_t *u;
    int n;
} each_arg;

static void export_row(export_req *x, users_t *u, uint32_t row) {
    json_object *o = export_user(u, engine_names(x->eng), row, &x->fields);
    export_cohorts(o, engine_cohorts(x->eng), row, &x->fields);
    json_object_array_add(x->users, o);
}

static void each_export(uint32_t row, void *arg) {
    each_arg *a = arg;
    export_row(a->x, a->u, row);
    a->n++;
}

static void not_found(export_req *x, json_object *id) { json_object_array_add(x->invalid, json_object_get(id)); }

/* Runs on the writer thread: the profiles are read where they are owned. */
static int export_op(sqlite3 *db, void *arg) {
    (void)db;
    export_req *x = arg;
    users_t *u = engine_users(x->eng);
    json_object *a, *v;
    size_t n;
    const char *s;
    x->users = json_object_new_array();
    x->invalid = json_object_new_array();
    if (json_object_object_get_ex(x->body, "external_ids", &a) && json_object_is_type(a, json_type_array))
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            v = json_object_array_get_idx(a, i);
            s = json_object_get_string(v);
            uint32_t row = users_by_external_id(u, s, strlen(s));
            if (row == USERS_NONE) not_found(x, v);
            else export_row(x, u, row);
        }
    if (json_object_object_get_ex(x->body, "user_aliases", &a) && json_object_is_type(a, json_type_array))
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *al = json_object_array_get_idx(a, i);
            size_t ln, nn;
            const char *l = str_of(al, "alias_label", &ln), *nm = str_of(al, "alias_name", &nn);
            uint32_t row = users_by_alias(u, l, ln, nm, nn);
            if (row == USERS_NONE) not_found(x, al);
            else export_row(x, u, row);
        }
    if ((s = str_of(x->body, "braze_id", &n))) {
        uint32_t row = users_by_braze_id(u, s, n);
        json_object_object_get_ex(x->body, "braze_id", &v);
        if (row == USERS_NONE) not_found(x, v);
        else export_row(x, u, row);
    }
    if ((s = str_of(x->body, "device_id", &n))) {
        uint32_t row = users_by_device(u, s, n);
        json_object_object_get_ex(x->body, "device_id", &v);
        if (row == USERS_NONE) not_found(x, v);
        else export_row(x, u, row);
    }
    /* Several users may share an email or phone: all are exported. */
    static const char *const shared[2] = {"email_address", "phone"};
    for (int k = 0; k < 2; k++)
        if ((s = str_of(x->body, shared[k], &n))) {
            each_arg ea = {x, u, 0};
            if (k == 0) users_each_email(u, s, n, each_export, &ea);
            else users_each_phone(u, s, n, each_export, &ea);
            json_object_object_get_ex(x->body, shared[k], &v);
            if (!ea.n) not_found(x, v);
        }
    return 0;
}

static int export_done(http_req *r, int rc) {
    export_req *x = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "users", json_object_get(x->users));
    if (json_object_array_length(x->invalid)) json_object_object_add(o, "invalid_user_ids", json_object_get(x->invalid));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int post_export_ids(http_req *r) {
    json_object *body = http_body(r), *v;
    char why[160];
    if (!json_object_is_type(body, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object");
    size_t ids = 0;
    if (json_object_object_get_ex(body, "external_ids", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_array)) return http_error(r, BR_EINVAL, "'external_ids' must be an array of strings");
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                return http_error(r, BR_EINVAL, "'external_ids' must be an array of strings");
        ids += json_object_array_length(v);
    }
    if (json_object_object_get_ex(body, "user_aliases", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_array))
            return http_error(r, BR_EINVAL, "'user_aliases' must be an array of objects with string 'alias_name' and 'alias_label'");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *al = json_object_array_get_idx(v, i);
            size_t a, b;
            if (!json_object_is_type(al, json_type_object) || !str_of(al, "alias_name", &a) || !str_of(al, "alias_label", &b))
                return http_error(r, BR_EINVAL, "'user_aliases' must be an array of objects with string 'alias_name' and 'alias_label'");
        }
        ids += json_object_array_length(v);
    }
    if (ids > EXPORT_MAX_IDS) return http_error(r, BR_EMAXIDS, NULL);
    static const char *const singles[4] = {"braze_id", "device_id", "email_address", "phone"};
    int single = 0, exclusive = 0;
    for (int i = 0; i < 4; i++)
        if (json_object_object_get_ex(body, singles[i], &v) && !json_object_is_type(v, json_type_null)) {
            if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v)) {
                snprintf(why, sizeof why, "'%s' must be a non-empty string", singles[i]);
                return http_error(r, BR_EINVAL, why);
            }
            single++;
            exclusive += i > 0;
        }
    if (exclusive > 1) return http_error(r, BR_EINVAL, "only one of 'device_id', 'email_address' or 'phone' may be given");
    if (!ids && !single)
        return http_error(r, BR_EINVAL, "one of 'external_ids', 'user_aliases', 'braze_id', 'device_id', 'email_address' or 'phone' is required");
    export_req *x = http_state(r, sizeof *x, export_free);
    if (export_fields_parse(json_object_object_get_ex(body, "fields_to_export", &v) ? v : NULL, &x->fields, why, sizeof why) < 0)
        return http_error(r, BR_EINVAL, why);
    x->eng = http_context(r)->engine;
    x->body = body;
    return http_commit(r, export_op, x, export_done);
}

const http_route api_users_routes[] = {
    {"POST", "/users/track", PERM_USERS_TRACK, RL_USERS_TRACK, post_track},
    {"POST", "/users/export/ids", PERM_USERS_EXPORT_IDS, RL_USERS_EXPORT_IDS, post_export_ids},
    {"POST", "/users/alias/new", PERM_USERS_ALIAS_NEW, RL_USERS_IDENTITY, post_alias_new},
    {"POST", "/users/identify", PERM_USERS_IDENTIFY, RL_USERS_IDENTITY, post_identify},
    {"POST", "/users/delete", PERM_USERS_DELETE, RL_USERS_IDENTITY, post_delete},
    {"POST", "/users/external_ids/rename", PERM_USERS_EXTERNAL_IDS_RENAME, RL_USERS_EXTERNAL_IDS, post_rename},
    {"POST", "/users/external_ids/remove", PERM_USERS_EXTERNAL_IDS_REMOVE, RL_USERS_EXTERNAL_IDS, post_remove},
    {NULL, NULL, 0, 0, NULL},
};
