/* logcap.h -- at most N log lines a second of one kind.
 *
 * Lines a client can cause at will (libmicrohttpd's complaints about a
 * malformed request, connections closed for being slow) must not let it
 * fill the disk: beyond per_second lines in a second, lines of that kind
 * are counted instead, and http_logcap_flush() writes how many were left
 * out (the connection watchdog calls it every second). */
#ifndef BR_HTTP_LOGCAP_H
#define BR_HTTP_LOGCAP_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *what; /* "libmicrohttpd messages", for the summary line */
    unsigned per_second;
    pthread_mutex_t lock;
    int64_t second_ms;
    unsigned used;
    uint64_t dropped;
} http_logcap;

#define HTTP_LOGCAP_INIT(what, per_second) {what, per_second, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0}

/* Whether one more line may be written at now_ms; counts it if not. */
bool http_logcap_take(http_logcap *c, int64_t now_ms);
/* Writes "http: N <what> not logged" if lines were left out since the last call. */
void http_logcap_flush(http_logcap *c);

#endif
