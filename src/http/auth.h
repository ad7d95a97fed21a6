/* auth.h -- REST API key checks: key -> identity, permission, IP allowlist.
 *
 * Keys are looked up by the SHA-256 of the presented text, first in a small
 * in-memory cache, then in SQLite. Cache entries live for ttl_ms (1 s by
 * default): a key created by `brasa keys create` in another process works at
 * its first use (a miss goes to SQLite), and one revoked there stops working
 * within the TTL; revocation through this server's API is immediate.
 * Last-use times are kept in memory and written in batches by auth_flush(). */
#ifndef BR_AUTH_H
#define BR_AUTH_H
#include "../core/perm.h"
#include "../store/store.h"
#include <stddef.h>
#include <stdint.h>

typedef struct auth auth_t;

/* What a request knows about the key that authenticated it (a copy). */
typedef struct {
    int64_t id;
    char name[64]; /* for logs; truncated */
    perm_set perms;
} auth_ident;

int auth_new(store_t *store, int64_t ttl_ms, auth_t **out);
void auth_free(auth_t *a);
/* Checks key (not NUL-terminated) from client address (16-byte form, see
 * cidr.h) for permission need. Fills *id on success or on BR_EPERM /
 * BR_EIPDENIED (so logs can name the key). Returns 0, BR_EBADKEY (unknown or
 * revoked), BR_EIPDENIED, BR_EPERM or BR_ESTORE. */
int auth_check(auth_t *a, const char *key, size_t keylen, const uint8_t client[16], perm_id need,
               auth_ident *id);
/* Drops cached entries of key id (after revoking it here). */
void auth_forget(auth_t *a, int64_t id);
/* Writes last-use times changed since the previous flush through the store's
 * writer and waits for them. */
void auth_flush(auth_t *a);

#endif
