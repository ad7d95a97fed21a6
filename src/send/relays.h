/* relays.h -- the email channel over several SMTP relays: a send_channel
 * (channel.h) that hands each message to one of its relays, each an SMTP
 * channel of its own (smtp.h: its own sessions, concurrency, rate and
 * timeouts), and that the dispatcher gives a new list of relays whenever
 * the store's changes (store/relays.h), without a restart.
 *
 * Which relay: the one with the fewest messages in hand for its weight
 * (its max_connections), round robin among equals; a relay that has just
 * failed at the connection level is passed over while it cools down, and
 * the messages already queued on it go elsewhere without trying it. A
 * message whose relay failed itself (refused, unreachable, TLS, a greeting
 * or AUTH refused, a timeout: not an answer to the message) goes to
 * another relay at once rather than into that relay's retries; on the
 * last relay left to try it retries as on a single relay (smtp.h), a soft
 * bounce when those run out.
 *
 * A relay dropped from the list takes no new message; it delivers what it
 * holds (retries included), then its sessions close and it is freed. */
#ifndef BR_SEND_RELAYS_H
#define BR_SEND_RELAYS_H
#include "channel.h"
#include "smtp.h"

typedef struct rly_set rly_set;

/* One relay of the list: a name (for logs and rly_has) and its options
 * (strings copied by rly_update). */
typedef struct {
    const char *name;
    smtp_opts o;
} rly_relay;

/* A set with no relay yet; done is called once per message, as for any
 * channel. */
rly_set *rly_new(send_done_fn done, void *ud);
/* The set as a channel (freed with it). Submitted with no relay, a
 * message fails at once: "no email relay is configured". */
send_channel *rly_channel(rly_set *s);
/* Makes relays[0..n) the list: a relay whose name and options are
 * unchanged keeps its sessions; a new or changed one starts; the others
 * retire (see above). A relay whose URL smtp_new refuses is left out
 * (and logged). From one thread at a time (the dispatcher's). Returns how
 * many relays the set sends through. */
int rly_update(rly_set *s, const rly_relay *relays, int n);
/* Relays sent through now (any thread). */
int rly_count(rly_set *s);
/* Whether a relay named name is sent through now (any thread). */
bool rly_has(rly_set *s, const char *name);

/* ---- the choice, apart for its tests ------------------------------------- */

typedef struct {
    int weight;            /* max_connections */
    size_t held;           /* messages handed to it and not done */
    int64_t down_until;    /* ms (monotonic): cooling down after a failure of its own until then */
    bool skip;             /* not a candidate (the relay that just failed the message) */
} rly_cand;

/* The relay for a message among c[0..n): the candidates not cooling down
 * (all of them when every one is), the least held per weight among them,
 * the first from *rr (advanced past it) on a tie. -1 when none. */
int rly_pick(const rly_cand *c, int n, int64_t now_ms, unsigned *rr);

#endif
