/* identity.h -- the identity endpoints as typed commands applied to the
 * profiles: /users/alias/new, /users/alias/update, /users/identify,
 * /users/delete, /users/external_ids/rename and /users/external_ids/remove
 * (/users/merge, whose items are pairs, is merge.h).
 *
 * api/identity.c checks a request's shape and turns it into a list of
 * items; this applies them on the engine thread and reports per-item
 * outcomes where the answer depends on the profiles: rename and remove
 * errors, and any item refused by a per-user limit (limits.h) or, for an
 * alias update, by the aliases in place. A deleted user and a user merged
 * into another are reported to Currents (lifecycle.h). */
#ifndef BR_IDENTITY_H
#define BR_IDENTITY_H
#include "limits.h"
#include "names.h"
#include "users.h"
#include <json-c/json.h>

#define IDENTITY_MAX 50 /* items per request, every endpoint */

enum { IDENTITY_ALIAS_NEW, IDENTITY_IDENTIFY, IDENTITY_DELETE, IDENTITY_RENAME, IDENTITY_REMOVE, IDENTITY_ALIAS_UPDATE };

/* Which request array an item came from. */
enum {
    IDL_ALIAS,    /* a/b: alias label/name; ext: external_id (optional for alias/new); c: the new name (alias/update) */
    IDL_EMAIL,    /* a: email; ext: external_id (identify); prio */
    IDL_PHONE,    /* a: phone; ext: external_id (identify); prio */
    IDL_EXTERNAL, /* ext: an external id (delete, remove); rename: ext current, a new */
    IDL_BRAZE,    /* a: a braze_id (delete) */
};

/* Braze's `prioritization` for an email or phone that several users share. */
enum { PRIO_UNIDENTIFIED = 1, PRIO_IDENTIFIED = 2, PRIO_RECENT = 4, PRIO_LEAST = 8 };
#define PRIO_DEFAULT (PRIO_UNIDENTIFIED | PRIO_RECENT)

typedef struct {
    uint8_t list;
    uint8_t prio;
    const char *ext, *a, *b, *c;
    size_t extn, an, bn, cn;
    const char *field; /* the request array it came from, and its index there (for errors) */
    uint32_t index;
} identity_item;

typedef struct {
    int kind;
    identity_item *items;
    uint32_t n;
    json_object *body; /* owns the strings above (one reference) */
    /* Replayed from a format-1 journal: acknowledged before the limits,
     * applied as it was then. */
    bool legacy;
} identity_cmd;

void identity_cmd_free(identity_cmd *c);

/* Per-item outcomes. Rename and remove answer theirs in their own arrays;
 * the others report any outcome but IDO_OK as a non-fatal error. */
enum {
    IDO_OK,
    IDO_SAME,
    IDO_NOT_PRIMARY,
    IDO_IN_USE,
    IDO_UNKNOWN,
    IDO_PRIMARY,
    IDO_ALIAS_UNKNOWN, /* alias/update: no user has the old alias */
    IDO_ALIAS_TAKEN,   /* alias/update: another user has the new one */
    IDO_MERGE_NONE,    /* merge: identifier_to_merge names no single user */
    IDO_KEEP_NONE,     /* merge: identifier_to_keep names no single user */
    IDO_MERGE_SAME,    /* merge: both name the same user */
    IDO_MERGE_GCG,     /* merge: a user of the Global Control Group (never merged) */
    IDO_OVER_ALIASES,  /* the user would pass a limit (limits.h): IDO_OVER_ALIASES + LIM_x - LIM_ALIASES */
    IDO_OVER_DEVICES,
    IDO_OVER_TOKENS,
    IDO_OVER_OLD_IDS,
    IDO_OVER_OBJECT,
    IDO__COUNT
};
/* The outcome of a limit (LIM_OK: IDO_OK). */
int identity_outcome_of(limit_kind k);

typedef struct {
    users_t *users;
    names_t *names;
    int64_t now_ms;
    void (*touch)(void *arg, uint32_t row);
    void *touch_arg;
    /* Currents events of deletes and merges (lifecycle.h) appended as
     * outbox items; NULL: none (a replay, a lookup). */
    buf_t *outbox;
    uint64_t event_base;
    uint32_t events; /* written by the command so far: their ids */
} identity_ctx;

/* Applies cmd; outcome[i] (cmd->n entries) gets each item's outcome. */
void identity_apply(identity_ctx *c, const identity_cmd *cmd, uint8_t *outcome);
/* The user an item names: by external id (deprecated ones too), braze_id,
 * alias, or email / phone by its prioritization (USERS_NONE when several
 * remain and the prioritization names no recency: Braze then does
 * nothing). */
uint32_t identity_find(identity_ctx *c, const identity_item *it);

#endif
