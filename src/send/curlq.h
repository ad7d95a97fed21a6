/* curlq.h -- what the channel drivers over libcurl share (webhook.c,
 * smtp.c): worker threads, each owning a curl multi handle (one for the
 * webhook channel; one per session for SMTP, see curlq.c), the queue of
 * submitted messages, at most max_active transfers per worker at once (the
 * rest wait in the queue, so a million queued messages cost no sockets),
 * retries at a later time with exponential backoff, an optional rate of
 * attempts started per second, and stop() with or without draining.
 *
 * A driver says only how to set an easy handle up for a message and how to
 * judge a finished attempt; curlq_new returns the whole send_channel. */
#ifndef BR_SEND_CURLQ_H
#define BR_SEND_CURLQ_H
#include "channel.h"

#include <curl/curl.h>

/* One transfer slot. A driver's slot struct begins with it (and holds what
 * the driver keeps per attempt). Slots and their easy handles are reused
 * from one attempt to the next: an attempt allocates nothing here. */
typedef struct {
    send_msg *m;        /* the message; NULL while the slot is free */
    CURL *h;            /* curl_easy_reset between attempts, kept */
    int64_t started_us; /* monotonic */
} curlq_xfer;

typedef struct {
    const char *name;   /* the channel's ("webhook"); its thread is brasa-<name> */
    size_t xfer_size;   /* sizeof the driver's slot struct */
    /* Sets x->h (fresh from curl_easy_reset) up for an attempt at x->m;
     * ud is the driver's (curlq_new's drv_ud). CURLOPT_PRIVATE is curlq's.
     * Returns false when m cannot be sent at all, m->outcome and m->error
     * set: done() follows, no attempt made. */
    bool (*setup)(void *ud, curlq_xfer *x);
    /* Judges a finished attempt, m->status being CURLINFO_RESPONSE_CODE
     * already: sets m->outcome, and m->error unless SEND_OK. Returns true
     * when a SEND_FAILED may be retried; may raise *retry_after_ms (0) to
     * ask for a longer wait than the backoff's. */
    bool (*judge)(void *ud, curlq_xfer *x, CURLcode res, long *retry_after_ms);
    /* Frees what setup allocated for x and clears the driver's part of the
     * slot (after judge, or when stopped); may be NULL. */
    void (*release)(curlq_xfer *x);
    /* Frees ud when the channel is freed; may be NULL. */
    void (*free_ud)(void *ud);
} curlq_driver;

/* Per worker: max_active and the connection caps apply to each worker's
 * multi handle; the rest to the channel. */
typedef struct {
    int threads;                 /* workers; 0 or 1: one */
    int max_active;              /* transfers in a worker's multi handle at once */
    int max_attempts;
    long base_backoff_ms;        /* doubled per attempt... */
    long max_backoff_ms;         /* ...up to this */
    long max_total_ms;           /* no retry later than this after the first attempt; 0: no limit */
    int rate_per_second;         /* attempts started per second, smoothed; 0: unlimited */
    long max_host_connections;   /* CURLMOPT_MAX_HOST_CONNECTIONS; 0: no limit */
    long max_total_connections;  /* CURLMOPT_MAX_TOTAL_CONNECTIONS; 0: no limit */
    long max_cached_connections; /* CURLMOPT_MAXCONNECTS: idle ones kept for reuse */
} curlq_limits;

/* Starts a channel's threads. drv is static; drv_ud is the driver's, passed
 * to its callbacks, freed with drv->free_ud when the channel is freed. */
send_channel *curlq_new(const curlq_driver *drv, void *drv_ud, const curlq_limits *lim, send_done_fn done, void *ud);

/* getenv(name) as a number, or dflt when unset or empty: the env
 * overrides drivers read for tests and operators. */
long curlq_env_long(const char *name, long dflt);

#endif
