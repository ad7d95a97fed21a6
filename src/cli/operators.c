/* operators.c -- `brasa operators add|list|remove|passwd`: the people who
 * sign in to the dashboard (dash/operator.h).
 *
 * Works on the data directory directly, also while `brasa serve` runs on
 * it: an operator added here can sign in at once, one removed or given a
 * new password loses every session at once (sessions are read from the
 * store at each request). The password is read from standard input: on a
 * terminal without echo, twice; otherwise its first line, for scripts. It
 * is never an argument (arguments show in `ps`). */
#include "cli.h"
#include "opts.h"
#include "../dash/operator.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/timefmt.h"
#include "../store/operators.h"
#include "../store/store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char usage[] =
    "usage: brasa operators add NAME --role admin|marketer|read-only\n"
    "       brasa operators passwd NAME [--role ROLE]\n"
    "       brasa operators list [--json]\n"
    "       brasa operators remove NAME\n"
    "\n"
    "Operators sign in to the dashboard (/dashboard/ on the server's port).\n"
    "Roles: admin does everything; marketer works with segments, campaigns,\n"
    "cohorts and users, not keys, partners' keys, relays or connectors;\n"
    "read-only sees what a marketer sees and changes nothing.\n"
    "add and passwd read the password from standard input (asked twice on a\n"
    "terminal, else its first line): 10 to 1024 bytes. passwd ends every\n"
    "session of the operator.";

/* One line of stdin, without echo (twice, and the same) on a terminal. */
static int read_password(char *out, size_t n) {
    if (!isatty(STDIN_FILENO)) return opts_read_line(out, n) < 0 ? -1 : 0;
    struct termios old, quiet;
    tcgetattr(STDIN_FILENO, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    char again[DASH_PASSWORD_MAX + 2];
    fprintf(stderr, "Password: ");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    int rc = opts_read_line(out, n);
    if (rc == 0) {
        fprintf(stderr, "\nAgain: ");
        rc = opts_read_line(again, sizeof again);
    }
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    if (rc == 0 && strcmp(out, again)) {
        fprintf(stderr, "brasa: the two passwords differ\n");
        rc = -1;
    }
    memset(again, 0, sizeof again);
    return rc;
}

/* Fills o's role (when given) and pwhash from standard input. */
static int prepare(store_operator *o, const char *role) {
    dash_role r;
    char why[160], pw[DASH_PASSWORD_MAX + 2];
    if (role && dash_role_parse(role, &r) < 0) {
        fprintf(stderr, "brasa: --role is admin, marketer or read-only, not '%s'\n", role);
        return 2;
    }
    snprintf(o->role, sizeof o->role, "%s", role ? role : "");
    if (read_password(pw, sizeof pw) < 0) {
        fprintf(stderr, "brasa: no password read (at most %d bytes, one line)\n", DASH_PASSWORD_MAX);
        return 2;
    }
    int rc = dash_password_check(pw, why, sizeof why);
    if (rc < 0) fprintf(stderr, "brasa: %s\n", why);
    else if (dash_crypto_init() < 0 || dash_password_hash(pw, o->pwhash) < 0) rc = BR_EINTERNAL;
    memset(pw, 0, sizeof pw);
    return rc == BR_EINVAL ? 2 : rc < 0 ? 1 : 0;
}

static int add(store_t *store, const char *name, const char *role) {
    store_operator o = {.created_at = clock_wall_ms()};
    char why[160];
    if (!role) {
        fprintf(stderr, "brasa: operators add needs --role admin, marketer or read-only\n");
        return 2;
    }
    if (dash_name_check(name, why, sizeof why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        return 2;
    }
    snprintf(o.name, sizeof o.name, "%s", name);
    int rc = prepare(&o, role);
    if (rc) return rc;
    rc = store_exec(store, store_operator_insert_op, &o);
    if (rc == BR_EEXISTS) fprintf(stderr, "brasa: an operator named '%s' already exists (passwd changes one)\n", name);
    if (rc < 0) return 1;
    printf("added operator %s (%s)\n", o.name, o.role);
    return 0;
}

static int passwd(store_t *store, const char *name, const char *role) {
    store_operator o = {0};
    snprintf(o.name, sizeof o.name, "%s", name);
    int rc = prepare(&o, role);
    if (rc) return rc;
    rc = store_exec(store, store_operator_update_op, &o);
    if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no operator named '%s'\n", name);
    if (rc < 0) return 1;
    printf("changed operator %s; their sessions ended\n", name);
    return 0;
}

static int list(store_t *store, bool json) {
    store_operator *rows;
    int n;
    sqlite3 *db;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_operator_list(db, &rows, &n);
    sqlite3_close(db);
    if (rc < 0) return 1;
    json_object *a = json ? json_object_new_array() : NULL;
    if (!json) printf("%-24s %-10s %-24s %s\n", "NAME", "ROLE", "CREATED", "LAST SIGN-IN");
    for (int i = 0; i < n; i++) {
        char c[32], l[32] = "-";
        timefmt_iso(rows[i].created_at, c, sizeof c);
        if (rows[i].last_login_at) timefmt_iso(rows[i].last_login_at, l, sizeof l);
        if (!json) {
            printf("%-24s %-10s %-24s %s\n", rows[i].name, rows[i].role, c, l);
            continue;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(rows[i].name));
        json_object_object_add(o, "role", json_object_new_string(rows[i].role));
        json_object_object_add(o, "created_at", json_object_new_string(c));
        json_object_object_add(o, "last_login_at", rows[i].last_login_at ? json_object_new_string(l) : NULL);
        json_object_array_add(a, o);
    }
    if (json) opts_print_json(a);
    free(rows);
    return 0;
}

int cli_operators(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"role", NULL, NULL, "add, passwd: admin, marketer or read-only", false, false, NULL},
        {"json", NULL, NULL, "list: machine-readable output", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    rc = 0;
    store_t *store = opts_store(opts, &rc);
    if (!store) return opts_end(opts, NULL, rc);
    const char *verb = pos[0], *name = npos > 1 ? pos[1] : NULL, *role = opts_get(opts, "role");
    if (!strcmp(verb, "list") && npos == 1) rc = list(store, opts_get(opts, "json"));
    else if (!name && (!strcmp(verb, "add") || !strcmp(verb, "passwd") || !strcmp(verb, "remove"))) {
        fprintf(stderr, "brasa: operators %s needs the operator's NAME\n", verb);
        rc = 2;
    } else if (!strcmp(verb, "add")) rc = add(store, name, role);
    else if (!strcmp(verb, "passwd")) rc = passwd(store, name, role);
    else if (!strcmp(verb, "remove")) {
        rc = store_exec(store, store_operator_delete_op, (void *)name);
        if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no operator named '%s'\n", name);
        else if (rc == 0) printf("removed operator %s; their sessions ended\n", name);
        rc = rc < 0 ? 1 : 0;
    } else {
        fprintf(stderr, "brasa: unknown operators command '%s'\n", verb);
        rc = 2;
    }
    return opts_end(opts, store, rc);
}
