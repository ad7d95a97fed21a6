/* cohort.h -- partner cohorts: the registry and the two import commands.
 *
 * Technology partners (Heap, Amplitude, Tinyclues, Segment, ...) push
 * cohorts with Braze's Partner Cohort Import API: a name call creates or
 * renames a cohort, a users call adds or removes members by external_id,
 * alias or device_id. A cohort is identified by (partner, cohort_id) and its
 * members are a bitmap over profile row numbers (users.h, bitmap.h).
 *
 * The commands are deterministic given the profiles, the body and now, like
 * track.h: the engine journals the body and replays it after a crash.
 * Applying the same users call twice changes nothing the second time.
 * Cohort import never creates users: ids that match nobody are counted.
 *
 * Matching (Braze): user_ids are external ids (deprecated ids after a
 * rename still match, as everywhere); aliases match any user holding the
 * alias; device_ids match anonymous users only (users_by_device), so an
 * identified user who began anonymous is not found by device id.
 *
 * Owned by the engine thread; no locking. */
#ifndef BR_COHORT_H
#define BR_COHORT_H
#include "../lib/bitmap.h"
#include "../store/partners.h"
#include "users.h"
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define COHORT_MAX_IDS 1000  /* user_ids + device_ids + aliases per request */
#define COHORT_ID_MAX 255    /* bytes of a cohort_id */
#define COHORT_NAME_MAX 1000 /* bytes of a cohort name */

typedef struct {
    char *partner, *id, *name;
    int64_t created_at; /* ms, as the partner sent it at creation */
    int64_t updated_at; /* ms, last change made by a partner call (name or members) */
    int64_t import_at;  /* ms of the last users call, 0 = none */
    uint32_t import_added, import_removed, import_unchanged, import_unmatched;
    bitmap_t *members;
    uint32_t idx;    /* position in the registry */
    bool dirty;      /* changed since the last checkpoint */
    bool meta_dirty; /* metadata row to write with the current command */
} cohort_t;

typedef struct cohorts cohorts_t;

cohorts_t *cohorts_new(void);
void cohorts_free(cohorts_t *c);
/* Cohorts in creation order: index 0 .. cohorts_count() - 1. */
uint32_t cohorts_count(const cohorts_t *c);
cohort_t *cohorts_at(cohorts_t *c, uint32_t i);
/* The cohort (partner, id), or NULL. */
cohort_t *cohorts_find(cohorts_t *c, const char *partner, const char *id, size_t idlen);
/* Removes row from every cohort (a deleted profile). */
void cohorts_forget_row(cohorts_t *c, uint32_t row);
/* Resident bytes of every cohort (names and member bitmaps). */
size_t cohorts_memory(const cohorts_t *c);

/* Request checks, on the HTTP thread, of the partner's body. Return 0, or
 * BR_ECOHORTID, BR_ECOHORTNAME, BR_ECOHORTTIME (name call), BR_ECOHORTID,
 * BR_ECOHORTCHANGES, BR_ECOHORTMAX (users call) with a detail in why. */
int cohort_check_name(json_object *body, char *why, size_t whylen);
int cohort_check_users(json_object *body, char *why, size_t whylen);

/* Command bodies are the checked request reduced to what the command needs
 * plus the partner (from the path): {"partner", "cohort_id", "name",
 * "created_at"} or {"partner", "cohort_id", "cohort_changes"}; never the
 * secrets. cohort_body() builds one from a checked request. */
json_object *cohort_body(int kind, const char *partner, json_object *request);
/* Whether the cohort a users-call body names exists (a users call for an
 * unknown cohort is refused before it is journaled). */
bool cohort_exists(cohorts_t *c, json_object *body);
/* Applies CMD_COHORT_NAME or CMD_COHORT_USERS. Returns the answer's fields:
 * {"created": bool} for a name call; {"added", "removed", "unchanged",
 * "unmatched"} for a users call (NULL if its cohort is unknown). Marks the
 * cohorts it changed dirty and meta-dirty. */
json_object *cohort_apply(cohorts_t *c, users_t *u, int kind, json_object *body, int64_t now_ms);

/* A cohort as its table row (metadata; members not set), and a row as the
 * admin API and `brasa cohorts list --json` show it: {"partner",
 * "cohort_id", "name", "size", "created_at", "updated_at", "last_import":
 * null | {"at", "added", "removed", "unchanged", "unmatched"}}. */
store_cohort_row cohort_row(const cohort_t *k);
json_object *cohort_row_json(const store_cohort_row *r);

/* Persistence (table cohorts, store/partners.h). Loads every cohort with
 * its members as of the last checkpoint (start-up, before the replay). */
int cohorts_load(cohorts_t *c, sqlite3 *db);
/* Writes the metadata of the cohorts the current command changed, in its
 * transaction; with db NULL (replay) only forgets which they were. */
int cohorts_sync(cohorts_t *c, sqlite3 *db);
/* Checkpoint: writes every dirty cohort whole (metadata and members);
 * *written gets how many. cohorts_clean() then forgets the dirty marks,
 * once everything else of the checkpoint is written too. */
int cohorts_write_dirty(cohorts_t *c, sqlite3 *db, uint32_t *written);
void cohorts_clean(cohorts_t *c);

#endif
