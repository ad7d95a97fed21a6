/* credentials.c -- brasa's admin API for Connected Content's basic-auth
 * credentials (Braze keeps them under Manage Settings > Connected Content;
 * templates name them: {% connected_content URL :basic_auth NAME %}).
 *
 *   GET    /admin/credentials         brasa.keys  every credential: name, username, created_at
 *   POST   /admin/credentials         brasa.keys  {"name", "username", "password"} -> 201 {"name"}
 *   DELETE /admin/credentials/{name}  brasa.keys  calls naming it abort from then on
 *
 * Passwords are never shown again. Writes are store ops in the engine's
 * batches, the list an engine read: it reflects every acknowledged write.
 * The fetcher (send/fetch.h) reads through a connection of its own
 * (store/credentials.h), so a change applies to the next send. */
#include "api.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../store/credentials.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    eng_cmd cmd;
    store_cred_new c;
    char name[STORE_CRED_NAME_MAX + 1];
    store_cred_row *rows;
    int n;
} cred_state;

static void cred_state_free(void *p) {
    cred_state *s = p;
    store_cred_rows_free(s->rows, s->n);
}

static cred_state *state(http_req *r) { return http_state(r, sizeof(cred_state), cred_state_free); }

/* ---- GET ----------------------------------------------------------------- */

static int list_read(engine_t *e, void *arg) {
    cred_state *s = arg;
    return store_cred_list(engine_reader(e), &s->rows, &s->n);
}

static int list_done(http_req *r, int rc) {
    cred_state *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = api_success(), *a = json_object_new_array();
    for (int i = 0; i < s->n; i++) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "name", json_object_new_string(s->rows[i].name));
        json_object_object_add(c, "username", json_object_new_string(s->rows[i].username));
        json_object_object_add(c, "created_at", json_time(s->rows[i].created_at));
        json_object_array_add(a, c);
    }
    json_object_object_add(o, "credentials", a);
    return http_reply(r, 200, o);
}

static int get_list(http_req *r) {
    cred_state *s = state(r);
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* ---- POST ---------------------------------------------------------------- */

static int created(http_req *r, int rc) {
    cred_state *s = http_state_get(r);
    if (rc == BR_EEXISTS) {
        char d[160];
        snprintf(d, sizeof d, "a credential named '%s' already exists", s->name);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    json_object *o = api_success();
    json_object_object_add(o, "name", json_object_new_string(s->name));
    return http_reply(r, 201, o);
}

/* A required string field: its text and length, or NULL after setting the
 * 400 answer. */
static const char *field(http_req *r, json_object *b, const char *k, size_t *n) {
    const char *v = json_str(b, k, n);
    if (!v) {
        char d[80];
        snprintf(d, sizeof d, "'%s' is required and must be a string", k);
        http_error(r, BR_EINVAL, d);
    }
    return v;
}

static int post_credential(http_req *r) {
    json_object *b = http_body(r);
    if (!json_object_is_type(b, json_type_object)) return http_error(r, BR_EINVAL, "the body must be a JSON object");
    size_t nn, un, pn;
    const char *name, *user, *pass;
    if (!(name = field(r, b, "name", &nn)) || !(user = field(r, b, "username", &un)) ||
        !(pass = field(r, b, "password", &pn)))
        return 0;
    char why[160];
    /* (http/ refuses a NUL in any string before a handler runs.) */
    if (store_cred_check(name, user, pass, pn, why, sizeof why) < 0) return http_error(r, BR_EINVAL, why);
    cred_state *s = state(r);
    memcpy(s->name, name, nn + 1);
    s->c = (store_cred_new){.name = s->name, .username = user, .password = pass, .password_len = pn};
    return api_store(r, &s->cmd, store_cred_insert_op, &s->c, created);
}

/* ---- DELETE -------------------------------------------------------------- */

static int deleted(http_req *r, int rc) {
    cred_state *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) {
        char d[160];
        snprintf(d, sizeof d, "no credential named '%s'", s->name);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    return http_reply(r, 200, api_success());
}

static int delete_credential(http_req *r) {
    const char *name = http_param(r, "name");
    char why[160];
    if (store_cred_check(name ? name : "", NULL, NULL, 0, why, sizeof why) < 0) return http_error(r, BR_EINVAL, why);
    cred_state *s = state(r);
    snprintf(s->name, sizeof s->name, "%s", name);
    return api_store(r, &s->cmd, store_cred_delete_op, s->name, deleted);
}

const http_route api_credentials_routes[] = {
    {"GET", "/admin/credentials", PERM_BRASA_KEYS, RL_DEFAULT, get_list, 0},
    {"POST", "/admin/credentials", PERM_BRASA_KEYS, RL_DEFAULT, post_credential, 0},
    {"DELETE", "/admin/credentials/{name}", PERM_BRASA_KEYS, RL_DEFAULT, delete_credential, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
