/* engagement.h -- SQL for what recipients did with an email: opens,
 * clicks and unsubscribes through its tracking links
 * (sql/015_email_engagement.sql; api/tracking.c records them).
 *
 * One store op records one of them: the engagement row (the first per
 * recipient, dispatch and kind is the unique one), the campaign's stats
 * of the day the link was followed, the received row's engaged flags and
 * the Currents events the caller built. */
#ifndef BR_STORE_ENGAGEMENT_H
#define BR_STORE_ENGAGEMENT_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { ENGAGE_OPEN, ENGAGE_CLICK, ENGAGE_UNSUBSCRIBE } store_engage_kind;

typedef struct {
    uint8_t braze_id[12];
    store_engage_kind kind;
    bool machine;                 /* an open by a privacy proxy: in opens and machine_opens, never unique */
    bool bot;                     /* a suspected bot's click the workspace removes: in no count, only its event */
    const char *dispatch_id;      /* the row's */
    const char *campaign_id;      /* NULL: a send without a campaign (no stats) */
    const char *send_id, *variation_id; /* NULL: none */
    int64_t now_ms;
    const char *events;           /* Currents events: a JSON array text, or NULL */
    bool first;                   /* out: the recipient's first of this kind for the dispatch */
} store_engagement;

/* A store op (store.h) applying a store_engagement. */
int store_engage_op(sqlite3 *db, void *arg);

#endif
