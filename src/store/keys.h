/* keys.h -- SQL for REST API keys (table api_keys, see sql/001_keys.sql).
 *
 * Plain row access; what a key means (permissions, allowlist) is decided in
 * core/apikey.c and http/auth.c. Every function takes the connection to use:
 * the writer's inside a store op, or a reader's. */
#ifndef BR_STORE_KEYS_H
#define BR_STORE_KEYS_H
#include "../core/apikey.h"
#include <sqlite3.h>
#include <stdint.h>

typedef struct {
    int64_t id;
    char *name;
    char *permissions;
    char *allow_ips;
    int64_t created_at;
    int64_t last_used_at; /* 0 = never */
    int64_t revoked_at;   /* 0 = active */
} store_key_row;

/* Inserts a key; sets *id. Returns 0 or BR_ESTORE. */
int store_key_insert(sqlite3 *db, const char *name, const uint8_t hash[32], const char *perms,
                     const char *allow_ips, int64_t now_ms, int64_t *id);
/* Finds the key with this hash (revoked or not). 0, BR_ENOTFOUND or BR_ESTORE. */
int store_key_by_hash(sqlite3 *db, const uint8_t hash[32], store_key_row *out);
/* All keys, oldest first, in a malloc'd array (free with store_key_rows_free). */
int store_key_list(sqlite3 *db, store_key_row **rows, int *n);
/* Marks an active key revoked. 0, BR_ENOTFOUND (no such active key) or BR_ESTORE. */
int store_key_revoke(sqlite3 *db, int64_t id, int64_t now_ms);
/* Records last use (only moves forward). */
int store_key_touch(sqlite3 *db, int64_t id, int64_t ts_ms);
/* Number of keys ever created (revoked included). */
int store_key_count(sqlite3 *db, int64_t *n);

/* store ops (store.h) on an apikey_new (core/apikey.h): insert it (sets
 * its id); insert it only if this store never had a key and was never
 * bootstrapped (leaves id 0 otherwise); and revoke (arg: int64_t *id;
 * BR_ENOTFOUND when no such active key). */
int store_key_insert_op(sqlite3 *db, void *arg);
int store_key_bootstrap_op(sqlite3 *db, void *arg);
int store_key_revoke_op(sqlite3 *db, void *arg);

void store_key_row_free(store_key_row *r);
void store_key_rows_free(store_key_row *rows, int n);

/* meta table: small server facts such as "bootstrapped". */
int store_meta_get(sqlite3 *db, const char *key, char **value); /* BR_ENOTFOUND if absent */
int store_meta_set(sqlite3 *db, const char *key, const char *value);
/* The workspace's time zone (meta "time_zone", set by POST /admin/workspace)
 * into out: "UTC" when none was set. 0 or BR_ESTORE. */
int store_time_zone(sqlite3 *db, char *out, size_t outlen);

#endif
