/* keys.c -- brasa's admin API for REST API keys (Braze does this in its
 * dashboard; brasa's dashboard and scripts use these routes).
 *
 *   GET  /admin/keys          list keys (never their text)
 *   GET  /admin/keys/permissions  every permission a key can be given, in perm.h's order
 *   POST /admin/keys          {"name", "permissions", "allow_ips"} -> the key, once
 *   POST /admin/keys/revoke   {"id"}
 *
 * All need the brasa.keys permission. Writes are store ops in the engine's
 * batches, reads run on the engine's connection: a list reflects every
 * acknowledged create and revoke. */
#include "api.h"
#include "../core/apikey.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../store/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Accepts a JSON array of strings or one comma-separated string; writes the
 * comma-separated form to *out (caller frees). Absent -> "". */
static int csv_field(json_object *body, const char *field, char **out, char *why, size_t whylen) {
    json_object *v;
    buf_t b = BUF_INIT;
    *out = NULL;
    if (!json_object_object_get_ex(body, field, &v) || json_object_is_type(v, json_type_null)) {
        *out = buf_take(&b);
        return 0;
    }
    if (json_object_is_type(v, json_type_string)) {
        buf_puts(&b, json_object_get_string(v));
    } else if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            /* Items are joined with commas: an empty item or one holding a
             * separator would vanish or split, so refuse it here. */
            if (!json_object_is_type(e, json_type_string)) goto bad;
            const char *t = json_object_get_string(e);
            if (!*t || strpbrk(t, ", ")) {
                buf_free(&b);
                snprintf(why, whylen, "'%s' item %zu must be a non-empty string without commas or spaces", field, i);
                return BR_EINVAL;
            }
            if (i) buf_puts(&b, ",");
            buf_puts(&b, json_object_get_string(e));
        }
    } else {
        goto bad;
    }
    *out = buf_take(&b);
    return 0;
bad:
    buf_free(&b);
    snprintf(why, whylen, "'%s' must be an array of strings", field);
    return BR_EINVAL;
}

typedef struct {
    eng_cmd cmd;
    apikey_new k;
    int64_t id;
    store_key_row *rows;
    int n;
} keys_state;

static void keys_state_free(void *p) {
    keys_state *s = p;
    apikey_new_free(&s->k);
    store_key_rows_free(s->rows, s->n);
}

static json_object *row_json(const store_key_row *r) {
    return apikey_row_json(r->id, r->name, r->permissions, r->allow_ips, r->created_at,
                           r->last_used_at, r->revoked_at, NULL);
}

static int create_done(http_req *r, int rc) {
    keys_state *s = http_state_get(r);
    if (rc < 0) return rc;
    apikey_new *k = &s->k;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "key", apikey_row_json(k->id, k->name, k->permissions, k->allow_ips,
                                                     k->created_at, 0, 0, k->key));
    return http_reply(r, 201, o);
}

static int post_keys(http_req *r) {
    json_object *body = http_body(r), *name;
    if (!json_object_is_type(body, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object");
    if (!json_object_object_get_ex(body, "name", &name) || !json_object_is_type(name, json_type_string))
        return http_error(r, BR_EINVAL, "'name' is required and must be a string");
    char why[128], *perms, *allow = NULL;
    if (csv_field(body, "permissions", &perms, why, sizeof why) < 0 ||
        csv_field(body, "allow_ips", &allow, why, sizeof why) < 0) {
        free(perms);
        return http_error(r, BR_EINVAL, why);
    }
    keys_state *s = http_state(r, sizeof *s, keys_state_free);
    char *err;
    int rc = apikey_prepare(&s->k, json_object_get_string(name), perms, allow, &err);
    free(perms);
    free(allow);
    if (rc < 0) {
        http_error(r, rc, err);
        free(err);
        return 0;
    }
    return api_store(r, &s->cmd, store_key_insert_op, &s->k, create_done);
}

static int list_read(engine_t *e, void *arg) {
    keys_state *s = arg;
    return store_key_list(engine_reader(e), &s->rows, &s->n);
}

static int list_done(http_req *r, int rc) {
    keys_state *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    json_object_object_add(o, "message", json_object_new_string("success"));
    for (int i = 0; i < s->n; i++) json_object_array_add(a, row_json(&s->rows[i]));
    json_object_object_add(o, "keys", a);
    return http_reply(r, 200, o);
}

static int get_keys(http_req *r) {
    keys_state *s = http_state(r, sizeof *s, keys_state_free);
    return api_read(r, &s->cmd, list_read, s, list_done);
}

static int revoke_done(http_req *r, int rc) {
    keys_state *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) {
        char d[80];
        snprintf(d, sizeof d, "no active key with id %lld", (long long)s->id);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    auth_forget(http_context(r)->auth, s->id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int post_revoke(http_req *r) {
    json_object *body = http_body(r), *id;
    if (!json_object_is_type(body, json_type_object) || !json_object_object_get_ex(body, "id", &id) ||
        !json_object_is_type(id, json_type_int) || json_object_get_int64(id) <= 0)
        return http_error(r, BR_EINVAL, "'id' is required and must be a positive integer");
    keys_state *s = http_state(r, sizeof *s, keys_state_free);
    s->id = json_object_get_int64(id);
    return api_store(r, &s->cmd, store_key_revoke_op, &s->id, revoke_done);
}

/* The names come from perm.h's table alone, so the dashboard's form never
 * lags behind a permission added there. */
static int get_permissions(http_req *r) {
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    json_object_object_add(o, "message", json_object_new_string("success"));
    for (int i = 0; i < PERM__COUNT; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(perm_name((perm_id)i)));
        json_object_object_add(p, "admin", json_object_new_boolean(perm_is_admin((perm_id)i)));
        json_object_array_add(a, p);
    }
    json_object_object_add(o, "permissions", a);
    return http_reply(r, 200, o);
}

const http_route api_keys_routes[] = {
    {"GET", "/admin/keys", PERM_BRASA_KEYS, RL_DEFAULT, get_keys, 0},
    {"GET", "/admin/keys/permissions", PERM_BRASA_KEYS, RL_DEFAULT, get_permissions, 0},
    {"POST", "/admin/keys", PERM_BRASA_KEYS, RL_DEFAULT, post_keys, 0},
    {"POST", "/admin/keys/revoke", PERM_BRASA_KEYS, RL_DEFAULT, post_revoke, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
