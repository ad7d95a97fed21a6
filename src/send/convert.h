/* convert.h -- campaign conversions: the converter thread.
 *
 * A campaign's document lists up to 4 conversion behaviours
 * ("conversion_events", send/campaign.h): index 0 is counted in
 * message_stats.conversions, 1..3 in conversions1..3. The converter tails
 * the Currents outbox (the users' custom events and purchases, one JSON
 * array per journal seq) after a durable cursor, every CONV_POLL_MS, at
 * most CONV_BATCH rows at a time. For each users.behaviors.CustomEvent or
 * users.behaviors.Purchase it reads what the user received (the `received`
 * rows: the last message of each campaign) and, for each campaign whose
 * behaviour the event matches with its time within [received, received +
 * window_hours], records a conversion: once per user x campaign x
 * behaviour x message received. Purchases within the primary behaviour's
 * window (index 0; 72 hours when the campaign has none) add their price to
 * the campaign's revenue. Control-group users convert too, in the
 * control's rows (for lift). starts_session converts nobody: brasa has no
 * session events.
 *
 * Each batch is one store op (store/conversions.h): the cursor, the
 * conversions, their counters and users.campaigns.Conversion events, in one
 * transaction: a crash loses nothing and counts nothing twice. */
#ifndef BR_SEND_CONVERT_H
#define BR_SEND_CONVERT_H
#include "../engine/engine.h"

#define CONV_POLL_MS 200
#define CONV_BATCH 1000

typedef struct converter converter;

/* Starts the converter on e's store (after engine_start); NULL on failure. */
converter *conv_start(engine_t *e);
/* Stops it after the batch in progress and frees c. Before engine_stop. */
void conv_stop(converter *c);

#endif
