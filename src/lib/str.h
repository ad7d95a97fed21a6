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
/* Case-insensitive comparison of s[0..n) with the C string lit. */
bool str_ieq(const char *s, size_t n, const char *lit);

#endif
