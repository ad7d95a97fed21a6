/* authfail.h -- failed authentications per client address: throttling and
 * log sampling.
 *
 * A client that keeps presenting wrong keys costs a hash, often a SQLite
 * read, and a log line each time: 20,000 bad keys at 3,000/s wrote 25 MB of
 * log. So failures (answers with status 401: a missing, unknown or revoked
 * REST key, a key used from outside its allowlist, a wrong partner key or
 * client secret) are counted per address over a window that starts at the
 * first failure; once an address reaches the limit, every request from it
 * is refused with 429 (and Retry-After) until its window ends, without
 * looking at the key. An IPv6 client is counted by its /64, the block a
 * single host is usually given.
 *
 * Log lines: the first LOG_FIRST failures (or refusals) of an address per
 * window are logged like any request, and at most LOG_PER_SECOND such lines
 * overall each second; the rest are counted and summed up in one line a
 * second ("http: auth failures not logged ...").
 *
 * Behind a proxy every client has the proxy's address: one client with a
 * wrong key then blocks them all. Set the limit to 0 there (docs). */
#ifndef BR_AUTHFAIL_H
#define BR_AUTHFAIL_H
#include <stdbool.h>
#include <stdint.h>

#define AUTHFAIL_LOG_FIRST 5
#define AUTHFAIL_LOG_PER_SECOND 100
#define AUTHFAIL_MAX_ADDRS 16384 /* addresses tracked at once; more are neither throttled nor forgotten in logs */

typedef struct {
    unsigned limit;    /* failures per window before refusing; 0 = never refuse */
    unsigned window_s; /* > 0 */
} authfail_config;

typedef struct authfail authfail_t;

/* Parses "20/60s" ("LIMIT[/WINDOW]", windows in s, m or h; "0" disables
 * refusals) into *c. Returns 0 or BR_EINVAL. */
int authfail_parse(const char *s, authfail_config *c);
authfail_t *authfail_new(const authfail_config *c);
/* Writes the pending summary and frees a. */
void authfail_free(authfail_t *a);
/* Whether client is refused at now_ms (monotonic); *retry_after_s is then
 * the seconds until its window ends (>= 1). Cheap when nobody failed. */
bool authfail_blocked(authfail_t *a, const uint8_t client[16], int64_t now_ms, unsigned *retry_after_s);
/* Counts a failure (refused = false) or a refusal by authfail_blocked
 * (refused = true) of client. Returns whether the request's log line may be
 * written. */
bool authfail_note(authfail_t *a, const uint8_t client[16], bool refused, int64_t now_ms);
/* Writes the summary of the lines not written, forgets windows that ended.
 * Called about once a second (and by the calls above when it has not been). */
void authfail_sweep(authfail_t *a, int64_t now_ms);

#endif
