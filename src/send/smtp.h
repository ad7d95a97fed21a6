/* smtp.h -- the email channel's driver: each message handed over to one
 * SMTP relay over libcurl multi (curlq.h), with up to max_connections
 * sessions to the relay (a thread each), reused across messages, an
 * optional rate, timeouts, and retries with exponential backoff.
 *
 * Outcomes: 250 after DATA is SEND_OK; a 5xx to MAIL FROM, RCPT TO or
 * DATA is SEND_BOUNCED at once (the relay refused for good); a 4xx or a
 * transport error is retried, then SEND_FAILED (a soft bounce, or the
 * relay unreachable). A 5xx before any message (the greeting, EHLO, AUTH)
 * is SEND_FAILED at once: the relay refuses us, not the recipient. status
 * is the last reply code, error the relay's reply line or curl's error.
 *
 * Anything but an answer to the message (a connection, TLS, greeting,
 * EHLO or AUTH failure, a timeout) sets m->relay_down; when m->failover
 * is set (relays.h: other relays are left to try), such a failure ends
 * the message at once rather than retrying it here. */
#ifndef BR_SEND_SMTP_H
#define BR_SEND_SMTP_H
#include "channel.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *url;             /* smtp://host:port or smtps://host:port (required) */
    const char *user, *password; /* AUTH, optional */
    bool require_tls;            /* smtp://: STARTTLS required (CURLUSESSL_ALL) rather than opportunistic (CURLUSESSL_TRY) */
    bool insecure_tls;           /* skip certificate verification (tests with self-signed relays only) */
    int max_connections;         /* default 16 (at most 128): concurrent SMTP sessions, a thread each */
    int rate_per_second;         /* 0: unlimited; else messages started per second, smoothed (token bucket) */
    long connect_timeout_ms;     /* default 10,000 */
    long timeout_ms;             /* per message, default 60,000 */
    int max_attempts;            /* default 5 (4xx and transport errors retried) */
    long base_backoff_ms;        /* default 2,000, doubled per attempt */
    long max_backoff_ms;         /* default 300,000 */
    struct dkim_signer *dkim;    /* not the relay's: the dispatcher signs each message with it (dkim.h); NULL: none */
    /* Over several relays (relays.h): asked as an attempt at a message
     * that may fail over (m->failover) starts; true when the relay is
     * known down, and the message goes back at once (relay_down) rather
     * than waiting on it. NULL: never asked. */
    bool (*down)(void *ud);
    void *down_ud;
} smtp_opts;

/* Starts the channel's threads. The options' strings are copied. Returns
 * NULL (and logs why) when o->url is missing or not smtp:// or smtps://.
 * Each message's body is the whole RFC 5322 message (CRLF line ends: it
 * goes out as is, dot-stuffed by libcurl), mail_from and rcpt its envelope.
 * Env overrides for tests/operators (when the option is 0):
 * BRASA_SMTP_ATTEMPTS, BRASA_SMTP_BACKOFF_MS, BRASA_SMTP_TIMEOUT_MS. */
send_channel *smtp_new(const smtp_opts *o, send_done_fn done, void *ud);

/* One message to the relay and back, synchronously, for `brasa smtp test`:
 * a short text message from `from` to `to`, no retry. Returns 0, or -1
 * with why (the relay's reply line, or curl's error) in why. */
int smtp_probe(const smtp_opts *o, const char *from, const char *to, char *why, size_t whylen);

#endif
