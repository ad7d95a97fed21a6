/* attrs.h -- one /users/track attributes object as a plan of changes, and
 * applying the plan to a profile.
 *
 * api/attrs.c turns every field of an attributes object into a planned
 * change on the HTTP thread, checking Braze's rules (standard fields with
 * their formats, custom attributes of every type: string <= 255
 * characters, numbers, booleans, times, arrays of scalars with add/remove,
 * nested objects, arrays of objects with $add/$remove/$update, {"inc": n},
 * null to unset), so a bad field rejects the whole object and nothing of it
 * is half-applied. Applying the plan edits the profile in one pass on the
 * engine thread. Values that are JSON by nature (arrays, objects) stay
 * json-c values in the plan; custom attribute names stay text until the
 * engine interns them. */
#ifndef BR_ATTRS_H
#define BR_ATTRS_H
#include "limits.h"
#include "names.h"
#include "profile.h"
#include <json-c/json.h>

#define ATTR_STR_MAX 255       /* characters */
/* Elements an array of scalars keeps: Braze's default maximum, and its rule
 * past it: the oldest elements drop first, for a set as for an add. */
#define ATTR_ARRAY_MAX 25
#define ATTR_OBJECT_MAX 102400 /* bytes of a nested object / array of objects */
#define ATTR_DEVICE_ID_MAX 255 /* bytes of a push token's device_id */

typedef enum { CH_SET, CH_UNSET, CH_INC, CH_ARR, CH_OBJ, CH_OBJARR, CH_TOKENS } attrs_kind;

typedef struct {
    uint32_t key;           /* pkey() of a standard field; 0: the custom attribute `name` */
    const char *name;       /* custom attributes: the name, interned when applied */
    uint32_t namelen;
    attrs_kind kind;
    uint8_t type;           /* CH_SET */
    size_t off, len;        /* CH_SET payload in plan->bytes */
    int64_t inc;            /* CH_INC; CH_ARR: 1 = replace the array (a set), 0 = add/remove */
    bool force_merge;       /* CH_OBJ: subscription groups always merge */
    json_object *a, *b, *c; /* owned refs: CH_ARR add/remove; CH_OBJ object; CH_OBJARR $add/$remove/$update */
} attrs_change;

typedef struct attrs_plan {
    attrs_change *c;
    int n, cap;
    int json; /* changes of the kinds that hold json-c values: freeing reads c[] only then */
    buf_t bytes;
} attrs_plan;

/* A value of a field as parsed: a JSON scalar without json-c (a bulk
 * import builds these from CSV cells), or only the type of any other.
 * Booleans are i 0 or 1; s is not NUL-terminated. */
typedef struct attrs_value {
    json_type type; /* json_type_null for a null or absent value */
    const char *s;
    size_t n;
    int64_t i;
    double d;
} attrs_value;

/* Building a plan (api/attrs.c). */
attrs_plan *attrs_plan_new(void);
/* Room for this many changes and bytes of values, when the builder knows
 * (a bulk import's row): no growing as they are added. */
void attrs_plan_reserve(attrs_plan *p, int changes, size_t bytes);
attrs_change *attrs_add(attrs_plan *p, uint32_t key, attrs_kind kind);
void attrs_add_set(attrs_plan *p, uint32_t key, uint8_t type, const void *bytes, size_t len);
/* A set of a scalar value (attrs_scalar_value), encoded in place. */
void attrs_add_value(attrs_plan *p, uint32_t key, const attrs_value *v, bool detect_time);
void attrs_plan_free(attrs_plan *p);

/* Which attribute a plan could not apply (limits.h). */
typedef struct {
    limit_kind kind;
    const char *name; /* the attribute's name (not NUL-terminated) */
    uint32_t namelen;
} attrs_refusal;

/* Applies a plan to an open profile edit, interning custom attribute names
 * in names. merge: `_merge_objects`. Returns LIM_OK, or LIM_OBJECT when a
 * nested object or array of objects would grow past ATTR_OBJECT_MAX (Braze
 * drops such an update without a word; brasa refuses it): *r names it and
 * e is half-edited, to be dropped. enforce false (a replayed old journal,
 * whose requests were acknowledged before the limits) skips the check. */
limit_kind attrs_apply(const attrs_plan *plan, pedit *e, bool merge, names_t *names, bool enforce, attrs_refusal *r);
/* Adds push tokens (a checked JSON array of {app_id, token, device_id?})
 * to an open edit: a token already there is not added again, and each
 * device_id joins the profile's devices (api/attrs.c checks them). */
void attrs_add_tokens(pedit *e, json_object *tokens);

/* Braze's email check (simplified: one @, no whitespace, a dot in the domain). */
bool attrs_valid_email(const char *s, size_t n);
/* v (NULL: null) as a value; false for an array or an object (only its
 * type is then set). */
bool attrs_value_of(json_object *v, attrs_value *out);
/* Encodes a scalar as a profile value (type + payload); strings that are
 * times become times when detect_time. False if not a scalar. */
bool attrs_scalar_value(const attrs_value *v, bool detect_time, uint8_t *type, buf_t *payload);
bool attrs_scalar(json_object *v, bool detect_time, uint8_t *type, buf_t *payload);
/* Parses a stored PT_JSON payload (NULL if it does not parse). */
json_object *attrs_parse_stored(const uint8_t *p, uint32_t len);
/* An ISO 4217 currency code (upper-case). */
bool attrs_currency(const char *s, size_t n);

#endif
