/* relays.c -- the email channel over several SMTP relays (relays.h).
 *
 * The set is a send_channel whose submit() picks a relay and hands the
 * message to that relay's SMTP channel, created with this file's done
 * callback: a message comes back here after each relay, and either goes
 * on to another relay (its relay failed itself, m->relay_down, and the
 * set told that relay not to retry it, m->failover) or to the dispatcher.
 *
 * One mutex guards the list, the counts and the cool-downs; no channel is
 * called under it. A relay is freed only once retired with nothing held
 * (held counts messages handed to it and not yet back), by rly_update on
 * the dispatcher's thread: a message on its way into a relay's submit()
 * is already counted, so the relay cannot go away under it. */
#include "relays.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RLY_MAX 32           /* relays in the list (the store keeps 16, plus BRASA_SMTP_URL's) */
#define COOL_MIN_MS 1000     /* a relay that failed itself is passed over this long... */
#define COOL_MAX_MS 30000    /* ...doubling with each failure in a row, up to this */

typedef struct relay relay;
struct relay {
    rly_set *set;
    char *name, *url, *user, *password;
    smtp_opts o;         /* its strings are the four above */
    send_channel *ch;
    size_t held;         /* (set->mu) messages handed to ch and not back */
    int fails;           /* (set->mu) failures of its own in a row */
    int64_t down_until;  /* (set->mu) monotonic ms */
    relay *next;         /* (set->mu) in the retired list */
};

struct rly_set {
    send_channel base; /* first: a set is its channel */
    send_done_fn done;
    void *ud;
    pthread_mutex_t mu; /* guards what follows */
    relay *live[RLY_MAX];
    int nlive;
    relay *retired;
    unsigned rr;
    size_t pending;
    bool stopping;
};

int rly_pick(const rly_cand *c, int n, int64_t now_ms, unsigned *rr) {
    bool any_up = false;
    for (int i = 0; i < n; i++) any_up |= !c[i].skip && c[i].down_until <= now_ms;
    int best = -1;
    for (int k = 0; k < n; k++) {
        int i = (int)((*rr + (unsigned)k) % (unsigned)n);
        if (c[i].skip || (any_up && c[i].down_until > now_ms)) continue;
        /* held/weight compared without division: a.held * b.weight. */
        if (best < 0 || (double)c[i].held * c[best].weight < (double)c[best].held * c[i].weight) best = i;
    }
    if (best >= 0) *rr = (unsigned)best + 1;
    return best;
}

/* The relay for m, other than `not`; NULL when there is none. (mu) */
static relay *choose(rly_set *s, const relay *not) {
    rly_cand c[RLY_MAX];
    for (int i = 0; i < s->nlive; i++)
        c[i] = (rly_cand){s->live[i]->o.max_connections, s->live[i]->held, s->live[i]->down_until, s->live[i] == not};
    int i = rly_pick(c, s->nlive, clock_mono_us() / 1000, &s->rr);
    return i < 0 ? NULL : s->live[i];
}

/* m goes to r: the last relay left to try retries it itself. (mu) */
static void assign(rly_set *s, relay *r, send_msg *m) {
    r->held++;
    m->failover = m->hops + 1 < s->nlive;
    if (m->hops < UINT8_MAX) m->hops++;
    m->relay_down = false;
}

static void finish(rly_set *s, send_msg *m) {
    s->done(s->ud, m);
    pthread_mutex_lock(&s->mu);
    s->pending--;
    pthread_mutex_unlock(&s->mu);
}

/* Each relay's done(): on to another relay, or back to the dispatcher. */
static void relay_done(void *ud, send_msg *m) {
    relay *r = ud, *next = NULL;
    rly_set *s = r->set;
    pthread_mutex_lock(&s->mu);
    r->held--;
    int64_t now = clock_mono_us() / 1000;
    if (!m->relay_down) {
        if (m->outcome != SEND_FAILED || m->status >= 400) { /* it answered */
            if (r->fails) log_info("email: relay '%s' answers again", r->name);
            r->fails = 0;
            r->down_until = 0;
        }
    } else if (r->down_until <= now) { /* failures while it cools down are the same outage */
        int64_t cool = COOL_MIN_MS;
        for (int i = 0; i < r->fails && cool < COOL_MAX_MS; i++) cool *= 2;
        r->down_until = now + (cool < COOL_MAX_MS ? cool : COOL_MAX_MS);
        if (!r->fails++ && s->nlive > 1)
            log_warn("email: relay '%s' failed (%s): the other relays take its messages while it cools down", r->name,
                     m->error);
    }
    if (m->relay_down && m->failover && !s->stopping) {
        bool live = false;
        for (int i = 0; i < s->nlive; i++) live |= s->live[i] == r;
        /* Another relay; or, the others gone meanwhile, this one's retries. */
        if (!(next = choose(s, r)) && live) next = r;
        if (next) assign(s, next, m);
    }
    pthread_mutex_unlock(&s->mu);
    if (next) next->ch->submit(next->ch, m);
    else finish(s, m);
}

static void submit(send_channel *c, send_msg *m) {
    rly_set *s = (rly_set *)c;
    m->hops = 0;
    pthread_mutex_lock(&s->mu);
    s->pending++;
    relay *r = choose(s, NULL);
    if (r) assign(s, r, m);
    pthread_mutex_unlock(&s->mu);
    if (r) {
        r->ch->submit(r->ch, m);
        return;
    }
    m->outcome = SEND_FAILED;
    m->status = 0;
    snprintf(m->error, sizeof m->error, "no email relay is configured");
    finish(s, m);
}

static size_t pending(send_channel *c) {
    rly_set *s = (rly_set *)c;
    pthread_mutex_lock(&s->mu);
    size_t n = s->pending;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void relay_free(relay *r) {
    if (r->ch) r->ch->free(r->ch);
    free(r->name);
    free(r->url);
    free(r->user);
    if (r->password) memset(r->password, 0, strlen(r->password));
    free(r->password);
    free(r);
}

/* Stops every relay, the retired ones too: messages that come back stay
 * with the relay they were on (stopping: no failover). */
static void stop(send_channel *c, bool drain) {
    rly_set *s = (rly_set *)c;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nlive; i++) s->live[i]->ch->stop(s->live[i]->ch, drain);
    for (relay *r = s->retired; r; r = r->next) r->ch->stop(r->ch, drain);
}

static void set_free(send_channel *c) {
    rly_set *s = (rly_set *)c;
    for (int i = 0; i < s->nlive; i++) relay_free(s->live[i]);
    for (relay *r = s->retired, *next; r; r = next) {
        next = r->next;
        relay_free(r);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

rly_set *rly_new(send_done_fn done, void *ud) {
    rly_set *s = xcalloc(1, sizeof *s);
    s->base = (send_channel){"email", submit, pending, stop, set_free};
    s->done = done;
    s->ud = ud;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

send_channel *rly_channel(rly_set *s) { return &s->base; }

static bool same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static bool same(const relay *r, const rly_relay *c) {
    const smtp_opts *a = &r->o, *b = &c->o;
    return !strcmp(r->name, c->name) && same_str(a->url, b->url) && same_str(a->user, b->user) &&
           same_str(a->password, b->password) && a->require_tls == b->require_tls && a->insecure_tls == b->insecure_tls &&
           a->max_connections == b->max_connections && a->rate_per_second == b->rate_per_second &&
           a->connect_timeout_ms == b->connect_timeout_ms && a->timeout_ms == b->timeout_ms &&
           a->max_attempts == b->max_attempts && a->base_backoff_ms == b->base_backoff_ms &&
           a->max_backoff_ms == b->max_backoff_ms;
}

/* The URL for logs: without a user and password, should it carry them
 * (BRASA_SMTP_URL may). */
static void url_for_log(const char *url, char *out, size_t size) {
    const char *host = strstr(url, "://"), *at;
    host = host ? host + 3 : url;
    size_t auth = strcspn(host, "/?#");
    if ((at = memchr(host, '@', auth))) snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
    else snprintf(out, size, "%s", url);
}

/* smtp_opts.down: whether r cools down (its messages that may fail over
 * go to another relay rather than wait on it). */
static bool relay_down(void *ud) {
    relay *r = ud;
    pthread_mutex_lock(&r->set->mu);
    bool down = r->down_until > clock_mono_us() / 1000;
    pthread_mutex_unlock(&r->set->mu);
    return down;
}

static relay *relay_new(rly_set *s, const rly_relay *c) {
    relay *r = xcalloc(1, sizeof *r);
    r->set = s;
    r->name = xstrdup(c->name);
    r->o = c->o;
    r->o.down = relay_down;
    r->o.down_ud = r;
    r->o.url = r->url = xstrdup(c->o.url);
    r->o.user = r->user = c->o.user ? xstrdup(c->o.user) : NULL;
    r->o.password = r->password = c->o.password ? xstrdup(c->o.password) : NULL;
    if (!(r->ch = smtp_new(&r->o, relay_done, r))) {
        log_error("email: relay '%s' left out", c->name);
        relay_free(r);
        return NULL;
    }
    char u[256];
    url_for_log(r->url, u, sizeof u);
    log_info("email: relay '%s' at %s, up to %d sessions%s", r->name, u,
             r->o.max_connections > 0 ? r->o.max_connections : 16, r->o.rate_per_second ? ", rate-limited" : "");
    return r;
}

int rly_update(rly_set *s, const rly_relay *relays, int n) {
    if (n > RLY_MAX) {
        log_warn("email: %d relays, only the first %d are used", n, RLY_MAX);
        n = RLY_MAX;
    }
    /* Only this thread changes the list: read without the lock. */
    relay *next[RLY_MAX];
    int nn = 0;
    bool kept[RLY_MAX] = {false};
    for (int i = 0; i < n; i++) {
        relay *r = NULL;
        for (int k = 0; k < s->nlive && !r; k++)
            if (!kept[k] && same(s->live[k], &relays[i])) kept[k] = true, r = s->live[k];
        if (r || (r = relay_new(s, &relays[i]))) next[nn++] = r;
    }
    relay *reap = NULL;
    pthread_mutex_lock(&s->mu);
    for (int k = 0; k < s->nlive; k++)
        if (!kept[k]) {
            log_info("email: relay '%s' retired: it delivers what it holds, then closes", s->live[k]->name);
            s->live[k]->next = s->retired;
            s->retired = s->live[k];
        }
    memcpy(s->live, next, (size_t)nn * sizeof *next);
    s->nlive = nn;
    for (relay **pp = &s->retired; *pp;) {
        relay *r = *pp;
        if (r->held) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->next = reap;
        reap = r;
    }
    pthread_mutex_unlock(&s->mu);
    /* Nothing held: its threads end at once. */
    for (relay *r = reap, *rn; r; r = rn) {
        rn = r->next;
        r->ch->stop(r->ch, false);
        relay_free(r);
    }
    return nn;
}

int rly_count(rly_set *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->nlive;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool rly_has(rly_set *s, const char *name) {
    bool has = false;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nlive && !has; i++) has = !strcmp(s->live[i]->name, name);
    pthread_mutex_unlock(&s->mu);
    return has;
}
