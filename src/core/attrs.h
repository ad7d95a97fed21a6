/* attrs.h -- one /users/track attributes object: validate, then apply.
 *
 * Validation turns every field of the object into a planned change without
 * touching the profile, so a bad field rejects the whole object and nothing
 * of it is half-applied. Applying the plan edits the profile in one pass.
 * Rules follow Braze's user attributes object: standard fields with their
 * formats, custom attributes of every type (string <= 255 characters,
 * numbers, booleans, times, arrays of scalars with add/remove, nested
 * objects, arrays of objects with $add/$remove/$update, {"inc": n}, null to
 * unset). */
#ifndef BR_ATTRS_H
#define BR_ATTRS_H
#include "names.h"
#include "profile.h"
#include <json-c/json.h>
#include <sqlite3.h>

#define ATTR_STR_MAX 255       /* characters */
#define ATTR_ARRAY_MAX 25      /* elements kept (oldest dropped first) */
#define ATTR_OBJECT_MAX 102400 /* bytes of a nested object / array of objects */

typedef struct attrs_plan attrs_plan;

/* Validates obj (an attributes object; identifier and control fields are
 * skipped, and the field named skip: the email or phone that identifies the
 * object). On success returns 0 and a plan (free with attrs_plan_free);
 * otherwise BR_EINVAL and Braze's error `type` text in why[]. Interns new
 * attribute names through db (NULL on replay). */
int attrs_validate(json_object *obj, const char *skip, names_t *names, sqlite3 *db, attrs_plan **plan, char *why,
                   size_t whylen);
/* Applies a plan to an open profile edit. merge: `_merge_objects`. */
void attrs_apply(const attrs_plan *plan, pedit *e, bool merge);
void attrs_plan_free(attrs_plan *plan);

/* Shared with events and purchases: a string field of at most max characters. */
bool attrs_utf8_len_ok(const char *s, size_t n, size_t max);
/* Braze's email check (simplified: one @, no whitespace, a dot in the domain). */
bool attrs_valid_email(const char *s, size_t n);
/* Encodes a JSON scalar as a profile value (type + payload); strings that
 * are times become times when detect_time. False if not a scalar. */
bool attrs_scalar(json_object *v, bool detect_time, uint8_t *type, buf_t *payload);
/* Parses a stored PT_JSON payload (NULL if it does not parse). */
json_object *attrs_parse_stored(const uint8_t *p, uint32_t len);
/* An ISO 4217 currency code (upper-case). */
bool attrs_currency(const char *s, size_t n);

#endif
