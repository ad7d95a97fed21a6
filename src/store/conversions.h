/* conversions.h -- SQL for campaign conversions (sql/010_conversions.sql):
 * the converter's cursor over the outbox, the outbox rows after it, what
 * a user received, and the store op that records one batch.
 *
 * What converts is send/convert.h's. Functions return 0, BR_ENOTFOUND
 * where said, or BR_ESTORE; strings they return are malloc'd. */
#ifndef BR_STORE_CONVERSIONS_H
#define BR_STORE_CONVERSIONS_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* The last outbox seq processed (0 when none yet). */
int store_conv_cursor(sqlite3 *db, int64_t *seq);

typedef struct {
    int64_t seq;
    char *events; /* a JSON array text */
} store_outbox_row;

/* Outbox rows with seq > after, in seq order, at most limit. */
int store_conv_outbox(sqlite3 *db, int64_t after, int limit, store_outbox_row **rows, int *n);
void store_outbox_rows_free(store_outbox_row *rows, int n);

/* Whether anyone received anything of a campaign (BR_ENOTFOUND: no). */
int store_conv_any_received(sqlite3 *db);

typedef struct {
    char *campaign_id, *variation_id, *channel, *send_id, *dispatch_id; /* send_id, dispatch_id: '' when none */
    bool in_control;
    int64_t at; /* ms */
} store_recv_row;

/* The received rows of a user (every campaign). */
int store_conv_received(sqlite3 *db, const uint8_t braze_id[12], store_recv_row **rows, int *n);
void store_recv_rows_free(store_recv_row *rows, int n);

/* One conversion, or one purchase's revenue (idx -1). */
typedef struct {
    uint8_t braze_id[12];
    const char *campaign_id, *variation_id, *channel, *send_id;
    int idx;             /* the behaviour's index 0..3; -1: revenue only */
    int64_t received_at; /* ms: the message it converts */
    int64_t at;          /* ms: the event's time (its day is the stats' day) */
    double revenue;
    const char *event;   /* the Currents event (a JSON object text) of a conversion */
} store_conversion;

typedef struct {
    int64_t cursor; /* the new cursor: the last outbox seq of the batch */
    int64_t now_ms;
    store_conversion *v;
    int n;
    int counted; /* out: conversions recorded (the others had been already) */
} store_conv_batch;

/* A store op: advances the cursor; records each conversion not recorded
 * yet (conversions), counting it in message_stats.conversions[idx] of its
 * campaign x send id x variation x channel x day with its event in
 * message_outbox; adds each revenue to message_stats.revenue. */
int store_conv_op(sqlite3 *db, void *arg);

#endif
