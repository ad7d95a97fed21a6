/* postbacks.h -- SQL for the durable queue of transactional postbacks
 * (sql/020_postbacks.sql; what they are: send/postback.h). Functions
 * return 0 or BR_ESTORE. */
#ifndef BR_STORE_POSTBACKS_H
#define BR_STORE_POSTBACKS_H
#include <sqlite3.h>
#include <stdint.h>

typedef struct store_postback {
    int64_t id;
    char *dispatch_id, *url, *body;
    int64_t created_at;
    int attempts;
} store_postback;

/* Queues n posts (id unused), in order, at now (ms). In the caller's
 * transaction: the dispatcher's progress op (messaging.h). */
int store_postbacks_put(sqlite3 *db, const store_postback *v, int n, int64_t now);
/* Up to limit posts due at now, each the oldest of its dispatch (a
 * dispatch's posts go one at a time, in order), oldest first. */
int store_postbacks_due(sqlite3 *db, int64_t now, int limit, store_postback **rows, int *n);
void store_postbacks_free(store_postback *rows, int n);
/* Posts not answered yet (due or waiting to be tried again). */
int store_postbacks_pending(sqlite3 *db, int64_t *n);

/* Store ops: a post answered (arg: int64_t *id), and one to try again
 * later (arg: store_postback_retry *). */
typedef struct {
    int64_t id, next_at;
} store_postback_retry;
int store_postback_done_op(sqlite3 *db, void *arg);
int store_postback_retry_op(sqlite3 *db, void *arg);

#endif
