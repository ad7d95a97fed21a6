/* str.h -- small string helpers shared by option and list parsing. */
#ifndef BR_STR_H
#define BR_STR_H
#include <stdbool.h>
#include <stddef.h>

/* Walks a list separated by commas and/or spaces ("a,b c, d"): returns the
 * next item and its length in *len, advancing *p; NULL when none is left. */
const char *str_item(const char **p, size_t *len);
/* Value of a hex digit, or -1. */
int str_hexval(char c);
/* Writes p[0..n) as 2n lower-case hex digits and a NUL into out. */
void str_hex(const void *p, size_t n, char *out);
/* JSON string escaping, the one brasa has (buffers, answers, Liquid's
 * json_escape): '"', '\\', \n \r \t \b \f and \u00XX for other controls;
 * everything else as it is, as Ruby's JSON writes it. dst holds at least
 * STR_JSON_MAX(n) bytes; returns how many were written (no quotes, no NUL). */
#define STR_JSON_MAX(n) ((n) * 6)
size_t str_json_escape(char *dst, const char *s, size_t n);
/* Case-insensitive comparison of s[0..n) with the C string lit. */
bool str_ieq(const char *s, size_t n, const char *lit);

#endif
