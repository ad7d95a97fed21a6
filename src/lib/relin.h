/* relin.h -- regular expressions matched in linear time.
 *
 * Segment filters take regexes from API clients and run them over every
 * distinct value of an attribute, on the thread that owns all profiles, so
 * a pattern must never be able to take exponential time (as (a+)+$ does in
 * a backtracking engine such as PCRE, or glibc's regexec with
 * backreferences). This is a Thompson NFA simulated over a set of states
 * (Pike's method without captures): matching costs O(len(text) x states),
 * whatever the pattern, and states are capped at RELIN_MAX_STATES when the
 * pattern is compiled, so the cost of one match is bounded up front.
 *
 * Syntax (POSIX ERE plus Perl's common escapes): literals, `.`, `[...]`
 * and `[^...]` with ranges, `\d \w \s \D \W \S`, escaped metacharacters,
 * `( )` groups, `(?: )`, `|`, `* + ?`, `{m}`, `{m,}`, `{m,n}` (n <= 100),
 * `^` and `$`. Refused with a reason: backreferences (\1; no linear-time
 * algorithm exists), lookaround and other `(?` forms, unbalanced groups,
 * empty or inverted ranges, and patterns over RELIN_MAX_STATES states
 * after repetition is expanded. Matching is a search (the pattern may match
 * anywhere unless anchored) and ignores ASCII case, like Braze's segment
 * regex filter. Bytes are matched as bytes (UTF-8 literals work; `.` is one
 * byte). */
#ifndef BR_RELIN_H
#define BR_RELIN_H
#include <stdbool.h>
#include <stddef.h>

#define RELIN_MAX_PATTERN 1024
#define RELIN_MAX_STATES 2000

typedef struct relin relin_t;

/* Compiles pattern (NUL-terminated). Returns NULL and a reason in why when
 * it is invalid or too large. */
relin_t *relin_compile(const char *pattern, char *why, size_t whylen);
/* Whether the pattern matches somewhere in s[0..n). */
bool relin_match(const relin_t *re, const char *s, size_t n);
/* States of the compiled program (the cost factor per text byte). */
size_t relin_states(const relin_t *re);
void relin_free(relin_t *re);

#endif
