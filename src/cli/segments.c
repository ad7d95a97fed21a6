/* segments.c -- `brasa segments create|update|archive|list|show|size`.
 *
 * Works on the data directory's SQLite store, also while `brasa serve`
 * runs (the server reads segments from the store at each use). `create`
 * prints the new segment's id alone on one line, for scripts. `size`
 * evaluates the segment against the profiles, which means loading them:
 * it needs the data directory to itself (it takes the server's lock) and
 * says so when a server holds it; ask the server instead
 * (GET /admin/segments/ID). */
#include "cli.h"
#include "opts.h"
#include "../api/api.h"
#include "../api/parse.h"
#include "../engine/segments.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: brasa segments create --name N --file DEF.json [--tags T,T] [--description TEXT]\n"
    "       brasa segments update ID [--name N] [--file DEF.json] [--tags T,T] [--description TEXT]\n"
    "       brasa segments archive ID\n"
    "       brasa segments list [--archived] [--json]\n"
    "       brasa segments show ID\n"
    "       brasa segments size ID\n"
    "\n"
    "A definition is JSON: a filter, or {\"and\": [...]} / {\"or\": [...]} groups\n"
    "of filters (docs/segments.md). It is checked before it is stored.";

/* The write body from the options. */
static json_object *body_of(const cli_opt *opts, bool archive) {
    json_object *b = json_object_new_object();
    const char *v;
    if ((v = opts_get(opts, "name"))) json_object_object_add(b, "name", json_object_new_string(v));
    if ((v = opts_get(opts, "description"))) json_object_object_add(b, "text_description", json_object_new_string(v));
    if ((v = opts_get(opts, "tags"))) {
        json_object *a = json_object_new_array();
        char *t = xstrdup(v), *save, *p;
        for (p = strtok_r(t, ",", &save); p; p = strtok_r(NULL, ",", &save)) json_object_array_add(a, json_object_new_string(p));
        free(t);
        json_object_object_add(b, "tags", a);
    }
    if ((v = opts_get(opts, "file"))) {
        json_object *d = json_object_from_file(v);
        if (!d) {
            fprintf(stderr, "brasa: cannot read a JSON definition from %s: %s\n", v, json_util_get_last_err());
            json_object_put(b);
            return NULL;
        }
        json_object_object_add(b, "definition", d);
    }
    if (archive) json_object_object_add(b, "archived", json_object_new_boolean(1));
    return b;
}

static int write_segment(store_t *store, const cli_opt *opts, const char *id, bool archive) {
    if (!id && (!opts_get(opts, "name") || !opts_get(opts, "file"))) {
        fprintf(stderr, "brasa: segments create needs --name and --file\n");
        return 2;
    }
    json_object *b = body_of(opts, archive);
    if (!b) return 2;
    segs_write w = {.id = id};
    int rc = api_segment_parse(b, id != NULL, &w, w.why, sizeof w.why);
    if (rc == 0) rc = store_exec(store, segs_write_op, &w);
    if (rc == 0) {
        if (id) opts_print_json(json_object_get(w.result));
        else printf("%s\n", w.new_id);
    } else if (rc == BR_EINVAL || rc == BR_ENOTFOUND) fprintf(stderr, "brasa: %s\n", w.why);
    json_object_put(w.result);
    json_object_put(b);
    return rc == 0 ? 0 : rc == BR_EINVAL || rc == BR_ENOTFOUND ? 2 : 1;
}

static int list(store_t *store, const cli_opt *opts) {
    sqlite3 *db;
    store_segment_row *rows;
    int n;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_segment_list(db, opts_get(opts, "archived") != NULL, false, 0, -1, &rows, &n);
    if (rc == 0 && opts_get(opts, "json")) {
        json_object *a = json_object_new_array();
        for (int i = 0; i < n; i++) json_object_array_add(a, segs_json(db, &rows[i]));
        opts_print_json(a);
    } else if (rc == 0) {
        printf("%-36s %10s %-24s %-8s %s\n", "ID", "SIZE", "SIZED AT", "STATUS", "NAME");
        for (int i = 0; i < n; i++) {
            char at[32] = "-", size[24] = "-";
            if (rows[i].size_at) timefmt_iso(rows[i].size_at, at, sizeof at);
            if (rows[i].size >= 0) snprintf(size, sizeof size, "%lld", (long long)rows[i].size);
            printf("%-36s %10s %-24s %-8s %s\n", rows[i].id, size, at, rows[i].archived_at ? "archived" : "live",
                   rows[i].name);
        }
    }
    if (rc == 0) store_segment_rows_free(rows, n);
    sqlite3_close(db);
    return rc < 0 ? 1 : 0;
}

static int show(store_t *store, const char *id) {
    sqlite3 *db;
    store_segment_row r;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_segment_get(db, id, &r);
    if (rc == 0) {
        json_object *o = segs_json(db, &r);
        opts_print_json(o);
        store_segment_row_free(&r);
    } else if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no segment with id '%s'\n", id);
    sqlite3_close(db);
    return rc == 0 ? 0 : rc == BR_ENOTFOUND ? 2 : 1;
}

static int size(store_t *store, const char *dir, const char *id) {
    int fd = cli_lock_dir(dir);
    if (fd < 0) {
        fprintf(stderr, "brasa: %s is in use by brasa serve: ask the server (GET /admin/segments/%s) or stop it\n", dir, id);
        return 1;
    }
    engine_t *eng = NULL;
    api_legacy_register();
    int rc = engine_open(store, &eng);
    segs_eval x = {.id = id};
    if (rc == 0) rc = eng_exec_read(eng, segs_eval_read, &x);
    if (rc == 0) printf("%lld\n", (long long)x.size);
    else if (rc == BR_EINVAL || rc == BR_ENOTFOUND) fprintf(stderr, "brasa: %s\n", x.why);
    engine_free(eng);
    close(fd);
    return rc == 0 ? 0 : rc == BR_EINVAL || rc == BR_ENOTFOUND ? 2 : 1;
}

int cli_segments(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"name", NULL, NULL, "create/update: the segment's name", false, false, NULL},
        {"file", NULL, NULL, "create/update: a file with the definition (JSON)", false, false, NULL},
        {"tags", NULL, NULL, "create/update: comma-separated tags", false, false, NULL},
        {"description", NULL, NULL, "create/update: a description (Braze's text_description)", false, false, NULL},
        {"archived", NULL, NULL, "list: archived segments too", true, false, NULL},
        {"json", NULL, NULL, "list: machine-readable output", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    rc = 0;
    log_set_level(LOG_WARN);
    const char *dir = opts_get(opts, "data-dir");
    store_t *store = opts_store(opts, &rc);
    if (!store) return opts_end(opts, NULL, rc);
    const char *cmd = pos[0], *id = npos > 1 ? pos[1] : NULL;
    bool needs_id = strcmp(cmd, "create") && strcmp(cmd, "list");
    if (needs_id && !id) {
        fprintf(stderr, "brasa: segments %s needs a segment ID (see `brasa segments list`)\n", cmd);
        rc = 2;
    } else if (!needs_id && id) {
        fprintf(stderr, "brasa: segments %s takes no ID\n", cmd);
        rc = 2;
    } else if (!strcmp(cmd, "create")) rc = write_segment(store, opts, NULL, false);
    else if (!strcmp(cmd, "update")) rc = write_segment(store, opts, id, false);
    else if (!strcmp(cmd, "archive")) rc = write_segment(store, opts, id, true);
    else if (!strcmp(cmd, "list")) rc = list(store, opts);
    else if (!strcmp(cmd, "show")) rc = show(store, id);
    else if (!strcmp(cmd, "size")) rc = size(store, dir, id);
    else {
        fprintf(stderr, "brasa: unknown segments command '%s'\n", cmd);
        rc = 2;
    }
    return opts_end(opts, store, rc);
}
