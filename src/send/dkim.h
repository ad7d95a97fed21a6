/* dkim.h -- DKIM signatures (RFC 6376) on the email channel's messages,
 * made by Debian's libopendkim, with a key the operator provides.
 *
 * Off unless serve is given --dkim-domain, --dkim-selector and --dkim-key.
 * One signer is made at start-up and shared by the render threads: it
 * holds libopendkim's library handle (which is made for that) and the key,
 * and every message gets a signing handle of its own. Signatures are
 * rsa-sha256 with relaxed/relaxed canonicalisation over the headers bulk
 * senders (SES, Braze's) sign, those of them a message has: From, To,
 * Subject, Date, Message-ID, MIME-Version, Content-Type, Reply-To,
 * List-Unsubscribe and List-Unsubscribe-Post.
 *
 * The cost is the CPU's: libopendkim reads the key afresh for every
 * message (its API takes the key's text, not a loaded key), and OpenSSL's
 * first signature with a freshly read RSA key sets up what later ones
 * reuse, so a message takes ~1.3 ms of a core with a 2048-bit key, four
 * times one signature with a loaded key (docs/email.md).
 *
 * Only mail From the signing domain or a subdomain of it is signed: a
 * signature of another domain does not align with the From domain, so
 * DMARC gains nothing from it and receivers would read it as a third
 * party's. Those messages go out unsigned and are counted.
 *
 * libopendkim's own functions take the dkim_ prefix; this module's are
 * dkim_signer_. */
#ifndef BR_SEND_DKIM_H
#define BR_SEND_DKIM_H
#include <stddef.h>
#include <stdint.h>

typedef struct dkim_signer dkim_signer;

/* Makes a signer for domain and selector (each a DNS name of LDH labels)
 * with the PEM private key (an RSA key of 1024 bits or more) in the file
 * key_path, and signs a probe message with it, so that what would fail
 * at every message fails now. NULL with why (naming the option at fault:
 * "--dkim-key: ...") otherwise. */
dkim_signer *dkim_signer_new(const char *domain, const char *selector, const char *key_path, char *why,
                             size_t whylen);
void dkim_signer_free(dkim_signer *s);

/* The message msg[0..*len) (malloc'd, CRLF line ends, as mime_build
 * writes it) with a DKIM-Signature header put in front of it, when from
 * (the From address) is in the signer's domain: *msg and *len are
 * replaced. Returns 1 when signed; 0 when left as is: from is in another
 * domain, or libopendkim failed (logged). Safe from several threads. */
int dkim_signer_prepend(dkim_signer *s, char **msg, size_t *len, const char *from);

typedef struct {
    uint64_t signed_;   /* messages signed */
    uint64_t other;     /* unsigned: From in another domain */
    uint64_t failed;    /* unsigned: libopendkim failed */
} dkim_signer_stats;

dkim_signer_stats dkim_signer_get_stats(const dkim_signer *s);
const char *dkim_signer_domain(const dkim_signer *s);

#endif
