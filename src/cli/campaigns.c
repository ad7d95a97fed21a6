/* campaigns.c -- `brasa campaigns create|update|archive|list|show` and
 * `brasa apps create|list`.
 *
 * Works on the data directory's SQLite store, also while `brasa serve`
 * runs on it, like `brasa segments`: the server reads a campaign from the
 * store at each use (the admin and Braze routes, the dispatcher), so what
 * the CLI writes applies from the next request or send. Writes run the
 * admin API's own store ops (api/campaigns.h), so a body is checked by the
 * same rules, and what is printed is what the API answers: `create` the
 * 201 body {"campaign_id", "variations"}, `update` and `archive` the stored
 * document, `show` what GET /admin/campaigns/{id} shows (pretty-printed),
 * `apps create` {"app_id", "name", "platform"}. A refused write prints the
 * API's error message and exits 1; usage errors exit 2. */
#include "cli.h"
#include "opts.h"
#include "../api/campaigns.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../send/campaign.h"
#include "../store/messaging.h"
#include "../store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A body file's size limit: the server's default --max-body is 4 MB; the
 * CLI takes more, but not without bound. */
#define BODY_MAX (16u << 20)

static const char campaigns_usage[] =
    "usage: brasa campaigns create FILE\n"
    "       brasa campaigns update ID FILE\n"
    "       brasa campaigns archive ID\n"
    "       brasa campaigns list [--archived] [--json]\n"
    "       brasa campaigns show ID\n"
    "\n"
    "FILE holds the admin API's JSON body (POST /admin/campaigns, docs/operations.md);\n"
    "'-' reads it from stdin. An update changes the fields it names; variations\n"
    "keep their ids (matched by id or name). `create` prints {\"campaign_id\",\n"
    "\"variations\"}, `update` and `archive` the stored document, `show` the\n"
    "campaign as GET /admin/campaigns/ID shows it. Archived campaigns leave\n"
    "/campaigns/list and cannot be sent. Works while `brasa serve` runs.";

static const char apps_usage[] =
    "usage: brasa apps create NAME [--platform P]\n"
    "       brasa apps list [--json]\n"
    "\n"
    "An app is one of the workspace's apps; its app_id is Braze's app\n"
    "identifier, the value clients send in app_id fields. P is ios, android,\n"
    "web (default), kindle, tvos, roku or other. `create` prints {\"app_id\",\n"
    "\"name\", \"platform\"}, as POST /admin/apps. Works while `brasa serve` runs.";

/* The API's error answer for code and detail ("Bad Request: why"), on
 * stderr; returns the exit status. */
static int refused(int rc, const char *why) {
    if (why && *why) fprintf(stderr, "brasa: %s: %s\n", br_err_message(rc), why);
    else fprintf(stderr, "brasa: %s\n", br_err_message(rc));
    return 1;
}

/* A usage error: the message, then the usage, on stderr; exit status 2. */
__attribute__((format(printf, 3, 4))) static int usage_error(const char *usage, const cli_opt *opts, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "brasa: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n\n");
    va_end(ap);
    opts_usage(stderr, usage, opts);
    return 2;
}

/* ---- reading a body ------------------------------------------------------ */

static int read_all(const char *path, char **out, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "brasa: %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf_t b = BUF_INIT;
    char chunk[65536];
    size_t n;
    bool big = false;
    while (!big && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > BODY_MAX) big = true;
        else buf_append(&b, chunk, n);
    }
    bool err = ferror(f);
    if (f != stdin) fclose(f);
    if (big || err) {
        if (big) fprintf(stderr, "brasa: %s: larger than %u bytes\n", path, BODY_MAX);
        else fprintf(stderr, "brasa: %s: read error\n", path);
        buf_free(&b);
        return -1;
    }
    *len = b.len;
    *out = b.len ? buf_take(&b) : NULL;
    buf_free(&b);
    return 0;
}

/* The body in path ('-': stdin), parsed by the server's rules for a
 * request body (http/server.c): strict UTF-8 JSON, one value and
 * whitespace, finite numbers; an empty file is no body, as an empty
 * request is. 0 and *body (NULL for none), or the exit status after
 * printing the API's message. */
static int read_body(const char *path, json_object **body) {
    char *s, why[128] = "";
    size_t n;
    *body = NULL;
    if (read_all(path, &s, &n) < 0) return 1;
    int rc = n ? json_parse_body(s, n, body, why, sizeof why) : 0;
    free(s);
    return rc < 0 ? refused(rc, why) : 0;
}

/* ---- campaigns ----------------------------------------------------------- */

/* The admin API's check of a campaign id in its path; 0, or the exit status. */
static int check_id(const char *id) {
    if (!*id) return refused(BR_ECAMPAIGNID, "no campaign id");
    if (strlen(id) > 64) return refused(BR_ENOTFOUND, "no such campaign"); /* as the admin API answers it */
    return 0;
}

/* A create (id NULL), update or archive through the admin API's store op;
 * body is consumed. */
static int write_campaign(store_t *store, const char *id, json_object *body) {
    api_campaign_write w = {.id = id, .body = body, .now_ms = clock_wall_ms()};
    int rc = store_exec(store, api_campaign_write_op, &w);
    if (rc == 0) opts_print_json(id ? api_campaign_view(json_object_get(w.doc), w.first_sent, w.last_sent) : camp_created_json(w.doc));
    json_object_put(w.doc);
    json_object_put(body);
    if (rc == BR_EINVAL || rc == BR_ENOTFOUND || rc == BR_ETPLID) return refused(rc, w.why);
    return rc < 0 ? refused(rc, NULL) : 0;
}

static int create(store_t *store, const char *file) {
    json_object *body;
    int rc = read_body(file, &body);
    return rc ? rc : write_campaign(store, NULL, body);
}

static int update(store_t *store, const char *id, const char *file) {
    json_object *body;
    int rc = check_id(id);
    if (!rc) rc = read_body(file, &body);
    return rc ? rc : write_campaign(store, id, body);
}

static int archive(store_t *store, const char *id) {
    int rc = check_id(id);
    if (rc) return rc;
    json_object *body = json_object_new_object();
    json_object_object_add(body, "archived", json_object_new_boolean(1));
    return write_campaign(store, id, body);
}

static int list_campaigns(store_t *store, const cli_opt *opts) {
    sqlite3 *db;
    store_campaign_row *rows;
    int n;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_campaign_list(db, opts_get(opts, "archived") != NULL, false, INT64_MIN, 0, -1, &rows, &n);
    sqlite3_close(db);
    if (rc < 0) return refused(rc, NULL);
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *doc = json_parse(rows[i].doc, strlen(rows[i].doc));
        if (doc) json_object_array_add(a, api_campaign_view(doc, rows[i].first_sent, rows[i].last_sent));
    }
    store_campaign_rows_free(rows, n);
    if (opts_get(opts, "json")) {
        opts_print_json(a); /* as "campaigns" of GET /admin/campaigns */
        return 0;
    }
    printf("%-36s %-13s %-10s %-8s %s\n", "ID", "KIND", "VARIATIONS", "ARCHIVED", "NAME");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        printf("%-36s %-13s %-10zu %-8s %s\n", camp_id(d), camp_kind(d), json_object_array_length(json_get(d, "variations")),
               json_object_get_boolean(json_get(d, "archived")) ? "yes" : "no",
               json_object_get_string(json_get(d, "name")));
    }
    json_object_put(a);
    return 0;
}

static int show(store_t *store, const char *id) {
    int rc = check_id(id);
    if (rc) return rc;
    sqlite3 *db;
    store_campaign_row row;
    if (store_open_reader(store, &db) < 0) return 1;
    rc = store_campaign_get(db, id, &row);
    sqlite3_close(db);
    if (rc == BR_ENOTFOUND) {
        char why[100];
        snprintf(why, sizeof why, "no campaign with id '%s'", id);
        return refused(rc, why);
    }
    if (rc < 0) return refused(rc, NULL);
    json_object *o = json_parse(row.doc, strlen(row.doc));
    if (o) {
        api_campaign_view(o, row.first_sent, row.last_sent);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    }
    store_campaign_row_free(&row);
    return o ? 0 : refused(BR_ESTORE, NULL);
}

int cli_campaigns(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"archived", NULL, NULL, "list: archived campaigns too", true, false, NULL},
        {"json", NULL, NULL, "list: machine-readable output (one JSON array)", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    static const struct {
        const char *verb, *args;
        int nargs;
    } verbs[] = {{"create", "FILE", 1}, {"update", "ID and FILE", 2}, {"archive", "ID", 1}, {"list", NULL, 0}, {"show", "ID", 1}};
    char *pos[4];
    int npos, rc = opts_parse_verb(argc, argv, opts, campaigns_usage, pos, &npos, 4);
    if (rc >= 0) return rc;
    const char *cmd = pos[0];
    size_t v = 0;
    while (v < sizeof verbs / sizeof *verbs && strcmp(cmd, verbs[v].verb)) v++;
    if (v == sizeof verbs / sizeof *verbs) rc = usage_error(campaigns_usage, opts, "unknown campaigns command '%s'", cmd);
    else if (npos - 1 != verbs[v].nargs && verbs[v].args)
        rc = usage_error(campaigns_usage, opts, "campaigns %s needs %s", cmd, verbs[v].args);
    else if (npos - 1 != verbs[v].nargs) rc = usage_error(campaigns_usage, opts, "campaigns %s takes no arguments", cmd);
    else rc = 0;
    log_set_level(LOG_WARN);
    store_t *store = opts_store(opts, &rc);
    if (rc == 0) {
        if (!strcmp(cmd, "create")) rc = create(store, pos[1]);
        else if (!strcmp(cmd, "update")) rc = update(store, pos[1], pos[2]);
        else if (!strcmp(cmd, "archive")) rc = archive(store, pos[1]);
        else if (!strcmp(cmd, "list")) rc = list_campaigns(store, opts);
        else rc = show(store, pos[1]);
    }
    return opts_end(opts, store, rc);
}

/* ---- apps ---------------------------------------------------------------- */

static int create_app(store_t *store, const char *name, const char *platform) {
    json_object *b = json_object_new_object();
    json_object_object_add(b, "name", json_object_new_string(name));
    if (platform) json_object_object_add(b, "platform", json_object_new_string(platform));
    api_app_create a = {.now_ms = clock_wall_ms()};
    char why[160];
    int rc = api_app_parse(b, &a, why, sizeof why);
    if (rc < 0) {
        json_object_put(b);
        return refused(rc, why);
    }
    rc = store_exec(store, api_app_create_op, &a);
    if (rc == 0) { /* the 201 body of POST /admin/apps */
        json_object *o = json_object_new_object();
        json_object_object_add(o, "app_id", json_object_new_string(a.app_id));
        json_object_object_add(o, "name", json_object_new_string(a.name));
        json_object_object_add(o, "platform", json_object_new_string(a.platform));
        opts_print_json(o);
    }
    json_object_put(b);
    return rc < 0 ? refused(rc, NULL) : 0;
}

static int list_apps(store_t *store, bool json) {
    sqlite3 *db;
    char *text;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_app_list(db, &text);
    sqlite3_close(db);
    if (rc < 0) return refused(rc, NULL);
    json_object *a = json_parse(text, strlen(text));
    free(text);
    if (!a) return refused(BR_ESTORE, NULL);
    if (json) {
        opts_print_json(a); /* as "apps" of GET /admin/apps */
        return 0;
    }
    printf("%-36s %-8s %-24s %s\n", "APP ID", "PLATFORM", "CREATED", "NAME");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *p = json_object_array_get_idx(a, i);
        char at[32];
        timefmt_iso(json_object_get_int64(json_get(p, "created_at")), at, sizeof at);
        printf("%-36s %-8s %-24s %s\n", json_object_get_string(json_get(p, "app_id")),
               json_object_get_string(json_get(p, "platform")), at, json_object_get_string(json_get(p, "name")));
    }
    json_object_put(a);
    return 0;
}

int cli_apps(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"platform", NULL, NULL, "create: ios, android, web, kindle, tvos, roku or other (web)", false, false, NULL},
        {"json", NULL, NULL, "list: machine-readable output (one JSON array)", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[3];
    int npos, rc = opts_parse_verb(argc, argv, opts, apps_usage, pos, &npos, 3);
    if (rc >= 0) return rc;
    const char *cmd = pos[0];
    bool is_create = !strcmp(cmd, "create");
    if (!is_create && strcmp(cmd, "list")) rc = usage_error(apps_usage, opts, "unknown apps command '%s'", cmd);
    else if (is_create && npos != 2) rc = usage_error(apps_usage, opts, "apps create needs one NAME");
    else if (!is_create && npos != 1) rc = usage_error(apps_usage, opts, "apps list takes no arguments");
    else if (!is_create && opts_get(opts, "platform")) rc = usage_error(apps_usage, opts, "--platform goes with apps create");
    else rc = 0;
    log_set_level(LOG_WARN);
    store_t *store = opts_store(opts, &rc);
    if (rc == 0) rc = is_create ? create_app(store, pos[1], opts_get(opts, "platform")) : list_apps(store, opts_get(opts, "json"));
    return opts_end(opts, store, rc);
}
