/* utf8.h -- strict UTF-8 (RFC 3629) decoding and validation.
 *
 * What brasa stores it must give back as valid JSON, and JSON text is
 * UTF-8: overlong forms (C0 AF), surrogates (ED A0 80) and code points past
 * U+10FFFF (F4 90.., F5..) are not UTF-8, whatever a lenient parser lets
 * through, so every request body is checked with this before it is used. */
#ifndef BR_UTF8_H
#define BR_UTF8_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at p[0..n) (n >= 1): returns its length in bytes
 * and sets *cp, or returns 0 for an invalid or truncated sequence. */
size_t utf8_decode(const unsigned char *p, size_t n, int32_t *cp);
/* Whether s[0..n) is well-formed UTF-8; when not, *bad (may be NULL) gets
 * the offset of the first invalid byte. */
bool utf8_valid(const char *s, size_t n, size_t *bad);
/* Code points in s[0..n) (s must be valid). */
size_t utf8_chars(const char *s, size_t n);
/* Appends s[0..n) to b with every invalid sequence replaced by U+FFFD:
 * for text a client sent that brasa quotes back (an unknown key, an id in
 * a query string), so the answer stays valid JSON. */
void utf8_repair(buf_t *b, const char *s, size_t n);

#endif
