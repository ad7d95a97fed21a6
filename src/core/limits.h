/* limits.h -- the caps on the lists one user profile holds.
 *
 * Every per-user list has a size a profile may not grow past, so one user
 * cannot grow without bound (memory, index work, export size) and nothing
 * is ever cut short to fit a buffer. Braze documents none of these counts
 * (docs/api.md, "Per-user limits", says why each is what it is); the two
 * it does document live with the attribute rules in attrs.h: arrays of
 * scalars keep their newest ATTR_ARRAY_MAX elements (Braze's FIFO rule) and
 * nested objects and arrays of objects are at most ATTR_OBJECT_MAX bytes.
 *
 * A change that would take a list past its cap is refused whole, before
 * any of it is applied, and reported: a per-object error of /users/track,
 * a per-item error of the identity endpoints. A list already longer than
 * its cap (written before the caps existed) is never cut: it may shrink or
 * stay, not grow. */
#ifndef BR_LIMITS_H
#define BR_LIMITS_H
#include "profile.h"
#include <stdint.h>

#define LIMIT_ALIASES 100     /* user aliases (label, name pairs) */
#define LIMIT_DEVICES 100     /* device ids */
#define LIMIT_PUSH_TOKENS 100 /* push tokens */
#define LIMIT_OLD_IDS 100     /* deprecated external ids (renames) */

/* Which limit a change ran into (LIM_OK: none). */
typedef enum {
    LIM_OK,
    LIM_ALIASES,
    LIM_DEVICES,
    LIM_PUSH_TOKENS,
    LIM_OLD_IDS,
    LIM_OBJECT, /* a nested object or array of objects over ATTR_OBJECT_MAX */
} limit_kind;

typedef struct {
    uint32_t aliases, devices, tokens, old_ids;
} limits_counts;

/* The list sizes of a committed blob (NULL: all 0) or of an open edit. */
void limits_count_blob(const uint8_t *blob, limits_counts *c);
void limits_count_edit(const pedit *e, limits_counts *c);
/* LIM_OK, or the first list `after` holds more of than both its cap and
 * `before` does. */
limit_kind limits_check(const limits_counts *before, const limits_counts *after);
/* The cap of a list (0 for LIM_OK and LIM_OBJECT, which is in bytes). */
uint32_t limits_cap(limit_kind k);

#endif
