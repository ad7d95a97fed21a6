/* audience.h -- Braze's connected audience object (the `audience` of
 * /messages/send, /campaigns/trigger/send and their schedules) compiled
 * into a segment definition, so that one evaluator (core/segment.h)
 * answers segments and audiences alike.
 *
 * An audience is one filter, or {"AND": [...]} / {"OR": [...]} of filters
 * and groups:
 *   {"custom_attribute": {"custom_attribute_name": "tier", "comparison": "equals", "value": "gold"}}
 *   {"push_subscription_status": {"comparison": "is", "value": "opted_in"}}
 *   {"email_subscription_status": {"comparison": "is_not", "value": "unsubscribed"}}
 *   {"last_used_app": {"comparison": "after", "value": "2024-01-01T00:00:00Z"}}
 * Each filter becomes one segment filter (docs/segments.md, "Connected
 * audiences", has the table); a custom attribute comparison picks the
 * segment operator of its value's type (equals "gold" is a string test,
 * equals 3 a number test, equals true a boolean one), so, as Braze
 * documents, a comparison of one type never matches an attribute stored
 * as another, and negated comparisons are exactly "not the positive one"
 * (they include users without the attribute). */
#ifndef BR_AUDIENCE_H
#define BR_AUDIENCE_H
#include <json-c/json.h>
#include <stddef.h>

#define AUDIENCE_MAX_DEPTH 10    /* nested AND/OR groups */
#define AUDIENCE_MAX_FILTERS 100 /* filters in one audience */
#define AUDIENCE_WHY_MAX 1024    /* a why buffer this long holds any message whole */

/* Translates a Braze connected audience object into a brasa segment
 * definition (the JSON the segment evaluator takes: docs/segments.md,
 * src/engine/segments.c / src/core/segment.c). Returns 0 and *def (new
 * reference), or BR_EINVAL with a message naming the bad field in why
 * (e.g. "audience.AND[1]: custom_attribute 'tier': comparison 'bigger' is
 * not one of ..."). Every definition it returns compiles with
 * seg_compile (no segment references: no resolver needed). Reads
 * audience only; *def shares no objects with it. */
int audience_compile(json_object *audience, json_object **def, char *why, size_t whylen);

#endif
