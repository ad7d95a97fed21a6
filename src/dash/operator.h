/* operator.h -- what an operator of the dashboard is: a name, a role and a
 * password, and what a role may do.
 *
 * Roles: admin (everything, keys and partners included), marketer (Braze's
 * endpoints and brasa.marketing: segments, campaigns, cohorts, users; not
 * keys, partners' keys, relays or connectors), read-only (what a marketer
 * may read: GET routes and the POST routes marked HTTP_READS). Passwords
 * are hashed with Argon2id (libsodium's crypto_pwhash_str at its
 * "interactive" limits, about 0.1 s and 64 MiB a check). */
#ifndef BR_DASH_OPERATOR_H
#define BR_DASH_OPERATOR_H
#include "../core/perm.h"
#include "../store/operators.h"
#include <stdbool.h>
#include <stddef.h>

#define DASH_PASSWORD_MIN 10
#define DASH_PASSWORD_MAX 1024

typedef enum { DASH_ADMIN, DASH_MARKETER, DASH_READ_ONLY } dash_role;

/* Initialises libsodium; call before anything below (idempotent). */
int dash_crypto_init(void);
/* "admin", "marketer" or "read-only" -> 0 and *role; -1 otherwise. */
int dash_role_parse(const char *s, dash_role *role);
/* The permissions a role grants (read-only: the marketer's, limited to
 * reads by the HTTP layer). */
void dash_role_perms(dash_role role, perm_set *out);
/* A name is 1 to 60 of A-Z a-z 0-9 . _ @ -. 0, or BR_EINVAL with why. */
int dash_name_check(const char *name, char *why, size_t whylen);
/* A password is 10 to 1024 bytes. 0, or BR_EINVAL with why. */
int dash_password_check(const char *pw, char *why, size_t whylen);
/* Argon2id of pw into out. 0, or BR_EINTERNAL (out of memory). */
int dash_password_hash(const char *pw, char out[160]);
/* Whether pw matches the stored hash. */
bool dash_password_verify(const char *hash, const char *pw);

#endif
