/* webhook.h -- the webhook channel: HTTP requests over libcurl multi on a
 * thread of its own, with connection reuse, a cap on connections per
 * host, timeouts, and retries with exponential backoff on transport
 * errors, 5xx and 429 (a Retry-After is honoured, up to max_backoff_ms),
 * until max_attempts or max_total_ms (a final error). 2xx is delivered;
 * another 4xx is a final error at once (retrying would not change it). */
#ifndef BR_SEND_WEBHOOK_H
#define BR_SEND_WEBHOOK_H
#include "channel.h"

typedef struct {
    int max_host_connections;  /* default 64 */
    long connect_timeout_ms;   /* default 5,000 */
    long timeout_ms;           /* per attempt; default 30,000 */
    int max_attempts;          /* default 5 */
    long base_backoff_ms;      /* default 1,000, doubled per attempt */
    long max_backoff_ms;       /* default 60,000 */
    long max_total_ms;         /* default 600,000 */
} webhook_opts;

/* Starts the channel's thread; o may be NULL (defaults). Environment
 * overrides for tests and operators: BRASA_WEBHOOK_BACKOFF_MS,
 * BRASA_WEBHOOK_ATTEMPTS, BRASA_WEBHOOK_TIMEOUT_MS. */
send_channel *webhook_new(const webhook_opts *o, send_done_fn done, void *ud);

#endif
