/* keys.c -- `brasa keys create|list|revoke`: manage REST API keys.
 *
 * Works on the data directory directly, also while `brasa serve` runs on it
 * (SQLite serialises the writers): a created key works at its first use, a
 * revoked one stops within the server's key cache time (1 s by default).
 * Output is for scripts: `create` prints the key alone on one line, or one
 * JSON object with --json. */
#include "cli.h"
#include "opts.h"
#include "../core/apikey.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/timefmt.h"
#include "../store/keys.h"
#include "../store/store.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: brasa keys create --name N --permissions P[,P...] [--allow-ip CIDR]... [--json]\n"
    "       brasa keys list [--json]\n"
    "       brasa keys revoke ID\n"
    "\n"
    "Permissions are Braze's names (users.track, users.export.ids, ...), or\n"
    "'all' (every Braze permission). brasa's admin permissions, brasa.keys\n"
    "(keys, partners, segments) and brasa.metrics (GET /metrics), are only\n"
    "granted when named ('all,brasa.keys').\n"
    "--allow-ip takes addresses or CIDR ranges, IPv4 or IPv6; without\n"
    "it the key works from any address. Keys are stored hashed: `create`\n"
    "shows a key once.";

static int create(store_t *store, const cli_opt *opts) {
    apikey_new k;
    char *why;
    if (!opts_get(opts, "name") || !opts_get(opts, "permissions")) {
        fprintf(stderr, "brasa: keys create needs --name and --permissions\n");
        return 2;
    }
    if (apikey_prepare(&k, opts_get(opts, "name"), opts_get(opts, "permissions"),
                       opts_get(opts, "allow-ip"), &why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        free(why);
        return 2;
    }
    int rc = store_exec(store, store_key_insert_op, &k);
    if (rc == 0) {
        if (opts_get(opts, "json"))
            opts_print_json(apikey_row_json(k.id, k.name, k.permissions, k.allow_ips, k.created_at, 0, 0, k.key));
        else
            printf("%s\n", k.key);
    }
    apikey_new_free(&k);
    return rc < 0 ? 1 : 0;
}

static void time_col(int64_t ms, char *out, size_t n) {
    if (!ms) snprintf(out, n, "-");
    else timefmt_iso(ms, out, n);
}

static int list(store_t *store, const cli_opt *opts) {
    store_key_row *rows;
    int n;
    sqlite3 *db;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_key_list(db, &rows, &n);
    sqlite3_close(db);
    if (rc < 0) return 1;
    if (opts_get(opts, "json")) {
        json_object *a = json_object_new_array();
        for (int i = 0; i < n; i++)
            json_object_array_add(a, apikey_row_json(rows[i].id, rows[i].name, rows[i].permissions,
                                                     rows[i].allow_ips, rows[i].created_at,
                                                     rows[i].last_used_at, rows[i].revoked_at, NULL));
        opts_print_json(a);
    } else {
        printf("%-5s %-20s %-8s %-24s %-24s %-18s %s\n", "ID", "NAME", "STATUS", "CREATED", "LAST USED",
               "ALLOW IPS", "PERMISSIONS");
        for (int i = 0; i < n; i++) {
            char c[32], u[32];
            time_col(rows[i].created_at, c, sizeof c);
            time_col(rows[i].last_used_at, u, sizeof u);
            printf("%-5lld %-20s %-8s %-24s %-24s %-18s %s\n", (long long)rows[i].id, rows[i].name,
                   rows[i].revoked_at ? "revoked" : "active", c, u,
                   *rows[i].allow_ips ? rows[i].allow_ips : "any", rows[i].permissions);
        }
    }
    store_key_rows_free(rows, n);
    return 0;
}

static int revoke(store_t *store, const char *arg) {
    char *end;
    long long id = arg ? strtoll(arg, &end, 10) : 0;
    if (!arg || *end || id <= 0) {
        fprintf(stderr, "brasa: keys revoke needs a key ID (see `brasa keys list`)\n");
        return 2;
    }
    int64_t kid = id;
    int rc = store_exec(store, store_key_revoke_op, &kid);
    if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: no active key with id %lld\n", id);
    else if (rc == 0) printf("revoked key %lld\n", id);
    return rc == 0 ? 0 : 1;
}

int cli_keys(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"name", NULL, NULL, "create: the key's name", false, false, NULL},
        {"permissions", NULL, NULL, "create: comma-separated permissions, or 'all'", false, false, NULL},
        {"allow-ip", NULL, NULL, "create: allowed address or CIDR range; repeatable", false, true, NULL},
        {"json", NULL, NULL, "machine-readable output", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    rc = 0;
    store_t *store = opts_store(opts, &rc);
    if (!store) return opts_end(opts, NULL, rc);
    if (!strcmp(pos[0], "create") && npos == 1) rc = create(store, opts);
    else if (!strcmp(pos[0], "list") && npos == 1) rc = list(store, opts);
    else if (!strcmp(pos[0], "revoke")) rc = revoke(store, npos > 1 ? pos[1] : NULL);
    else {
        fprintf(stderr, "brasa: unknown keys command '%s'\n", pos[0]);
        rc = 2;
    }
    return opts_end(opts, store, rc);
}
