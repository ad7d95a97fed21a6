/* partners.h -- SQL for partners' data import keys, partner settings and
 * cohort rows (tables partner_keys, partners, cohorts: sql/003_partners.sql).
 *
 * Plain row access, like keys.h: what a key means is decided in
 * core/partner.c and http/pauth.c, what a cohort is in core/cohort.c. Every
 * function takes the connection to use: the writer's inside a store op, or
 * a reader's. Returns 0, BR_ENOTFOUND where said, or BR_ESTORE. */
#ifndef BR_STORE_PARTNERS_H
#define BR_STORE_PARTNERS_H
#include "../core/cohort.h"
#include "../core/partner.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- data import keys ---------------------------------------------------- */

int store_pkey_insert(sqlite3 *db, const char *partner, const uint8_t hash[32], int64_t now_ms, int64_t *id);
/* The key with this hash (expired or not); BR_ENOTFOUND if none. */
int store_pkey_by_hash(sqlite3 *db, const uint8_t hash[32], partner_key_row *out);
/* Makes partner's keys that are valid after at_ms expire at at_ms; sets
 * *n to how many changed. at_ms = now invalidates every valid key. */
int store_pkey_expire(sqlite3 *db, const char *partner, int64_t at_ms, int *n);
/* Keys of partner valid at now_ms. */
int store_pkey_count_valid(sqlite3 *db, const char *partner, int64_t now_ms, int *n);
/* Every key, partner setting and cohort, for partner_list_json(). */
int store_partner_listing(sqlite3 *db, partner_listing *out);

/* store ops (store.h) taking the core/partner.h requests: a new data
 * import key (BR_EEXISTS while the partner has a valid one, unless
 * rotating); the end of every valid key now (BR_ENOTFOUND: none); the
 * expected partner_api_key set or cleared. */
int store_partner_keygen_op(sqlite3 *db, void *arg);
int store_partner_invalidate_op(sqlite3 *db, void *arg);
int store_partner_set_api_key_op(sqlite3 *db, void *arg);

/* ---- partner settings ---------------------------------------------------- */

/* Sets (hash) or clears (NULL) the partner_api_key expected from partner. */
int store_partner_set_api_key(sqlite3 *db, const char *partner, const uint8_t *hash, int64_t now_ms);
/* *has = whether one is set; its hash in out. */
int store_partner_api_key(sqlite3 *db, const char *partner, bool *has, uint8_t out[32]);

/* ---- cohorts ------------------------------------------------------------- */

typedef struct {
    cohort_meta m;
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
