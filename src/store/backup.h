/* backup.h -- a data directory's two databases copied as of one moment,
 * while a server may be writing them, and their integrity checks.
 *
 * brasa.db (everything, the journal included) and profiles.db (profiles
 * and cohorts as of journal seq S, checkpoint.h) are only whole together:
 * a start loads profiles.db and replays the journal rows after S, and the
 * checkpointer drops journal rows once a later S is committed. So a copy of
 * the pair must hold every journal row after its S. store_backup reads
 * profiles.db's S in a read transaction, then opens one on brasa.db, then
 * checks that profiles.db still says S: no checkpoint committed in between,
 * so no trim that brasa.db's snapshot shows went past S (the trim always
 * follows the commit). If one did, it tries again: checkpoints are seconds
 * apart and this takes microseconds. Both snapshots are then copied page by
 * page with SQLite's online backup API, which reads inside them; writers
 * go on meanwhile (the WAL grows until the copy is done). */
#ifndef BR_STORE_BACKUP_H
#define BR_STORE_BACKUP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool has_profiles_db;   /* <dir>/profiles.db exists */
    bool checkpointed;      /* it holds a checkpoint (else a start loads brasa.db's old tables) */
    int64_t checkpoint_seq; /* its S */
    int64_t journal_top;    /* the highest journal seq brasa.db gave out */
    int64_t replay_rows;    /* journal rows after S: what a start replays */
} store_pair_info;

/* Reads (and, when brasa_to is not NULL, copies to brasa_to and, if there
 * is a profiles.db, to profiles_to: new files, synced) the two databases
 * of dir as of one moment; fills *info. Returns 0; BR_ENOTFOUND when dir
 * holds no brasa.db; BR_ESTORE when the pair disagrees (S past the journal)
 * or cannot be read; BR_EIO when a copy cannot be written. In each case a
 * sentence for the operator is put in why[whylen]. */
int store_backup(const char *dir, const char *brasa_to, const char *profiles_to, store_pair_info *info, char *why,
                 size_t whylen);

/* SQLite's PRAGMA integrity_check of the database file at path: 0 when it
 * says ok, BR_ESTORE with its first findings in why, BR_EIO when the file
 * cannot be opened as a database. */
int store_integrity(const char *path, char *why, size_t whylen);

#endif
