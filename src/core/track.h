/* track.h -- POST /users/track as a typed command, applied to the profiles.
 *
 * api/track.c checks the request on the HTTP thread and keeps only the
 * objects that passed (Braze's per-object errors are decided there); this
 * applies them on the engine thread: finds or creates each object's user,
 * applies attribute plans (attrs.h), bumps event and purchase summaries,
 * and appends a Currents event per event and purchase to the outbox.
 *
 * Whether an attributes object fits the user's limits (limits.h) depends
 * on the profile, which only the engine sees: it decides, before applying
 * anything of the object, and records a refusal in the object; the answer
 * reports it as that object's error. */
#ifndef BR_TRACK_H
#define BR_TRACK_H
#include "attrs.h"
#include "names.h"
#include "users.h"
#include <json-c/json.h>

#define TRACK_MAX_OBJECTS 75

enum { TRACK_ATTRIBUTES, TRACK_EVENTS, TRACK_PURCHASES };

/* How an object names its user. a/an: the value (alias: label); b/bn: the
 * alias name. */
typedef enum { ID_EXTERNAL, ID_BRAZE, ID_ALIAS, ID_EMAIL, ID_PHONE, ID_NONE } track_id_kind;
typedef struct {
    track_id_kind kind;
    const char *a, *b;
    size_t an, bn;
} track_ident;

typedef struct {
    track_ident id;        /* ID_NONE for a push token import */
    bool may_create;       /* from _update_existing_only and the identifier's rules */
    bool merge;            /* _merge_objects */
    /* push_token_import: true: tokens (the checked push_tokens array,
     * borrowed from the body) each go to an anonymous user found by the
     * token's device, or a new one that the plan's attributes describe. */
    bool token_import;
    json_object *tokens;
    attrs_plan *plan;      /* owned */
    const char *email_subscribe; /* set: shared with the other users of the email */
    int index;             /* in the request's attributes array */
    attrs_refusal refused; /* out: .kind LIM_OK, or the limit that refused the whole object */
} track_attrs;

/* An event (name) or a purchase (name = product_id, with the purchase fields). */
typedef struct {
    track_ident id;
    bool may_create;
    const char *name;
    size_t nl;
    int64_t t_ms;          /* as sent; a future time becomes now when applied */
    const char *app;       /* app_id or NULL */
    json_object *props;    /* properties or NULL (borrowed from the body) */
    json_object *price;    /* purchases: the price as sent (its text goes to Currents) */
    const char *currency;
    double price_value;
    int64_t quantity;
    int idx;               /* object index across the three arrays: event ids */
} track_event;

typedef struct {
    track_attrs *attrs;
    track_event *events, *purchases;
    uint32_t nattrs, nevents, npurchases;
    json_object *body;     /* the request: owns the strings above (one reference) */
    /* A request replayed from a format-1 journal was acknowledged before
     * the limits and push token imports: applied as it was then. */
    bool legacy;
} track_cmd;

void track_cmd_free(track_cmd *c);

typedef struct {
    users_t *users;
    names_t *names;
    int64_t now_ms;
    buf_t *outbox;         /* Currents events appended as JSON array items; NULL: none */
    uint64_t event_base;   /* event ids are "<event_base hex>-<idx>-<sub>" */
    void (*touch)(void *arg, uint32_t row); /* a row changed */
    void *touch_arg;
    struct subs_kept *kept; /* the kept email states of addresses (subs.h); NULL: none */
    uint32_t subs_events;   /* subs.c: its events so far (their ids) */
    int64_t recorded;       /* out: custom events and purchases put in the outbox */
} track_ctx;

/* Applies every object of the command; refusals go into cmd->attrs[i].refused. */
void track_apply(track_ctx *c, track_cmd *cmd);

#endif
