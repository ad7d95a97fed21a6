/* cohort.h -- partner cohorts: the registry and the two import commands.
 *
 * Technology partners (Heap, Amplitude, Tinyclues, Segment, ...) push
 * cohorts with Braze's Partner Cohort Import API: a name call creates or
 * renames a cohort, a users call adds or removes members by external_id,
 * alias or device_id. A cohort is identified by (partner, cohort_id) and its
 * members are a bitmap over profile row numbers (users.h, bitmap.h).
 *
 * The commands arrive checked and typed (api/partners.c parses the
 * partner's request into a cohort_cmd). Applying the same users call twice
 * changes nothing the second time. Cohort import never creates users: ids
 * that match nobody are counted.
 *
 * Matching (Braze): user_ids are external ids (deprecated ids after a
 * rename still match, as everywhere); aliases match any user holding the
 * alias; device_ids match anonymous users only (users_by_device), so an
 * identified user who began anonymous is not found by device id.
 *
 * Every change is also logged for the engine, which turns it into change
 * records (engine/records.h) and drains the log after each command, and a
 * users call reports each user it adds or removes to Currents
 * (brasa.cohorts.Change, lifecycle.h).
 *
 * Owned by the engine thread; no locking. */
#ifndef BR_COHORT_H
#define BR_COHORT_H
#include "../lib/bitmap.h"
#include "users.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define COHORT_MAX_IDS 1000  /* user_ids + device_ids + aliases per request */
#define COHORT_ID_MAX 255    /* bytes of a cohort_id */
#define COHORT_NAME_MAX 1000 /* bytes of a cohort name */

/* A cohort's metadata, as stored (store/partners.h) and shown. */
typedef struct {
    const char *partner, *cohort_id, *name;
    int64_t created_at; /* ms, as the partner sent it at creation */
    int64_t updated_at; /* ms, last change made by a partner call (name or members) */
    int64_t import_at;  /* ms of the last users call, 0 = none */
    int64_t import_added, import_removed, import_unchanged, import_unmatched;
    int64_t size;       /* members (ignored by cohorts_put) */
} cohort_meta;

typedef struct {
    char *partner, *id, *name;
    int64_t created_at, updated_at, import_at;
    uint32_t import_added, import_removed, import_unchanged, import_unmatched;
    bitmap_t *members;
    uint32_t idx;    /* position in the registry */
    bool dirty;      /* changed since the last checkpoint */
    bool meta_dirty; /* metadata changed since the engine last drained the log */
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

/* ---- commands ------------------------------------------------------------ */

enum { COHORT_REF_USER, COHORT_REF_DEVICE, COHORT_REF_ALIAS };

/* One id of a users call: an external id, a device id, or an alias
 * (a = label, b = name). */
typedef struct {
    uint8_t kind;
    bool remove;
    const char *a, *b;
    size_t an, bn;
} cohort_ref;

typedef struct {
    const char *partner;  /* normalised (core/partner.h) */
    const char *cohort_id;
    size_t idlen;
    const char *name;     /* name call */
    int64_t created_at;   /* name call, ms */
    const cohort_ref *refs; /* users call */
    uint32_t nrefs;
} cohort_cmd;

typedef struct {
    bool created;                                /* name call */
    uint32_t added, removed, unchanged, unmatched; /* users call */
} cohort_result;

/* Creates or renames the cohort. */
void cohort_apply_name(cohorts_t *c, const cohort_cmd *cmd, int64_t now_ms, cohort_result *r);
/* Adds and removes members, appending a brasa.cohorts.Change event
 * (lifecycle.h) per user added or removed to outbox (NULL: none, a replay).
 * BR_ENOCOHORT (nothing changed) when the name call never created the
 * cohort. */
int cohort_apply_users(cohorts_t *c, users_t *u, const cohort_cmd *cmd, int64_t now_ms, buf_t *outbox,
                       uint64_t event_base, cohort_result *r);

/* ---- the change log ------------------------------------------------------ */

typedef struct {
    uint32_t idx, row;
    bool added;
} cohort_delta;

/* Member changes since cohorts_log_clear(), in order. The cohorts whose
 * metadata changed have meta_dirty set. */
const cohort_delta *cohorts_log(const cohorts_t *c, uint32_t *n);
void cohorts_log_clear(cohorts_t *c);

/* ---- loading and replay -------------------------------------------------- */

/* Creates cohort idx (idx == cohorts_count()) or updates its metadata
 * (same partner and id). members: a serialized bitmap, or NULL to keep the
 * current one. Returns 0, or BR_ESTORE for a row that contradicts the
 * registry or members that do not parse. */
int cohorts_put(cohorts_t *c, uint32_t idx, const cohort_meta *m);
int cohorts_put_members(cohorts_t *c, uint32_t idx, const void *members, size_t len);

/* The metadata of k (strings point into k). */
cohort_meta cohort_meta_of(const cohort_t *k);
/* A cohort as the admin API and `brasa cohorts list --json` show it:
 * {"partner", "cohort_id", "name", "size", "created_at", "updated_at",
 * "last_import": null | {"at", "added", "removed", "unchanged", "unmatched"}}. */
json_object *cohort_meta_json(const cohort_meta *m);
/* Forgets the dirty marks (after a checkpoint snapshot took them). */
void cohorts_clean(cohorts_t *c);

#endif
