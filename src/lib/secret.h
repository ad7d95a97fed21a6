/* secret.h -- secrets: generation and one-way hashing.
 *
 * API keys are random, 122-bit, UUID-shaped strings (Braze's keys look like
 * UUIDs and some partner forms check that shape). Only their SHA-256 is
 * stored: a key has enough entropy that a slow password hash buys nothing. */
#ifndef BR_SECRET_H
#define BR_SECRET_H
#include <stddef.h>
#include <stdint.h>

#define SECRET_KEY_LEN 36 /* xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx */
#define SECRET_HASH_LEN 32

/* Fills buf with n bytes from the kernel CSPRNG; aborts if it fails. */
void secret_random(void *buf, size_t n);
/* Writes a new random UUIDv4-shaped key and a NUL into out[SECRET_KEY_LEN+1]. */
void secret_new_key(char out[SECRET_KEY_LEN + 1]);
/* SHA-256 of s[0..n). */
void secret_hash(const char *s, size_t n, uint8_t out[SECRET_HASH_LEN]);

#endif
