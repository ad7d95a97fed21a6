/* pauth.c -- the data import key cache and partner checks (see pauth.h). */
#include "pauth.h"
#include "../core/partner.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../store/partners.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 256
/* Settings are cached per path segment, which clients choose: past this
 * many the cache starts over rather than grow. */
#define MAX_SETTINGS 1024

typedef struct key_entry {
    uint8_t hash[SECRET_HASH_LEN];
    char partner[sizeof ((store_pkey_row *)0)->partner];
    int64_t expires_at; /* ms; 0 = none */
    int64_t fetched_us;
    struct key_entry *next;
} key_entry;

typedef struct setting {
    char partner[PARTNER_NAME_MAX + 1];
    bool has;
    uint8_t hash[SECRET_HASH_LEN];
    int64_t fetched_us;
    struct setting *next;
} setting;

struct pauth {
    int64_t ttl_us;
    pthread_mutex_t lock; /* guards the caches */
    key_entry *keys[NBUCKETS];
    setting *settings;
    int nsettings;
    pthread_mutex_t db_lock; /* guards db: cache misses only */
    sqlite3 *db;
};

int pauth_new(store_t *store, int64_t ttl_ms, pauth_t **out) {
    pauth_t *a = xcalloc(1, sizeof *a);
    a->ttl_us = ttl_ms * 1000;
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->db_lock, NULL);
    int rc = store_open_reader(store, &a->db);
    if (rc < 0) {
        pauth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

static void drop_settings(pauth_t *a) {
    for (setting *s = a->settings, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    a->settings = NULL;
    a->nsettings = 0;
}

void pauth_free(pauth_t *a) {
    if (!a) return;
    for (int i = 0; i < NBUCKETS; i++)
        for (key_entry *e = a->keys[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    drop_settings(a);
    if (a->db) sqlite3_close(a->db);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->db_lock);
    free(a);
}

/* ---- partner_api_key ----------------------------------------------------- */

/* The partner's setting, fresh from the cache or SQLite, copied into *out. */
static int get_setting(pauth_t *a, const char *partner, setting *out) {
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
    pthread_mutex_lock(&a->db_lock);
    int rc = store_partner_api_key(a->db, partner, &s->has, s->hash);
    pthread_mutex_unlock(&a->db_lock);
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

/* ---- client_secret ------------------------------------------------------- */

static key_entry *unlink_key(pauth_t *a, const uint8_t h[SECRET_HASH_LEN]) {
    for (key_entry **pp = &a->keys[h[0]]; *pp; pp = &(*pp)->next)
        if (memcmp((*pp)->hash, h, SECRET_HASH_LEN) == 0) {
            key_entry *e = *pp;
            *pp = e->next;
            return e;
        }
    return NULL;
}

/* The key's partner and end into *out; BR_ENOTFOUND for an unknown key. */
static int get_key(pauth_t *a, const char *secret, size_t len, key_entry *out) {
    uint8_t h[SECRET_HASH_LEN];
    secret_hash(secret, len, h);
    int64_t now = clock_mono_us();
    pthread_mutex_lock(&a->lock);
    for (key_entry *e = a->keys[h[0]]; e; e = e->next)
        if (memcmp(e->hash, h, SECRET_HASH_LEN) == 0 && now - e->fetched_us <= a->ttl_us) {
            *out = *e;
            pthread_mutex_unlock(&a->lock);
            return 0;
        }
    free(unlink_key(a, h)); /* stale */
    pthread_mutex_unlock(&a->lock);

    store_pkey_row row;
    pthread_mutex_lock(&a->db_lock);
    int rc = store_pkey_by_hash(a->db, h, &row);
    pthread_mutex_unlock(&a->db_lock);
    if (rc < 0) return rc;
    key_entry *e = xcalloc(1, sizeof *e);
    memcpy(e->hash, h, SECRET_HASH_LEN);
    snprintf(e->partner, sizeof e->partner, "%s", row.partner);
    e->expires_at = row.expires_at;
    e->fetched_us = now;
    *out = *e;
    pthread_mutex_lock(&a->lock);
    free(unlink_key(a, h)); /* another thread may have loaded it meanwhile */
    e->next = a->keys[h[0]];
    a->keys[h[0]] = e;
    pthread_mutex_unlock(&a->lock);
    return 0;
}

int pauth_check(pauth_t *a, const char *partner, const char *api_key, size_t api_key_len, const char *secret,
                size_t secret_len) {
    setting s;
    int rc = get_setting(a, partner, &s);
    if (rc < 0) return rc;
    if (s.has) {
        uint8_t h[SECRET_HASH_LEN];
        if (!api_key) return BR_EPARTNERKEY;
        secret_hash(api_key, api_key_len, h);
        if (memcmp(h, s.hash, SECRET_HASH_LEN) != 0) return BR_EPARTNERKEY;
    }
    if (!secret || !secret_len) return BR_ECLIENTSECRET;
    key_entry k;
    rc = get_key(a, secret, secret_len, &k);
    if (rc == BR_ENOTFOUND) return BR_ECLIENTSECRET;
    if (rc < 0) return rc;
    if (k.expires_at && k.expires_at <= clock_wall_ms()) return BR_ECLIENTSECRET;
    return strcmp(k.partner, partner) ? BR_EPARTNEROFF : 0;
}

void pauth_forget(pauth_t *a, const char *partner) {
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < NBUCKETS; i++)
        for (key_entry **pp = &a->keys[i]; *pp;) {
            key_entry *e = *pp;
            if (strcmp(e->partner, partner)) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            free(e);
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
