/* currents.h -- Currents: every event of the outboxes delivered, at least
 * once, to the connectors operators configure (docs/currents.md).
 *
 * cur_start runs a supervisor thread that reads the connectors every
 * second (and when woken: the admin API wakes it after a change; `brasa
 * currents`, writing the store directly, waits for the second) and keeps
 * one runner thread per active connector (runner.c), plus the outboxes'
 * retention. Nothing here runs on the engine thread: runners read with
 * their own connections and write progress as small store ops. */
#ifndef BR_CURRENTS_H
#define BR_CURRENTS_H
#include "../engine/engine.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdint.h>

typedef struct currents currents;

#define CUR_RETENTION_DAYS 7 /* the outboxes keep events this long at least */

currents *cur_start(engine_t *e, int retention_days);
/* Wakes the supervisor to read the connectors again. NULL-safe. */
void cur_wake(currents *c);
/* What connector id's runner does now ("delivering", "idle", "retrying"),
 * or NULL when none runs it (paused, or starting). */
const char *cur_state(currents *c, const char *id);
/* Stops the runners (a batch in flight is abandoned: sent again at the
 * next start) and the supervisor. NULL-safe. */
void cur_stop(currents *c);

/* ---- settings (config.c): shared by the admin API and the CLI ------------- */

/* Checks a connector's JSON (the admin API's and `brasa currents add`'s);
 * start_ms (may be NULL) gets its "start": -1 latest, 0 earliest, else
 * ms. 0, or BR_EINVAL with why (naming the field). */
int cur_check(json_object *o, int64_t *start_ms, char *why, size_t whylen);
/* "latest" (-1), "earliest" (0) or an ISO 8601 time (ms): 0 or BR_EINVAL. */
int cur_parse_from(const char *s, int64_t *ms);
/* The stored settings shown back: secrets as "<field>_set": true. */
json_object *cur_conf_public(const char *config);
/* A connector as the admin API and `brasa currents list --json` show it:
 * settings without secrets, cursor, counters, dead letter, lag (read with
 * db), and state when the server runs it. NULL when the store failed. */
struct store_cur;
json_object *cur_json(sqlite3 *db, const struct store_cur *row, const char *state);
/* A new connector id: 24 lowercase hex digits. */
void cur_new_id(char out[25]);

#endif
