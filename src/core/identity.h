/* identity.h -- the identity endpoints applied to the profiles:
 * /users/alias/new, /users/identify, /users/delete,
 * /users/external_ids/rename and /users/external_ids/remove.
 *
 * Like track.h: deterministic given the profiles, the body and now, so the
 * engine can journal and replay them. Request shapes are checked before
 * queueing (identity_check); identity_apply reports per-item outcomes in
 * the fields Braze answers with. */
#ifndef BR_IDENTITY_H
#define BR_IDENTITY_H
#include "command.h"
#include "names.h"
#include "users.h"
#include <json-c/json.h>

#define IDENTITY_MAX 50 /* items per request, every endpoint */

typedef struct {
    users_t *users;
    names_t *names;
    int64_t now_ms;
    void (*touch)(void *arg, uint32_t row);
    void *touch_arg;
} identity_ctx;

/* kind: CMD_ALIAS_NEW .. CMD_REMOVE (command.h). Returns 0, or a BR_E*
 * code with Braze's message detail in why. */
int identity_check(int kind, json_object *body, char *why, size_t whylen);
/* Applies a checked body; returns the answer's fields (without "message"). */
json_object *identity_apply(identity_ctx *c, int kind, json_object *body);
/* Merges profile `from` into `into` by Braze's rules (fields absent on
 * `into` are copied, event and purchase summaries added up, aliases moved),
 * then deletes `from`. */
void identity_merge(identity_ctx *c, uint32_t from, uint32_t into);

#endif
