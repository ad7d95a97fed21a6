/* export.h -- a profile as Braze's /users/export/ids user object.
 *
 * fields_to_export selects the keys (Braze's list); with none given every
 * field brasa keeps is exported, as for workspaces that predate the
 * parameter. Keys brasa has no data for (apps, campaigns received, ...) are
 * exported empty rather than left out, so clients see Braze's shape. */
#ifndef BR_EXPORT_H
#define BR_EXPORT_H
#include "names.h"
#include "users.h"
#include <json-c/json.h>
#include <stdint.h>

typedef struct {
    uint64_t bits; /* one bit per export_field; 0 = all */
} export_fields;

/* Parses fields_to_export (NULL = all). Returns 0, or BR_EINVAL with the
 * offending name in why. */
int export_fields_parse(json_object *list, export_fields *f, char *why, size_t whylen);
/* The user object of row. */
json_object *export_user(users_t *u, names_t *names, uint32_t row, const export_fields *f);

/* brasa's addition: adds "cohorts": [{"partner", "cohort_id", "name"}] (the
 * partner cohorts row is in, creation order) to a user object. Without
 * fields_to_export the key is there only when the list is not empty; with
 * it, when "cohorts" is asked for. */
struct cohorts;
void export_cohorts(json_object *user, struct cohorts *c, uint32_t row, const export_fields *f);

#endif
