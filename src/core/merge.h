/* merge.h -- Braze's rules for folding one profile into another, and
 * POST /users/merge as a typed command.
 *
 * identity_merge() serves /users/identify (an unidentified user into the
 * identified one) and /users/merge (any user into any other). The kept
 * profile's values win; what it lacks comes from the merged one; counts
 * add up and dates widen; the merged user is then deleted, a
 * users.UserOrphan event for Currents (lifecycle.h) (docs/api.md, "Merging
 * users", lists every field and where brasa differs from Braze).
 *
 * api/merge.c checks a request and turns each merge update into a pair of
 * identifiers; merge_apply() resolves and merges them in order on the
 * engine thread, with an outcome per pair: Braze answers 202 whatever
 * happens, brasa adds why a pair was not merged. */
#ifndef BR_MERGE_H
#define BR_MERGE_H
#include "gcg.h"
#include "identity.h"

#define MERGE_MAX 50 /* merge updates per request (Braze) */

/* Merges `from` into `into`, then deletes `from`. enforce: when `into`
 * would pass a limit (limits.h) nothing changes and the limit is returned
 * (a replayed old journal passes false). LIM_OK once merged. */
limit_kind identity_merge(identity_ctx *c, uint32_t from, uint32_t into, bool enforce);

typedef struct {
    identity_item merge, keep; /* lists IDL_EXTERNAL, IDL_ALIAS, IDL_EMAIL or IDL_PHONE */
} merge_pair;

typedef struct {
    merge_pair *pairs;
    uint32_t n;
    gcg_t gcg;         /* the Global Control Group when the request came: its users are never merged */
    json_object *body; /* owns the strings of the pairs (one reference) */
} merge_cmd;

void merge_cmd_free(merge_cmd *c);
/* Applies the pairs in request order; outcome[i] gets pair i's (IDO_*). */
void merge_apply(identity_ctx *c, const merge_cmd *cmd, uint8_t *outcome);

#endif
