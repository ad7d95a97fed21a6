/* buf.h -- a growable byte buffer, always NUL-terminated.
 *
 * Used for request bodies, response bodies and SQL/text building. The
 * terminating NUL is not counted in len, so a buf can be handed to any
 * C string API as is. */
#ifndef BR_BUF_H
#define BR_BUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

void buf_append(buf_t *b, const void *p, size_t n);
/* Makes room for n more bytes at once (a body of a declared length). */
void buf_reserve(buf_t *b, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
void buf_json_str(buf_t *b, const char *s, size_t n);
/* Takes the bytes out of b (caller frees; "" if empty) and resets b. */
char *buf_take(buf_t *b);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);

#endif
