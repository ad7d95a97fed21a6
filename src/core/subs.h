/* subs.h -- subscription state: the global email state of users and
 * addresses, and users' states in subscription groups.
 *
 * Every change of state goes through here, on the engine thread, whatever
 * asked for it (/email/status, /email/blocklist, /subscription/status/set,
 * /users/track email_subscribe, an unsubscribe link): the profiles are
 * edited, and a Currents event is appended to the outbox for each user
 * whose state changed (users.behaviors.subscription.GlobalStateChange,
 * users.behaviors.subscriptiongroup.StateChange, with the change's
 * state_change_source).
 *
 * A global email state belongs to an address as much as to a user: Braze
 * sets it on every profile holding the address, and keeps the state of an
 * address no user has yet for the user who later gets it. The kept states
 * (subs_kept) are the last state set for each address; the engine loads
 * them at start (store_email_states_each) and writes the entries a batch
 * changed with that batch (subs_kept_take), so /email/unsubscribes reads
 * them from SQL. A user who gets an address through /users/track takes its
 * kept state, unless the same object set email_subscribe.
 *
 * A user's group states are its subscription_groups attribute: a JSON
 * object {group id: "subscribed" | "unsubscribed"}, as /users/track
 * writes it. */
#ifndef BR_SUBS_H
#define BR_SUBS_H
#include "track.h"
#include <sqlite3.h>

#include <stdbool.h>
#include <stdint.h>

typedef enum { SUBS_SUBSCRIBED, SUBS_UNSUBSCRIBED, SUBS_OPTED_IN } subs_state;

/* "subscribed" -> SUBS_SUBSCRIBED ...; -1 for anything else (groups: only
 * the first two). */
int subs_state_parse(const char *s, bool group);
/* "subscribed", "unsubscribed", "opted_in". */
const char *subs_state_name(subs_state s);
/* Currents' subscription_status: "Subscribed", "Unsubscribed", "Opted In". */
const char *subs_state_currents(subs_state s);

/* ---- kept states of addresses ------------------------------------------- */

typedef struct subs_kept subs_kept;
typedef struct {
    char *address; /* lower-cased */
    subs_state state;
    int64_t at_ms;
} subs_kept_row;

subs_kept *subs_kept_new(void);
void subs_kept_free(subs_kept *k);
/* Sets an address's state; `dirty`: to be written (subs_kept_take). */
void subs_kept_set(subs_kept *k, const char *address, size_t n, subs_state s, int64_t at_ms, bool dirty);
/* The kept state of an address (any case). */
bool subs_kept_get(const subs_kept *k, const char *address, size_t n, subs_state *s);
/* The entries set dirty since the last call (copies; caller frees with
 * subs_kept_rows_free), NULL when none. */
subs_kept_row *subs_kept_take(subs_kept *k, int *n);
void subs_kept_rows_free(subs_kept_row *rows, int n);
size_t subs_kept_count(const subs_kept *k);

/* ---- changes ------------------------------------------------------------- */

/* Sets the global email state of address on every user holding it and
 * keeps it for the address (c->kept, when set). Users whose state changes
 * get a GlobalStateChange event with `source` ("REST API", "Unsubscribe
 * Link", ...). Returns how many users hold the address. */
uint32_t subs_set_email(track_ctx *c, const char *address, size_t n, subs_state s, const char *source);
/* Sets the global email state of one user: through its address when it
 * has one (every user holding it, and the kept state), else on it alone.
 * This is what an unsubscribe link calls (the engine thread, in a
 * command; see subs_cmd). */
void subs_set_user_email(track_ctx *c, uint32_t row, subs_state s, const char *source);
/* Sets row's state in a group; a StateChange event when it changed, with
 * the group's channel ("email" or "sms": the channel_identifier is the
 * user's address or phone). Returns whether the state changed. */
bool subs_set_group(track_ctx *c, uint32_t row, const char *group_id, subs_state s, const char *channel,
                    const char *source);
/* A user's group states as {group id: "subscribed" | "unsubscribed"}
 * (new object): Liquid's subscribed_state.${<group id>} reads it. */
json_object *subs_group_states(const uint8_t *blob);
/* Row's state in a group: 0 and *s, or -1 when it has none. */
int subs_group_state(const uint8_t *blob, const char *group_id, subs_state *s);

/* /users/track: what an attributes object's user was before it was
 * applied (subs_before_of on the old blob, NULL for a new user), then
 * subs_after_track once it is: email_subscribe (the object's, or NULL)
 * goes to every user of the address; a new address takes its kept state. */
typedef struct {
    char email[321];
    bool has_email;
    subs_state state; /* email_subscribe (Braze's default when it had none) */
} subs_before;
void subs_before_of(const uint8_t *blob, subs_before *b);
void subs_after_track(track_ctx *c, uint32_t row, const subs_before *b, const char *email_subscribe);

/* ---- the engine command (ENG_SUBSCRIPTION) -------------------------------- */

typedef enum { SUBS_EMAIL, SUBS_GROUP } subs_kind;

/* Whom a command reaches: users by external id or braze_id, and by email
 * (every user holding it) or phone (likewise). */
typedef struct subs_cmd {
    subs_kind kind;
    subs_state state;
    const char *group_id; /* SUBS_GROUP */
    const char *channel;  /* SUBS_GROUP: the group's, "email" or "sms" */
    const char *source;   /* state_change_source */
    const char *const *external_ids, *const *braze_ids, *const *emails, *const *phones;
    int nexternal, nbraze, nemails, nphones;
    /* SQL written with the change, in its batch (e.g. /email/blocklist's
     * hard bounce), or NULL; arg must live until the command is answered. */
    int (*op)(sqlite3 *db, void *arg);
    void *op_arg;
    /* out: users reached (a user reached twice counts twice) */
    uint32_t reached;
    struct subs_cmd *next; /* applied after this one, in the same command (v2's groups) */
} subs_cmd;

/* Applies cmd and the ones chained to it, in order. */
void subs_apply(track_ctx *c, subs_cmd *cmd);

#endif
