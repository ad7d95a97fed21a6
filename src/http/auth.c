/* auth.c -- the credential cache and checks (see auth.h). */
#include "auth.h"
#include "../lib/cidr.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/secret.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_REST, KIND_IMPORT };

typedef struct entry {
    uint8_t hash[SECRET_HASH_LEN];
    int kind;
    int64_t fetched_us; /* monotonic */
    /* REST keys */
    auth_ident ident;
    cidr_t *allow;
    int nallow;
    int64_t last_used_ms, flushed_ms;
    /* data import keys */
    char partner[80];
    int64_t expires_at;
    struct entry *next;
} entry;

/* A partner's expected partner_api_key. */
typedef struct setting {
    char partner[80];
    bool has;
    uint8_t hash[SECRET_HASH_LEN];
    int64_t fetched_us;
    struct setting *next;
} setting;

#define NBUCKETS 256
/* Settings are cached per path segment, which clients choose: past this
 * many the cache starts over rather than grow. */
#define MAX_SETTINGS 1024

struct auth {
    auth_loader loader;
    int64_t ttl_us;
    pthread_mutex_t lock; /* guards the caches and touched */
    entry *buckets[NBUCKETS];
    setting *settings;
    int nsettings;
    pthread_mutex_t load_lock; /* serialises the loader: cache misses only */
    /* Last-use times of entries dropped before they were handed out. */
    auth_touch *touched;
    int ntouched, captouched;
};

auth_t *auth_new(const auth_loader *loader, int64_t ttl_ms) {
    auth_t *a = xcalloc(1, sizeof *a);
    a->loader = *loader;
    a->ttl_us = ttl_ms * 1000;
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->load_lock, NULL);
    return a;
}

static void entry_free(entry *e) {
    free(e->allow);
    free(e);
}

static void drop_settings(auth_t *a) {
    for (setting *s = a->settings, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    a->settings = NULL;
    a->nsettings = 0;
}

void auth_free(auth_t *a) {
    if (!a) return;
    for (int i = 0; i < NBUCKETS; i++)
        for (entry *e = a->buckets[i], *n; e; e = n) {
            n = e->next;
            entry_free(e);
        }
    drop_settings(a);
    free(a->touched);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->load_lock);
    free(a);
}

static void remember_touch(auth_t *a, entry *e) {
    if (e->kind != KIND_REST || e->last_used_ms <= e->flushed_ms) return;
    if (a->ntouched == a->captouched) {
        a->captouched = a->captouched ? a->captouched * 2 : 16;
        a->touched = xrealloc(a->touched, (size_t)a->captouched * sizeof *a->touched);
    }
    a->touched[a->ntouched++] = (auth_touch){e->ident.id, e->last_used_ms};
    e->flushed_ms = e->last_used_ms;
}

/* Unlinks and returns the entry for (kind, hash) (caller holds lock). */
static entry *unlink_entry(auth_t *a, int kind, const uint8_t h[SECRET_HASH_LEN]) {
    for (entry **pp = &a->buckets[h[0]]; *pp; pp = &(*pp)->next)
        if ((*pp)->kind == kind && memcmp((*pp)->hash, h, SECRET_HASH_LEN) == 0) {
            entry *e = *pp;
            *pp = e->next;
            return e;
        }
    return NULL;
}

/* A new entry from the loader, or NULL for an unknown or revoked key. */
static int load(auth_t *a, int kind, const uint8_t h[SECRET_HASH_LEN], entry **out) {
    *out = NULL;
    auth_row row = {0};
    pthread_mutex_lock(&a->load_lock);
    int rc = kind == KIND_REST ? a->loader.rest_key(a->loader.arg, h, &row) : a->loader.import_key(a->loader.arg, h, &row);
    pthread_mutex_unlock(&a->load_lock);
    if (rc == 0 && !row.revoked) {
        entry *e = xcalloc(1, sizeof *e);
        memcpy(e->hash, h, SECRET_HASH_LEN);
        e->kind = kind;
        e->ident.id = row.id;
        snprintf(e->ident.name, sizeof e->ident.name, "%s", row.name);
        if (kind == KIND_REST) {
            char *bad;
            if (perm_parse(row.permissions ? row.permissions : "", &e->ident.perms, &bad) < 0) free(bad); /* unknown names: ignored */
            /* An allowlist that no longer parses admits nobody rather than everybody. */
            e->nallow = cidr_parse_list(row.allow_ips ? row.allow_ips : "", &e->allow);
            if (e->nallow < 0) e->allow = NULL;
            e->flushed_ms = e->last_used_ms = row.last_used_at;
        }
        snprintf(e->partner, sizeof e->partner, "%s", row.partner);
        e->expires_at = row.expires_at;
        *out = e;
    }
    free(row.permissions);
    free(row.allow_ips);
    return rc == BR_ENOTFOUND ? 0 : rc;
}

/* Finds the entry for (kind, hash), from the cache while fresh, else from
 * the loader, and runs fn on it under the cache lock. BR_ENOTFOUND for an
 * unknown key. */
static int with_entry(auth_t *a, int kind, const uint8_t h[SECRET_HASH_LEN], int (*fn)(entry *, void *), void *arg) {
    int64_t now_us = clock_mono_us();
    pthread_mutex_lock(&a->lock);
    for (entry *e = a->buckets[h[0]]; e; e = e->next)
        if (e->kind == kind && memcmp(e->hash, h, SECRET_HASH_LEN) == 0 && now_us - e->fetched_us <= a->ttl_us) {
            int rc = fn(e, arg);
            pthread_mutex_unlock(&a->lock);
            return rc;
        }
    entry *stale = unlink_entry(a, kind, h);
    if (stale) {
        remember_touch(a, stale);
        entry_free(stale);
    }
    pthread_mutex_unlock(&a->lock);

    entry *e;
    int rc = load(a, kind, h, &e); /* outside the cache lock */
    if (rc < 0) return rc;
    if (!e) return BR_ENOTFOUND;
    e->fetched_us = now_us;
    pthread_mutex_lock(&a->lock);
    entry *dup = unlink_entry(a, kind, h); /* another thread may have loaded it meanwhile */
    if (dup) {
        if (dup->last_used_ms > e->last_used_ms) e->last_used_ms = dup->last_used_ms;
        entry_free(dup);
    }
    e->next = a->buckets[h[0]];
    a->buckets[h[0]] = e;
    rc = fn(e, arg);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

/* ---- REST keys ----------------------------------------------------------- */

typedef struct {
    const uint8_t *client;
    perm_id need;
    auth_ident *id;
} judge_arg;

static bool ip_allowed(const entry *e, const uint8_t client[16]) {
    if (e->nallow == 0) return true;
    for (int i = 0; i < e->nallow; i++)
        if (cidr_contains(&e->allow[i], client)) return true;
    return false;
}

static int judge(entry *e, void *arg) {
    judge_arg *j = arg;
    *j->id = e->ident;
    if (!ip_allowed(e, j->client)) return BR_EIPDENIED;
    if (!perm_has(&e->ident.perms, j->need)) return BR_EPERM;
    e->last_used_ms = clock_wall_ms();
    return 0;
}

int auth_check(auth_t *a, const char *key, size_t keylen, const uint8_t client[16], perm_id need,
               auth_ident *id) {
    uint8_t h[SECRET_HASH_LEN];
    secret_hash(key, keylen, h);
    judge_arg j = {client, need, id};
    int rc = with_entry(a, KIND_REST, h, judge, &j);
    return rc == BR_ENOTFOUND ? BR_EBADKEY : rc;
}

void auth_forget(auth_t *a, int64_t id) {
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < NBUCKETS; i++)
        for (entry **pp = &a->buckets[i]; *pp;) {
            entry *e = *pp;
            if (e->kind != KIND_REST || e->ident.id != id) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            remember_touch(a, e);
            entry_free(e);
        }
    pthread_mutex_unlock(&a->lock);
}

auth_touch *auth_take_touches(auth_t *a, int *n) {
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < NBUCKETS; i++)
        for (entry *e = a->buckets[i]; e; e = e->next) remember_touch(a, e);
    auth_touch *list = a->touched;
    *n = a->ntouched;
    a->touched = NULL;
    a->ntouched = a->captouched = 0;
    pthread_mutex_unlock(&a->lock);
    return list;
}

/* ---- data import keys ---------------------------------------------------- */

/* The partner's setting, fresh from the cache or the loader, into *out. */
static int get_setting(auth_t *a, const char *partner, setting *out) {
    int64_t now = clock_mono_us();
    pthread_mutex_lock(&a->lock);
    for (setting **pp = &a->settings; *pp; pp = &(*pp)->next) {
        setting *s = *pp;
        if (strcmp(s->partner, partner)) continue;
        if (now - s->fetched_us <= a->ttl_us) {
            *out = *s;
            pthread_mutex_unlock(&a->lock);
            return 0;
        }
        *pp = s->next; /* stale */
        free(s);
        a->nsettings--;
        break;
    }
    pthread_mutex_unlock(&a->lock);

    setting *s = xcalloc(1, sizeof *s);
    snprintf(s->partner, sizeof s->partner, "%s", partner);
    pthread_mutex_lock(&a->load_lock);
    int rc = a->loader.partner_setting(a->loader.arg, partner, &s->has, s->hash);
    pthread_mutex_unlock(&a->load_lock);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->fetched_us = now;
    *out = *s;
    pthread_mutex_lock(&a->lock);
    if (a->nsettings >= MAX_SETTINGS) drop_settings(a);
    s->next = a->settings; /* a duplicate from a concurrent miss is harmless: the newest is found first */
    a->settings = s;
    a->nsettings++;
    pthread_mutex_unlock(&a->lock);
    return 0;
}

static int copy_entry(entry *e, void *arg) {
    *(entry *)arg = *e;
    return 0;
}

int auth_partner_check(auth_t *a, const char *partner, const char *api_key, size_t api_key_len, const char *secret,
                       size_t secret_len) {
    setting s;
    int rc = get_setting(a, partner, &s);
    if (rc < 0) return rc;
    uint8_t h[SECRET_HASH_LEN];
    if (s.has) {
        if (!api_key) return BR_EPARTNERKEY;
        secret_hash(api_key, api_key_len, h);
        if (memcmp(h, s.hash, SECRET_HASH_LEN) != 0) return BR_EPARTNERKEY;
    }
    if (!secret || !secret_len) return BR_ECLIENTSECRET;
    secret_hash(secret, secret_len, h);
    entry k;
    rc = with_entry(a, KIND_IMPORT, h, copy_entry, &k);
    if (rc == BR_ENOTFOUND) return BR_ECLIENTSECRET;
    if (rc < 0) return rc;
    if (k.expires_at && k.expires_at <= clock_wall_ms()) return BR_ECLIENTSECRET;
    return strcmp(k.partner, partner) ? BR_EPARTNEROFF : 0;
}

void auth_forget_partner(auth_t *a, const char *partner) {
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < NBUCKETS; i++)
        for (entry **pp = &a->buckets[i]; *pp;) {
            entry *e = *pp;
            if (e->kind != KIND_IMPORT || strcmp(e->partner, partner)) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            entry_free(e);
        }
    for (setting **pp = &a->settings; *pp;) {
        setting *s = *pp;
        if (strcmp(s->partner, partner)) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        free(s);
        a->nsettings--;
    }
    pthread_mutex_unlock(&a->lock);
}
