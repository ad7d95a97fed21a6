/* identity.h -- the identity endpoints as typed commands applied to the
 * profiles: /users/alias/new, /users/identify, /users/delete,
 * /users/external_ids/rename and /users/external_ids/remove.
 *
 * api/identity.c checks a request's shape and turns it into a list of
 * items; this applies them on the engine thread and reports per-item
 * outcomes where Braze's answer depends on the profiles (rename, remove). */
#ifndef BR_IDENTITY_H
#define BR_IDENTITY_H
#include "names.h"
#include "users.h"
#include <json-c/json.h>

#define IDENTITY_MAX 50 /* items per request, every endpoint */

enum { IDENTITY_ALIAS_NEW, IDENTITY_IDENTIFY, IDENTITY_DELETE, IDENTITY_RENAME, IDENTITY_REMOVE };

/* Which request array an item came from. */
enum {
    IDL_ALIAS,    /* a/b: alias label/name; ext: external_id (optional for alias/new) */
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
    const char *ext, *a, *b;
    size_t extn, an, bn;
} identity_item;

typedef struct {
    int kind;
    identity_item *items;
    uint32_t n;
    json_object *body; /* owns the strings above (one reference) */
} identity_cmd;

void identity_cmd_free(identity_cmd *c);

/* Per-item outcomes of rename and remove (other kinds: all OK). */
enum { IDO_OK, IDO_SAME, IDO_NOT_PRIMARY, IDO_IN_USE, IDO_UNKNOWN, IDO_PRIMARY };

typedef struct {
    users_t *users;
    names_t *names;
    int64_t now_ms;
    void (*touch)(void *arg, uint32_t row);
    void *touch_arg;
} identity_ctx;

/* Applies cmd; outcome[i] (cmd->n entries) gets each item's outcome. */
void identity_apply(identity_ctx *c, const identity_cmd *cmd, uint8_t *outcome);
/* Merges profile `from` into `into` by Braze's rules (fields absent on
 * `into` are copied, event and purchase summaries added up, aliases moved),
 * then deletes `from`. */
void identity_merge(identity_ctx *c, uint32_t from, uint32_t into);

#endif
