/* smtp.c -- `brasa smtp add|update|list|remove|test`: the SMTP relays email goes
 * out through (store/relays.h), the CLI twin of /admin/smtp_relays, and one
 * message through a relay so an operator sees its own answer before a
 * campaign does.
 *
 * add/update/list/remove work on the data directory directly, also while `brasa
 * serve` runs on it (SQLite serialises the writers); the server reads the
 * relays again at every send and every second, so a
 * change applies without a restart. The password is best given on stdin
 * (--password-stdin) or in BRASA_SMTP_PASSWORD: an argument is visible to
 * other users in `ps`. */
#include "cli.h"
#include "opts.h"
#include "../lib/err.h"
#include "../lib/httpc.h"
#include "../send/smtp.h"
#include "../store/relays.h"
#include "../store/store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: brasa smtp add NAME --url URL [--user U (--password-stdin | BRASA_SMTP_PASSWORD)]\n"
    "                      [--max-connections N] [--rate N] [--timeout-ms N] [--disabled] [--json]\n"
    "       brasa smtp update NAME [--url URL] [--user U (--password-stdin | BRASA_SMTP_PASSWORD) | --no-auth]\n"
    "                      [--max-connections N] [--rate N] [--timeout-ms N] [--enabled | --disabled]\n"
    "       brasa smtp list [--json]\n"
    "       brasa smtp remove NAME\n"
    "       brasa smtp test --from ADDRESS --to ADDRESS [--smtp-url URL | --relay NAME]\n"
    "\n"
    "add stores a relay email goes out through, next to --smtp-url's (named\n"
    "default): URL is smtp://host:port (STARTTLS when offered) or\n"
    "smtps://host:port. With several relays, each message goes to the one with\n"
    "the fewest messages in hand for its --max-connections (default 16, at most\n"
    "128 sessions); --rate caps its messages per second (0: none); --timeout-ms\n"
    "bounds each message (0: the server's default). A running server picks\n"
    "changes up within a second. NAME is 1 to 64 letters, digits, '_', '-' or\n"
    "'.'. Passwords are never shown again. update changes the options it is\n"
    "given and keeps the others (--no-auth: no AUTH any more).\n"
    "\n"
    "test sends one short message through the relay of --smtp-url (the same\n"
    "--smtp-url, --smtp-user and --smtp-password as `brasa serve`, or their\n"
    "BRASA_SMTP_* variables), or a stored one (--relay NAME, enabled or not),\n"
    "and prints the outcome: exit 0 when the relay accepted it, 1 with its\n"
    "answer when it did not.";

/* An optional number option into *out (dflt when absent); false after
 * saying why. */
static bool number(const cli_opt *opts, const char *name, long long max, long dflt, long *out) {
    *out = dflt;
    if (!opts_get(opts, name)) return true;
    long long v = opts_uint(opts, name, max);
    if (v < 0) return false;
    *out = (long)v;
    return true;
}

/* The password of --user into *pass: from stdin (--password-stdin) or
 * BRASA_SMTP_PASSWORD, and only with a user (the variable may be there
 * for --smtp-url's relay). 0, or -1 after saying why. */
static int password_of(const cli_opt *opts, const char *user, char *line, size_t size, const char **pass) {
    *pass = NULL;
    if (!user) {
        if (!opts_get(opts, "password-stdin")) return 0;
        fprintf(stderr, "brasa: --password-stdin needs --user\n");
        return -1;
    }
    if (opts_get(opts, "password-stdin")) {
        if (opts_read_line(line, size) < 0) {
            fprintf(stderr, "brasa: the password must be at most %d bytes\n", STORE_RELAY_PASS_MAX);
            return -1;
        }
        *pass = line;
    } else if (!(*pass = opts_get(opts, "smtp-password"))) {
        fprintf(stderr, "brasa: --user needs the password on stdin (--password-stdin) or in BRASA_SMTP_PASSWORD\n");
        return -1;
    }
    return 0;
}

static int add(store_t *store, const char *name, const cli_opt *opts) {
    const char *url = opts_get(opts, "url"), *user = opts_get(opts, "user"), *pass = NULL;
    if (!name || !url) {
        fprintf(stderr, "brasa: smtp add needs a NAME and --url\n");
        return 2;
    }
    long conns, rate, timeout;
    if (!number(opts, "max-connections", STORE_RELAY_CONN_MAX, STORE_RELAY_DEFAULT_CONN, &conns) ||
        !number(opts, "rate", STORE_RELAY_RATE_MAX, 0, &rate) ||
        !number(opts, "timeout-ms", STORE_RELAY_TIMEOUT_MAX, 0, &timeout))
        return 2;
    char line[STORE_RELAY_PASS_MAX + 2];
    line[0] = 0;
    if (password_of(opts, user, line, sizeof line, &pass) < 0) return 2;
    store_relay r = {.name = name, .url = url, .username = user, .password = pass, .max_connections = (int)conns,
                     .rate_per_second = (int)rate, .timeout_ms = timeout, .enabled = !opts_get(opts, "disabled")};
    char why[200];
    if (store_relay_check(&r, why, sizeof why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        return 2;
    }
    int rc = store_exec(store, store_relay_insert_op, &r);
    memset(line, 0, sizeof line);
    if (rc == BR_EEXISTS) fprintf(stderr, "brasa: an SMTP relay named '%s' already exists\n", name);
    else if (rc == BR_ETOOMANY) fprintf(stderr, "brasa: at most %d SMTP relays can be stored\n", STORE_RELAY_MAX);
    if (rc < 0) return 1;
    if (opts_get(opts, "json")) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        opts_print_json(o);
    } else {
        printf("added SMTP relay %s\n", name);
    }
    return 0;
}

static int update(store_t *store, const char *name, const cli_opt *opts) {
    if (!name) {
        fprintf(stderr, "brasa: smtp update needs a NAME\n");
        return 2;
    }
    store_relay_patch p = {.name = name, .url = opts_get(opts, "url"), .username = opts_get(opts, "user"),
                           .enabled = opts_get(opts, "enabled") ? 1 : opts_get(opts, "disabled") ? 0 : -1};
    long conns, rate, timeout;
    if (!number(opts, "max-connections", STORE_RELAY_CONN_MAX, -1, &conns) ||
        !number(opts, "rate", STORE_RELAY_RATE_MAX, -1, &rate) ||
        !number(opts, "timeout-ms", STORE_RELAY_TIMEOUT_MAX, -1, &timeout))
        return 2;
    p.max_connections = (int)conns;
    p.rate_per_second = (int)rate;
    p.timeout_ms = timeout;
    if (opts_get(opts, "enabled") && opts_get(opts, "disabled")) {
        fprintf(stderr, "brasa: smtp update takes --enabled or --disabled, not both\n");
        return 2;
    }
    if (opts_get(opts, "no-auth") && p.username) {
        fprintf(stderr, "brasa: smtp update takes --user or --no-auth, not both\n");
        return 2;
    }
    char line[STORE_RELAY_PASS_MAX + 2];
    if (password_of(opts, p.username, line, sizeof line, &p.password) < 0) return 2;
    p.auth = p.username ? 1 : opts_get(opts, "no-auth") ? -1 : 0;
    if (!p.url && !p.auth && p.max_connections < 0 && p.rate_per_second < 0 && p.timeout_ms < 0 && p.enabled < 0) {
        fprintf(stderr, "brasa: smtp update needs something to change (see --help)\n");
        return 2;
    }
    int rc = store_exec(store, store_relay_update_op, &p);
    memset(line, 0, sizeof line);
    if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no SMTP relay named '%s'\n", name);
    else if (rc == BR_EINVAL) fprintf(stderr, "brasa: %s\n", p.why);
    else if (rc == 0) printf("updated SMTP relay %s\n", name);
    return rc == 0 ? 0 : rc == BR_EINVAL ? 2 : 1;
}

static int list(store_t *store, const cli_opt *opts) {
    store_relay *rows;
    int n;
    sqlite3 *db;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_relay_list(db, false, &rows, &n);
    sqlite3_close(db);
    if (rc < 0) return 1;
    if (opts_get(opts, "json")) {
        json_object *a = json_object_new_array();
        for (int i = 0; i < n; i++) {
            json_object *o = store_relay_json(&rows[i]);
            json_object_array_add(a, o);
        }
        opts_print_json(a);
    } else {
        printf("%-16s %-8s %-5s %-6s %-8s %-16s %s\n", "NAME", "ENABLED", "CONNS", "RATE", "TIMEOUT", "USER", "URL");
        for (int i = 0; i < n; i++) {
            const store_relay *x = &rows[i];
            char rate[16], timeout[16];
            snprintf(rate, sizeof rate, "%d", x->rate_per_second);
            snprintf(timeout, sizeof timeout, "%ld", x->timeout_ms);
            printf("%-16s %-8s %-5d %-6s %-8s %-16s %s\n", x->name, x->enabled ? "yes" : "no", x->max_connections,
                   x->rate_per_second ? rate : "-", x->timeout_ms ? timeout : "-", x->username ? x->username : "-",
                   x->url);
        }
    }
    store_relay_rows_free(rows, n);
    return 0;
}

static int remove_one(store_t *store, const char *name) {
    if (!name) {
        fprintf(stderr, "brasa: smtp remove needs a NAME (see `brasa smtp list`)\n");
        return 2;
    }
    store_relay probe = {.name = name, .url = "smtp://x", .max_connections = 1};
    char why[200];
    if (store_relay_check(&probe, why, sizeof why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        return 2;
    }
    int rc = store_exec(store, store_relay_delete_op, (void *)name);
    if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no SMTP relay named '%s'\n", name);
    else if (rc == 0) printf("removed SMTP relay %s\n", name);
    return rc == 0 ? 0 : 1;
}

static int probe(const smtp_opts *o, const char *from, const char *to) {
    httpc_global_init();
    char why[300];
    if (smtp_probe(o, from, to, why, sizeof why) == 0) {
        printf("the relay at %s accepted a message from %s to %s\n", o->url, from, to);
        return 0;
    }
    fprintf(stderr, "brasa: the relay at %s did not take the message: %s\n", o->url, why);
    return 1;
}

/* --relay NAME: a stored relay (enabled or not), with its settings. */
static int test_stored(const cli_opt *opts, const char *name, const char *from, const char *to) {
    store_t *store;
    sqlite3 *db;
    store_relay *r;
    if (store_open(opts_get(opts, "data-dir"), &store) < 0) return 1;
    int rc = store_open_reader(store, &db);
    if (rc == 0) {
        rc = store_relay_get(db, name, &r);
        sqlite3_close(db);
    }
    store_close(store);
    if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no SMTP relay named '%s'\n", name);
    if (rc < 0) return 1;
    smtp_opts o = {.url = r->url, .user = r->username, .password = r->password, .timeout_ms = r->timeout_ms};
    rc = probe(&o, from, to);
    store_relay_rows_free(r, 1);
    return rc;
}

static int test(const cli_opt *opts) {
    const char *url = opts_get(opts, "smtp-url"), *relay = opts_get(opts, "relay"), *from = opts_get(opts, "from"),
               *to = opts_get(opts, "to");
    if ((!url && !relay) || !from || !to) {
        fprintf(stderr, "brasa: smtp test needs --smtp-url (or BRASA_SMTP_URL), --from and --to\n");
        return 2;
    }
    if (relay) return test_stored(opts, relay, from, to);
    smtp_opts o = {.url = url, .user = opts_get(opts, "smtp-user"), .password = opts_get(opts, "smtp-password")};
    return probe(&o, from, to);
}

int cli_smtp(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"url", NULL, NULL, "add: the relay, smtp://host:port or smtps://host:port", false, false, NULL},
        {"user", NULL, NULL, "add: the relay's AUTH user", false, false, NULL},
        {"password-stdin", NULL, NULL, "add: read the AUTH password from stdin", true, false, NULL},
        {"max-connections", NULL, NULL, "add: SMTP sessions at most (1-128, default 16)", false, false, NULL},
        {"rate", NULL, NULL, "add: messages per second at most (0: no limit)", false, false, NULL},
        {"timeout-ms", NULL, NULL, "add: per message (0: the server's default)", false, false, NULL},
        {"disabled", NULL, NULL, "add, update: stored, not sent through", true, false, NULL},
        {"enabled", NULL, NULL, "update: sent through again", true, false, NULL},
        {"no-auth", NULL, NULL, "update: no AUTH any more (user and password removed)", true, false, NULL},
        {"json", NULL, NULL, "machine-readable output", true, false, NULL},
        {"smtp-url", "BRASA_SMTP_URL", NULL, "test: the relay: smtp://host:port or smtps://host:port", false, false, NULL},
        {"smtp-user", "BRASA_SMTP_USER", NULL, "test: the relay's AUTH user", false, false, NULL},
        {"smtp-password", "BRASA_SMTP_PASSWORD", NULL, "test: the relay's AUTH password; add: the password of --user",
         false, false, NULL},
        {"relay", NULL, NULL, "test: a stored relay, by name, instead of --smtp-url", false, false, NULL},
        {"from", NULL, NULL, "test: the envelope sender and From address", false, false, NULL},
        {"to", NULL, NULL, "test: the recipient", false, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos = 0, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    const char *verb = pos[0], *name = npos > 1 ? pos[1] : NULL;
    if (!strcmp(verb, "test") && npos == 1) rc = test(opts);
    else if ((!strcmp(verb, "add") || !strcmp(verb, "update") || !strcmp(verb, "remove") || !strcmp(verb, "list")) &&
             (npos == 1 || strcmp(verb, "list"))) {
        rc = 0;
        store_t *store = opts_store(opts, &rc);
        if (!store) return opts_end(opts, NULL, rc);
        if (!strcmp(verb, "add")) rc = add(store, name, opts);
        else if (!strcmp(verb, "update")) rc = update(store, name, opts);
        else if (!strcmp(verb, "list")) rc = list(store, opts);
        else rc = remove_one(store, name);
        return opts_end(opts, store, rc);
    } else {
        fprintf(stderr, "brasa: unknown smtp command '%s'\n", verb);
        rc = 2;
    }
    opts_free(opts);
    return rc;
}
