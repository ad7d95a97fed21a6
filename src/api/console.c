/* console.c -- the reads the web console's Segments and Users pages need.
 *
 *   POST /admin/segments/preview  brasa.marketing  a definition's exact size and words, nothing saved
 *   GET  /admin/users/profile     brasa.marketing  a user as the console shows it: profile, cohorts,
 *                                             segments with the reason per filter, messages
 *
 * Both only read (HTTP_READS): the preview's POST carries a definition too
 * large for a query string. The preview checks and evaluates the definition
 * exactly as POST /admin/segments then sizing the new segment would
 * (engine/segments.h), so the size the builder shows is the size the saved
 * segment gets. The user page finds users the way /users/export/ids does
 * and reuses its user object (engine/exporter.h). */
#include "api.h"
#include "parse.h"
#include "../engine/exporter.h"
#include "../engine/segments.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../store/messaging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_USERS_MAX 50     /* users one lookup lists (an email or phone may match more) */
#define PROFILE_MESSAGES_MAX 100 /* latest messages listed per user */
#define PROFILE_ID_MAX 1024      /* bytes of an identifier: far above any real one */

/* ---- POST /admin/segments/preview ---------------------------------------- */

typedef struct {
    eng_cmd cmd;
    segs_eval_json ev;
} preview_req;

static void preview_free(void *p) {
    preview_req *x = p;
    bitmap_free(x->ev.rows);
    free(x->ev.description);
}

static int previewed(http_req *r, int rc) {
    preview_req *x = http_state_get(r);
    if (rc == BR_EINVAL) return http_error(r, rc, x->ev.why);
    if (rc < 0) return rc;
    json_object *o = api_success();
    json_object_object_add(o, "size", json_object_new_int64((int64_t)bitmap_cardinality(x->ev.rows)));
    json_object_object_add(o, "description", json_object_new_string(x->ev.description));
    return http_reply(r, 200, o);
}

static int post_preview(http_req *r) {
    static const char *const known[] = {"definition", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    json_object *def = json_get(http_body(r), "definition");
    char why[200];
    int rc = api_segment_definition(def, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    preview_req *x = http_state(r, sizeof *x, preview_free);
    x->ev.def = def;
    x->ev.describe = true;
    return api_read(r, &x->cmd, segs_eval_json_read, &x->ev, previewed);
}

/* ---- GET /admin/users/profile -------------------------------------------- */

/* The identifiers a user is looked up by, one per request. */
enum { BY_EXTERNAL_ID, BY_BRAZE_ID, BY_EMAIL, BY_PHONE, BY_DEVICE_ID, BY_ALIAS, BY_COUNT };
static const char *const by_names[BY_COUNT] = {"external_id", "braze_id", "email", "phone", "device_id", "alias_name"};
#define BY_LIST "'external_id', 'braze_id', 'email', 'phone', 'device_id' or 'alias_name' with 'alias_label'"

typedef struct {
    eng_cmd cmd;
    int by;
    char value[PROFILE_ID_MAX + 1], label[PROFILE_ID_MAX + 1];
    uint32_t rows[PROFILE_USERS_MAX];
    int n;
    bool truncated;
    json_object *users; /* out */
} profile_req;

static void profile_free(void *p) { json_object_put(((profile_req *)p)->users); }

static void add_row(uint32_t row, void *arg) {
    profile_req *x = arg;
    if (x->n < PROFILE_USERS_MAX) x->rows[x->n++] = row;
    else x->truncated = true;
}

/* The rows the identifier names, as /users/export/ids finds them. */
static void find_rows(engine_t *e, profile_req *x) {
    users_t *u = engine_users(e);
    size_t n = strlen(x->value);
    uint32_t row = USERS_NONE;
    switch (x->by) {
    case BY_EXTERNAL_ID: row = users_by_external_id(u, x->value, n); break;
    case BY_BRAZE_ID: row = users_by_braze_id(u, x->value, n); break;
    case BY_DEVICE_ID: row = users_by_device(u, x->value, n); break;
    case BY_ALIAS: row = users_by_alias(u, x->label, strlen(x->label), x->value, n); break;
    case BY_EMAIL: users_each_email(u, x->value, n, add_row, x); return;
    case BY_PHONE: users_each_phone(u, x->value, n, add_row, x); return;
    }
    if (row != USERS_NONE) add_row(row, x);
}

/* The user entry of row, given its segments' explanation. */
static json_object *profile_entry(engine_t *e, uint32_t row, json_object *segments) {
    static const export_fields all = {0};
    json_object *o = json_object_new_object(), *profile = exporter_user(e, row, &all), *v;
    json_object_object_add(o, "profile", profile);
    /* The export lists the user's partner cohorts only when there are some. */
    bool has = json_object_object_get_ex(profile, "cohorts", &v);
    json_object_object_add(o, "cohorts", has ? json_object_get(v) : json_object_new_array());
    json_object_object_add(o, "segments", segments);
    uint8_t bz[12];
    char *text;
    users_braze_id(engine_users(e), row, bz);
    json_object *messages = NULL;
    if (store_received_latest(engine_reader(e), bz, PROFILE_MESSAGES_MAX, &text) == 0) {
        messages = json_parse(text, strlen(text));
        free(text);
    }
    json_object_object_add(o, "messages", messages ? messages : json_object_new_array());
    return o;
}

static int profile_read(engine_t *e, void *arg) {
    profile_req *x = arg;
    find_rows(e, x);
    x->users = json_object_new_array();
    if (!x->n) return 0;
    json_object *segments[PROFILE_USERS_MAX];
    int rc = segs_explain(e, x->rows, x->n, segments);
    if (rc < 0) return rc;
    for (int i = 0; i < x->n; i++) json_object_array_add(x->users, profile_entry(e, x->rows[i], segments[i]));
    return 0;
}

static int profile_done(http_req *r, int rc) {
    profile_req *x = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = api_success();
    json_object_object_add(o, "users", json_object_get(x->users));
    if (x->truncated) json_object_object_add(o, "truncated", json_object_new_boolean(1));
    return http_reply(r, 200, o);
}

/* A given identifier's value: non-empty and bounded. 0, or -1 with the 400 set. */
static int check_value(http_req *r, const char *name, const char *v) {
    char why[120];
    if (!*v) snprintf(why, sizeof why, "'%s' must not be empty", name);
    else if (strlen(v) > PROFILE_ID_MAX) snprintf(why, sizeof why, "'%s' is longer than %d bytes", name, PROFILE_ID_MAX);
    else return 0;
    http_error(r, BR_EINVAL, why);
    return -1;
}

static int get_profile(http_req *r) {
    const char *label = http_query(r, "alias_label");
    int by = -1;
    for (int i = 0; i < BY_COUNT; i++) {
        const char *v = http_query(r, by_names[i]);
        if (!v) continue;
        if (by >= 0) return http_error(r, BR_EINVAL, "give exactly one of " BY_LIST);
        if (check_value(r, by_names[i], v) < 0) return 0;
        by = i;
    }
    if (by < 0 && !label) return http_error(r, BR_EINVAL, "one of " BY_LIST " is required");
    if (by == BY_ALIAS && !label) return http_error(r, BR_EINVAL, "'alias_name' needs 'alias_label'");
    if (by != BY_ALIAS && label) return http_error(r, BR_EINVAL, "'alias_label' needs 'alias_name'");
    if (label && check_value(r, "alias_label", label) < 0) return 0;
    profile_req *x = http_state(r, sizeof *x, profile_free);
    x->by = by;
    snprintf(x->value, sizeof x->value, "%s", http_query(r, by_names[by]));
    snprintf(x->label, sizeof x->label, "%s", label ? label : "");
    return api_read(r, &x->cmd, profile_read, x, profile_done);
}

const http_route api_console_routes[] = {
    {"POST", "/admin/segments/preview", PERM_BRASA_MARKETING, RL_DEFAULT, post_preview, HTTP_READS},
    {"GET", "/admin/users/profile", PERM_BRASA_MARKETING, RL_DEFAULT, get_profile, HTTP_READS},
    {NULL, NULL, 0, 0, NULL, 0},
};
