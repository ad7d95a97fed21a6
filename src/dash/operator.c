/* operator.c -- roles, names and passwords of the dashboard's operators
 * (operator.h). */
#include "operator.h"
#include "../lib/err.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int dash_crypto_init(void) { return sodium_init() < 0 ? -1 : 0; }

int dash_role_parse(const char *s, dash_role *role) {
    static const char *const names[] = {"admin", "marketer", "read-only"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) return *role = (dash_role)i, 0;
    return -1;
}

void dash_role_perms(dash_role role, perm_set *out) {
    perm_all(out); /* every Braze permission */
    perm_add(out, PERM_BRASA_MARKETING);
    perm_add(out, PERM_BRASA_METRICS);
    if (role == DASH_ADMIN) perm_add(out, PERM_BRASA_KEYS);
}

int dash_name_check(const char *name, char *why, size_t whylen) {
    size_t n = strlen(name);
    if (n >= 1 && n <= STORE_OPERATOR_NAME_MAX &&
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") == n)
        return 0;
    snprintf(why, whylen, "an operator's name is 1 to %d of A-Z a-z 0-9 . _ @ -", STORE_OPERATOR_NAME_MAX);
    return BR_EINVAL;
}

int dash_password_check(const char *pw, char *why, size_t whylen) {
    size_t n = strlen(pw);
    if (n >= DASH_PASSWORD_MIN && n <= DASH_PASSWORD_MAX) return 0;
    snprintf(why, whylen, "a password is %d to %d bytes", DASH_PASSWORD_MIN, DASH_PASSWORD_MAX);
    return BR_EINVAL;
}

int dash_password_hash(const char *pw, char out[160]) {
    _Static_assert(crypto_pwhash_STRBYTES <= 160, "pwhash fits");
    return crypto_pwhash_str_alg(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13)
               ? BR_EINTERNAL
               : 0;
}

bool dash_password_verify(const char *hash, const char *pw) {
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}
