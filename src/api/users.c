/* users.c -- the /users/... endpoints: track, export, identity.
 *
 *   POST /users/track                 users.track                attributes, events, purchases
 *   POST /users/export/ids            users.export.ids           profiles by identifier
 *   POST /users/alias/new             users.alias.new            add aliases / alias-only users
 *   POST /users/alias/update          users.alias.update         rename aliases
 *   POST /users/identify              users.identify             merge unidentified users into identified ones
 *   POST /users/merge                 users.merge                merge any user into another
 *   POST /users/delete                users.delete               delete users
 *   POST /users/external_ids/rename   users.external_ids.rename  rename, keeping the old id deprecated
 *   POST /users/external_ids/remove   users.external_ids.remove  drop deprecated ids
 *
 * Handlers parse the request into a typed command here, on the HTTP thread
 * (parse.h); the engine applies it and the answer is built once it is
 * durable. A request with nothing valid in it is answered without the
 * engine. */
#include "api.h"
#include "parse.h"
#include "../core/export.h"
#include "../engine/exporter.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A non-fatal error, in the shape /users/track's errors have. */
static void add_error(json_object **errors, const char *type, const char *array, int64_t index) {
    if (!*errors) *errors = json_object_new_array();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_add(e, "input_array", json_object_new_string(array));
    json_object_object_add(e, "index", json_object_new_int64(index));
    json_object_array_add(*errors, e);
}

/* ---- /users/track -------------------------------------------------------- */

static const char *const processed_keys[3] = {"attributes_processed", "events_processed", "purchases_processed"};

typedef struct {
    eng_cmd cmd;
    track_cmd track;
    api_track_result res;
} track_req;

static void track_req_free(void *p) {
    track_req *s = p;
    track_cmd_free(&s->track);
    json_object_put(s->res.errors);
}

/* Braze's answer: the counts of the arrays sent, and the errors. Nothing
 * valid at all is its fatal case. */
static int track_answer(http_req *r, const api_track_result *t) {
    int total = 0;
    json_object *o = json_object_new_object();
    for (int a = 0; a < 3; a++)
        if (t->present[a]) {
            json_object_object_add(o, processed_keys[a], json_object_new_int(t->processed[a]));
            total += t->processed[a];
        }
    json_object_object_add(o, "message", json_object_new_string(total ? "success" : br_err_message(BR_ENODATA)));
    if (t->errors) json_object_object_add(o, "errors", json_object_get(t->errors));
    return http_reply(r, total ? 201 : 400, o);
}

static int track_done(http_req *r, int rc) {
    if (rc < 0) return rc;
    track_req *s = http_state_get(r);
    api_track_refusals(&s->track, &s->res);
    return track_answer(r, &s->res);
}

static int post_track(http_req *r) {
    char why[160];
    track_req *s = http_state(r, sizeof *s, track_req_free);
    int rc = api_track_parse(http_body(r), &s->track, &s->res, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    if (!s->track.nattrs && !s->track.nevents && !s->track.npurchases) return track_answer(r, &s->res);
    s->cmd = (eng_cmd){.kind = ENG_TRACK, .arg = &s->track};
    return api_submit(r, &s->cmd, track_done);
}

int api_track_exec(engine_t *e, json_object *body, api_track_result *r) {
    track_cmd t;
    api_track_result mine;
    char why[160];
    if (!r) r = &mine;
    int rc = api_track_parse(body, &t, r, why, sizeof why);
    if (rc == 0 && (t.nattrs || t.nevents || t.npurchases)) {
        eng_cmd c = {.kind = ENG_TRACK, .arg = &t};
        rc = eng_exec(e, &c);
        if (rc == 0) api_track_refusals(&t, r);
    }
    track_cmd_free(&t);
    if (r == &mine) json_object_put(mine.errors);
    return rc;
}

/* ---- identity ------------------------------------------------------------ */

typedef struct {
    eng_cmd cmd;
    identity_cmd id;
    uint8_t outcome[IDENTITY_MAX];
} identity_req;

static void identity_req_free(void *p) { identity_cmd_free(&((identity_req *)p)->id); }

static json_object *pair_error(size_t i, const char *msg) {
    json_object *e = json_object_new_array();
    json_object_array_add(e, json_object_new_int64((int64_t)i));
    json_object_array_add(e, json_object_new_string(msg));
    return e;
}

static const char *const outcome_text[IDO__COUNT] = {
    [IDO_SAME] = "'current_external_id' and 'new_external_id' are the same",
    [IDO_NOT_PRIMARY] = "'current_external_id' is not the primary external_id of any user",
    [IDO_IN_USE] = "'new_external_id' is already in use",
    [IDO_UNKNOWN] = "no user has this deprecated external_id",
    [IDO_PRIMARY] = "a primary external_id cannot be removed; only deprecated ones",
    [IDO_ALIAS_UNKNOWN] = "no user has an alias with this 'alias_label' and 'old_alias_name'",
    [IDO_ALIAS_TAKEN] = "another user has an alias with this 'alias_label' and 'new_alias_name'",
    [IDO_MERGE_NONE] = "'identifier_to_merge' matches no user (or several, and its 'prioritization' picks none)",
    [IDO_KEEP_NONE] = "'identifier_to_keep' matches no user (or several, and its 'prioritization' picks none)",
    [IDO_MERGE_SAME] = "'identifier_to_merge' and 'identifier_to_keep' are the same user",
    [IDO_MERGE_GCG] = "users in the Global Control Group are never merged",
};

/* The text of an item's outcome. */
static const char *outcome_of(int o, char *buf, size_t n) {
    if (o >= IDO_OVER_ALIASES && o <= IDO_OVER_OBJECT) {
        api_limit_text((limit_kind)(LIM_ALIASES + o - IDO_OVER_ALIASES), NULL, 0, buf, n);
        return buf;
    }
    return outcome_text[o];
}

/* Items the engine did not apply, as non-fatal errors naming their array
 * and index in the request. */
static void identity_errors(json_object *o, const identity_cmd *c, const uint8_t *outcome) {
    json_object *errors = NULL;
    char buf[160];
    for (uint32_t i = 0; i < c->n; i++)
        if (outcome[i] != IDO_OK) add_error(&errors, outcome_of(outcome[i], buf, sizeof buf), c->items[i].field, c->items[i].index);
    if (errors) json_object_object_add(o, "errors", errors);
}

/* Braze's answer fields of each endpoint. */
static void identity_fields(json_object *o, const identity_cmd *c, const uint8_t *outcome) {
    uint32_t n[5] = {0};
    for (uint32_t i = 0; i < c->n; i++) n[c->items[i].list]++;
    switch (c->kind) {
    case IDENTITY_ALIAS_NEW: json_object_object_add(o, "aliases_processed", json_object_new_int((int)c->n)); break;
    case IDENTITY_IDENTIFY: {
        static const char *const counts[3] = {"aliases_processed", "emails_processed", "phone_numbers_processed"};
        static const char *const fields[3] = {"aliases_to_identify", "emails_to_identify", "phone_numbers_to_identify"};
        static const uint8_t lists[3] = {IDL_ALIAS, IDL_EMAIL, IDL_PHONE};
        for (int i = 0; i < 3; i++)
            if (json_get(c->body, fields[i])) json_object_object_add(o, counts[i], json_object_new_int((int)n[lists[i]]));
        break;
    }
    case IDENTITY_DELETE: json_object_object_add(o, "deleted", json_object_new_int((int)c->n)); break;
    case IDENTITY_ALIAS_UPDATE: break;
    case IDENTITY_RENAME: {
        json_object *ok = json_object_new_array(), *errs = json_object_new_array();
        char buf[160];
        for (uint32_t i = 0; i < c->n; i++) {
            const identity_item *it = &c->items[i];
            if (outcome[i] != IDO_OK) {
                json_object_array_add(errs, pair_error(i, outcome_of(outcome[i], buf, sizeof buf)));
                continue;
            }
            json_object *d = json_object_new_object();
            json_object_object_add(d, "current_external_id", json_object_new_string_len(it->ext, (int)it->extn));
            json_object_object_add(d, "new_external_id", json_object_new_string_len(it->a, (int)it->an));
            json_object_array_add(ok, d);
        }
        json_object_object_add(o, "external_ids", ok);
        json_object_object_add(o, "rename_errors", errs);
        break;
    }
    default: {
        json_object *ok = json_object_new_array(), *errs = json_object_new_array();
        for (uint32_t i = 0; i < c->n; i++) {
            if (outcome[i] == IDO_OK) json_object_array_add(ok, json_object_new_string_len(c->items[i].ext, (int)c->items[i].extn));
            else json_object_array_add(errs, pair_error(i, outcome_text[outcome[i]]));
        }
        json_object_object_add(o, "removed_ids", ok);
        json_object_object_add(o, "removal_errors", errs);
    }
    }
}

static int identity_done(http_req *r, int rc) {
    identity_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    identity_fields(o, &s->id, s->outcome);
    json_object_object_add(o, "message", json_object_new_string("success"));
    if (s->id.kind != IDENTITY_RENAME && s->id.kind != IDENTITY_REMOVE) identity_errors(o, &s->id, s->outcome);
    return http_reply(r, 201, o);
}

static int identity_request(http_req *r, int kind) {
    char why[200];
    identity_req *s = http_state(r, sizeof *s, identity_req_free);
    int rc = api_identity_parse(kind, http_body(r), &s->id, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    s->cmd = (eng_cmd){.kind = ENG_IDENTITY, .arg = &s->id, .outcome = s->outcome};
    return api_submit(r, &s->cmd, identity_done);
}

static int post_alias_new(http_req *r) { return identity_request(r, IDENTITY_ALIAS_NEW); }
static int post_alias_update(http_req *r) { return identity_request(r, IDENTITY_ALIAS_UPDATE); }
static int post_identify(http_req *r) { return identity_request(r, IDENTITY_IDENTIFY); }
static int post_delete(http_req *r) { return identity_request(r, IDENTITY_DELETE); }
static int post_rename(http_req *r) { return identity_request(r, IDENTITY_RENAME); }
static int post_remove(http_req *r) { return identity_request(r, IDENTITY_REMOVE); }

/* ---- /users/merge --------------------------------------------------------- */

typedef struct {
    eng_cmd cmd;
    merge_cmd merge;
    uint8_t outcome[MERGE_MAX];
} merge_req;

static void merge_req_free(void *p) { merge_cmd_free(&((merge_req *)p)->merge); }

/* Braze: 202 {"message": "success"}, whatever became of each merge; brasa
 * adds an errors entry for each pair it did not merge. */
static int merge_done(http_req *r, int rc) {
    merge_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *errors = NULL;
    char buf[160];
    json_object_object_add(o, "message", json_object_new_string("success"));
    for (uint32_t i = 0; i < s->merge.n; i++)
        if (s->outcome[i] != IDO_OK) add_error(&errors, outcome_of(s->outcome[i], buf, sizeof buf), "merge_updates", i);
    if (errors) json_object_object_add(o, "errors", errors);
    return http_reply(r, 202, o);
}

static int post_merge(http_req *r) {
    char why[400];
    merge_req *s = http_state(r, sizeof *s, merge_req_free);
    int rc = api_merge_parse(http_body(r), http_context(r)->gcg, &s->merge, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    s->cmd = (eng_cmd){.kind = ENG_MERGE, .arg = &s->merge, .outcome = s->outcome};
    return api_submit(r, &s->cmd, merge_done);
}

/* ---- /users/export/ids --------------------------------------------------- */

#define EXPORT_MAX_IDS 50

typedef struct {
    eng_cmd cmd;
    json_object *body;
    export_fields fields;
    json_object *users, *invalid; /* out */
} export_req;

static void export_free(void *p) {
    export_req *x = p;
    json_object_put(x->users);
    json_object_put(x->invalid);
}

typedef struct {
    export_req *x;
    engine_t *e;
    bitmap_t *seen; /* a user named by several ids is listed once */
    int n;
} each_arg;

static void export_row(each_arg *a, uint32_t row) {
    a->n++;
    if (!bitmap_add(a->seen, row)) return;
    json_object_array_add(a->x->users, exporter_user(a->e, row, &a->x->fields));
}

static void each_export(uint32_t row, void *arg) { export_row(arg, row); }

/* Exports the user row, or names id as not found. */
static void one(each_arg *a, uint32_t row, json_object *id) {
    if (row == USERS_NONE) json_object_array_add(a->x->invalid, json_object_get(id));
    else export_row(a, row);
}

/* ENG_READ: the profiles are read where they are owned. */
static int export_read(engine_t *e, void *arg) {
    export_req *x = arg;
    users_t *u = engine_users(e);
    json_object *a, *v;
    size_t n;
    const char *s;
    each_arg ea = {x, e, bitmap_new(), 0};
    x->users = json_object_new_array();
    x->invalid = json_object_new_array();
    if ((a = json_get(x->body, "external_ids")))
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            s = json_strlen(v = json_object_array_get_idx(a, i), &n);
            one(&ea, users_by_external_id(u, s, n), v);
        }
    if ((a = json_get(x->body, "user_aliases")))
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *al = json_object_array_get_idx(a, i);
            size_t ln, nn;
            const char *l = json_str(al, "alias_label", &ln), *nm = json_str(al, "alias_name", &nn);
            one(&ea, users_by_alias(u, l, ln, nm, nn), al);
        }
    if ((s = json_str(x->body, "braze_id", &n))) one(&ea, users_by_braze_id(u, s, n), json_get(x->body, "braze_id"));
    if ((s = json_str(x->body, "device_id", &n))) one(&ea, users_by_device(u, s, n), json_get(x->body, "device_id"));
    /* Several users may share an email or phone: all are exported. */
    static const char *const shared[2] = {"email_address", "phone"};
    for (int k = 0; k < 2; k++)
        if ((s = json_str(x->body, shared[k], &n))) {
            ea.n = 0;
            if (k == 0) users_each_email(u, s, n, each_export, &ea);
            else users_each_phone(u, s, n, each_export, &ea);
            if (!ea.n) json_object_array_add(x->invalid, json_object_get(json_get(x->body, shared[k])));
        }
    bitmap_free(ea.seen);
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
    if ((v = json_get(body, "external_ids"))) {
        if (!json_object_is_type(v, json_type_array)) return http_error(r, BR_EINVAL, "'external_ids' must be an array of strings");
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                return http_error(r, BR_EINVAL, "'external_ids' must be an array of strings");
        ids += json_object_array_length(v);
    }
    if ((v = json_get(body, "user_aliases"))) {
        if (!json_object_is_type(v, json_type_array))
            return http_error(r, BR_EINVAL, "'user_aliases' must be an array of objects with string 'alias_name' and 'alias_label'");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *al = json_object_array_get_idx(v, i);
            if (!json_str(al, "alias_name", NULL) || !json_str(al, "alias_label", NULL))
                return http_error(r, BR_EINVAL, "'user_aliases' must be an array of objects with string 'alias_name' and 'alias_label'");
        }
        ids += json_object_array_length(v);
    }
    if (ids > EXPORT_MAX_IDS) return http_error(r, BR_EMAXIDS, NULL);
    static const char *const singles[4] = {"braze_id", "device_id", "email_address", "phone"};
    int single = 0, exclusive = 0;
    for (int i = 0; i < 4; i++)
        if ((v = json_get(body, singles[i]))) {
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
    if (export_fields_parse(json_get(body, "fields_to_export"), &x->fields, why, sizeof why) < 0)
        return http_error(r, BR_EINVAL, why);
    x->body = body;
    return api_read(r, &x->cmd, export_read, x, export_done);
}

const http_route api_users_routes[] = {
    {"POST", "/users/track", PERM_USERS_TRACK, RL_USERS_TRACK, post_track, 0},
    {"POST", "/users/export/ids", PERM_USERS_EXPORT_IDS, RL_USERS_EXPORT_IDS, post_export_ids, 0},
    {"POST", "/users/alias/new", PERM_USERS_ALIAS_NEW, RL_USERS_IDENTITY, post_alias_new, 0},
    {"POST", "/users/alias/update", PERM_USERS_ALIAS_UPDATE, RL_USERS_IDENTITY, post_alias_update, 0},
    {"POST", "/users/identify", PERM_USERS_IDENTIFY, RL_USERS_IDENTITY, post_identify, 0},
    {"POST", "/users/merge", PERM_USERS_MERGE, RL_USERS_IDENTITY, post_merge, 0},
    {"POST", "/users/delete", PERM_USERS_DELETE, RL_USERS_IDENTITY, post_delete, 0},
    {"POST", "/users/external_ids/rename", PERM_USERS_EXTERNAL_IDS_RENAME, RL_USERS_EXTERNAL_IDS, post_rename, 0},
    {"POST", "/users/external_ids/remove", PERM_USERS_EXTERNAL_IDS_REMOVE, RL_USERS_EXTERNAL_IDS, post_remove, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
