/* head.h -- RFC 9112 checks of a request head, before anything is decided.
 *
 * libmicrohttpd 0.9.75 is lenient where a lenient server can be made to
 * read one request as two (request smuggling): it takes a body framed by
 * Transfer-Encoding even when Content-Length is there too, keeps the first
 * of two Content-Length values, reads a body of an unknown transfer coding
 * until the client closes, and accepts whitespace before a header's colon,
 * bare CRs and NULs inside header values, and spaces in the request-target.
 * A proxy in front of brasa may read any of these differently. So brasa
 * refuses them all when the head is in, before routing, with a JSON error,
 * and closes the connection: after such a request nothing that follows on
 * the connection can be trusted to start where libmicrohttpd thinks.
 *
 * What libmicrohttpd refuses itself, before brasa sees the request, is
 * listed in docs/operations.md ("What libmicrohttpd answers itself"). */
#ifndef BR_HTTP_HEAD_H
#define BR_HTTP_HEAD_H
#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;

/* One header field line as parsed. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} http_field;

/* A request head: the request-target as received and the header fields in
 * the order they came. */
typedef struct {
    const char *target;
    size_t target_len;
    bool http10; /* HTTP/1.0; anything else that reaches brasa is HTTP/1.1 */
    const http_field *fields;
    int nfields;
} http_head;

/* Checks h against RFC 9112's rules for a request brasa can frame the same
 * way as any proxy in front of it. Returns 0, or BR_EINVAL (400) or
 * BR_ETENCODING (501) with the reason in why. */
int http_head_check(const http_head *h, char *why, size_t whylen);

/* Collects the header fields of the request on c into *out (an array the
 * caller frees, *n entries) and checks that libmicrohttpd's parse hid
 * nothing: a NUL in a header value or in the request-target cuts the C
 * string libmicrohttpd hands out ("Bearer KEY\0junk" reads as "Bearer
 * KEY"), and a folded header line (obs-fold) is glued to another. method
 * and version are the pointers libmicrohttpd passed to the access handler,
 * target_at the one it passed to the URI log callback (the request-target
 * as received, target_len bytes before the first NUL). Returns 0, or
 * BR_EINVAL with the reason in why (*out is set either way). */
int http_head_collect(struct MHD_Connection *c, const char *method, const char *version,
                      const char *target_at, size_t target_len, http_field **out, int *n, char *why,
                      size_t whylen);

#endif
