/* dispatch.h -- sends: how a checked request becomes a durable dispatch,
 * and the dispatcher that delivers it.
 *
 * A send request (api/messages.c checks it into the JSON shape below) is
 * turned into a dispatch in two steps: dsp_resolve_read, an engine read,
 * fixes the audience (the segment's or connected audience's members as
 * they are now, the recipients that resolve to a live user, deduplicated:
 * a roaring bitmap of rows), and dsp_insert_op, a store op, writes it with
 * the request; the API answers once that op is durable.
 *
 * The dispatcher thread (dsp_start) takes the dispatches still sending,
 * round robin, in chunks of DSP_CHUNK audience positions: an engine read
 * copies the chunk's profiles, the dispatcher renders each recipient's
 * message with Liquid and hands it to its channel (channel.h), and once
 * every message of a chunk has an outcome, one store op records the
 * chunk's progress (the dispatch's cursor), counters, what each user
 * received and the Currents events. At most DSP_WINDOW chunks of a
 * dispatch are in flight, so after a crash a dispatch re-sends at most
 * DSP_CHUNK * DSP_WINDOW messages: those delivered but not yet recorded;
 * each carries the same X-Brasa-Message-Id on every attempt so receivers
 * can drop the repeats (docs/messaging.md).
 *
 * The request shape (normalised JSON, stored with the dispatch or the
 * schedule):
 *   {"type": "messages"|"trigger"|"transactional", "campaign_id", "send_id", "broadcast",
 *    "segment_id", "audience" (a compiled segment definition),
 *    "recipients": [{"external_user_id"|"braze_id"|"user_alias"|"email",
 *                    "prioritization", "trigger_properties"}],
 *    "messages": {"webhook": {...}} (type messages),
 *    "trigger_properties" (types trigger and transactional),
 *    "external_send_id", "received_at" (ms) (type transactional: one
 *    recipient, api/transactional.c; its outcome goes to the campaign's
 *    postback_url, send/postback.h),
 *    "override_frequency_capping", "recipient_subscription_state",
 *    "schedule": {"time" (ms; local and optimal time: its wall clock read
 *                 as UTC), "in_local_time", "at_optimal_time"}} */
#ifndef BR_SEND_DISPATCH_H
#define BR_SEND_DISPATCH_H
#include "../engine/engine.h"
#include "../lib/bitmap.h"
#include "channel.h"
#include "smtp.h"
#include <json-c/json.h>

#define DSP_CHUNK 500
#define DSP_WINDOW 4
#define DSP_ID_LEN 24 /* hex, as Braze's dispatch ids */

/* The user object a message's Liquid sees for the live user at row (the
 * profile without event and purchase histories, with subscribed_state):
 * the dispatcher's for every recipient, the preview's (api/liquid.c). In
 * an ENG_READ; the caller owns it. */
json_object *dsp_user_context(engine_t *e, uint32_t row);

/* Draws a new dispatch id. */
void dsp_new_id(char out[DSP_ID_LEN + 1]);

/* Checks the campaign a request names (campaign_id, message variations,
 * channels, kind) against the store through db: BR_ECAMPAIGNID,
 * BR_EVARIANT, BR_EVARUNSPEC, BR_EMSGTYPE with why. *doc gets the
 * campaign's document (NULL when the request names none). */
int dsp_check_campaign(sqlite3 *db, json_object *req, json_object **doc, char *why, size_t whylen);

typedef struct {
    json_object *req;   /* borrowed */
    const char *id;     /* the dispatch id to use */
    int64_t now_ms;
    /* out of dsp_resolve_read */
    json_object *campaign;  /* the campaign's document, or NULL */
    bitmap_t *rows;
    int64_t skipped;        /* recipients that named nobody, or were outside the segment */
    json_object *props;     /* {"row": trigger_properties} of recipients that had some, or NULL */
    char why[400];
    /* dsp_insert_op: the schedule it fires (NULL: none) and the version
     * that was read; BR_ENOTFOUND when that schedule was updated or deleted
     * since (the scheduler reads it again) */
    const char *schedule_id;
    int64_t schedule_updated_at;
    /* A wave of a local-time or optimal-time schedule (timing.h): rows
     * are kept only when due at wave_at and not in sent (the rows earlier
     * waves went to, which the insert op stores with this wave's added);
     * fallback_hour is found from the audience at the first wave
     * (has_fallback false). A wave with no rows writes no dispatch. */
    int64_t wave_at, next_wave; /* next_wave 0: the last wave */
    bitmap_t *sent;
    int fallback_hour;
    bool has_fallback;
} dsp_new;

/* ENG_READ: resolves n->req's audience. BR_ENOTFOUND/BR_EINVAL (why) for a
 * segment that is unknown or no longer compiles, the campaign errors of
 * dsp_check_campaign. */
int dsp_resolve_read(engine_t *e, void *arg);
/* Store op: writes the dispatch (and marks its schedule fired). */
int dsp_insert_op(sqlite3 *db, void *arg);
void dsp_new_clear(dsp_new *n);

typedef struct dispatcher dispatcher;

/* Starts the dispatcher on e's store with the channels it delivers
 * through (webhook.h). Resumes every dispatch still sending. Users of the
 * Global Control Group (gcg, may be NULL) get no message; neither do users
 * the workspace's frequency caps (store/messaging.h) have no room for,
 * unless the request overrides them or the campaign does not obey them:
 * both are counted as skipped. */
struct gcg;
/* Email goes out through the relays of the store (store/relays.h, read
 * again at every send and every second: send/relays.h) and smtp's, named
 * "default", when smtp->url is set; smtp->dkim (may be NULL) signs. smtp
 * may be NULL. With no relay, email messages fail ("no email relay is
 * configured"). */
dispatcher *dsp_start(engine_t *e, const struct gcg *gcg, const smtp_opts *smtp);
/* The base of the links emails carry back to the server (send/links.h:
 * the public URL, known once the server listens) and the key that signs
 * them. The dispatcher renders no email before it has them. */
void dsp_set_links(dispatcher *d, const char *base, const uint8_t key[32]);
/* Whether d has a driver for a channel (msg_channel): for email, whether
 * it has a relay now. Any thread. */
bool dsp_delivers(const dispatcher *d, int channel);
/* Whether email goes out through the relay named name now. Any thread. */
bool dsp_relay_in_use(const dispatcher *d, const char *name);
/* A dispatch was written: look for it now rather than at the next poll. */
void dsp_wake(dispatcher *d);
/* The relays were changed in the store: returns once the dispatcher read
 * them again (at most ~2 s), so dsp_delivers and the next message go by
 * them. */
void dsp_sync_relays(dispatcher *d);
/* Stops issuing, records nothing more, stops the channels (messages in
 * flight are re-sent at the next start) and frees d. Before engine_stop. */
void dsp_stop(dispatcher *d);

#endif
