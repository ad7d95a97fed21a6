/* parse.h -- the request parsers of api/: a request body checked field by
 * field and turned into the typed command the engine applies (core/), so
 * nothing below api/ reads a request body. Each returns 0, or a BR_E*
 * code with the message detail in why (a C string, valid UTF-8). */
#ifndef BR_API_PARSE_H
#define BR_API_PARSE_H
#include "../core/cohort.h"
#include "../core/identity.h"
#include "../core/merge.h"
#include "../core/track.h"
#include <json-c/json.h>

#define EXTERNAL_ID_MAX 987 /* bytes of an external_id or an alias part; Braze: "must be fewer than 988 bytes" */

/* One attributes object into a plan (core/attrs.h). skip: the field that
 * identifies the object (email or phone), not also an update. v1: a body
 * from a format-1 journal, checked as the version that accepted it did. */
int api_attrs_parse(json_object *obj, const char *skip, bool v1, attrs_plan **out, char *why, size_t whylen);
/* The typed path of a bulk import (api/csv_users.c), without json-c:
 * whether field k is one api_attrs_value takes (a custom attribute with a
 * valid name, or a standard attribute whose value is a scalar; not an
 * identifier or a control field), and its standard id (0: custom). */
bool api_attrs_value_field(const char *k, size_t kl, uint32_t *std);
/* Field k (as api_attrs_value_field found it) with the scalar or null
 * value v into p, checked and planned exactly as api_attrs_parse does. The
 * plan keeps k: it must outlive p. */
int api_attrs_value(attrs_plan *p, uint32_t std, const char *k, size_t kl, const attrs_value *v, char *why,
                    size_t whylen);
/* email_subscribe's and push_subscribe's values: the state s names
 * ("opted_in", "subscribed", "unsubscribed", as a constant), or NULL. */
const char *api_subscribe_state(const char *s, size_t n);
/* A push_tokens value: an array of at most LIMIT_PUSH_TOKENS objects with
 * string app_id, non-empty token, optional device_id of 1-255 bytes. */
int api_push_tokens_check(json_object *v, char *why, size_t whylen);

/* The checks of an object's identifier once its text is known: lengths,
 * the email's form (the JSON parser and the CSV import's typed path). */
int api_ident_check(const track_ident *id, char *why, size_t whylen);

/* /users/track: the objects that pass go into cmd (which takes a reference
 * to body); r gets Braze's counts and errors array. BR_EINVAL/BR_ETOOMANY
 * for a request that is malformed as a whole. */
typedef struct api_track_result {
    bool present[3];
    int processed[3];
    json_object *errors; /* Braze's errors array, or NULL */
} api_track_result;
int api_track_parse(json_object *body, track_cmd *cmd, api_track_result *r, char *why, size_t whylen);
/* The same for a body replayed from a format-1 journal (api/legacy.c):
 * accepted and applied as then, before push token imports and the
 * per-user limits (cmd->legacy). */
int api_track_parse_v1(json_object *body, track_cmd *cmd, api_track_result *r, char *why, size_t whylen);

/* Once the engine applied a /users/track command: the attributes objects
 * it refused for a per-user limit (core/limits.h) become errors of r, in
 * request order, and leave its processed count. */
void api_track_refusals(const track_cmd *t, api_track_result *r);
/* The text of a refusal for a limit (name: the attribute, for LIM_OBJECT). */
void api_limit_text(limit_kind k, const char *name, size_t namelen, char *out, size_t n);

/* The identity endpoints (kind: IDENTITY_ALIAS_NEW .. IDENTITY_ALIAS_UPDATE). */
int api_identity_parse(int kind, json_object *body, identity_cmd *cmd, char *why, size_t whylen);
/* /users/merge (cmd takes a reference to body); gcg: the server's Global
 * Control Group (NULL: none). Braze's texts: BR_EMERGEARRAY, BR_EMERGEMAX,
 * BR_EMERGEIDENT, BR_EMERGEKEYS, with where in why; BR_EINVAL for a body
 * that is not an object. */
int api_merge_parse(json_object *body, const gcg_t *gcg, merge_cmd *cmd, char *why, size_t whylen);

/* Partner cohort import: a name call and a users call for partner (the
 * normalised path segment); cmd points into body. refs: storage for the
 * users call's ids (COHORT_MAX_IDS), owned by the caller. */
int api_cohort_parse_name(json_object *body, const char *partner, cohort_cmd *cmd, char *why, size_t whylen);
int api_cohort_parse_users(json_object *body, const char *partner, cohort_cmd *cmd, cohort_ref *refs, char *why,
                           size_t whylen);

/* A segment create (update false) or update body (engine/segments.h);
 * w points into b. */
struct segs_write;
int api_segment_parse(json_object *b, bool update, struct segs_write *w, char *why, size_t whylen);
/* The "definition" field of a segment body (create, update, preview):
 * present and at most SEGS_DEFINITION_MAX bytes as JSON, before it is
 * compiled. 0, or BR_EINVAL with why. */
int api_segment_definition(json_object *def, char *why, size_t whylen);

/* Cuts s (NUL-terminated) so it does not end inside a UTF-8 sequence, as
 * snprintf may leave a message that quoted client text. */
void api_utf8_trim(char *s);

#endif
