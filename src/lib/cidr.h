/* cidr.h -- IP allowlists: single addresses and CIDR ranges, IPv4 and IPv6.
 *
 * Everything is kept as a 16-byte IPv6 address; an IPv4 address or range is
 * stored IPv4-mapped (::ffff:a.b.c.d, prefix + 96), so an IPv4 client that
 * reaches a dual-stack socket as ::ffff:a.b.c.d matches "a.b.c.0/24". */
#ifndef BR_CIDR_H
#define BR_CIDR_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    uint8_t addr[16];
    uint8_t prefix; /* 0..128 */
} cidr_t;

/* Parses "1.2.3.4", "1.2.3.0/24", "::1", "2001:db8::/32".
 * Returns 0, or BR_EINVAL for anything else (host bits set are cleared). */
int cidr_parse(const char *s, cidr_t *out);
/* Parses a comma-separated list (spaces allowed) into *out (caller frees).
 * Empty string gives 0 entries. Returns the count, or BR_EINVAL. */
int cidr_parse_list(const char *s, cidr_t **out);
/* True when the 16-byte address lies in c. */
bool cidr_contains(const cidr_t *c, const uint8_t addr[16]);
/* Converts a sockaddr (AF_INET or AF_INET6) into the 16-byte form.
 * Returns 0, or BR_EINVAL for other families. */
int cidr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]);
/* Writes the address in printable form (IPv4-mapped shown as IPv4). */
void cidr_addr_str(const uint8_t addr[16], char *out, unsigned outlen);

#endif
