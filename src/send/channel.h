/* channel.h -- the boundary between the dispatcher and a channel driver
 * (webhook.c for webhooks, smtp.c for email).
 *
 * The dispatcher renders a recipient's message into a send_msg and hands
 * it to the driver with submit(); the driver delivers it on its own
 * thread(s), retrying what may be retried, and calls the done callback it
 * was created with exactly once per message, with the final outcome.
 * Drivers never touch SQLite or the engine: outcomes go back to the
 * dispatcher, which records them durably in batches. */
#ifndef BR_SEND_CHANNEL_H
#define BR_SEND_CHANNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SEND_OK,       /* delivered: the receiver accepted it (2xx) */
    SEND_FAILED,   /* a final failure: 4xx, or retries exhausted (for SMTP:
                      4xx or an unreachable relay until then, a soft bounce) */
    SEND_BOUNCED,  /* the recipient refused for good (SMTP 5xx): no retry */
} send_outcome;

typedef struct send_msg send_msg;
struct send_msg {
    /* set by the dispatcher */
    void *owner;             /* the dispatcher's (its chunk) */
    uint32_t index;          /* the dispatcher's (position in the chunk) */
    char message_id[112];    /* stable across re-sends: dispatch, user, channel */
    char *url;               /* malloc'd; webhook only */
    char method[8];          /* webhook only */
    char **headers;          /* "Name: value", malloc'd, NULL-terminated; may be NULL; webhook only */
    char *body;              /* malloc'd, may be NULL; for email the whole
                                RFC 5322 message (headers and body, CRLF lines) */
    size_t body_len;
    char *mail_from;         /* email: the envelope sender, malloc'd */
    char **rcpt;             /* email: the envelope recipients (the To address,
                                then Bcc ones), malloc'd, NULL-terminated */
    /* set by the driver before done() */
    send_outcome outcome;
    int status;              /* the last HTTP status or SMTP reply code, 0 when none came */
    int attempts;
    int64_t duration_ms;     /* of the last attempt */
    char error[160];         /* what failed, for SEND_FAILED and SEND_BOUNCED:
                                the receiver's answer (an SMTP reply line) or
                                the transport's error */
    /* between the email channel over several relays (relays.c) and the
     * SMTP driver under it */
    bool failover;           /* relays.c: when the relay itself fails, give m back at once
                                (relay_down) rather than retrying on it */
    bool relay_down;         /* the driver, after an attempt: it failed for the relay's own
                                doing (connection, TLS, greeting, AUTH, timeout), not an answer to m */
    uint8_t hops;            /* relays.c: relays tried */
    /* the driver's */
    int64_t first_at, retry_at;
    send_msg *next;
};

/* Frees the dispatcher-set fields of m (not m). */
void send_msg_clear(send_msg *m);

typedef void (*send_done_fn)(void *ud, send_msg *m);

typedef struct send_channel send_channel;
struct send_channel {
    const char *name;
    /* Queues m for delivery; thread-safe; m stays the caller's memory and
     * must live until done(m). */
    void (*submit)(send_channel *c, send_msg *m);
    /* Messages queued or in flight. */
    size_t (*pending)(send_channel *c);
    /* Stops: messages not yet delivered get done() with SEND_FAILED and
     * error "stopped" only when `drain` is false; else waits for them. */
    void (*stop)(send_channel *c, bool drain);
    void (*free)(send_channel *c);
};

#endif
