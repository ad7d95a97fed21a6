/* email.h -- SQL for the email channel's state (sql/014_email.sql,
 * 017_email_state.sql): the addresses that hard-bounced, the global state
 * last set for an address, and spam reports.
 *
 * The dispatcher asks store_email_bounced before it renders a message to
 * an address; the progress op (messaging.h) adds the addresses a relay
 * refused for good; /email/hard_bounces lists them and /email/bounce/remove
 * lifts them (api/email.c). Addresses are compared lower-cased. Functions
 * return 0, BR_ENOTFOUND where said, or BR_ESTORE. */
#ifndef BR_STORE_EMAIL_H
#define BR_STORE_EMAIL_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_EMAIL_MAX 320

/* Whether address hard-bounced (0 and *yes); address NULL: whether any did. */
int store_email_bounced(sqlite3 *db, const char *address, bool *yes);
/* Records a hard bounce (the latest one's time and reason win). */
int store_email_bounce_add(sqlite3 *db, const char *address, const char *reason, int64_t at_ms);
/* Lifts one; BR_ENOTFOUND when it was not there. */
int store_email_bounce_remove(sqlite3 *db, const char *address);

typedef struct {
    char *address;
    int64_t at;
} store_bounce_row;

/* Bounces at or after from_ms and before to_ms (address: that one only,
 * dates ignored), newest first, limit from offset. */
int store_email_bounces(sqlite3 *db, const char *address, int64_t from_ms, int64_t to_ms, int limit, int offset,
                        store_bounce_row **rows, int *n);
void store_bounce_rows_free(store_bounce_row *rows, int n);

/* The global state ("subscribed", "unsubscribed", "opted_in") last set for
 * an address; the engine's copy (core/subs.h) is loaded with _each at
 * start and its changes written with _put in each batch. */
int store_email_state_put(sqlite3 *db, const char *address, const char *state, int64_t at_ms);
int store_email_states_each(sqlite3 *db, int (*fn)(void *arg, const char *address, const char *state, int64_t at_ms),
                            void *arg);
/* Addresses whose state is unsubscribed, as store_email_bounces (asc:
 * oldest first). */
int store_email_unsubscribes(sqlite3 *db, const char *address, int64_t from_ms, int64_t to_ms, int limit, int offset,
                             bool asc, store_bounce_row **rows, int *n);
/* Lifts a spam report (BR_ENOTFOUND when it was not there). Nothing
 * records one yet: a feedback loop would. */
int store_email_spam_remove(sqlite3 *db, const char *address);

#endif
