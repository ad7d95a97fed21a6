/* apikey.h -- REST API keys: what a valid key is, creating and revoking one.
 *
 * Shared by the CLI (`brasa keys ...`) and the admin HTTP API, so both apply
 * the same rules: a name of 1-255 printable characters, permissions from
 * perm.h, an allowlist of CIDRs; the key text exists only in the creator's
 * answer, the store keeps its hash. */
#ifndef BR_APIKEY_H
#define BR_APIKEY_H
#include "../lib/secret.h"
#include <json-c/json.h>
#include <stdint.h>

typedef struct {
    char *name;
    char *permissions; /* normalised comma list */
    char *allow_ips;   /* validated comma list, "" for any address */
    char key[SECRET_KEY_LEN + 1];
    uint8_t hash[SECRET_HASH_LEN];
    int64_t id;         /* set by store_key_insert_op */
    int64_t created_at; /* ms */
} apikey_new;

/* Validates the inputs and draws a new key into k. Returns 0, or BR_EINVAL
 * with a message for the user in *why (caller frees). */
int apikey_prepare(apikey_new *k, const char *name, const char *perms, const char *allow_ips,
                   char **why);
void apikey_new_free(apikey_new *k);

/* A key row as the API and `keys list --json` show it (never the hash).
 * key_text is included only when not NULL (at creation). */
json_object *apikey_row_json(int64_t id, const char *name, const char *perms, const char *allow_ips,
                             int64_t created_at, int64_t last_used_at, int64_t revoked_at,
                             const char *key_text);

#endif
