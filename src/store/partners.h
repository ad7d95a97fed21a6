/* partners.h -- SQL for partners' data import keys, partner settings and
 * cohort rows (tables partner_keys, partners, cohorts: sql/003_partners.sql).
 *
 * Plain row access, like keys.h: what a key means is decided in
 * core/partner.c and http/pauth.c, what a cohort is in core/cohort.c. Every
 * function takes the connection to use: the writer's inside a store op, or
 * a reader's. Returns 0, BR_ENOTFOUND where said, or BR_ESTORE. */
#ifndef BR_STORE_PARTNERS_H
#define BR_STORE_PARTNERS_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- data import keys ---------------------------------------------------- */

typedef struct {
    int64_t id;
    char partner[72];
    int64_t created_at;
    int64_t expires_at; /* 0 = no expiry set */
} store_pkey_row;

int store_pkey_insert(sqlite3 *db, const char *partner, const uint8_t hash[32], int64_t now_ms, int64_t *id);
/* The key with this hash (expired or not); BR_ENOTFOUND if none. */
int store_pkey_by_hash(sqlite3 *db, const uint8_t hash[32], store_pkey_row *out);
/* Makes partner's keys that are valid after at_ms expire at at_ms; sets
 * *n to how many changed. at_ms = now invalidates every valid key. */
int store_pkey_expire(sqlite3 *db, const char *partner, int64_t at_ms, int *n);
/* Keys of partner valid at now_ms. */
int store_pkey_count_valid(sqlite3 *db, const char *partner, int64_t now_ms, int *n);
/* Every key, by partner then id, in a malloc'd array (free()). */
int store_pkey_list(sqlite3 *db, store_pkey_row **rows, int *n);

/* ---- partner settings ---------------------------------------------------- */

/* Sets (hash) or clears (NULL) the partner_api_key expected from partner. */
int store_partner_set_api_key(sqlite3 *db, const char *partner, const uint8_t *hash, int64_t now_ms);
/* *has = whether one is set; its hash in out. */
int store_partner_api_key(sqlite3 *db, const char *partner, bool *has, uint8_t out[32]);
/* Partners with a partner_api_key set, sorted, as a malloc'd array of
 * fixed-size names (free()). */
int store_partner_list_api_keys(sqlite3 *db, char (**names)[72], int *n);

/* ---- cohorts ------------------------------------------------------------- */

typedef struct {
    const char *partner, *cohort_id, *name;
    int64_t created_at, updated_at, size, import_at; /* import_at 0 = none */
    int64_t import_added, import_removed, import_unchanged, import_unmatched;
    const void *members; /* store_cohort_put: NULL writes the metadata only */
    size_t members_len;
} store_cohort_row;

/* Inserts or updates the row of (partner, cohort_id). */
int store_cohort_put(sqlite3 *db, const store_cohort_row *r);
/* Calls fn for every row in creation order, members included (the row's
 * pointers are valid during the call only); stops at fn's first error. */
int store_cohort_each(sqlite3 *db, int (*fn)(const store_cohort_row *r, void *arg), void *arg);
/* Rows (without members) of one partner or all (partner NULL), in creation
 * order, with copied strings; free with store_cohort_rows_free. */
int store_cohort_list(sqlite3 *db, const char *partner, store_cohort_row **rows, int *n);
void store_cohort_rows_free(store_cohort_row *rows, int n);

#endif
