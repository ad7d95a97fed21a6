/* messaging.h -- SQL for apps, campaigns, send ids, schedules, dispatches,
 * send statistics, what users received and the messaging outbox
 * (sql/007_messaging.sql).
 *
 * Plain row access: what a campaign document holds is send/campaign.h's,
 * what a dispatch does is send/dispatch.h's. Every function takes the
 * connection to use (the writer's inside a store op, else a reader's) and
 * returns 0, BR_ENOTFOUND where said, or BR_ESTORE. Strings in returned
 * rows are malloc'd; free rows with the matching _free. */
#ifndef BR_STORE_MESSAGING_H
#define BR_STORE_MESSAGING_H
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- apps ---------------------------------------------------------------- */

int store_app_insert(sqlite3 *db, const char *app_id, const char *name, const char *platform, int64_t now_ms);
/* BR_ENOTFOUND when there is no such app. */
int store_app_exists(sqlite3 *db, const char *app_id);
/* Every app as a JSON array text [{"app_id","name","platform","created_at"}] (malloc'd). */
int store_app_list(sqlite3 *db, char **json);

/* ---- campaigns ----------------------------------------------------------- */

typedef struct {
    char *id, *doc;
    int64_t created_at, updated_at, first_sent, last_sent; /* ms; 0: never */
    bool archived;
} store_campaign_row;

/* Inserts the document (a new id) or replaces it (an id that exists). */
int store_campaign_put(sqlite3 *db, const char *id, const char *name, const char *kind, bool archived, const char *doc,
                       int64_t created_at, int64_t updated_at);
/* BR_ENOTFOUND when there is none. */
int store_campaign_get(sqlite3 *db, const char *id, store_campaign_row *out);
/* Campaigns in creation order (desc: newest first) from offset, at most
 * limit (-1: all), archived ones only when asked, edited after
 * edited_after ms (INT64_MIN: any). */
int store_campaign_list(sqlite3 *db, bool archived, bool desc, int64_t edited_after, int offset, int limit,
                        store_campaign_row **rows, int *n);
/* Campaigns not archived (as the listing shows them by default). */
int store_campaign_count(sqlite3 *db, int64_t *n);
void store_campaign_row_free(store_campaign_row *r);
void store_campaign_rows_free(store_campaign_row *rows, int n);

/* ---- send ids ------------------------------------------------------------ */

/* Records (campaign, send_id). BR_EEXISTS when it exists already; BR_ERATE
 * when `per_day` combinations were created since day_start_ms. */
int store_send_id_create(sqlite3 *db, const char *campaign_id, const char *send_id, int64_t now_ms, int64_t day_start_ms,
                         int per_day);
/* BR_ENOTFOUND when the combination was never created nor used by a send. */
int store_send_id_exists(sqlite3 *db, const char *campaign_id, const char *send_id);

/* ---- schedules ----------------------------------------------------------- */

enum { SCHED_PENDING = 0, SCHED_FIRED = 1, SCHED_DELETED = 2 };

typedef struct {
    char *id, *campaign_id, *send_id, *request, *dispatch_id;
    int64_t at, created_at, updated_at;
    int state;
    /* waves (local or optimal time): the rows sent so far (NULL: none yet)
     * and the fallback hour (has_fallback false until the first wave) */
    void *sent;
    size_t sent_len;
    int fallback_hour;
    bool has_fallback;
} store_schedule_row;

int store_schedule_insert(sqlite3 *db, const store_schedule_row *r);
/* Replaces the request and time of a pending schedule; BR_ENOTFOUND when
 * it is not pending (fired, deleted or unknown). */
int store_schedule_update(sqlite3 *db, const char *id, const char *request, int64_t at, int64_t now_ms);
/* Sets the state of a pending schedule; BR_ENOTFOUND when not pending. */
int store_schedule_set_state(sqlite3 *db, const char *id, int state, int64_t now_ms);
/* Marks a pending schedule fired if it is still the version read (its
 * updated_at); BR_ENOTFOUND otherwise. With a wave (w not NULL) and w->next
 * not 0, it stays pending for its next wave instead, with w's rows and
 * fallback hour. */
typedef struct {
    int64_t next;
    const void *sent;
    size_t sent_len;
    int fallback_hour;
} store_schedule_wave;
int store_schedule_fire(sqlite3 *db, const char *id, int64_t updated_at, int64_t now_ms, const store_schedule_wave *w);
int store_schedule_get(sqlite3 *db, const char *id, store_schedule_row *out);
/* Pending schedules due at or before `until` (ms), earliest first, at most limit. */
int store_schedule_due(sqlite3 *db, int64_t until, int limit, store_schedule_row **rows, int *n);
/* The earliest pending schedule's time; BR_ENOTFOUND when none. */
int store_schedule_next(sqlite3 *db, int64_t *at);
void store_schedule_row_free(store_schedule_row *r);
void store_schedule_rows_free(store_schedule_row *rows, int n);

/* ---- dispatches ---------------------------------------------------------- */

enum { DISPATCH_SENDING = 0, DISPATCH_DONE = 1 };

typedef struct {
    char *id, *campaign_id, *send_id, *request;
    void *audience; /* roaring portable serialisation */
    size_t audience_len;
    int64_t total, cursor, sent, errors, skipped, aborted, created_at, done_at;
    int state;
} store_dispatch_row;

int store_dispatch_insert(sqlite3 *db, const store_dispatch_row *r);
int store_dispatch_get(sqlite3 *db, const char *id, bool with_audience, store_dispatch_row *out);
/* A dispatch's counters summed over its rows: itself, or each wave of a
 * local-time or optimal-time schedule ("<id>.<k>"); *rows of them, state
 * done when all are, done_at the last one's. BR_ENOTFOUND when none. */
int store_dispatch_total(sqlite3 *db, const char *id, store_dispatch_row *out, int *rows);
/* Ids of dispatches still sending, oldest first (malloc'd array of malloc'd strings). */
int store_dispatch_active(sqlite3 *db, char ***ids, int *n);
/* Dispatches still sending, and the recipients they have yet to pass
 * (total - cursor, summed): by the index on state. */
int store_dispatch_pending(sqlite3 *db, int64_t *dispatches, int64_t *recipients);
void store_dispatch_row_free(store_dispatch_row *r);

/* ---- progress: one op per delivered chunk -------------------------------- */

typedef struct {
    const char *campaign_id, *send_id, *variation_id, *channel;
    int64_t day;
    int64_t sent, errors, enrolled, bounces;
} store_stat_delta;

typedef struct {
    uint8_t braze_id[12];
    const char *variation_id, *channel;
    bool in_control;
    int64_t at;
    /* out: whether the user had received nothing of this campaign that day */
    bool first_today;
} store_received;

typedef struct {
    const char *dispatch_id; /* the row's: a wave's is "<Braze dispatch id>.<k>" */
    const char *campaign_id; /* NULL: a send without a campaign */
    const char *send_id;     /* NULL: none */
    int64_t cursor;          /* new cursor */
    bool done;
    int64_t sent, errors, skipped, aborted, now_ms;
    store_received *received; /* campaign sends only */
    int nreceived;
    store_stat_delta *stats;
    int nstats;
    store_received *delivered; /* every message delivered (frequency capping counts them) */
    int ndelivered;
    const char **bounced;       /* addresses hard-bounced, with the relay's answers: pairs */
    int nbounced;
    const char *events; /* Currents events: a JSON array text, or NULL */
    const struct store_postback *postbacks; /* transactional sends' posts (postbacks.h), queued here */
    int npostbacks;
} store_progress;

/* A store op (store.h): applies p in the batch's transaction. Unique
 * recipients count the received rows that are first_today into the stats
 * of their variation. */
int store_progress_op(sqlite3 *db, void *p);

/* ---- frequency capping ----------------------------------------------------- */

#define STORE_CAPS_MAX 10
#define STORE_CAP_HOURS_MAX 720

typedef struct {
    char channel[8]; /* webhook | email | any */
    int64_t max_messages, period_hours;
} store_cap;

/* The workspace's rules (at most STORE_CAPS_MAX). */
int store_caps_get(sqlite3 *db, store_cap *caps, int *n);
/* Replaces every rule (a store op's body). */
int store_caps_set(sqlite3 *db, const store_cap *caps, int n);
/* Messages delivered to a user on channel (NULL: any) after since_ms. */
int store_deliveries_count(sqlite3 *db, const uint8_t braze_id[12], const char *channel, int64_t since_ms, int64_t *n);

/* ---- statistics ---------------------------------------------------------- */

typedef struct {
    char *variation_id, *channel;
    int64_t day, sent, errors, enrolled, unique_recipients, conversions[4], bounces;
    double revenue;
    int64_t email[6]; /* in the order of STORE_EMAIL_STATS */
} store_stat_row;

/* The email counters of the tracking links (store/engagement.h), as the
 * data series name them. */
#define STORE_EMAIL_STATS {"opens", "unique_opens", "machine_open", "clicks", "unique_clicks", "unsubscribes"}

/* Rows of a campaign (send_id NULL: every send) between two days
 * (inclusive), by day then variation. */
int store_msg_stats(sqlite3 *db, const char *campaign_id, const char *send_id, int64_t from_day, int64_t to_day,
                store_stat_row **rows, int *n);
void store_stat_rows_free(store_stat_row *rows, int n);

/* What a user received, as the users export's campaigns_received: a JSON
 * array text of {"name", "api_campaign_id", "last_received",
 * "variation_api_id", "variation_name", "channel", "in_control",
 * "converted", "engaged"} (malloc'd). */
int store_received_of(sqlite3 *db, const uint8_t braze_id[12], char **json);
/* The same objects, the latest `limit` first (the console's user page). */
int store_received_latest(sqlite3 *db, const uint8_t braze_id[12], int limit, char **json);
/* Fills user's "campaigns_received" (when the export asked for it: the
 * key is there) with what row received. */
void store_received_export(sqlite3 *db, json_object *user, const uint8_t braze_id[12]);

#endif
