/* partner.h -- technology partners: names, data import keys, settings.
 *
 * Shared by the CLI (`brasa partners ...`) and the admin HTTP API, so both
 * apply the same rules, like apikey.h. A data import key is what a customer
 * hands to a partner (Heap, Amplitude, Tinyclues, ...): the partner sends it
 * as `client_secret` in cohort import requests, and it authorises requests
 * for that one partner. Keys are random UUID-shaped strings stored as their
 * SHA-256; the text exists only in the answer that created it.
 *
 * A partner has at most one key in normal use. Rotating creates a new key
 * and lets the old ones work until the end of an overlap window (so the
 * partner's settings can be updated without a gap); invalidating ends every
 * key of the partner at once. The `partner_api_key` Braze issues to each
 * partner cannot be known to brasa: any value is accepted unless the
 * operator sets the one to expect. */
#ifndef BR_PARTNER_H
#define BR_PARTNER_H
#include "../lib/secret.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define PARTNER_NAME_MAX 64
#define PARTNER_DEFAULT_OVERLAP_MS (24LL * 3600 * 1000)

/* Normalises a partner name (the path segment of /partners/{partner}):
 * lower-cased, 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a
 * letter or digit. Returns 0, or BR_EINVAL. */
int partner_name(const char *in, char out[PARTNER_NAME_MAX + 1]);
/* Parses a duration "N", "Ns", "Nm", "Nh" or "Nd" (seconds by default, at
 * most 365 days) into ms. Returns 0, or BR_EINVAL. */
int partner_duration(const char *s, int64_t *ms);

typedef struct {
    char partner[PARTNER_NAME_MAX + 1];
    bool rotate;
    int64_t overlap_ms;
    /* out */
    char key[SECRET_KEY_LEN + 1];
    int64_t id, created_at;
    int old_keys;          /* keys whose end the rotation set */
    int64_t old_expire_at; /* when they stop working */
} partner_keygen;

/* Draws the key text for a keygen (its hash into hash) at now_ms. */
void partner_keygen_draw(partner_keygen *k, int64_t now_ms, uint8_t hash[SECRET_HASH_LEN]);
/* The created key as JSON (the only time its text is shown). */
json_object *partner_keygen_json(const partner_keygen *k);

typedef struct {
    char partner[PARTNER_NAME_MAX + 1];
    int n; /* out: keys invalidated */
} partner_invalidate;


typedef struct {
    char partner[PARTNER_NAME_MAX + 1];
    const char *api_key; /* NULL: accept any partner_api_key */
} partner_setting;

/* A data import key as stored (never its text or hash). */
typedef struct {
    int64_t id;
    char partner[PARTNER_NAME_MAX + 8];
    int64_t created_at;
    int64_t expires_at; /* 0 = no expiry set */
} partner_key_row;

/* What the partner listing is made of (store_partner_listing fills it):
 * every key by partner then id, the partners with a partner_api_key set,
 * and the partner of every cohort. */
typedef char partner_name_t[PARTNER_NAME_MAX + 8];
typedef struct {
    partner_key_row *keys;
    int nkeys;
    partner_name_t *configured;
    int nconfigured;
    partner_name_t *cohorts;
    int ncohorts;
} partner_listing;
void partner_listing_free(partner_listing *l);

/* Every partner that has a key, an expected partner_api_key or a cohort:
 * [{"partner", "valid_keys", "keys": [{id, created_at, expires_at, valid}],
 *   "partner_api_key": "any" | "configured", "cohorts"}], sorted by name. */
json_object *partner_list_json(const partner_listing *l, int64_t now_ms);

#endif
