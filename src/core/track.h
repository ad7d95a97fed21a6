/* track.h -- POST /users/track applied to the profiles.
 *
 * Deterministic: given the same profiles, body and now, it makes the same
 * changes, creates the same users (braze ids included) and reports the same
 * errors. That is what lets the engine journal the request body and replay
 * it after a crash instead of writing every profile at once. */
#ifndef BR_TRACK_H
#define BR_TRACK_H
#include "names.h"
#include "users.h"
#include <json-c/json.h>
#include <sqlite3.h>

#define TRACK_MAX_OBJECTS 75

enum { TRACK_ATTRIBUTES, TRACK_EVENTS, TRACK_PURCHASES };

typedef struct {
    users_t *users;
    names_t *names;
    sqlite3 *db;     /* for new names; NULL on replay */
    int64_t now_ms;
    int64_t seq;     /* journal sequence: event ids derive from it */
    buf_t *outbox;   /* Currents events appended as JSON array items; NULL on replay */
    void (*touch)(void *arg, uint32_t row); /* a row changed (dirty tracking) */
    void *touch_arg;
} track_ctx;

typedef struct {
    bool present[3];
    int processed[3];
    json_object *errors; /* Braze's errors array, or NULL */
} track_result;

/* Checks the request's shape before it is queued: a JSON object whose
 * attributes/events/purchases, when present, are arrays of at most
 * TRACK_MAX_OBJECTS. Returns 0, or BR_EINVAL / BR_ETOOMANY with a message. */
int track_check(json_object *body, char *why, size_t whylen);
/* Applies every valid object; fills r (caller frees r->errors). Returns 0,
 * or BR_ESTORE when a new name could not be stored (fatal for the engine). */
int track_apply(track_ctx *c, json_object *body, track_result *r);

#endif
