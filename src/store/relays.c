/* relays.c -- SQL for the SMTP relays (relays.h) and the checks of their
 * fields, shared by the admin API and the CLI. */
#include "relays.h"
#include "credentials.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* smtp:// or smtps://, then a host: no user or password in the URL (they
 * would be shown back with it), no space or control character. */
static bool url_ok(const char *u) {
    size_t n = strlen(u), k = !strncasecmp(u, "smtp://", 7) ? 7 : !strncasecmp(u, "smtps://", 8) ? 8 : 0;
    if (!k || n > STORE_RELAY_URL_MAX || !u[k] || u[k] == '/' || u[k] == ':') return false;
    size_t auth_end = k + strcspn(u + k, "/?#");
    if (memchr(u + k, '@', auth_end - k)) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f) return false;
    return true;
}

static bool text_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n < 1 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < ' ' || s[i] == 0x7f) return false;
    return true;
}

int store_relay_check(const store_relay *r, char *why, size_t whylen) {
    if (store_cred_check(r->name ? r->name : "", NULL, NULL, 0, why, whylen) < 0) return BR_EINVAL;
    if (!strcmp(r->name, "default")) {
        snprintf(why, whylen, "'name' default is the relay of BRASA_SMTP_URL (--smtp-url): choose another");
        return BR_EINVAL;
    }
    if (!r->url || !url_ok(r->url)) {
        snprintf(why, whylen,
                 "'url' must be smtp://host[:port] or smtps://host[:port] (at most %d bytes, no spaces; the user "
                 "and password go in 'user' and 'password')",
                 STORE_RELAY_URL_MAX);
        return BR_EINVAL;
    }
    if (r->username && !text_ok(r->username, STORE_RELAY_USER_MAX)) {
        snprintf(why, whylen, "'user' must be 1 to %d bytes without control characters", STORE_RELAY_USER_MAX);
        return BR_EINVAL;
    }
    if (r->password && (strlen(r->password) > STORE_RELAY_PASS_MAX)) {
        snprintf(why, whylen, "'password' must be at most %d bytes", STORE_RELAY_PASS_MAX);
        return BR_EINVAL;
    }
    if (!r->username != !r->password) {
        snprintf(why, whylen, "'user' and 'password' go together (AUTH needs both)");
        return BR_EINVAL;
    }
    if (r->max_connections < 1 || r->max_connections > STORE_RELAY_CONN_MAX) {
        snprintf(why, whylen, "'max_connections' must be an integer from 1 to %d", STORE_RELAY_CONN_MAX);
        return BR_EINVAL;
    }
    if (r->rate_per_second < 0 || r->rate_per_second > STORE_RELAY_RATE_MAX) {
        snprintf(why, whylen, "'rate_per_second' must be an integer from 0 (no limit) to %d", STORE_RELAY_RATE_MAX);
        return BR_EINVAL;
    }
    if (r->timeout_ms && (r->timeout_ms < STORE_RELAY_TIMEOUT_MIN || r->timeout_ms > STORE_RELAY_TIMEOUT_MAX)) {
        snprintf(why, whylen, "'timeout_ms' must be 0 (the default) or an integer from %d to %d",
                 STORE_RELAY_TIMEOUT_MIN, STORE_RELAY_TIMEOUT_MAX);
        return BR_EINVAL;
    }
    return 0;
}

int store_relay_insert(sqlite3 *db, const store_relay *r) {
    /* The count and the insert in one statement; DO NOTHING and count the
     * change: a taken name is an answer, not a constraint failure to log. */
    sqlite3_stmt *st = store_prep(db, "SELECT COUNT(*) >= ?, EXISTS(SELECT 1 FROM smtp_relays WHERE name = ?) FROM smtp_relays");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int(st, 1, STORE_RELAY_MAX);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool full = rc == SQLITE_ROW && sqlite3_column_int(st, 0), taken = rc == SQLITE_ROW && sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return BR_ESTORE;
    if (taken) return BR_EEXISTS;
    if (full) return BR_ETOOMANY;
    st = store_prep(db, "INSERT INTO smtp_relays (name, url, username, password, max_connections, rate_per_second, "
                        "timeout_ms, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->url, -1, SQLITE_STATIC);
    if (r->username) sqlite3_bind_text(st, 3, r->username, -1, SQLITE_STATIC);
    if (r->password) sqlite3_bind_text(st, 4, r->password, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, r->max_connections);
    sqlite3_bind_int(st, 6, r->rate_per_second);
    sqlite3_bind_int64(st, 7, r->timeout_ms);
    sqlite3_bind_int(st, 8, r->enabled);
    sqlite3_bind_int64(st, 9, r->created_at ? r->created_at : clock_wall_ms());
    return store_done(db, st);
}

int store_relay_insert_op(sqlite3 *db, void *arg) { return store_relay_insert(db, arg); }

int store_relay_update_op(sqlite3 *db, void *arg) {
    store_relay_patch *p = arg;
    store_relay *old;
    int rc = store_relay_get(db, p->name, &old);
    if (rc < 0) return rc;
    store_relay r = *old;
    if (p->url) r.url = p->url;
    if (p->auth) r.username = p->auth > 0 ? p->username : NULL, r.password = p->auth > 0 ? p->password : NULL;
    if (p->max_connections >= 0) r.max_connections = p->max_connections;
    if (p->rate_per_second >= 0) r.rate_per_second = p->rate_per_second;
    if (p->timeout_ms >= 0) r.timeout_ms = p->timeout_ms;
    if (p->enabled >= 0) r.enabled = p->enabled;
    rc = store_relay_check(&r, p->why, sizeof p->why);
    sqlite3_stmt *st = rc < 0 ? NULL
                              : store_prep(db, "UPDATE smtp_relays SET url = ?, username = ?, password = ?, "
                                               "max_connections = ?, rate_per_second = ?, timeout_ms = ?, enabled = ? "
                                               "WHERE name = ?");
    if (rc == 0 && !st) rc = BR_ESTORE;
    if (st) {
        sqlite3_bind_text(st, 1, r.url, -1, SQLITE_STATIC);
        if (r.username) sqlite3_bind_text(st, 2, r.username, -1, SQLITE_STATIC);
        if (r.password) sqlite3_bind_text(st, 3, r.password, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, r.max_connections);
        sqlite3_bind_int(st, 5, r.rate_per_second);
        sqlite3_bind_int64(st, 6, r.timeout_ms);
        sqlite3_bind_int(st, 7, r.enabled);
        sqlite3_bind_text(st, 8, p->name, -1, SQLITE_STATIC);
        rc = store_done(db, st);
    }
    store_relay_rows_free(old, 1);
    return rc;
}

int store_relay_delete(sqlite3 *db, const char *name) {
    sqlite3_stmt *st = store_prep(db, "DELETE FROM smtp_relays WHERE name = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = store_done(db, st);
    if (rc == 0 && sqlite3_changes(db) == 0) rc = BR_ENOTFOUND;
    return rc;
}

int store_relay_delete_op(sqlite3 *db, void *arg) { return store_relay_delete(db, arg); }

#define COLUMNS "name, url, username, max_connections, rate_per_second, timeout_ms, enabled, created_at"

/* The rows of st (COLUMNS, then the password when with_password). */
static int rows_of(sqlite3_stmt *st, bool with_password, store_relay **rows, int *n);

int store_relay_list(sqlite3 *db, bool for_sending, store_relay **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, for_sending ? "SELECT " COLUMNS ", password FROM smtp_relays WHERE enabled ORDER BY name"
                                                  : "SELECT " COLUMNS " FROM smtp_relays ORDER BY name");
    if (!st) return BR_ESTORE;
    return rows_of(st, for_sending, rows, n);
}

int store_relay_get(sqlite3 *db, const char *name, store_relay **row) {
    *row = NULL;
    sqlite3_stmt *st = store_prep(db, "SELECT " COLUMNS ", password FROM smtp_relays WHERE name = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int n, rc = rows_of(st, true, row, &n);
    if (rc == 0 && !n) rc = BR_ENOTFOUND;
    return rc;
}

static int rows_of(sqlite3_stmt *st, bool with_password, store_relay **rows, int *n) {
    *rows = NULL;
    *n = 0;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            *rows = xrealloc(*rows, (size_t)cap * sizeof **rows);
        }
        store_relay *r = &(*rows)[(*n)++];
        *r = (store_relay){
            .name = store_col_text(st, 0),
            .url = store_col_text(st, 1),
            .username = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : store_col_text(st, 2),
            .max_connections = sqlite3_column_int(st, 3),
            .rate_per_second = sqlite3_column_int(st, 4),
            .timeout_ms = (long)sqlite3_column_int64(st, 5),
            .enabled = sqlite3_column_int(st, 6),
            .created_at = sqlite3_column_int64(st, 7),
            .password = with_password && sqlite3_column_type(st, 8) != SQLITE_NULL ? store_col_text(st, 8) : NULL,
        };
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_relay_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

void store_relay_rows_free(store_relay *rows, int n) {
    for (int i = 0; i < n; i++) {
        free((char *)rows[i].name);
        free((char *)rows[i].url);
        free((char *)rows[i].username);
        if (rows[i].password) {
            /* Not left in freed memory. */
            memset((char *)rows[i].password, 0, strlen(rows[i].password));
            free((char *)rows[i].password);
        }
    }
    free(rows);
}

json_object *store_relay_json(const store_relay *r) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(r->name));
    json_object_object_add(o, "url", json_object_new_string(r->url));
    json_object_object_add(o, "user", r->username ? json_object_new_string(r->username) : NULL);
    json_object_object_add(o, "max_connections", json_object_new_int(r->max_connections));
    json_object_object_add(o, "rate_per_second", json_object_new_int(r->rate_per_second));
    json_object_object_add(o, "timeout_ms", json_object_new_int64(r->timeout_ms));
    json_object_object_add(o, "enabled", json_object_new_boolean(r->enabled));
    json_object_object_add(o, "created_at", json_time(r->created_at));
    return o;
}
