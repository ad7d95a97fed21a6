/* engage.h -- when in the day each user engages, for optimal-time sends.
 *
 * Every custom event and purchase a user logs (at its own time, UTC) adds
 * one to that hour of a 24-slot histogram kept in the profile under the
 * standard field PF_ENGAGEMENT: twelve bytes, a 4-bit counter per UTC
 * hour. When a counter is full, every counter is halved first, so the
 * histogram weighs recent habits over old ones and never grows. A user's
 * optimal hour is the fullest slot (the earliest of equals), once the
 * histogram holds ENGAGE_MIN_WEIGHT; below that the send falls back to the
 * audience's own hour (send/timing.h). */
#ifndef BR_ENGAGE_H
#define BR_ENGAGE_H
#include "profile.h"
#include <stdint.h>

#define ENGAGE_BYTES 12
#define ENGAGE_MIN_WEIGHT 3

/* Counts one engagement at t_ms in the profile being edited. */
void engage_add(pedit *e, int64_t t_ms);
/* Adds the histogram of field f (a PF_ENGAGEMENT payload) to the one being
 * edited: user merges. */
void engage_merge(pedit *e, const pfield *f);
/* Adds blob's histogram to hist (24 counters); returns its total weight. */
uint32_t engage_sum(const uint8_t *blob, uint32_t hist[24]);
/* The fullest hour of hist (earliest of equals), or -1 when its weight is
 * below min_weight. */
int engage_best_hour(const uint32_t hist[24], uint32_t min_weight);

#endif
