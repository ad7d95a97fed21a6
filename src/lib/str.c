/* str.c -- small string helpers (see str.h). */
#include "str.h"

#include <strings.h>
#include <string.h>

const char *str_item(const char **p, size_t *len) {
    const char *s = *p;
    while (*s == ',' || *s == ' ') s++;
    if (!*s) {
        *p = s;
        return NULL;
    }
    const char *e = s;
    while (*e && *e != ',' && *e != ' ') e++;
    *len = (size_t)(e - s);
    *p = e;
    return s;
}

bool str_ieq(const char *s, size_t n, const char *lit) {
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

size_t str_json_escape(char *dst, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    char *w = dst;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\n'  ? "\\n"
                        : c == '\r'  ? "\\r"
                        : c == '\t'  ? "\\t"
                        : c == '\b'  ? "\\b"
                        : c == '\f'  ? "\\f"
                                      : NULL;
        if (esc) {
            *w++ = esc[0];
            *w++ = esc[1];
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        } else {
            *w++ = (char)c;
        }
    }
    return (size_t)(w - dst);
}

void str_hex(const void *p, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int str_hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
