/* smtp_relays.c -- brasa's admin API for the SMTP relays email goes out
 * through (Braze runs its own mail servers; brasa sends through the
 * operator's relays: docs/email.md).
 *
 *   GET    /admin/smtp_relays         brasa.keys  every stored relay, no password; in_use: sent through now
 *   POST   /admin/smtp_relays         brasa.keys  {"name", "url", "user", "password", "max_connections",
 *                                                  "rate_per_second", "timeout_ms", "enabled"} -> 201 {"name"}
 *   POST   /admin/smtp_relays/{name}  brasa.keys  any of those fields but name (user and password
 *                                                  together; both null: no AUTH) -> 200, changed in place
 *   DELETE /admin/smtp_relays/{name}  brasa.keys  retired: delivers what it holds, then closes
 *
 * Writes are store ops in the engine's batches, after which the answer
 * waits for the dispatcher to read the relays again (send/relays.h): the
 * next message, and the next request's check for a relay, go by the new
 * list. BRASA_SMTP_URL's relay, "default",
 * is the server's option and is not listed. */
#include "api.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../send/dispatch.h"
#include "../store/relays.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    eng_cmd cmd;
    store_relay r;
    store_relay_patch patch;
    char name[STORE_RELAY_NAME_MAX + 1];
    store_relay *rows;
    int n;
} relay_state;

static void relay_state_free(void *p) {
    relay_state *s = p;
    store_relay_rows_free(s->rows, s->n);
}

static relay_state *state(http_req *r) { return http_state(r, sizeof(relay_state), relay_state_free); }

/* ---- GET ----------------------------------------------------------------- */

static int list_read(engine_t *e, void *arg) {
    relay_state *s = arg;
    return store_relay_list(engine_reader(e), false, &s->rows, &s->n);
}

static int list_done(http_req *r, int rc) {
    relay_state *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = api_success(), *a = json_object_new_array();
    for (int i = 0; i < s->n; i++) {
        const store_relay *x = &s->rows[i];
        json_object *j = store_relay_json(x);
        json_object_object_add(j, "in_use", json_object_new_boolean(dsp_relay_in_use(http_context(r)->dispatcher, x->name)));
        json_object_array_add(a, j);
    }
    json_object_object_add(o, "smtp_relays", a);
    return http_reply(r, 200, o);
}

static int get_list(http_req *r) {
    relay_state *s = state(r);
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* ---- POST ---------------------------------------------------------------- */

static int created(http_req *r, int rc) {
    relay_state *s = http_state_get(r);
    char d[160];
    if (rc == BR_EEXISTS) {
        snprintf(d, sizeof d, "an SMTP relay named '%s' already exists", s->name);
        return http_error(r, rc, d);
    }
    if (rc == BR_ETOOMANY) {
        snprintf(d, sizeof d, "at most %d SMTP relays can be stored", STORE_RELAY_MAX);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    dsp_sync_relays(http_context(r)->dispatcher);
    json_object *o = api_success();
    json_object_object_add(o, "name", json_object_new_string(s->name));
    return http_reply(r, 201, o);
}

/* An optional string field into *out (NULL when absent or null); false
 * after setting the 400 answer. */
static bool opt_str(http_req *r, json_object *b, const char *k, const char **out) {
    json_object *v = json_get(b, k);
    *out = NULL;
    if (!v) return true;
    if (!(*out = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL)) {
        char d[80];
        snprintf(d, sizeof d, "'%s' must be a string", k);
        http_error(r, BR_EINVAL, d);
        return false;
    }
    return true;
}

/* An optional integer field into *out (dflt when absent); false after
 * setting the 400 answer. The range is store_relay_check's. */
static bool opt_int(http_req *r, json_object *b, const char *k, long dflt, long *out) {
    json_object *v = json_get(b, k);
    *out = dflt;
    if (!v) return true;
    int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
    if (x < 0 || x > 1000000000) {
        char d[80];
        snprintf(d, sizeof d, "'%s' must be a non-negative integer", k);
        http_error(r, BR_EINVAL, d);
        return false;
    }
    *out = (long)x;
    return true;
}

static int post_relay(http_req *r) {
    static const char *const known[] = {"name", "url", "user", "password", "max_connections", "rate_per_second",
                                        "timeout_ms", "enabled", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    json_object *b = http_body(r), *en;
    const char *name = json_str(b, "name", NULL), *url = json_str(b, "url", NULL), *user, *pass;
    if (!name) return http_error(r, BR_EINVAL, "'name' is required and must be a string");
    if (!url) return http_error(r, BR_EINVAL, "'url' is required and must be a string");
    long conns, rate, timeout;
    if (!opt_str(r, b, "user", &user) || !opt_str(r, b, "password", &pass) ||
        !opt_int(r, b, "max_connections", STORE_RELAY_DEFAULT_CONN, &conns) ||
        !opt_int(r, b, "rate_per_second", 0, &rate) || !opt_int(r, b, "timeout_ms", 0, &timeout))
        return 0;
    if ((en = json_get(b, "enabled")) && !json_object_is_type(en, json_type_boolean))
        return http_error(r, BR_EINVAL, "'enabled' must be true or false");
    relay_state *s = state(r);
    s->r = (store_relay){.name = name, .url = url, .username = user, .password = pass, .max_connections = (int)conns,
                         .rate_per_second = (int)rate, .timeout_ms = timeout, .enabled = !en || json_object_get_boolean(en)};
    char why[200];
    if (store_relay_check(&s->r, why, sizeof why) < 0) return http_error(r, BR_EINVAL, why);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->r.name = s->name;
    return api_store(r, &s->cmd, store_relay_insert_op, &s->r, created);
}

/* ---- POST {name}: a change in place --------------------------------------- */

/* The relay of the path, its name checked as a stored one's: the request's
 * state, holding the name, or NULL after the 400. */
static relay_state *named(http_req *r) {
    const char *name = http_param(r, "name");
    store_relay probe = {.name = name ? name : "", .url = "smtp://x", .max_connections = 1};
    char why[200];
    if (store_relay_check(&probe, why, sizeof why) < 0) {
        http_error(r, BR_EINVAL, why);
        return NULL;
    }
    relay_state *s = state(r);
    snprintf(s->name, sizeof s->name, "%s", probe.name);
    return s;
}

/* After a change or a removal: 404 for a name no relay has, else 200 once
 * the dispatcher read the relays again. */
static int changed(http_req *r, int rc) {
    relay_state *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) {
        char d[160];
        snprintf(d, sizeof d, "no SMTP relay named '%s'", s->name);
        return http_error(r, rc, d);
    }
    if (rc < 0) return rc;
    dsp_sync_relays(http_context(r)->dispatcher);
    return http_reply(r, 200, api_success());
}

static int updated(http_req *r, int rc) {
    relay_state *s = http_state_get(r);
    return rc == BR_EINVAL ? http_error(r, rc, s->patch.why) : changed(r, rc);
}

static int update_relay(http_req *r) {
    static const char *const known[] = {"name", "url", "user", "password", "max_connections", "rate_per_second",
                                        "timeout_ms", "enabled", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    json_object *b = http_body(r), *en, *u, *pw;
    bool has_u = json_object_object_get_ex(b, "user", &u), has_pw = json_object_object_get_ex(b, "password", &pw);
    if (json_get(b, "name"))
        return http_error(r, BR_EINVAL, "'name' cannot change: add the relay under the new name and remove this one");
    if (!json_object_object_length(b))
        return http_error(r, BR_EINVAL, "nothing to change: give any of 'url', 'user' and 'password', "
                                        "'max_connections', 'rate_per_second', 'timeout_ms', 'enabled'");
    relay_state *s = named(r);
    if (!s) return 0;
    store_relay_patch *p = &s->patch;
    *p = (store_relay_patch){.max_connections = -1, .rate_per_second = -1, .enabled = -1, .timeout_ms = -1};
    long conns, rate, timeout;
    if (!opt_str(r, b, "url", &p->url) ||
        !opt_int(r, b, "max_connections", -1, &conns) || !opt_int(r, b, "rate_per_second", -1, &rate) ||
        !opt_int(r, b, "timeout_ms", -1, &timeout))
        return 0;
    if (has_u && has_pw && !u && !pw) { /* both null: no AUTH any more */
        p->auth = -1;
    } else if (has_u || has_pw) { /* both strings; absent, both kept */
        if (!opt_str(r, b, "user", &p->username) || !opt_str(r, b, "password", &p->password)) return 0;
        if (!p->username || !p->password) return http_error(r, BR_EINVAL, "'user' and 'password' go together (AUTH needs both)");
        p->auth = 1;
    }
    if ((en = json_get(b, "enabled")) && !json_object_is_type(en, json_type_boolean))
        return http_error(r, BR_EINVAL, "'enabled' must be true or false");
    p->max_connections = (int)conns;
    p->rate_per_second = (int)rate;
    p->timeout_ms = timeout;
    p->enabled = en ? json_object_get_boolean(en) : -1;
    p->name = s->name;
    return api_store(r, &s->cmd, store_relay_update_op, p, updated);
}

/* ---- DELETE -------------------------------------------------------------- */

static int delete_relay(http_req *r) {
    relay_state *s = named(r);
    return s ? api_store(r, &s->cmd, store_relay_delete_op, s->name, changed) : 0;
}

const http_route api_smtp_relays_routes[] = {
    {"GET", "/admin/smtp_relays", PERM_BRASA_KEYS, RL_DEFAULT, get_list, 0},
    {"POST", "/admin/smtp_relays", PERM_BRASA_KEYS, RL_DEFAULT, post_relay, 0},
    {"POST", "/admin/smtp_relays/{name}", PERM_BRASA_KEYS, RL_DEFAULT, update_relay, 0},
    {"DELETE", "/admin/smtp_relays/{name}", PERM_BRASA_KEYS, RL_DEFAULT, delete_relay, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
