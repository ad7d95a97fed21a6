/* gcg.h -- the Global Control Group: users that campaigns leave out, so the
 * uplift of all messaging can be measured against them.
 *
 * Braze lets a workspace put a percentage (1-15) of all users in the group,
 * chosen by their random bucket numbers, so membership is stable and grows
 * with the user base. brasa's is off unless the operator sets a percentage
 * (`brasa serve --global-control-group P`): then it is the users whose
 * random bucket (users_random_bucket(), 0-9999, fixed per user) lies in one
 * range of P x 100 buckets from `start` (wrapping past 9999; by default the
 * top of the range, so it overlaps least with A/B splits, which usually
 * count from 0). One range, not Braze's several random ones, so an
 * operator can read the group off a number and write the same segment
 * (gcg_definition). Moving `start` reshuffles the group, as Braze's
 * disable and re-enable does. */
#ifndef BR_GCG_H
#define BR_GCG_H
#include "users.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define GCG_MAX_PERCENT 15 /* Braze's dashboard accepts 1-15 */
#define GCG_BUCKETS 10000

typedef struct gcg {
    uint32_t percent; /* 0: no group */
    uint32_t start;   /* first bucket of the range */
} gcg_t;

/* The group of `percent` ("0".."15") and `start` (a bucket, or NULL for
 * the default). Returns 0, or BR_EINVAL with why. */
int gcg_parse(const char *percent, const char *start, gcg_t *out, char *why, size_t whylen);
bool gcg_enabled(const gcg_t *g);
bool gcg_has_bucket(const gcg_t *g, uint32_t bucket);
bool gcg_has(const gcg_t *g, const users_t *u, uint32_t row);
/* The group as a segment definition (docs/segments.md): one random_bucket
 * range, or two when it wraps; NULL when there is no group. */
json_object *gcg_definition(const gcg_t *g);

#endif
