/* cohorts.c -- `brasa cohorts list`: the cohorts partners imported.
 *
 * Reads the cohorts table, whose metadata (name, size, times, the last
 * import's counts) every import writes in its own transaction, so the list
 * is current also while `brasa serve` runs. This is what to check when a
 * customer says "the cohort is not in the list": whether the partner's name
 * call arrived, how many members it has, and whether the last users call
 * matched anyone. */
#include "cli.h"
#include "opts.h"
#include "../core/cohort.h"
#include "../core/partner.h"
#include "../lib/timefmt.h"
#include "../store/partners.h"
#include "../store/store.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: brasa cohorts list [--partner NAME] [--json]\n"
    "\n"
    "Lists the cohorts technology partners imported: partner, cohort id,\n"
    "size, last change, the last import's counts (added / removed / already\n"
    "so / matching no user) and name.";

static int list(store_t *store, const char *partner, bool json) {
    sqlite3 *db;
    store_cohort_row *rows;
    int n;
    if (store_open_reader(store, &db) < 0) return 1;
    int rc = store_cohort_list(db, partner, &rows, &n);
    sqlite3_close(db);
    if (rc < 0) return 1;
    if (json) {
        json_object *a = json_object_new_array();
        for (int i = 0; i < n; i++) json_object_array_add(a, cohort_meta_json(&rows[i].m));
        printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(a);
    } else {
        printf("%-12s %-24s %10s %-24s %-28s %s\n", "PARTNER", "COHORT ID", "SIZE", "UPDATED",
               "LAST IMPORT +/-/=/?", "NAME");
        for (int i = 0; i < n; i++) {
            const cohort_meta *r = &rows[i].m;
            char upd[32], imp[64] = "-";
            timefmt_iso(r->updated_at, upd, sizeof upd);
            if (r->import_at)
                snprintf(imp, sizeof imp, "%lld/%lld/%lld/%lld", (long long)r->import_added,
                         (long long)r->import_removed, (long long)r->import_unchanged, (long long)r->import_unmatched);
            printf("%-12s %-24s %10lld %-24s %-28s %s\n", r->partner, r->cohort_id, (long long)r->size, upd, imp,
                   r->name);
        }
    }
    store_cohort_rows_free(rows, n);
    return 0;
}

int cli_cohorts(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"partner", NULL, NULL, "only this partner's cohorts", false, false, NULL},
        {"json", NULL, NULL, "machine-readable output (one JSON array)", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[1];
    int npos, rc = opts_parse(argc, argv, opts, usage, pos, &npos, 1);
    if (rc || npos == 0) {
        if (!rc) opts_usage(stderr, usage, opts);
        opts_free(opts);
        return rc == 1 ? 0 : 2;
    }
    char partner[PARTNER_NAME_MAX + 1];
    const char *p = opts_get(opts, "partner");
    if (strcmp(pos[0], "list")) {
        fprintf(stderr, "brasa: unknown cohorts command '%s'\n", pos[0]);
        rc = 2;
    } else if (p && partner_name(p, partner) < 0) {
        fprintf(stderr, "brasa: '%s' is not a partner name: 1-64 characters of a-z, 0-9, '.', '_', '-'\n", p);
        rc = 2;
    }
    store_t *store = opts_store(opts, &rc);
    if (rc == 0) rc = list(store, p ? partner : NULL, opts_get(opts, "json") != NULL);
    return opts_end(opts, store, rc);
}
