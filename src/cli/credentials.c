/* credentials.c -- `brasa credentials add|list|remove`: Connected Content's
 * basic-auth credentials (store/credentials.h), the CLI twin of
 * /admin/credentials.
 *
 * Works on the data directory directly, also while `brasa serve` runs on it
 * (SQLite serialises the writers); the fetcher reads credentials at each
 * send, so a change applies to the next message. The password is best
 * given on stdin (--password-stdin) or in BRASA_CREDENTIAL_PASSWORD: a
 * --password argument is visible to other users in `ps`. */
#include "cli.h"
#include "opts.h"
#include "../lib/err.h"
#include "../lib/timefmt.h"
#include "../store/credentials.h"
#include "../store/store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: brasa credentials add --name N --username U (--password P | --password-stdin) [--json]\n"
    "       brasa credentials list [--json]\n"
    "       brasa credentials remove NAME\n"
    "\n"
    "Basic-auth credentials for connected_content: a template names one with\n"
    "{% connected_content URL :basic_auth NAME %}. NAME is 1 to 64 letters,\n"
    "digits, '_', '-' or '.'. --password-stdin reads the password from the\n"
    "first line of stdin (and wins over --password). Passwords are never\n"
    "shown again; removing a credential makes the calls that name it abort\n"
    "their message.";

static int add(store_t *store, const cli_opt *opts) {
    const char *name = opts_get(opts, "name"), *user = opts_get(opts, "username"), *pass = opts_get(opts, "password");
    bool from_stdin = opts_get(opts, "password-stdin");
    if (!name || !user || (!pass && !from_stdin)) {
        fprintf(stderr, "brasa: credentials add needs --name, --username and --password or --password-stdin\n");
        return 2;
    }
    char line[STORE_CRED_PASS_MAX + 2], why[160];
    if (from_stdin) {
        if (opts_read_line(line, sizeof line) < 0) {
            fprintf(stderr, "brasa: the password must be at most %d bytes\n", STORE_CRED_PASS_MAX);
            return 2;
        }
        pass = line;
    }
    if (store_cred_check(name, user, pass, strlen(pass), why, sizeof why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        return 2;
    }
    store_cred_new c = {.name = name, .username = user, .password = pass, .password_len = strlen(pass)};
    int rc = store_exec(store, store_cred_insert_op, &c);
    memset(line, 0, sizeof line);
    if (rc == BR_EEXISTS) fprintf(stderr, "brasa: a credential named '%s' already exists\n", name);
    if (rc < 0) return 1;
    if (opts_get(opts, "json")) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        opts_print_json(o);
    } else {
        printf("added credential %s\n", name);
    }
    return 0;
}

static int list(store_t *store, const cli_opt *opts) {
    store_cred_row *rows;
    int n;
    sqlite3 *db;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_cred_list(db, &rows, &n);
    sqlite3_close(db);
    if (rc < 0) return 1;
    if (opts_get(opts, "json")) {
        json_object *a = json_object_new_array();
        for (int i = 0; i < n; i++) {
            char t[32];
            timefmt_iso(rows[i].created_at, t, sizeof t);
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(rows[i].name));
            json_object_object_add(o, "username", json_object_new_string(rows[i].username));
            json_object_object_add(o, "created_at", json_object_new_string(t));
            json_object_array_add(a, o);
        }
        opts_print_json(a);
    } else {
        printf("%-24s %-24s %s\n", "NAME", "CREATED", "USERNAME");
        for (int i = 0; i < n; i++) {
            char t[32];
            timefmt_iso(rows[i].created_at, t, sizeof t);
            printf("%-24s %-24s %s\n", rows[i].name, t, rows[i].username);
        }
    }
    store_cred_rows_free(rows, n);
    return 0;
}

static int remove_one(store_t *store, const char *name) {
    char why[160];
    if (!name) {
        fprintf(stderr, "brasa: credentials remove needs a NAME (see `brasa credentials list`)\n");
        return 2;
    }
    if (store_cred_check(name, NULL, NULL, 0, why, sizeof why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        return 2;
    }
    int rc = store_exec(store, store_cred_delete_op, (void *)name);
    if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no credential named '%s'\n", name);
    else if (rc == 0) printf("removed credential %s\n", name);
    return rc == 0 ? 0 : 1;
}

int cli_credentials(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"name", NULL, NULL, "add: the credential's name", false, false, NULL},
        {"username", NULL, NULL, "add: the username", false, false, NULL},
        {"password", "BRASA_CREDENTIAL_PASSWORD", NULL, "add: the password", false, false, NULL},
        {"password-stdin", NULL, NULL, "add: read the password from stdin", true, false, NULL},
        {"json", NULL, NULL, "machine-readable output", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    rc = 0;
    store_t *store = opts_store(opts, &rc);
    if (!store) return opts_end(opts, NULL, rc);
    if (!strcmp(pos[0], "add") && npos == 1) rc = add(store, opts);
    else if (!strcmp(pos[0], "list") && npos == 1) rc = list(store, opts);
    else if (!strcmp(pos[0], "remove") && npos <= 2) rc = remove_one(store, npos > 1 ? pos[1] : NULL);
    else {
        fprintf(stderr, "brasa: unknown credentials command '%s'\n", pos[0]);
        rc = 2;
    }
    return opts_end(opts, store, rc);
}
