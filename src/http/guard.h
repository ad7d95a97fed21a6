/* guard.h -- the connection watchdog: deadlines for a request to arrive.
 *
 * libmicrohttpd closes a connection only after --timeout seconds without a
 * byte, so a client sending one byte every few seconds keeps a connection
 * (and its memory, and a slot under the connection limit) for as long as it
 * likes, and enough such clients stop everybody else. The guard tracks
 * every connection (libmicrohttpd's NOTIFY_CONNECTION: started, closed) and
 * what its current request has reached, and a thread checks twice a second:
 *
 *   - a request whose first byte arrived more than header_timeout_s ago
 *     and whose head is not complete, or
 *   - a request whose head came in more than body_timeout_s ago and whose
 *     body is not complete,
 *
 * gets a 408 JSON answer and its connection is shut down. "First byte" is
 * read from the kernel (TCP_INFO's time of the last data received): a
 * keep-alive connection waiting for its next request sends nothing and is
 * left to --timeout.
 *
 * An fd is only touched under the lock of its slot while the connection is
 * registered; libmicrohttpd reports "closed" before it closes the fd, and
 * that report takes the same lock, so the watchdog never shuts down an fd
 * that has been closed and reused. */
#ifndef BR_HTTP_GUARD_H
#define BR_HTTP_GUARD_H
#include <stdint.h>

typedef struct {
    unsigned header_timeout_s; /* 0: no deadline */
    unsigned body_timeout_s;   /* 0: no deadline */
    int max_fd;                /* fds are below this (the open-files limit) */
    void (*tick)(void *arg);   /* run about once a second on the watchdog thread */
    void *tick_arg;
} guard_config;

typedef struct http_guard http_guard;

http_guard *guard_new(const guard_config *c);
/* Stops the watchdog and frees g. */
void guard_free(http_guard *g);

/* A connection was accepted on fd (its first request is awaited). */
void guard_opened(http_guard *g, int fd);
/* The connection on fd is about to be closed: forget it. */
void guard_closed(http_guard *g, int fd);
/* The current request's head is complete (its body is awaited). */
void guard_head_done(http_guard *g, int fd);
/* The current request is in (or answered before its body): no deadline. */
void guard_body_done(http_guard *g, int fd);
/* The current request is over; the next one is awaited. */
void guard_request_done(http_guard *g, int fd);

/* Raises the soft open-files limit to the hard one, so that many
 * connections fit. Returns the soft limit in force. */
int guard_raise_nofile(void);

#endif
