/* relays.h -- the SMTP relays email goes out through (table smtp_relays,
 * sql/018_smtp_relays.sql).
 *
 * Writes are store ops (the admin routes, api/smtp_relays.c) or store_exec
 * (`brasa smtp add|update|remove`, also while the server runs). The dispatcher
 * reads the enabled ones with their passwords (send/relays.h sends through
 * them) at every send and every second, so a change applies
 * without a restart. The list for people (admin API, CLI) never carries a
 * password. */
#ifndef BR_STORE_RELAYS_H
#define BR_STORE_RELAYS_H
#include "store.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define STORE_RELAY_MAX 16          /* relays stored: each has up to 128 sessions, a thread each */
#define STORE_RELAY_NAME_MAX 64
#define STORE_RELAY_URL_MAX 1024
#define STORE_RELAY_USER_MAX 255
#define STORE_RELAY_PASS_MAX 1024
#define STORE_RELAY_CONN_MAX 128
#define STORE_RELAY_RATE_MAX 100000
#define STORE_RELAY_TIMEOUT_MIN 1000
#define STORE_RELAY_TIMEOUT_MAX 3600000
#define STORE_RELAY_DEFAULT_CONN 16

typedef struct {
    const char *name;
    const char *url;
    const char *username; /* NULL: no AUTH (then password is NULL too) */
    const char *password; /* NULL in the list for people */
    int max_connections;  /* 1 to 128 */
    int rate_per_second;  /* 0: no limit */
    long timeout_ms;      /* 0: the server's default */
    bool enabled;
    int64_t created_at;   /* ms since epoch; 0 on insert: now */
} store_relay;

/* Checks a relay's fields: the name as a credential's (1 to 64 letters,
 * digits, '_', '-', '.') and not "default" (BRASA_SMTP_URL's relay); url
 * smtp:// or smtps:// with a host, no user or password in it, no spaces
 * or control characters; username and password together or neither;
 * the numbers in their ranges above. Returns 0, or BR_EINVAL with why
 * (naming the field). */
int store_relay_check(const store_relay *r, char *why, size_t whylen);

/* Inserts r (a store op's argument too): BR_EEXISTS when the name is
 * taken, BR_ETOOMANY when STORE_RELAY_MAX are stored, BR_ESTORE. */
int store_relay_insert(sqlite3 *db, const store_relay *r);
int store_relay_insert_op(sqlite3 *db, void *arg);
/* Deletes by name (arg of the op: const char *): 0, BR_ENOTFOUND, BR_ESTORE. */
int store_relay_delete(sqlite3 *db, const char *name);
int store_relay_delete_op(sqlite3 *db, void *arg);
/* An update in place of the relay named `name` (a store op's argument):
 * what is set changes, the rest is kept. auth: 0 keeps user and password,
 * 1 sets them (username and password), -1 removes them. Numbers and
 * enabled: -1 keeps. The result is checked as a new relay is; refused,
 * why says why. */
typedef struct {
    const char *name, *url;
    int auth;
    const char *username, *password;
    int max_connections, rate_per_second, enabled;
    long timeout_ms;
    char why[200]; /* out */
} store_relay_patch;
/* 0, BR_ENOTFOUND, BR_EINVAL (why), BR_ESTORE. */
int store_relay_update_op(sqlite3 *db, void *arg);
/* The relays by name into a malloc'd array (free with
 * store_relay_rows_free): for_sending (the dispatcher), the enabled ones
 * with their passwords; else all of them, no password. 0 or BR_ESTORE. */
int store_relay_list(sqlite3 *db, bool for_sending, store_relay **rows, int *n);
/* One relay by name, enabled or not, with its password (`brasa smtp test
 * --relay`): *row malloc'd, free with store_relay_rows_free(*row, 1).
 * 0, BR_ENOTFOUND or BR_ESTORE. */
int store_relay_get(sqlite3 *db, const char *name, store_relay **row);
void store_relay_rows_free(store_relay *rows, int n);
/* A relay as the admin API and `brasa smtp list --json` show it: every
 * field but the password (new object). */
json_object *store_relay_json(const store_relay *r);

#endif
