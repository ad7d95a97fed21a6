/* internal.h -- what the parts of Currents share: a connector's settings,
 * the events it delivers, and the sink interface each destination kind
 * implements (HTTP partners in http.c, storage files in files.c).
 *
 *   outbox rows (JSON arrays of flat Currents records)
 *     -> runner.c: one thread per connector, reads after its cursor,
 *        keeps the event types it wants, cuts batches
 *     -> a sink: custom_http / amplitude / mixpanel (format.c, amplitude.c,
 *        mixpanel.c, sent by http.c) or files (files.c, avro.c)
 *     -> the cursor advances (store/currents.c) once the sink says the
 *        batch is accepted and durable: at least once, never lost.
 *
 * An event is the flat record the outbox holds: Braze's Avro field names
 * (`id`, `event_type`, `user_id`, `external_user_id`, `time` in epoch
 * seconds, ..., CustomEvent's and Purchase's `properties` as a JSON-encoded
 * string), exactly as core/track.c, core/subs.c and send/ write it. */
#ifndef BR_CURRENTS_INTERNAL_H
#define BR_CURRENTS_INTERNAL_H
#include "../lib/buf.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CUR_CUSTOM_HTTP, CUR_AMPLITUDE, CUR_MIXPANEL, CUR_FILES, CUR__TYPES } cur_type;
typedef enum { CUR_AVRO, CUR_NDJSON } cur_format;

#define CUR_BATCH_MAX 100 /* events per Custom HTTP request (Braze's) */

/* A connector's settings, parsed and checked (config.c) from the JSON the
 * admin API and `brasa currents add` take. Strings are malloc'd. */
typedef struct {
    char *name;
    cur_type type;
    char *url;          /* http types: where batches go (amplitude/mixpanel: the region's
                           endpoint unless given) */
    char *token;        /* custom_http: the Bearer token, or NULL */
    char *api_key;      /* amplitude: the project's API key */
    char *api_secret;   /* mixpanel: the project's API secret (Basic auth user) */
    char *project_token;/* mixpanel: the project token (each event's `token`) */
    bool eu;            /* amplitude, mixpanel: the EU endpoint */
    char *ca_file;      /* http: CA certificates to trust instead of the system's (a private CA) */
    char **event_types; /* NULL: every type; else n_types names */
    int n_types;
    int batch_size;     /* events per request or file write: 1..CUR_BATCH_MAX (http), default 100 */
    long timeout_ms;    /* http: per request (default 30000) */
    /* files */
    char *dir;          /* an absolute directory the operator syncs or mounts */
    char *prefix;       /* the key prefix below dir ("" by default) */
    char *cluster;      /* the layout's <cluster> ("brasa-01") */
    cur_format format;
    int64_t max_bytes;  /* a file is closed at this size (default 64 MB)... */
    int64_t max_age_ms; /* ...or this age (default 5 minutes), whichever first */
} cur_conf;

void cur_conf_free(cur_conf *c);
/* Checks o into *c (config.c; see currents.h's cur_check): 0 or
 * BR_EINVAL with why. _text: from the stored JSON. */
int cur_conf_parse(json_object *o, cur_conf *c, int64_t *start_ms, char *why, size_t whylen);
int cur_conf_parse_text(const char *text, cur_conf *c, char *why, size_t whylen);
const char *cur_type_name(cur_type t);

/* One event in a batch. */
typedef struct {
    json_object *ev;  /* the flat record (owned by the batch) */
    const char *type; /* its event_type (inside ev) */
    const char *id;   /* its id (inside ev) */
} cur_event;

/* What a sink did with a batch. */
typedef struct {
    int status;           /* the HTTP status (files: 200 on success), 0 when none came */
    long retry_after_ms;  /* from a 429's or 503's Retry-After; -1 without */
    char error[256];      /* why, when not accepted: for last_error and the dead letter */
} cur_result;

typedef struct cur_sink cur_sink;
typedef struct {
    /* Delivers ev[0..n): 0 when the destination accepted the batch, else
     * -1 with r filled (r->status decides: see runner.c). Events a
     * destination cannot take (Amplitude and Mixpanel: users without an
     * external id or device id) count as accepted. */
    int (*send)(cur_sink *s, const cur_event *ev, int n, cur_result *r);
    /* Whether everything accepted so far is durable at the destination.
     * HTTP: always (an accepted request is the receiver's). Files: closes
     * the open files when now_ms says they are due or `force`, and answers
     * true once nothing accepted is in an open file. -1 on an error (r). */
    int (*sync)(cur_sink *s, int64_t now_ms, bool force, cur_result *r);
    void (*free)(cur_sink *s);
    /* Optional: send split in two, so the runner reads the next batch
     * while this one is in flight. begin starts sending ev[0..n) (1), or
     * answers 0 when there was nothing to send (accepted); end waits for
     * the answer: 0 or -1 with r, as send. */
    int (*begin)(cur_sink *s, const cur_event *ev, int n);
    int (*end)(cur_sink *s, cur_result *r);
} cur_sink_ops;

struct cur_sink {
    const cur_sink_ops *ops;
    const volatile int *stop; /* set by the runner: non-zero abandons a request in flight */
};

/* The sinks. id: the connector's id (24 hex), for the files layout. NULL
 * with why in err when the destination cannot be set up. */
cur_sink *cur_http_open(const char *id, const cur_conf *c, char *err, size_t errlen);
cur_sink *cur_files_open(const char *id, const cur_conf *c, char *err, size_t errlen);

/* The request bodies of the HTTP kinds: append ev[0..n) to out, return
 * how many events the body holds (events skipped count as delivered). */
int cur_fmt_custom_http(const cur_conf *c, const cur_event *ev, int n, buf_t *out);
int cur_fmt_amplitude(const cur_conf *c, const cur_event *ev, int n, buf_t *out);
int cur_fmt_mixpanel(const cur_conf *c, const cur_event *ev, int n, buf_t *out);

/* ---- runners (runner.c): one thread per active connector ---------------- */

struct engine;
struct store_cur;
typedef struct runner runner;

typedef struct {
    long backoff_ms;     /* the first retry's delay (BRASA_CURRENTS_BACKOFF_MS, 1000) */
    long backoff_max_ms; /* the longest (BRASA_CURRENTS_BACKOFF_MAX_MS, 300000) */
    long poll_ms;        /* how often a caught-up runner looks for new rows (50) */
} cur_tuning;

/* Starts delivering connector row (its id, settings, gen and cursor). */
runner *runner_start(struct engine *e, const struct store_cur *row, const cur_tuning *t);
const char *runner_id(const runner *r);
/* Tells the runner the connector's gen in the store (a replay bumps it). */
void runner_set_gen(runner *r, int64_t gen);
/* Asks it to stop (non-blocking), then waits for it and frees it. */
void runner_stop(runner *r);
void runner_free(runner *r);
/* "delivering", "idle" (caught up) or "retrying". */
const char *runner_state(const runner *r);

/* An outbox row's text as a JSON array of flat events, compact items
 * expanded (outbox.c); NULL when it is not a JSON array. */
json_object *cur_outbox_events(const char *text, size_t n);

/* The event types brasa produces (NULL-terminated): what a connector's
 * event_types may name. */
extern const char *const cur_event_types[];
bool cur_event_type_known(const char *type);

#endif
