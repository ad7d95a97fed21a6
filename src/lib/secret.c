/* secret.c -- key generation and hashing (see secret.h). */
#include "secret.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

void secret_random(void *buf, size_t n) {
    unsigned char *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            perror("brasa: getrandom");
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

void secret_new_key(char out[SECRET_KEY_LEN + 1]) {
    uint8_t b[16];
    secret_random(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, SECRET_KEY_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

void secret_hash(const char *s, size_t n, uint8_t out[SECRET_HASH_LEN]) {
    unsigned int len = 0;
    if (!EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) || len != SECRET_HASH_LEN) abort();
}
