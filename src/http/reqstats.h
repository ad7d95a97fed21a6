/* reqstats.h -- requests counted by route, status and latency, for
 * GET /metrics (api/metrics.c).
 *
 * Counted when a request completes (server.c: on_completed), by every
 * HTTP thread at once: atomics, no lock. A route keeps its first
 * REQSTATS_CODES distinct statuses apart and counts any further ones as
 * code="other" (brasa answers about a dozen). */
#ifndef BR_REQSTATS_H
#define BR_REQSTATS_H
#include "http.h"
#include "../lib/buf.h"

#define REQSTATS_CODES 16

typedef struct reqstats reqstats;

reqstats *reqstats_new(const http_route *const *tables);
void reqstats_free(reqstats *s);
/* route NULL: a request that matched none (404, 405, refused heads). */
void reqstats_note(reqstats *s, const http_route *route, int status, int64_t us);
/* Requests answered so far on the route method path, whatever their status. */
uint64_t reqstats_requests(reqstats *s, const char *method, const char *path);
/* brasa_http_requests_total and brasa_http_request_duration_seconds. */
void reqstats_write(reqstats *s, buf_t *b);

#endif
