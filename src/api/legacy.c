/* legacy.c -- format-1 journal rows: the request bodies versions before
 * change records journaled (engine/load.c replays them through this).
 *
 * A row is (kind, body); the body is turned into the command it was by the
 * same parsers requests go through, and the engine applies it as of the
 * time it ran. This is the upgrade path only: every row a current server
 * writes is a change record (format 2). The kind numbers are those the
 * old journal stored and never change. */
#include "api.h"
#include "parse.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdlib.h>
#include <string.h>

enum { V1_TRACK = 1, V1_ALIAS_NEW, V1_IDENTIFY, V1_DELETE, V1_RENAME, V1_REMOVE, V1_COHORT_NAME, V1_COHORT_USERS };

typedef struct {
    track_cmd track;
    api_track_result res;
    identity_cmd id;
    cohort_cmd cohort;
    cohort_ref *refs;
    json_object *body;
} legacy;

/* The holder rides in done_arg (a replayed command is never answered);
 * arg points at the typed command in it. */
static void free_cmd(eng_cmd *c) {
    legacy *l = c->done_arg;
    if (!l) return;
    track_cmd_free(&l->track);
    json_object_put(l->res.errors);
    identity_cmd_free(&l->id);
    free(l->refs);
    json_object_put(l->body);
    free(l);
    c->done_arg = c->arg = NULL;
}

static int decode(int kind, const char *body, size_t len, eng_cmd *c) {
    static const int identity_kinds[] = {
        [V1_ALIAS_NEW] = IDENTITY_ALIAS_NEW, [V1_IDENTIFY] = IDENTITY_IDENTIFY, [V1_DELETE] = IDENTITY_DELETE,
        [V1_RENAME] = IDENTITY_RENAME, [V1_REMOVE] = IDENTITY_REMOVE,
    };
    legacy *l = xcalloc(1, sizeof *l);
    c->done_arg = l;
    char why[256];
    if (!(l->body = json_parse(body, len))) return BR_EINVAL;
    switch (kind) {
    case V1_TRACK:
        *c = (eng_cmd){.kind = ENG_TRACK, .arg = &l->track, .done_arg = l};
        return api_track_parse_v1(l->body, &l->track, &l->res, why, sizeof why);
    case V1_ALIAS_NEW:
    case V1_IDENTIFY:
    case V1_DELETE:
    case V1_RENAME:
    case V1_REMOVE: {
        *c = (eng_cmd){.kind = ENG_IDENTITY, .arg = &l->id, .done_arg = l};
        int rc = api_identity_parse(identity_kinds[kind], l->body, &l->id, why, sizeof why);
        l->id.legacy = true; /* acknowledged before the per-user limits: applied as it was */
        return rc;
    }
    case V1_COHORT_NAME:
    case V1_COHORT_USERS: {
        /* The old journal kept {"partner", "cohort_id", ...}: the partner is
         * in the body, the secrets are not. */
        const char *partner = json_str(l->body, "partner", NULL);
        if (!partner) return BR_EINVAL;
        *c = (eng_cmd){.kind = kind == V1_COHORT_NAME ? ENG_COHORT_NAME : ENG_COHORT_USERS, .arg = &l->cohort,
                       .done_arg = l};
        if (kind == V1_COHORT_NAME) return api_cohort_parse_name(l->body, partner, &l->cohort, why, sizeof why);
        l->refs = xmalloc(COHORT_MAX_IDS * sizeof *l->refs);
        return api_cohort_parse_users(l->body, partner, &l->cohort, l->refs, why, sizeof why);
    }
    }
    return BR_EINVAL;
}

void api_legacy_register(void) { engine_set_legacy(decode, free_cmd); }
