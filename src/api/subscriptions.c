/* subscriptions.c -- subscription groups: brasa's admin routes that make
 * them, and Braze's endpoints that set and read users' states in them.
 *
 *   POST /admin/subscription_groups    brasa.marketing               {"name", "channel": email | sms}
 *                                                               -> 201 {"subscription_group_id", ...}
 *   GET  /admin/subscription_groups    brasa.marketing               every group
 *   POST /subscription/status/set      subscription.status.set  {"subscription_group_id", "subscription_state",
 *                                                               "external_id", "email" | "phone"} (each <= 50)
 *   POST /v2/subscription/status/set   subscription.status.set  {"subscription_groups": [{"subscription_group_id",
 *                                                               "subscription_state", "external_ids", "emails" |
 *                                                               "phones"}]}
 *   GET  /subscription/status/get      subscription.status.get  subscription_group_id + external_id (repeatable,
 *                                                               external_id[]=) or email or phone
 *   GET  /subscription/user/status     subscription.groups.get  external_id / email / phone, limit, offset
 *
 * A set is checked against the groups (an ENG_READ), then applied as one
 * engine command (core/subs.h): an email or phone reaches every user
 * holding it; ids that match nobody are left alone. Users' states live in
 * their subscription_groups attribute, which /users/track also writes. */
#include "api.h"
#include "../core/attrs.h"
#include "../core/subs.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../store/subgroups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS 50
#define MAX_GROUPS 25 /* group objects of one v2 request */
#define MAX_LIMIT 100

typedef struct {
    eng_cmd cmd;
    subs_cmd subs[MAX_GROUPS];
    int nsubs;
    char *channel[MAX_GROUPS]; /* the groups', from the store */
    const char *ids[3][MAX_IDS]; /* GETs: external ids, emails, phones */
    int nids[3];
    const char *group_id;
    int limit, offset;
    store_subgroup group, *groups;
    int ngroups;
    json_object *answer;
    char why[200];
} sub_req;

static void sub_req_free(void *p) {
    sub_req *s = p;
    for (int i = 0; i < MAX_GROUPS; i++) {
        free(s->channel[i]);
        free((void *)s->subs[i].external_ids);
        free((void *)s->subs[i].emails);
        free((void *)s->subs[i].phones);
    }
    store_subgroup_clear(&s->group);
    store_subgroups_free(s->groups, s->ngroups);
    json_object_put(s->answer);
}

static sub_req *state(http_req *r) { return http_state(r, sizeof(sub_req), sub_req_free); }

enum { K_EXTERNAL, K_EMAIL, K_PHONE };
static const char *const kind_names[] = {"external id", "email address", "phone number"};

/* A phone in E.164: '+' and 7 to 15 digits. */
static bool e164(const char *s) {
    size_t n = strlen(s);
    if (n < 8 || n > 16 || s[0] != '+') return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static bool valid_id(int kind, const char *v) {
    if (!v || !*v) return false;
    if (kind == K_EMAIL) return attrs_valid_email(v, strlen(v)) && strlen(v) <= 320;
    if (kind == K_PHONE) return e164(v);
    return strlen(v) <= 255;
}

/* A body field that is one identifier or an array of at most 50: the
 * strings (borrowed from the body) into *out (caller frees), 0; -1 with
 * the 400 answer set. Absent: 0 and none. */
static int body_ids(http_req *r, json_object *v, const char *field, int kind, const char ***out, int *n) {
    *out = NULL;
    *n = 0;
    if (!v || json_object_is_type(v, json_type_null)) return 0;
    bool list = json_object_is_type(v, json_type_array);
    size_t k = list ? json_object_array_length(v) : 1;
    char why[160];
    if (k > MAX_IDS) {
        snprintf(why, sizeof why, "'%s' may list at most 50 values", field);
        return http_error(r, BR_EINVAL, why), -1;
    }
    const char **a = xcalloc(k ? k : 1, sizeof *a);
    for (size_t i = 0; i < k; i++) {
        json_object *x = list ? json_object_array_get_idx(v, i) : v;
        const char *str = json_object_is_type(x, json_type_string) ? json_object_get_string(x) : NULL;
        if (!valid_id(kind, str)) {
            free(a);
            snprintf(why, sizeof why, "'%s' must be %s%s or an array of them", field,
                     kind == K_PHONE ? "a " : "an ", kind == K_PHONE ? "phone number in E.164 format (+15555550100)"
                                                                      : kind_names[kind]);
            return http_error(r, BR_EINVAL, why), -1;
        }
        a[i] = str;
    }
    *out = a;
    *n = (int)k;
    return 0;
}

/* ---- admin ------------------------------------------------------------------- */

static int add_op(sqlite3 *db, void *arg) { return store_subgroup_add(db, &((sub_req *)arg)->group); }

static int added(http_req *r, int rc) {
    sub_req *s = http_state_get(r);
    if (rc == BR_EEXISTS) return http_error(r, rc, "a subscription group has that name");
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "subscription_group_id", json_object_new_string(s->group.id));
    json_object_object_add(o, "name", json_object_new_string(s->group.name));
    json_object_object_add(o, "channel", json_object_new_string(s->group.channel));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

static int admin_create(http_req *r) {
    static const char *const fields[] = {"name", "channel", NULL};
    if (api_body_fields(r, fields) < 0) return 0;
    json_object *b = http_body(r), *name = json_get(b, "name"), *ch = json_get(b, "channel");
    if (!json_object_is_type(name, json_type_string) || !json_object_get_string_len(name) ||
        json_object_get_string_len(name) > STORE_SUBGROUP_NAME_MAX)
        return http_error(r, BR_EINVAL, "'name' must be a string of 1 to 255 characters");
    const char *c = json_object_is_type(ch, json_type_string) ? json_object_get_string(ch) : NULL;
    if (!c || (strcmp(c, "email") && strcmp(c, "sms"))) return http_error(r, BR_EINVAL, "'channel' must be 'email' or 'sms'");
    sub_req *s = state(r);
    uint8_t u[16];
    secret_random(u, sizeof u);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* a version 4 UUID, as Braze's group ids are */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char id[STORE_SUBGROUP_ID_LEN + 1];
    snprintf(id, sizeof id, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    s->group = (store_subgroup){xstrdup(id), xstrdup(json_object_get_string(name)), xstrdup(c), clock_wall_ms()};
    return api_store(r, &s->cmd, add_op, s, added);
}

static int list_read(engine_t *e, void *arg) {
    sub_req *s = arg;
    return store_subgroups_list(engine_reader(e), &s->groups, &s->ngroups);
}

static int listed(http_req *r, int rc) {
    sub_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    for (int i = 0; i < s->ngroups; i++) {
        json_object *g = json_object_new_object();
        json_object_object_add(g, "subscription_group_id", json_object_new_string(s->groups[i].id));
        json_object_object_add(g, "name", json_object_new_string(s->groups[i].name));
        json_object_object_add(g, "channel", json_object_new_string(s->groups[i].channel));
        json_object_array_add(a, g);
    }
    json_object_object_add(o, "subscription_groups", a);
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 200, o);
}

static int admin_list(http_req *r) {
    sub_req *s = state(r);
    return api_read(r, &s->cmd, list_read, s, listed);
}

/* ---- POST /subscription/status/set (v1 and v2) ------------------------------- */

/* The groups exist: their channels go into the commands. */
static int groups_read(engine_t *e, void *arg) {
    sub_req *s = arg;
    for (int i = 0; i < s->nsubs; i++) {
        store_subgroup g;
        int rc = store_subgroup_get(engine_reader(e), s->subs[i].group_id, &g);
        if (rc == BR_ENOTFOUND) return BR_ESUBGROUP;
        if (rc < 0) return rc;
        s->channel[i] = g.channel;
        g.channel = NULL;
        store_subgroup_clear(&g);
        s->subs[i].channel = s->channel[i];
    }
    return 0;
}

static int set_done(http_req *r, int rc) {
    if (rc < 0) return rc;
    return http_reply(r, 201, api_success());
}

static int groups_checked(http_req *r, int rc) {
    sub_req *s = http_state_get(r);
    if (rc == BR_ESUBGROUP) return http_error(r, rc, NULL);
    if (rc < 0) return rc;
    for (int i = 0; i + 1 < s->nsubs; i++) s->subs[i].next = &s->subs[i + 1];
    s->cmd = (eng_cmd){.kind = ENG_SUBSCRIPTION, .arg = &s->subs[0]};
    return api_submit(r, &s->cmd, set_done);
}

/* One group's change from its object: ids under the names v1 or v2 uses. */
static int parse_group(http_req *r, json_object *o, subs_cmd *c, bool v2) {
    json_object *gid = json_get(o, "subscription_group_id"), *st = json_get(o, "subscription_state");
    if (!json_object_is_type(gid, json_type_string) || !json_object_get_string_len(gid))
        return http_error(r, BR_EINVAL, "'subscription_group_id' is required"), -1;
    int state = subs_state_parse(json_object_is_type(st, json_type_string) ? json_object_get_string(st) : NULL, true);
    if (state < 0) return http_error(r, BR_EINVAL, "'subscription_state' must be 'subscribed' or 'unsubscribed'"), -1;
    /* v2 names the lists in the plural; a singular external_id there is
     * accepted too (a real call with it was answered 201). */
    json_object *ext = json_get(o, v2 ? "external_ids" : "external_id"), *em = json_get(o, v2 ? "emails" : "email"),
                *ph = json_get(o, v2 ? "phones" : "phone");
    if (v2 && !ext) ext = json_get(o, "external_id");
    if (em && ph && !json_object_is_type(em, json_type_null) && !json_object_is_type(ph, json_type_null))
        return http_error(r, BR_ESUBBOTH, NULL), -1;
    *c = (subs_cmd){.kind = SUBS_GROUP, .state = (subs_state)state, .group_id = json_object_get_string(gid),
                    .source = "REST API"};
    if (body_ids(r, ext, v2 ? "external_ids" : "external_id", K_EXTERNAL, (const char ***)&c->external_ids, &c->nexternal) < 0 ||
        body_ids(r, em, v2 ? "emails" : "email", K_EMAIL, (const char ***)&c->emails, &c->nemails) < 0 ||
        body_ids(r, ph, v2 ? "phones" : "phone", K_PHONE, (const char ***)&c->phones, &c->nphones) < 0)
        return -1;
    if (!c->nexternal && !c->nemails && !c->nphones) {
        char why[120];
        snprintf(why, sizeof why, "give '%s', '%s' or '%s'", v2 ? "external_ids" : "external_id", v2 ? "emails" : "email",
                 v2 ? "phones" : "phone");
        return http_error(r, BR_EINVAL, why), -1;
    }
    return 0;
}

static int post_set(http_req *r) {
    static const char *const fields[] = {"subscription_group_id", "subscription_state", "external_id", "email", "phone",
                                         NULL};
    if (api_body_fields(r, fields) < 0) return 0;
    sub_req *s = state(r);
    s->nsubs = 1;
    if (parse_group(r, http_body(r), &s->subs[0], false) < 0) return 0;
    return api_read(r, &s->cmd, groups_read, s, groups_checked);
}

static int post_set_v2(http_req *r) {
    static const char *const fields[] = {"subscription_groups", "use_double_opt_in_logic", NULL};
    if (api_body_fields(r, fields) < 0) return 0;
    json_object *b = http_body(r), *gs = json_get(b, "subscription_groups"), *dbl = json_get(b, "use_double_opt_in_logic");
    if (dbl && !json_object_is_type(dbl, json_type_boolean))
        return http_error(r, BR_EINVAL, "'use_double_opt_in_logic' must be a boolean");
    if (!json_object_is_type(gs, json_type_array) || !json_object_array_length(gs))
        return http_error(r, BR_EINVAL, "'subscription_groups' must be a non-empty array of objects");
    if (json_object_array_length(gs) > MAX_GROUPS)
        return http_error(r, BR_EINVAL, "'subscription_groups' may list at most 25 groups");
    sub_req *s = state(r);
    for (size_t i = 0; i < json_object_array_length(gs); i++) {
        json_object *o = json_object_array_get_idx(gs, i);
        if (!json_object_is_type(o, json_type_object))
            return http_error(r, BR_EINVAL, "'subscription_groups' must be a non-empty array of objects");
        if (parse_group(r, o, &s->subs[s->nsubs++], true) < 0) return 0;
    }
    return api_read(r, &s->cmd, groups_read, s, groups_checked);
}

/* ---- the GETs ------------------------------------------------------------------ */

/* external_id, email and phone of the query into s->ids: 0, or -1 with
 * the 400 answer set. */
static int query_ids(http_req *r, sub_req *s) {
    static const char *const params[] = {"external_id", "email", "phone"};
    for (int k = 0; k < 3; k++) {
        int n = http_query_all(r, params[k], s->ids[k], MAX_IDS);
        char why[160];
        if (n > MAX_IDS) {
            snprintf(why, sizeof why, "'%s' may be given at most 50 times", params[k]);
            return http_error(r, BR_EINVAL, why), -1;
        }
        for (int i = 0; i < n; i++)
            if (!valid_id(k, s->ids[k][i])) {
                snprintf(why, sizeof why, "'%s' must be %s", params[k],
                         k == K_PHONE ? "a phone number in E.164 format (+15555550100)" : k == K_EMAIL ? "an email address" : "an external id");
                return http_error(r, BR_EINVAL, why), -1;
            }
        s->nids[k] = n;
    }
    if (!s->nids[0] && !s->nids[1] && !s->nids[2]) return http_error(r, BR_EINVAL, "give 'external_id', 'email' or 'phone'"), -1;
    return 0;
}

static uint32_t find_user(users_t *u, int kind, const char *v) {
    size_t n = strlen(v);
    return kind == K_EXTERNAL ? users_by_external_id(u, v, n) : kind == K_EMAIL ? users_by_email(u, v, n) : users_by_phone(u, v, n);
}

/* GET /subscription/status/get: {"status": {id: "Subscribed" | "Unsubscribed" | "unknown"}} */
static int status_read(engine_t *e, void *arg) {
    sub_req *s = arg;
    int rc = store_subgroup_get(engine_reader(e), s->group_id, &s->group);
    if (rc == BR_ENOTFOUND) return BR_ESUBGROUP;
    if (rc < 0) return rc;
    /* Braze: external ids win over an email or phone given with them. */
    int k = s->nids[K_EXTERNAL] ? K_EXTERNAL : s->nids[K_EMAIL] ? K_EMAIL : K_PHONE;
    users_t *u = engine_users(e);
    json_object *st = json_object_new_object();
    for (int i = 0; i < s->nids[k]; i++) {
        uint32_t row = find_user(u, k, s->ids[k][i]);
        subs_state g;
        const char *v = row != USERS_NONE && subs_group_state(users_get(u, row)->blob, s->group_id, &g) == 0
                            ? subs_state_currents(g)
                            : "unknown"; /* lower-case, as Braze answers it */
        json_object_object_add(st, s->ids[k][i], json_object_new_string(v));
    }
    s->answer = json_object_new_object();
    json_object_object_add(s->answer, "status", st);
    json_object_object_add(s->answer, "message", json_object_new_string("success"));
    return 0;
}

static int answered(http_req *r, int rc) {
    sub_req *s = http_state_get(r);
    if (rc == BR_ESUBGROUP) return http_error(r, rc, NULL);
    if (rc < 0) return rc;
    json_object *o = s->answer;
    s->answer = NULL;
    return http_reply(r, 200, o);
}

static int get_status(http_req *r) {
    sub_req *s = state(r);
    s->group_id = http_query(r, "subscription_group_id");
    if (!s->group_id || !*s->group_id) return http_error(r, BR_EINVAL, "'subscription_group_id' is required");
    if (query_ids(r, s) < 0) return 0;
    if (!s->nids[K_EXTERNAL] && s->nids[K_EMAIL] && s->nids[K_PHONE]) return http_error(r, BR_ESUBBOTH, NULL);
    return api_read(r, &s->cmd, status_read, s, answered);
}

/* GET /subscription/user/status: each user's groups with a state. */
static json_object *user_groups(const sub_req *s, const uint8_t *blob) {
    json_object *a = json_object_new_array();
    pfield f;
    if (!blob || !profile_get(blob, pkey(PF_SUBSCRIPTION_GROUPS, PK_ATTR), &f) || f.type != PT_JSON) return a;
    json_object *m = attrs_parse_stored(f.p, f.len);
    if (json_object_is_type(m, json_type_object)) {
        json_object_object_foreach(m, gid, v) {
            int st = subs_state_parse(json_object_get_string(v), true);
            if (st < 0) continue;
            const store_subgroup *g = NULL;
            for (int i = 0; i < s->ngroups && !g; i++)
                if (!strcmp(s->groups[i].id, gid)) g = &s->groups[i];
            json_object *x = json_object_new_object();
            json_object_object_add(x, "id", json_object_new_string(gid));
            json_object_object_add(x, "name", g ? json_object_new_string(g->name) : NULL);
            json_object_object_add(x, "channel", g ? json_object_new_string(g->channel) : NULL);
            json_object_object_add(x, "status", json_object_new_string(subs_state_currents((subs_state)st)));
            json_object_array_add(a, x);
        }
    }
    json_object_put(m);
    return a;
}

static json_object *field(const uint8_t *blob, uint32_t id) {
    pfield f;
    return blob && profile_get(blob, pkey(id, PK_ATTR), &f) ? json_object_new_string_len((const char *)f.p, (int)f.len) : NULL;
}

static int users_read(engine_t *e, void *arg) {
    sub_req *s = arg;
    int rc = store_subgroups_list(engine_reader(e), &s->groups, &s->ngroups);
    if (rc < 0) return rc;
    users_t *u = engine_users(e);
    uint32_t rows[3 * MAX_IDS];
    int n = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < s->nids[k]; i++) {
            uint32_t row = find_user(u, k, s->ids[k][i]);
            bool seen = row == USERS_NONE;
            for (int j = 0; j < n && !seen; j++) seen = rows[j] == row;
            if (!seen) rows[n++] = row;
        }
    json_object *a = json_object_new_array();
    for (int i = s->offset; i < n && i < s->offset + s->limit; i++) {
        const uint8_t *blob = users_get(u, rows[i])->blob;
        json_object *x = json_object_new_object();
        json_object_object_add(x, "email", field(blob, PF_EMAIL));
        json_object_object_add(x, "phone", field(blob, PF_PHONE));
        json_object_object_add(x, "external_id", field(blob, PF_EXTERNAL_ID));
        json_object_object_add(x, "subscription_groups", user_groups(s, blob));
        json_object_array_add(a, x);
    }
    s->answer = json_object_new_object();
    json_object_object_add(s->answer, "users", a);
    json_object_object_add(s->answer, "total_count", json_object_new_int(n));
    json_object_object_add(s->answer, "message", json_object_new_string("success"));
    return 0;
}

static int get_user_status(http_req *r) {
    sub_req *s = state(r);
    if (query_ids(r, s) < 0) return 0;
    int64_t limit = MAX_LIMIT, offset = 0;
    if (api_query_int(r, "limit", 1, MAX_LIMIT, &limit) < 0 || api_query_int(r, "offset", 0, 1000000000, &offset) < 0)
        return 0;
    s->limit = (int)limit;
    s->offset = (int)offset;
    return api_read(r, &s->cmd, users_read, s, answered);
}

const http_route api_subscriptions_routes[] = {
    {"GET", "/admin/subscription_groups", PERM_BRASA_MARKETING, RL_DEFAULT, admin_list, 0},
    {"POST", "/admin/subscription_groups", PERM_BRASA_MARKETING, RL_DEFAULT, admin_create, 0},
    {"POST", "/subscription/status/set", PERM_SUBSCRIPTION_STATUS_SET, RL_SUBSCRIPTION_STATUS_SET, post_set, 0},
    {"POST", "/v2/subscription/status/set", PERM_SUBSCRIPTION_STATUS_SET, RL_SUBSCRIPTION_STATUS_SET, post_set_v2, 0},
    {"GET", "/subscription/status/get", PERM_SUBSCRIPTION_STATUS_GET, RL_DEFAULT, get_status, 0},
    {"GET", "/subscription/user/status", PERM_SUBSCRIPTION_GROUPS_GET, RL_DEFAULT, get_user_status, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
