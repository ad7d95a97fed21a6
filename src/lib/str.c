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

int str_hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
