/* auth.h -- credentials: REST API keys and partners' data import keys, one
 * cache for both.
 *
 * A credential is looked up by the SHA-256 of the presented text, first in
 * the cache, then through the loader the server gives (it reads SQLite;
 * http/ knows no storage). An entry is trusted for ttl_ms (1 s by default):
 * a key created by `brasa keys create` or `brasa partners key` in another
 * process works at its first use (a miss goes to the loader), one revoked
 * there stops working within the TTL, and one revoked through this
 * server's API stops at once (auth_forget*). A rotation's overlap ends
 * exactly on time: the entry carries the key's end.
 *
 * REST keys carry a name, permissions and an IP allowlist (core/perm.h,
 * lib/cidr.h). Data import keys carry their partner: partner cohort import
 * has no Authorization header, its body has `client_secret` (a data import
 * key of that partner) and `partner_api_key` (Braze's key for the partner,
 * checked only when the operator set the one to expect). Last-use times of
 * REST keys are kept here and handed out in batches (auth_take_touches). */
#ifndef BR_AUTH_H
#define BR_AUTH_H
#include "../core/perm.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct auth auth_t;

/* A credential as stored: REST keys fill id, name, permissions, allow_ips,
 * last_used_at, revoked; data import keys id, partner, expires_at. */
typedef struct {
    int64_t id;
    char name[64];     /* truncated for logs */
    char partner[80];
    char *permissions; /* comma lists, malloc'd by the loader */
    char *allow_ips;
    int64_t last_used_at, expires_at; /* ms; 0 = none */
    bool revoked;
} auth_row;

/* How the cache reads credentials. Each returns 0, BR_ENOTFOUND or
 * BR_ESTORE; calls are serialised by the cache. */
typedef struct {
    int (*rest_key)(void *arg, const uint8_t hash[32], auth_row *out);
    int (*import_key)(void *arg, const uint8_t hash[32], auth_row *out);
    /* The partner_api_key hash expected from partner (*has = false: any). */
    int (*partner_setting)(void *arg, const char *partner, bool *has, uint8_t hash[32]);
    void *arg;
} auth_loader;

/* What a request knows about the key that authenticated it (a copy). */
typedef struct {
    int64_t id;
    char name[64]; /* for logs; truncated */
    perm_set perms;
} auth_ident;

auth_t *auth_new(const auth_loader *loader, int64_t ttl_ms);
void auth_free(auth_t *a);

/* Checks key (not NUL-terminated) from client address (16-byte form, see
 * cidr.h) for permission need. Fills *id on success or on BR_EPERM /
 * BR_EIPDENIED (so logs can name the key). Returns 0, BR_EBADKEY (unknown or
 * revoked), BR_EIPDENIED, BR_EPERM or BR_ESTORE. */
int auth_check(auth_t *a, const char *key, size_t keylen, const uint8_t client[16], perm_id need,
               auth_ident *id);
/* Checks a partner request for partner (normalised, core/partner.h):
 * api_key is the body's partner_api_key and secret its client_secret
 * (NULL when absent or not strings). Returns 0, BR_EPARTNERKEY,
 * BR_ECLIENTSECRET (unknown, expired or missing secret), BR_EPARTNEROFF (a
 * valid key of another partner) or BR_ESTORE. */
int auth_partner_check(auth_t *a, const char *partner, const char *api_key, size_t api_key_len, const char *secret,
                       size_t secret_len);
/* Drops cached entries of REST key id / of partner's keys and settings
 * (after changing them through this server). */
void auth_forget(auth_t *a, int64_t id);
void auth_forget_partner(auth_t *a, const char *partner);

/* Last-use times of REST keys changed since the previous call, for the
 * server to write (a malloc'd array the caller frees). */
typedef struct {
    int64_t id, ms;
} auth_touch;
auth_touch *auth_take_touches(auth_t *a, int *n);

#endif
