/* checkpoint.h -- SQL for profiles.db, the checkpoint file, and for the
 * profile rows brasa.db held before it existed (sql/profiles/).
 *
 * profiles.db holds the state as of one journal seq S: the profiles and
 * cohorts (members included) and meta checkpoint_seq = S, always written
 * in one transaction, so the file never holds a change without the seq
 * that covers it. What goes in a snapshot is the engine's (engine/ckpt.h);
 * every function returns 0, BR_ENOTFOUND where said, or BR_ESTORE. */
#ifndef BR_STORE_CHECKPOINT_H
#define BR_STORE_CHECKPOINT_H
#include "partners.h"
#include <sqlite3.h>
#include <stdint.h>

typedef struct {
    uint32_t row;
    uint8_t braze_id[12];
    uint32_t created, updated, flags; /* flags: 1 = deleted */
    const uint8_t *blob;              /* NULL = no fields */
    uint32_t len;
} store_profile_row;

typedef struct {
    int64_t seq; /* S */
    const store_profile_row *profiles;
    uint32_t nprofiles;
    const store_cohort_row *cohorts; /* whole rows, members serialized */
    uint32_t ncohorts;
} store_snapshot;

/* Opens (creating it) <dir>/profiles.db and applies its migrations. */
int store_ckpt_open(const char *dir, sqlite3 **db);
/* S of the file; BR_ENOTFOUND when no checkpoint was written to it yet. */
int store_ckpt_seq(sqlite3 *db, int64_t *seq);
/* Writes a snapshot and its seq in one transaction. */
int store_ckpt_write(sqlite3 *db, const store_snapshot *s);

/* One past the highest profile row of db's `profiles` table (0: none). */
int store_profiles_top(sqlite3 *db, uint32_t *rows);
/* Every profile row of db's `profiles` table (profiles.db, or brasa.db's
 * old one) in row order; the row's bytes are valid during the call. */
int store_profiles_each(sqlite3 *db, int (*fn)(void *arg, const store_profile_row *p), void *arg);
/* brasa.db before profiles.db: its checkpoint seq (BR_ENOTFOUND: none). */
int store_old_ckpt_seq(sqlite3 *db, int64_t *seq);
/* Empties brasa.db's old checkpoint (profiles, cohort members, its seq)
 * once profiles.db holds everything; cheap when already empty. Cohort
 * metadata stays: `brasa cohorts list` reads it there. */
int store_drop_old_ckpt(sqlite3 *db);

#endif
