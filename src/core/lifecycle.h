/* lifecycle.h -- the user-lifecycle Currents events: a user a cohort
 * import added or removed (brasa.cohorts.Change, brasa's own type), a user
 * /users/delete deleted (users.UserDeleteRequest), a user merged into
 * another by /users/merge or /users/identify (users.UserOrphan).
 *
 * Like core/track.c's events they are flat records in Braze's Avro field
 * names, appended to the batch's outbox buffer on the engine thread, so
 * they commit with the change they report. A replay (outbox NULL) writes
 * none: its events were written with the batch the first time.
 *
 * Ids: "<event base, 16 hex>-<tag><n, 4 hex>", where the event base is the
 * command's (engine.h), the tag a letter of the event's module ('c'
 * cohorts, written compactly by core/cohort.c; 'd' deletes, 'o' orphans)
 * and n an index within the command:
 * stable across retries of a delivery, and apart from /users/track's
 * ("-%04x-%04x") and subscriptions' ("-s%04x"). */
#ifndef BR_LIFECYCLE_H
#define BR_LIFECYCLE_H
#include "users.h"
#include "../lib/buf.h"

#include <stdbool.h>
#include <stdint.h>

/* Opens row's event in b, an outbox ("[" then items): id, event_type,
 * user_id (braze_id), external_user_id when `external` and the user has
 * one, time (epoch s). The caller appends its fields and the closing "}". */
void life_head(buf_t *b, users_t *u, uint32_t row, const char *type, uint64_t base, char tag, uint32_t n, bool external,
               int64_t now_ms);
/* users.UserDeleteRequest for row: id, user_id, time (Braze's schema has
 * no external_user_id). */
void life_deleted(buf_t *b, users_t *u, uint32_t row, uint64_t base, uint32_t n, int64_t now_ms);
/* users.UserOrphan for `from`, merged into `into` (orphaned_by_id): id,
 * user_id, external_user_id when it had one, time. Before `from` is
 * deleted, while its profile still holds its external id. */
void life_orphaned(buf_t *b, users_t *u, uint32_t from, uint32_t into, uint64_t base, uint32_t n, int64_t now_ms);

#endif
