/* pauth.h -- partner request checks: partner_api_key and client_secret.
 *
 * Partner cohort import carries no Authorization header: the JSON body has
 * `partner_api_key` (Braze's key for the partner) and `client_secret` (the
 * customer's data import key for that partner, core/partner.h). This is the
 * counterpart of auth.h for them: a data import key is looked up by the
 * SHA-256 of the presented text, first in a small cache, then in SQLite, and
 * a cache entry is trusted for ttl_ms (1 s by default). So a key generated
 * by `brasa partners key` works at its first use, one invalidated there
 * stops within the TTL, and one invalidated through this server's admin API
 * stops at once (pauth_forget). A rotation's overlap ends exactly on time:
 * the entry carries the key's end. */
#ifndef BR_PAUTH_H
#define BR_PAUTH_H
#include "../store/store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pauth pauth_t;

int pauth_new(store_t *store, int64_t ttl_ms, pauth_t **out);
void pauth_free(pauth_t *a);

/* Checks a partner request for partner (normalised, partner.h).
 * api_key is the body's partner_api_key (NULL when absent or not a string);
 * it must match only when the operator set one for partner. secret is the
 * body's client_secret (NULL when absent or not a string). Returns 0,
 * BR_EPARTNERKEY, BR_ECLIENTSECRET (unknown, expired or missing secret),
 * BR_EPARTNEROFF (a valid key of another partner) or BR_ESTORE. */
int pauth_check(pauth_t *a, const char *partner, const char *api_key, size_t api_key_len, const char *secret,
                size_t secret_len);
/* Drops what is cached about partner (after changing its keys or settings
 * through this server). */
void pauth_forget(pauth_t *a, const char *partner);

#endif
