/* postback.h -- the delivery postbacks of transactional email: each step
 * of a transactional send's outcome POSTed, as Braze's transactional HTTP
 * event postback body, to the postback_url of its campaign
 * (send/campaign.h).
 *
 *   {"dispatch_id", "status": "sent"|"processed"|"delivered"|"bounced"|"aborted",
 *    "metadata": {"external_send_id", "campaign_api_id", and the time of
 *                 the step: received_at, enqueued_at, executed_at and
 *                 sent_at (sent), processed_at (processed), delivered_at
 *                 (delivered), bounced_at and reason (bounced),
 *                 aborted_at and reason (aborted)}}
 *
 * brasa's relay is its email sending partner: a message handed to the
 * relay is sent; the relay's 2xx answer makes it processed, then
 * delivered (brasa learns nothing later than that answer, and counts it
 * as the delivery everywhere else: Currents' email.Delivery, the
 * delivered stat); a 5xx, or a 4xx until the retries ran out, makes it
 * bounced, with the relay's answer as the reason; a recipient with no
 * address, or one that is hard-bounced, and a Liquid abort make it
 * aborted.
 *
 * The posts of one dispatch go in that order, each once the one before
 * was answered, over a webhook channel of their own (webhook.h: retries
 * with backoff on 5xx, 429 and transport errors). They are durable: the
 * dispatcher queues them (postback_list) in the very transaction that
 * records the outcome (store/postbacks.h), and a thread of this module
 * posts what the queue holds, deleting each once answered. A post whose
 * retries all failed is tried again a minute later, then less and less
 * often (at most hourly), for a day; a restart resends the ones not yet
 * answered (at least once: dispatch_id and status tell a repeat). */
#ifndef BR_SEND_POSTBACK_H
#define BR_SEND_POSTBACK_H
#include "channel.h"
#include "../engine/engine.h"
#include "../store/postbacks.h"
#include <stdint.h>

typedef struct postback postback;

/* Starts the poster on e's store: it sends what the queue holds, what an
 * earlier run left first. NULL when the store cannot be read (logged). */
postback *postback_new(engine_t *e);
/* Stops it (posts not answered stay queued for the next start), frees p. */
void postback_free(postback *p);
/* Posts were queued: look at once, not at the next second. */
void postback_wake(postback *p);

/* A transactional send, as its postbacks name it. */
typedef struct {
    const char *url;              /* the campaign's postback_url */
    const char *dispatch_id, *campaign_id;
    const char *external_send_id; /* NULL: none given */
    int64_t received_at;          /* ms: the request came */
    int64_t executed_at;          /* ms: its message was rendered */
} postback_send;

/* Posts to queue, for the dispatcher's progress op (store/messaging.h). */
typedef struct {
    store_postback *v;
    int n, cap;
} postback_list;

/* The posts of a message's outcome (m: outcome and error set by the
 * email channel), at now (ms). */
void postback_outcome(postback_list *l, const postback_send *s, const send_msg *m, int64_t now);
/* The post of a send that made no message, with Braze's reason. */
void postback_aborted(postback_list *l, const postback_send *s, const char *reason, int64_t now);
void postback_list_free(postback_list *l);

#endif
