/* sched.h -- the scheduler: durable schedules (the /messages/schedule endpoints,
 * /campaigns/trigger/schedule endpoints) become dispatches when their time comes.
 *
 * A thread sleeps until the earliest pending schedule (or a wake-up from
 * an API write that may have moved it), then fires each due one: an engine
 * read fixes the audience, and one store op marks the schedule fired and
 * writes the dispatch, so a schedule fires once whatever crashes between
 * (a crash before the op leaves it pending: it fires at the next start).
 * A schedule deleted or updated before that op is never sent as it was. */
#ifndef BR_SEND_SCHED_H
#define BR_SEND_SCHED_H
#include "dispatch.h"

typedef struct scheduler scheduler;

scheduler *sched_start(engine_t *e, dispatcher *d);
/* A schedule was created or updated: look again at the earliest one. */
void sched_wake(scheduler *s);
void sched_stop(scheduler *s);

#endif
