/* partners.c -- `brasa partners key|list|set`: technology partners' data
 * import keys (core/partner.h).
 *
 * Works on the data directory directly, also while `brasa serve` runs on it,
 * like `brasa keys`: a new key works at its first use, an invalidated one
 * stops within the server's key cache time (1 s by default). Output is for
 * scripts: `key` prints the data import key alone on one line, or one JSON
 * object with --json. */
#include "cli.h"
#include "opts.h"
#include "../core/partner.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../store/partners.h"
#include "../store/store.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: brasa partners key NAME [--rotate [--overlap DURATION] | --invalidate] [--json]\n"
    "       brasa partners list [--json]\n"
    "       brasa partners set NAME (--partner-api-key KEY | --any-partner-api-key)\n"
    "\n"
    "NAME is the partner's path segment in /partners/NAME/cohorts (heap,\n"
    "amplitude, tinyclues, mixpanel, segment, census, hightouch, ...).\n"
    "`key` creates the partner's data import key (the client_secret the\n"
    "partner sends) and prints it once; keys are stored hashed. A partner has\n"
    "one key: --rotate makes a new one and lets the old one work for the\n"
    "overlap (24h by default; 0 ends it now), --invalidate ends every key of\n"
    "the partner now. `set` makes the server require the partner_api_key the\n"
    "partner sends (by default any value is accepted).";

static int key(store_t *store, const char *name, const cli_opt *opts) {
    bool rotate = opts_get(opts, "rotate"), inval = opts_get(opts, "invalidate"), json = opts_get(opts, "json");
    const char *overlap = opts_get(opts, "overlap");
    if (rotate && inval) {
        fprintf(stderr, "brasa: --rotate and --invalidate exclude each other\n");
        return 2;
    }
    if (overlap && !rotate) {
        fprintf(stderr, "brasa: --overlap goes with --rotate\n");
        return 2;
    }
    if (inval) {
        partner_invalidate p = {.n = 0};
        memcpy(p.partner, name, sizeof p.partner);
        int rc = store_exec(store, store_partner_invalidate_op, &p);
        if (rc == BR_ENOTFOUND) fprintf(stderr, "brasa: %s has no valid data import key\n", name);
        if (rc < 0) return 1;
        if (json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "partner", json_object_new_string(name));
            json_object_object_add(o, "invalidated", json_object_new_int(p.n));
            opts_print_json(o);
        } else {
            printf("invalidated %d data import key%s of %s\n", p.n, p.n == 1 ? "" : "s", name);
        }
        return 0;
    }
    partner_keygen k = {.rotate = rotate, .overlap_ms = PARTNER_DEFAULT_OVERLAP_MS};
    memcpy(k.partner, name, sizeof k.partner);
    if (overlap && partner_duration(overlap, &k.overlap_ms) < 0) {
        fprintf(stderr, "brasa: --overlap takes N[s|m|h|d], at most 365d (got '%s')\n", overlap);
        return 2;
    }
    int rc = store_exec(store, store_partner_keygen_op, &k);
    if (rc == BR_EEXISTS)
        fprintf(stderr, "brasa: %s already has a valid data import key; --rotate makes a new one, --invalidate ends it\n",
                name);
    if (rc == 0) {
        if (json) opts_print_json(partner_keygen_json(&k));
        else printf("%s\n", k.key);
    }
    memset(&k, 0, sizeof k);
    return rc < 0 ? 1 : 0;
}

static void time_col(json_object *o, const char *field, char *out, size_t n) {
    json_object *v;
    snprintf(out, n, "%s", json_object_object_get_ex(o, field, &v) && v ? json_object_get_string(v) : "-");
}

static int list(store_t *store, const cli_opt *opts) {
    sqlite3 *db;
    partner_listing l;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_partner_listing(db, &l);
    sqlite3_close(db);
    if (rc < 0) return 1;
    json_object *a = partner_list_json(&l, clock_wall_ms());
    partner_listing_free(&l);
    if (opts_get(opts, "json")) {
        opts_print_json(a);
        return 0;
    }
    printf("%-16s %-10s %-5s %-15s %-8s %s\n", "PARTNER", "VALID KEYS", "KEYS", "PARTNER API KEY", "COHORTS",
           "NEWEST KEY CREATED");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *p = json_object_array_get_idx(a, i), *v, *keys;
        json_object_object_get_ex(p, "keys", &keys);
        size_t nk = json_object_array_length(keys);
        char newest[32] = "-";
        if (nk) time_col(json_object_array_get_idx(keys, nk - 1), "created_at", newest, sizeof newest);
        int valid, cohorts;
        json_object_object_get_ex(p, "valid_keys", &v);
        valid = json_object_get_int(v);
        json_object_object_get_ex(p, "cohorts", &v);
        cohorts = json_object_get_int(v);
        json_object_object_get_ex(p, "partner_api_key", &v);
        const char *pak = json_object_get_string(v);
        json_object_object_get_ex(p, "partner", &v);
        printf("%-16s %-10d %-5zu %-15s %-8d %s\n", json_object_get_string(v), valid, nk, pak, cohorts, newest);
    }
    json_object_put(a);
    return 0;
}

static int set(store_t *store, const char *name, const cli_opt *opts) {
    const char *k = opts_get(opts, "partner-api-key");
    bool any = opts_get(opts, "any-partner-api-key");
    if (!!k == any || (k && !*k)) {
        fprintf(stderr, "brasa: partners set needs a non-empty --partner-api-key or --any-partner-api-key\n");
        return 2;
    }
    partner_setting s = {.api_key = k};
    memcpy(s.partner, name, sizeof s.partner);
    if (store_exec(store, store_partner_set_api_key_op, &s) < 0) return 1;
    printf(k ? "%s: the partner_api_key is now required\n" : "%s: any partner_api_key is accepted\n", name);
    return 0;
}

int cli_partners(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"rotate", NULL, NULL, "key: make a new key; the old one works for the overlap", true, false, NULL},
        {"overlap", NULL, NULL, "key --rotate: how long the old key keeps working, N[s|m|h|d] (24h)", false, false, NULL},
        {"invalidate", NULL, NULL, "key: end every key of the partner now", true, false, NULL},
        {"partner-api-key", NULL, NULL, "set: the partner_api_key to require", false, false, NULL},
        {"any-partner-api-key", NULL, NULL, "set: accept any partner_api_key (the default)", true, false, NULL},
        {"json", NULL, NULL, "machine-readable output", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    rc = 0;
    const char *cmd = pos[0];
    char name[PARTNER_NAME_MAX + 1] = "";
    bool named = !strcmp(cmd, "key") || !strcmp(cmd, "set");
    if (!named && strcmp(cmd, "list")) {
        fprintf(stderr, "brasa: unknown partners command '%s'\n", cmd);
        rc = 2;
    } else if (named != (npos == 2)) {
        fprintf(stderr, named ? "brasa: partners %s needs a partner NAME\n" : "brasa: partners %s takes no NAME\n", cmd);
        rc = 2;
    } else if (named && partner_name(pos[1], name) < 0) {
        fprintf(stderr, "brasa: '%s' is not a partner name: 1-64 characters of a-z, 0-9, '.', '_', '-'\n", pos[1]);
        rc = 2;
    }
    store_t *store = opts_store(opts, &rc);
    if (rc == 0) {
        if (!strcmp(cmd, "key")) rc = key(store, name, opts);
        else if (!strcmp(cmd, "set")) rc = set(store, name, opts);
        else rc = list(store, opts);
    }
    return opts_end(opts, store, rc);
}
