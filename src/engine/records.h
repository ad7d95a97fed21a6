/* records.h -- change records: what a batch of commands changed, as the
 * journal keeps it (format 2, store/journal.h).
 *
 * A record says what the state became, never what was asked, so replay
 * needs no validator and gives the same bytes whatever the rules of the
 * binary that replays it: a profile record is the row's whole post-image,
 * a cohort record its whole metadata, a members record the rows that
 * entered or left it. Applying a record twice changes nothing the second
 * time. A batch's records are a byte string:
 *
 *   record  = u8(type) payload
 *   PROFILE = varint(row) braze_id[12] varint(created) varint(updated)
 *             varint(flags) varint(len) blob[len]
 *   COHORT  = varint(idx) str(partner) str(cohort_id) str(name)
 *             zigzag(created_at) zigzag(updated_at) zigzag(import_at)
 *             varint(added) varint(removed) varint(unchanged) varint(unmatched)
 *   MEMBERS = varint(idx) varint(n_added) varint(row)* varint(n_removed) varint(row)*
 *             (applied as: the added rows enter, then the removed ones leave;
 *             a batch cuts its members changes into records so that this
 *             is the order they happened in)
 *   str     = varint(len) bytes
 *
 * Interned names are not records: they go to the names table in the same
 * transaction (store/journal.h) and are loaded before the replay. */
#ifndef BR_ENGINE_RECORDS_H
#define BR_ENGINE_RECORDS_H
#include "../core/cohort.h"
#include "../core/users.h"
#include "../lib/buf.h"

enum { REC_PROFILE = 1, REC_COHORT = 2, REC_MEMBERS = 3 };

/* Appends the post-image of row. */
void rec_profile(buf_t *b, const users_t *u, uint32_t row);
/* Appends the metadata of cohort k. */
void rec_cohort(buf_t *b, const cohort_t *k);
/* Appends a members change of cohort idx. */
void rec_members(buf_t *b, uint32_t idx, const uint32_t *added, uint32_t nadded, const uint32_t *removed,
                 uint32_t nremoved);

/* Applies a batch's records to the state. touch(arg, row) is called for
 * every profile written (the engine marks it dirty). Returns 0, or
 * BR_ESTORE for bytes that do not decode (a corrupt journal row). */
int rec_apply(const uint8_t *p, size_t n, users_t *u, cohorts_t *c, void (*touch)(void *, uint32_t), void *arg);

#endif
