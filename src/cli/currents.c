/* currents.c -- `brasa currents`: the CLI twin of /admin/currents
 * (docs/currents.md). It works on the data directory directly, also while
 * `brasa serve` runs on it (SQLite serialises the writers); the server's
 * supervisor reads the connectors every second, so a change applies
 * without a restart. */
#include "cli.h"
#include "opts.h"
#include "../currents/currents.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../store/currents.h"
#include "../store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX (1 << 20)

static const char usage[] =
    "usage: brasa currents add FILE              (FILE: the connector as JSON; - for stdin)\n"
    "       brasa currents list [--json]\n"
    "       brasa currents pause|resume|remove CONNECTOR\n"
    "       brasa currents replay CONNECTOR --from earliest|TIME\n"
    "       brasa currents dead-letter CONNECTOR [--json] [--replay all|SEQ]\n"
    "\n"
    "A connector streams brasa's events (Currents) to a destination: type\n"
    "custom_http (Braze's Custom Currents Export: Heap and others), amplitude,\n"
    "mixpanel, or files (Avro or NDJSON in Braze's storage layout). FILE holds\n"
    "what POST /admin/currents takes, e.g.\n"
    "  {\"name\": \"heap\", \"type\": \"custom_http\", \"url\": \"https://...\", \"token\": \"...\"}\n"
    "CONNECTOR is its name or id. A new connector starts with the events\n"
    "written after it (\"start\": \"earliest\" or a time to go back); replay\n"
    "rewinds it to a time the outboxes still hold. Events a destination\n"
    "refused on their own wait in the dead letter; --replay sends them again.";

/* The whole of path (or stdin for "-"), NUL-terminated; NULL after saying why. */
static char *slurp(const char *path) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        perror(path);
        return NULL;
    }
    char *s = xmalloc(CONFIG_MAX + 1);
    size_t n = fread(s, 1, CONFIG_MAX + 1, f);
    if (f != stdin) fclose(f);
    if (n > CONFIG_MAX) {
        fprintf(stderr, "brasa: %s is larger than %d bytes\n", path, CONFIG_MAX);
        free(s);
        return NULL;
    }
    s[n] = 0;
    return s;
}

static int add(store_t *store, const char *path) {
    char *text = slurp(path), why[300];
    if (!text) return 1;
    json_object *o = json_parse(text, strlen(text));
    free(text);
    int64_t start;
    if (!o) {
        fprintf(stderr, "brasa: %s is not JSON\n", path);
        return 2;
    }
    if (cur_check(o, &start, why, sizeof why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        json_object_put(o);
        return 2;
    }
    char id[25];
    cur_new_id(id);
    size_t n;
    store_cur_new c = {.id = id, .name = json_str(o, "name", NULL), .type = json_str(o, "type", NULL),
                       .config = json_text(o, &n), .start_ms = start};
    int rc = store_exec(store, store_cur_insert_op, &c);
    if (rc == BR_EEXISTS) fprintf(stderr, "brasa: a Currents connector named '%s' already exists\n", c.name);
    else if (rc == BR_ETOOMANY) fprintf(stderr, "brasa: at most %d Currents connectors can be configured\n", STORE_CUR_MAX);
    else if (rc < 0) fprintf(stderr, "brasa: %s\n", br_err_message(rc));
    else printf("%s\n", id);
    json_object_put(o);
    return rc == 0 ? 0 : rc == BR_ESTORE ? 1 : 2;
}

static int list(store_t *store, bool as_json) {
    sqlite3 *db;
    store_cur *rows;
    int n;
    if (store_open_reader(store, &db) < 0) return 1;
    if (store_cur_list(db, &rows, &n) < 0) {
        sqlite3_close(db);
        return 1;
    }
    json_object *a = json_object_new_array();
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        json_object *j = cur_json(db, &rows[i], "active");
        if (!j) rc = 1;
        else json_object_array_add(a, j);
    }
    if (!rc && as_json) printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY));
    else if (!rc) {
        printf("%-20s %-12s %-10s %12s %10s %8s %6s %12s %8s  %s\n", "NAME", "TYPE", "STATE", "SENT", "BATCHES",
               "RETRIES", "DEAD", "LAG_EVENTS", "LAG_S", "LAST_ERROR");
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *j = json_object_array_get_idx(a, i), *lag = json_get(j, "lag");
            const char *err = json_object_get_string(json_get(j, "last_error"));
            printf("%-20s %-12s %-10s %12lld %10lld %8lld %6lld %12lld %8lld  %s\n",
                   json_object_get_string(json_get(j, "name")), json_object_get_string(json_get(j, "type")),
                   json_object_get_string(json_get(j, "state")), (long long)json_object_get_int64(json_get(j, "sent")),
                   (long long)json_object_get_int64(json_get(j, "batches")),
                   (long long)json_object_get_int64(json_get(j, "retries")),
                   (long long)json_object_get_int64(json_get(j, "dead_letter")),
                   (long long)json_object_get_int64(json_get(lag, "events")),
                   (long long)json_object_get_int64(json_get(lag, "seconds")), err ? err : "-");
        }
    }
    json_object_put(a);
    store_cur_rows_free(rows, n);
    sqlite3_close(db);
    return rc;
}

static int edit(store_t *store, store_op_fn op, store_cur_edit *e) {
    int rc = store_exec(store, op, e);
    if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no Currents connector '%s'\n", e->key);
    else if (rc < 0) fprintf(stderr, "brasa: %s\n", br_err_message(rc));
    return rc == 0 ? 0 : rc == BR_ENOTFOUND ? 2 : 1;
}

static int dead_letter(store_t *store, const char *key, const char *replay, bool as_json) {
    sqlite3 *db;
    store_cur row;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_cur_get(db, key, &row);
    if (rc < 0) {
        if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no Currents connector '%s'\n", key);
        sqlite3_close(db);
        return rc == BR_ENOTFOUND ? 2 : 1;
    }
    if (replay) {
        store_cur_dead_mark m = {.connector_id = row.id};
        char *end;
        if (strcmp(replay, "all") && ((m.seq = strtoll(replay, &end, 10)) <= 0 || *end)) {
            fprintf(stderr, "brasa: --replay takes all or a dead-letter seq\n");
            rc = 2;
        } else if ((rc = store_exec(store, store_cur_dead_replay_op, &m)) == BR_ENOTFOUND) {
            fprintf(stderr, "brasa: no dead-letter event %s for '%s'\n", replay, key);
            rc = 2;
        } else if (rc < 0) rc = 1;
        else printf("%d event%s marked to be sent again\n", m.marked, m.marked == 1 ? "" : "s");
        store_cur_free(&row);
        sqlite3_close(db);
        return rc;
    }
    store_cur_dead *d;
    int n;
    int64_t after = 0;
    /* every row, a page at a time */
    while ((rc = store_cur_dead_list(db, row.id, after, 500, false, &d, &n)) == 0 && n) {
        for (int i = 0; i < n; i++) {
            if (as_json) printf("%s\n", d[i].event);
            else printf("%lld %s %s %d %s%s\n", (long long)d[i].seq, d[i].event_id, d[i].event_type, d[i].status,
                        d[i].error, d[i].replay ? " (to be sent again)" : "");
        }
        after = d[n - 1].seq;
        store_cur_dead_rows_free(d, n);
    }
    store_cur_free(&row);
    sqlite3_close(db);
    return rc < 0 ? 1 : 0;
}

int cli_currents(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"json", NULL, NULL, "machine-readable output", true, false, NULL},
        {"from", NULL, NULL, "replay: earliest, or an ISO 8601 time", false, false, NULL},
        {"replay", NULL, NULL, "dead-letter: send again all, or the event of this seq", false, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos = 0, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    const char *verb = pos[0], *arg = npos > 1 ? pos[1] : NULL;
    bool as_json = opts_get(opts, "json") != NULL;
    bool known = !strcmp(verb, "add") || !strcmp(verb, "list") || !strcmp(verb, "pause") || !strcmp(verb, "resume") ||
                 !strcmp(verb, "remove") || !strcmp(verb, "replay") || !strcmp(verb, "dead-letter");
    if (!known || (!arg) != !strcmp(verb, "list")) {
        fprintf(stderr, known ? "brasa: currents %s takes %s\n" : "brasa: unknown currents command '%s'%s\n", verb,
                known ? (strcmp(verb, "list") ? (strcmp(verb, "add") ? "a CONNECTOR" : "a FILE") : "no argument") : "");
        return opts_end(opts, NULL, 2);
    }
    store_cur_edit e = {.key = arg};
    const char *from = opts_get(opts, "from");
    if (!strcmp(verb, "replay") && (!from || cur_parse_from(from, &e.from_ms) < 0 || e.from_ms < 0)) {
        fprintf(stderr, "brasa: currents replay needs --from earliest or an ISO 8601 time\n");
        return opts_end(opts, NULL, 2);
    }
    rc = 0;
    store_t *store = opts_store(opts, &rc);
    if (!store) return opts_end(opts, NULL, rc);
    if (!strcmp(verb, "add")) rc = add(store, arg);
    else if (!strcmp(verb, "list")) rc = list(store, as_json);
    else if (!strcmp(verb, "pause") || !strcmp(verb, "resume")) {
        e.paused = !strcmp(verb, "pause");
        rc = edit(store, store_cur_pause_op, &e);
    } else if (!strcmp(verb, "remove")) rc = edit(store, store_cur_delete_op, &e);
    else if (!strcmp(verb, "replay")) rc = edit(store, store_cur_replay_op, &e);
    else rc = dead_letter(store, arg, opts_get(opts, "replay"), as_json);
    return opts_end(opts, store, rc);
}
