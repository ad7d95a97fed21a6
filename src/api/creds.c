/* creds.c -- the credential cache's loader (http/auth.h) over the store:
 * REST keys, data import keys and partner settings read through a store
 * connection, for the cache that http/ keeps without knowing SQL. */
#include "api.h"
#include "../lib/mem.h"
#include "../store/keys.h"
#include "../store/partners.h"

#include <stdio.h>

static int load_rest_key(void *arg, const uint8_t hash[32], auth_row *out) {
    store_key_row row;
    int rc = store_key_by_hash(arg, hash, &row);
    if (rc < 0) return rc;
    out->id = row.id;
    snprintf(out->name, sizeof out->name, "%s", row.name);
    out->permissions = xstrdup(row.permissions);
    out->allow_ips = xstrdup(row.allow_ips);
    out->last_used_at = row.last_used_at;
    out->revoked = row.revoked_at != 0;
    store_key_row_free(&row);
    return 0;
}

static int load_import_key(void *arg, const uint8_t hash[32], auth_row *out) {
    partner_key_row row;
    int rc = store_pkey_by_hash(arg, hash, &row);
    if (rc < 0) return rc;
    out->id = row.id;
    snprintf(out->partner, sizeof out->partner, "%s", row.partner);
    out->expires_at = row.expires_at;
    return 0;
}

static int load_setting(void *arg, const char *partner, bool *has, uint8_t hash[32]) {
    return store_partner_api_key(arg, partner, has, hash);
}

auth_loader api_creds_loader(sqlite3 *db) { return (auth_loader){load_rest_key, load_import_key, load_setting, db}; }

/* Writes last-use times the cache collected (a store op; arg: api_touches). */
int api_touches_op(sqlite3 *db, void *arg) {
    api_touches *t = arg;
    for (int i = 0; i < t->n; i++) {
        int rc = store_key_touch(db, t->list[i].id, t->list[i].ms);
        if (rc < 0) return rc;
    }
    return 0;
}
