/* ratelimit.h -- request rate limits per API key and endpoint group.
 *
 * Braze limits requests per endpoint group over a fixed window (an hour for
 * the shared default, 3 seconds for /users/track, ...), and reports the state
 * in X-RateLimit-Limit / -Remaining / -Reset (the window's end, epoch
 * seconds). brasa counts per key and group over windows aligned to the epoch,
 * so Reset is the same for every client and matches Braze's "top of the
 * hour" values. Defaults are Braze's (spec, "Numbers"); each is configurable
 * and 0 disables a group. */
#ifndef BR_RATELIMIT_H
#define BR_RATELIMIT_H
#include <stdint.h>

/* XX(id, name, default limit, default window in seconds) */
#define RL_GROUP_MAP(XX)                                                      \
    XX(DEFAULT, "default", 250000, 3600)                                      \
    XX(USERS_TRACK, "users.track", 3000, 3)                                   \
    XX(USERS_EXPORT_IDS, "users.export.ids", 250, 60)                         \
    XX(USERS_IDENTITY, "users.identity", 20000, 60)                           \
    XX(USERS_EXTERNAL_IDS, "users.external_ids", 1000, 60)                    \
    XX(EVENTS_LIST, "events.list", 1000, 3600)                                \
    XX(CAMPAIGNS_DATA_SERIES, "campaigns.data_series", 50000, 60)             \
    XX(SUBSCRIPTION_STATUS_SET, "subscription.status.set", 5000, 60)

typedef enum {
#define XX(id, name, limit, window) RL_##id,
    RL_GROUP_MAP(XX)
#undef XX
    RL__COUNT
} rl_group;

typedef struct {
    uint32_t limit[RL__COUNT];  /* 0 = not limited */
    uint32_t window[RL__COUNT]; /* seconds */
} rl_config;

typedef struct {
    uint32_t limit;     /* 0 when the group is not limited */
    uint32_t remaining;
    int64_t reset;      /* epoch seconds */
} rl_state;

typedef struct rl rl_t;

void rl_defaults(rl_config *c);
/* Applies "users.track=6000/3s,default=0" to c (windows: s, m, h, d; the
 * window may be left out to keep the current one). Returns 0, or BR_EINVAL
 * with a message in *why (caller frees). */
int rl_parse(rl_config *c, const char *spec, char **why);
const char *rl_group_name(rl_group g);
/* Prints the groups, their defaults and current values (for --help). */
void rl_describe(const rl_config *c, char *out, unsigned outlen);

rl_t *rl_new(const rl_config *c);
void rl_free(rl_t *r);
/* Counts one request of key in group g at now (epoch seconds); fills *st.
 * Returns 0, or BR_ERATE when the window's budget is spent. */
int rl_take(rl_t *r, int64_t key, rl_group g, int64_t now, rl_state *st);

#endif
