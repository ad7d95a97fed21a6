/* auth.c -- the API key cache and checks (see auth.h). */
#include "auth.h"
#include "../lib/cidr.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../store/keys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint8_t hash[SECRET_HASH_LEN];
    auth_ident ident;
    cidr_t *allow;
    int nallow;
    int64_t fetched_us; /* monotonic */
    int64_t last_used_ms, flushed_ms;
    struct entry *next;
} entry;

#define NBUCKETS 256

struct auth {
    store_t *store;
    int64_t ttl_us;
    pthread_mutex_t lock; /* guards buckets and touched */
    entry *buckets[NBUCKETS];
    pthread_mutex_t db_lock; /* guards db: cache misses only */
    sqlite3 *db;
    /* Last-use times of entries dropped before their flush. */
    struct touched { int64_t id, ms; } *touched;
    int ntouched, captouched;
};

int auth_new(store_t *store, int64_t ttl_ms, auth_t **out) {
    auth_t *a = xcalloc(1, sizeof *a);
    a->store = store;
    a->ttl_us = ttl_ms * 1000;
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->db_lock, NULL);
    int rc = store_open_reader(store, &a->db);
    if (rc < 0) {
        auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

static void entry_free(entry *e) {
    free(e->allow);
    free(e);
}

static void remember_touch(auth_t *a, entry *e) {
    if (e->last_used_ms <= e->flushed_ms) return;
    if (a->ntouched == a->captouched) {
        a->captouched = a->captouched ? a->captouched * 2 : 16;
        a->touched = xrealloc(a->touched, (size_t)a->captouched * sizeof *a->touched);
    }
    a->touched[a->ntouched++] = (struct touched){e->ident.id, e->last_used_ms};
}

void auth_free(auth_t *a) {
    if (!a) return;
    for (int i = 0; i < NBUCKETS; i++)
        for (entry *e = a->buckets[i], *n; e; e = n) {
            n = e->next;
            entry_free(e);
        }
    free(a->touched);
    if (a->db) sqlite3_close(a->db);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->db_lock);
    free(a);
}

static unsigned bucket_of(const uint8_t h[SECRET_HASH_LEN]) { return h[0]; }

/* Unlinks and returns the entry for hash (caller holds lock). */
static entry *unlink_hash(auth_t *a, const uint8_t h[SECRET_HASH_LEN]) {
    for (entry **pp = &a->buckets[bucket_of(h)]; *pp; pp = &(*pp)->next)
        if (memcmp((*pp)->hash, h, SECRET_HASH_LEN) == 0) {
            entry *e = *pp;
            *pp = e->next;
            return e;
        }
    return NULL;
}

/* Reads the key from SQLite into a new entry, or NULL when it is unknown or
 * revoked. */
static int load(auth_t *a, const uint8_t h[SECRET_HASH_LEN], entry **out) {
    *out = NULL;
    store_key_row row;
    pthread_mutex_lock(&a->db_lock);
    int rc = store_key_by_hash(a->db, h, &row);
    pthread_mutex_unlock(&a->db_lock);
    if (rc < 0) return rc == BR_ENOTFOUND ? 0 : rc;
    if (!row.revoked_at) {
        entry *e = xcalloc(1, sizeof *e);
        memcpy(e->hash, h, SECRET_HASH_LEN);
        e->ident.id = row.id;
        snprintf(e->ident.name, sizeof e->ident.name, "%s", row.name);
        char *bad;
        if (perm_parse(row.permissions, &e->ident.perms, &bad) < 0) free(bad); /* unknown names: ignored */
        /* An allowlist that no longer parses admits nobody rather than everybody. */
        e->nallow = cidr_parse_list(row.allow_ips, &e->allow);
        if (e->nallow < 0) e->allow = NULL;
        e->flushed_ms = e->last_used_ms = row.last_used_at;
        *out = e;
    }
    store_key_row_free(&row);
    return 0;
}

static bool ip_allowed(const entry *e, const uint8_t client[16]) {
    if (e->nallow == 0) return true;
    for (int i = 0; i < e->nallow; i++)
        if (cidr_contains(&e->allow[i], client)) return true;
    return false;
}

/* Identity and verdict for a found entry (caller holds a->lock or owns e). */
static int judge(entry *e, const uint8_t client[16], perm_id need, auth_ident *id) {
    *id = e->ident;
    if (!ip_allowed(e, client)) return BR_EIPDENIED;
    if (!perm_has(&e->ident.perms, need)) return BR_EPERM;
    e->last_used_ms = clock_wall_ms();
    return 0;
}

static entry *find(auth_t *a, const uint8_t h[SECRET_HASH_LEN]) {
    for (entry *e = a->buckets[bucket_of(h)]; e; e = e->next)
        if (memcmp(e->hash, h, SECRET_HASH_LEN) == 0) return e;
    return NULL;
}

int auth_check(auth_t *a, const char *key, size_t keylen, const uint8_t client[16], perm_id need,
               auth_ident *id) {
    uint8_t h[SECRET_HASH_LEN];
    secret_hash(key, keylen, h);
    int64_t now_us = clock_mono_us();

    /* Hit: decided under the lock, which is held for a few compares. */
    pthread_mutex_lock(&a->lock);
    entry *e = find(a, h);
    if (e && now_us - e->fetched_us <= a->ttl_us) {
        int rc = judge(e, client, need, id);
        pthread_mutex_unlock(&a->lock);
        return rc;
    }
    if (e) { /* stale: read it again */
        unlink_hash(a, h);
        remember_touch(a, e);
        entry_free(e);
    }
    pthread_mutex_unlock(&a->lock);

    /* Miss: SQLite, outside the cache lock. */
    int rc = load(a, h, &e);
    if (rc < 0) return rc;
    if (!e) return BR_EBADKEY;
    e->fetched_us = now_us;
    rc = judge(e, client, need, id);

    pthread_mutex_lock(&a->lock);
    entry *dup = unlink_hash(a, h); /* another thread may have loaded it meanwhile */
    if (dup) {
        if (dup->last_used_ms > e->last_used_ms) e->last_used_ms = dup->last_used_ms;
        entry_free(dup);
    }
    e->next = a->buckets[bucket_of(h)];
    a->buckets[bucket_of(h)] = e;
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void auth_forget(auth_t *a, int64_t id) {
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < NBUCKETS; i++)
        for (entry **pp = &a->buckets[i]; *pp;) {
            entry *e = *pp;
            if (e->ident.id != id) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            remember_touch(a, e);
            entry_free(e);
        }
    pthread_mutex_unlock(&a->lock);
}

typedef struct {
    struct touched *list;
    int n;
} flush_job;

static int flush_op(sqlite3 *db, void *arg) {
    flush_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        int rc = store_key_touch(db, j->list[i].id, j->list[i].ms);
        if (rc < 0) return rc;
    }
    return 0;
}

void auth_flush(auth_t *a) {
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < NBUCKETS; i++)
        for (entry *e = a->buckets[i]; e; e = e->next) {
            remember_touch(a, e);
            e->flushed_ms = e->last_used_ms;
        }
    flush_job j = {a->touched, a->ntouched};
    a->touched = NULL;
    a->ntouched = a->captouched = 0;
    pthread_mutex_unlock(&a->lock);
    if (j.n) store_exec(a->store, flush_op, &j);
    free(j.list);
}
