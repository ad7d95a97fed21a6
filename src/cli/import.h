/* import.h -- what `brasa import users` (import.c) hands to where the rows
 * go (import_sink.c): batches of /users/track attribute objects.
 *
 * A sink applies a batch exactly as a /users/track request with those
 * objects: in this process, through the engine, when no server runs on the
 * data directory; over HTTP to the server that does, otherwise. Either way
 * the same checks pass every object and the same journal records it. A CSV
 * file's rows may come already parsed, by the typed path of
 * api/csv_users.h, when the sink is the engine. */
#ifndef BR_CLI_IMPORT_H
#define BR_CLI_IMPORT_H
#include "../core/track.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define IMP_BATCH 75 /* objects per batch: /users/track's limit */

typedef struct imp_batch {
    json_object *body;    /* {"attributes": [...]}, or NULL: */
    track_cmd cmd;        /* the objects already parsed (the typed path, engine sinks only) */
    int n;                /* objects in it */
    int64_t lines[IMP_BATCH]; /* the line each object started on */
    int64_t end_offset;   /* the byte after its last row: a resume starts there */
    int64_t end_line;     /* the line a resume starts on */
    int refused_here;     /* rows refused while reading (not sent) */
    /* set by the sink */
    bool done;
    json_object *errors;  /* Braze's errors array ({type, input_array, index}), or NULL */
    char fatal[256];      /* not applied at all, and why ("" when applied) */
    void *sink;           /* the sink's own state for it */
    struct imp_batch *next;
} imp_batch;

typedef struct imp_sink imp_sink;

/* The engine of dir, opened here (the caller holds dir's lock). */
imp_sink *imp_sink_engine(const char *dir, char *why, size_t whylen);
/* The server at url (its /users/track), with key, conns requests at once. */
imp_sink *imp_sink_http(const char *url, const char *key, int conns, char *why, size_t whylen);
/* Whether the sink takes batches as parsed commands (b->cmd), not only as
 * JSON bodies. */
bool imp_sink_typed(const imp_sink *s);
/* Starts applying b (first waiting, when the sink has as many batches in
 * flight as it takes); its fields above are set once b->done. */
void imp_sink_send(imp_sink *s, imp_batch *b);
/* Moves what is in flight on, and waits until at most `inflight` batches
 * are still being applied (INT_MAX: does not wait). */
void imp_sink_wait(imp_sink *s, int inflight);
/* Frees the sink's state of a done batch (b->errors is then the caller's). */
void imp_sink_release(imp_sink *s, imp_batch *b);
/* Waits for everything sent, then closes (the engine checkpoints). */
void imp_sink_close(imp_sink *s);

#endif
