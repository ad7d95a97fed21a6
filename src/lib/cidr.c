/* cidr.c -- IP allowlist parsing and matching (see cidr.h). */
#include "cidr.h"
#include "err.h"
#include "mem.h"
#include "str.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void map_v4(const void *v4, uint8_t out[16]) {
    memcpy(out, v4mapped, 12);
    memcpy(out + 12, v4, 4);
}

int cidr_parse(const char *s, cidr_t *out) {
    char host[64];
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    if (hl == 0 || hl >= sizeof host) return BR_EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';

    int max, base;
    uint8_t v4[4];
    if (inet_pton(AF_INET, host, v4) == 1) {
        map_v4(v4, out->addr);
        max = 32;
        base = 96;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        max = 128;
        base = 0;
    } else {
        return BR_EINVAL;
    }

    int prefix = max;
    if (slash) {
        const char *p = slash + 1;
        if (*p < '0' || *p > '9' || strlen(p) > 3) return BR_EINVAL;
        char *end;
        long v = strtol(p, &end, 10);
        if (*end || v < 0 || v > max) return BR_EINVAL;
        prefix = (int)v;
    }
    out->prefix = (uint8_t)(base + prefix);
    /* Clear host bits so contains() can compare whole bytes. */
    for (int bit = out->prefix; bit < 128; bit++) out->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
    return 0;
}

int cidr_parse_list(const char *s, cidr_t **out) {
    *out = NULL;
    int n = 0, cap = 0;
    const char *item;
    size_t len;
    while ((item = str_item(&s, &len))) {
        char one[80];
        if (len >= sizeof one) goto bad;
        memcpy(one, item, len);
        one[len] = '\0';
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = xrealloc(*out, (size_t)cap * sizeof **out);
        }
        if (cidr_parse(one, &(*out)[n]) < 0) goto bad;
        n++;
    }
    return n;
bad:
    free(*out);
    *out = NULL;
    return BR_EINVAL;
}

bool cidr_contains(const cidr_t *c, const uint8_t addr[16]) {
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, addr, (size_t)full) != 0) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (addr[full] & mask) == c->addr[full];
}

int cidr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]) {
    if (!sa) return BR_EINVAL;
    if (sa->sa_family == AF_INET) {
        map_v4(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, out);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return 0;
    }
    return BR_EINVAL;
}

void cidr_addr_str(const uint8_t addr[16], char *out, unsigned outlen) {
    if (memcmp(addr, v4mapped, 12) == 0)
        inet_ntop(AF_INET, addr + 12, out, outlen);
    else
        inet_ntop(AF_INET6, addr, out, outlen);
}
