/* users.h -- every profile, by dense row number, and the identifier indexes.
 *
 * Rows are uint32 and never reused: a deleted user leaves a tombstone, so a
 * row number stays valid in bitmaps (cohorts, segments) for the life of the
 * store. Indexes map each identifier to rows: external_id, user alias
 * (label + name), device_id (anonymous users only), email and phone
 * (several users may share those); a braze_id needs none, it carries its
 * row. An index slot holds a 32-bit hash tag and
 * the row; the key itself is read from the profile, so an index costs about
 * 8-11 bytes per entry. Owned by the engine thread; no locking. */
#ifndef BR_USERS_H
#define BR_USERS_H
#include "profile.h"
#include <stddef.h>
#include <stdint.h>

#define USERS_NONE UINT32_MAX

typedef struct users users_t;

users_t *users_new(uint32_t instance);
void users_free(users_t *u);
/* Rows ever created (tombstones included). */
uint32_t users_rows(const users_t *u);
/* Live (not deleted) users. */
uint32_t users_live(const users_t *u);
profile_t *users_get(users_t *u, uint32_t row);

/* Creates an empty profile; its braze_id is derived from (created, the
 * store's instance id, row), so replaying the journal recreates it exactly. */
uint32_t users_create(users_t *u, uint32_t now_s);
/* Makes room for `rows` rows and their external ids at once (start-up knows
 * how many it will load: no array is grown and copied on the way). */
void users_reserve(users_t *u, uint32_t rows);
/* Appends a loaded profile at the next row (start-up); takes the blob. */
uint32_t users_load_row(users_t *u, const profile_t *p);
/* Sets row to p with a copy of blob[0..len) (len 0: no fields), as a change
 * record says it is: a new row when row >= users_rows() (rows in between
 * become tombstones), else a replacement; indexes follow. */
void users_put(users_t *u, uint32_t row, const profile_t *p, const uint8_t *blob, size_t len);

uint32_t users_by_external_id(users_t *u, const char *s, size_t n);
/* Starts fetching the index slot users_by_external_id (or, email, the
 * slot of that email) will read: a batch of lookups then waits on one
 * cache miss, not on one each. */
void users_prefetch(users_t *u, const char *s, size_t n, bool email);
uint32_t users_by_braze_id(users_t *u, const char *hex, size_t n);
uint32_t users_by_alias(users_t *u, const char *label, size_t ll, const char *name, size_t nl);
uint32_t users_by_device(users_t *u, const char *s, size_t n);
/* Email / phone: several users may match; Braze's rule picks the most
 * recently updated one that has an external_id, else the most recently
 * updated one. */
uint32_t users_by_email(users_t *u, const char *s, size_t n);
uint32_t users_by_phone(users_t *u, const char *s, size_t n);
/* Calls fn for every live row with this email (or phone). */
void users_each_email(users_t *u, const char *s, size_t n, void (*fn)(uint32_t row, void *), void *arg);
void users_each_phone(users_t *u, const char *s, size_t n, void (*fn)(uint32_t row, void *), void *arg);

/* Replaces row's blob with the edit's encoding and updates the indexes for
 * the identifiers that changed; stamps updated. */
void users_commit(users_t *u, uint32_t row, const pedit *e, uint32_t now_s);
/* Drops the profile's fields and index entries; leaves a tombstone. */
void users_delete(users_t *u, uint32_t row);

/* Blobs are immutable once committed: an edit makes a new one. A checkpoint
 * snapshot takes the blob pointers of dirty rows instead of copying them,
 * and holds them while another thread writes them: between users_retain()
 * and users_release() a replaced or deleted blob is kept, not freed. */
void users_retain(users_t *u);
void users_release(users_t *u);

/* A row's braze_id: like a MongoDB ObjectId (Braze's ids have that shape),
 * the time it was made (profile_t.born), the store's instance id and the
 * row, 4 bytes each: ids sort by creation time, and one names its row. */
void users_braze_id(const users_t *u, uint32_t row, uint8_t out[12]);
/* As 24 lower-case hex characters + NUL. */
void users_braze_hex(const users_t *u, uint32_t row, char out[25]);
/* The born time of a braze_id stored for row (a checkpoint, a change
 * record); false when the id is not this store's id for that row. */
bool users_braze_born(const users_t *u, uint32_t row, const uint8_t id[12], uint32_t *born);
/* Stable random bucket 0..9999 of a profile (A/B splits). */
uint32_t users_random_bucket(const users_t *u, uint32_t row);
/* Resident bytes of profiles, blobs and indexes (for the memory report). */
size_t users_memory(const users_t *u);

#endif
