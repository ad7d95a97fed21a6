/* currents.h -- SQL for Currents (sql/019_currents.sql): the connectors
 * with their cursors and counters, the dead letter, and the reads of the
 * two outboxes (`outbox`, behaviour events keyed by journal seq, and
 * `message_outbox`, messaging events keyed by id) the runners deliver.
 *
 * Writes are store ops (the admin API, the runners, through the engine's
 * batches) or store_exec (`brasa currents`, also while the server runs:
 * the runners see a change within a second). A connector is named by its
 * id or its name wherever a key is taken. Functions return 0, BR_ENOTFOUND
 * where said, or BR_ESTORE; strings they return are malloc'd. */
#ifndef BR_STORE_CURRENTS_H
#define BR_STORE_CURRENTS_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define STORE_CUR_MAX 16 /* connectors: a thread each */

/* The next event to deliver in each outbox (see 019_currents.sql). */
typedef struct {
    int64_t out_seq, out_idx, msg_id, msg_idx;
} store_cur_pos;

typedef struct store_cur {
    char *id, *name, *type, *config;
    bool paused;
    int64_t gen;
    store_cur_pos pos;
    int64_t sent, batches, retries;
    char *errors; /* a JSON object text */
    char *last_error;
    int64_t last_error_at, last_sent_at, created_at; /* ms; 0: never */
    int64_t dead; /* dead-letter rows (lists only) */
} store_cur;

void store_cur_free(store_cur *c);
void store_cur_rows_free(store_cur *rows, int n);
/* Every connector, by name. */
int store_cur_list(sqlite3 *db, store_cur **rows, int *n);
/* One by id or name: BR_ENOTFOUND. */
int store_cur_get(sqlite3 *db, const char *key, store_cur *out);

/* A new connector (store op). start_ms: -1 from the events written after
 * it (Braze's way), 0 from the oldest the outboxes hold, else from the
 * first written at or after that time. BR_EEXISTS when the name is taken,
 * BR_ETOOMANY beyond STORE_CUR_MAX. */
typedef struct {
    const char *id, *name, *type, *config;
    int64_t start_ms;
} store_cur_new;
int store_cur_insert_op(sqlite3 *db, void *arg);

/* Pause, resume, remove (with its dead letter), replay: store ops on a
 * connector by key, BR_ENOTFOUND when there is none. A replay moves the
 * cursor to from_ms as store_cur_new's start_ms says (or to pos when
 * use_pos) and bumps gen, so the runner takes the new cursor. */
typedef struct {
    const char *key;
    bool paused;
    int64_t from_ms;
    bool use_pos;
    store_cur_pos pos;
    char id[32]; /* out: the connector's id */
} store_cur_edit;
int store_cur_pause_op(sqlite3 *db, void *arg);
int store_cur_delete_op(sqlite3 *db, void *arg);
int store_cur_replay_op(sqlite3 *db, void *arg);

/* A runner's progress (store op): cursor and counters, only while gen is
 * still the one it runs with (BR_ENOTFOUND otherwise: replayed or removed,
 * the runner reloads). */
typedef struct {
    const char *id;
    int64_t gen;
    store_cur_pos pos;
    int64_t sent, batches, retries;
    const char *errors, *last_error;
    int64_t last_error_at, last_sent_at;
} store_cur_progress;
int store_cur_progress_op(sqlite3 *db, void *arg);

/* ---- the dead letter ----------------------------------------------------- */

typedef struct {
    int64_t seq;
    char *connector, *event_id, *event_type, *event, *error;
    int status;
    int64_t at;
    bool replay;
} store_cur_dead;

void store_cur_dead_rows_free(store_cur_dead *rows, int n);
/* Keeps an event (store op, arg a store_cur_dead; one row per event id:
 * refused again, it replaces its row). */
int store_cur_dead_put_op(sqlite3 *db, void *arg);
/* A connector's dead letter after seq `after`, at most limit rows; only
 * those marked for replay when `due`. */
int store_cur_dead_list(sqlite3 *db, const char *connector_id, int64_t after, int limit, bool due,
                        store_cur_dead **rows, int *n);
/* Marks a connector's dead letter for replay (store op): every row, or
 * the one of seq when seq > 0 (BR_ENOTFOUND when none). marked: out. */
typedef struct {
    const char *connector_id;
    int64_t seq;
    int marked;
} store_cur_dead_mark;
int store_cur_dead_replay_op(sqlite3 *db, void *arg);
/* Drops a row sent again with success (store op, arg a store_cur_dead). */
int store_cur_dead_done_op(sqlite3 *db, void *arg);

/* ---- the outboxes -------------------------------------------------------- */

typedef struct {
    int64_t key, at; /* seq or id; ms */
    char *events;    /* a JSON array text */
} store_cur_row;

void store_cur_rows_read_free(store_cur_row *rows, int n);
/* Rows with key >= from (messages: message_outbox, else outbox), in key
 * order, at most limit. */
int store_cur_read(sqlite3 *db, bool messages, int64_t from, int limit, store_cur_row **rows, int *n);
/* What a cursor still has to pass: events (of every type) and the age of
 * the oldest of them in seconds (0 when none). */
int store_cur_lag(sqlite3 *db, const store_cur_pos *p, int64_t now_ms, int64_t *events, int64_t *seconds);

/* Deletes outbox rows older than cutoff_ms that every connector (paused
 * ones too) and the converter have passed, at most limit per outbox (store
 * op: small, so trimming never holds the writer long). deleted: out. */
typedef struct {
    int64_t cutoff_ms;
    int limit;
    int deleted;
} store_cur_trim;
int store_cur_trim_op(sqlite3 *db, void *arg);

#endif
