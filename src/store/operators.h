/* operators.h -- the dashboard's operators, sessions and audit log (tables
 * of sql/021_operators.sql).
 *
 * Plain row access: what a role may do, how passwords are hashed and how a
 * session cookie is made are dash/'s (dash/operator.h). Writes are store
 * ops (the dashboard's routes) or store_exec (`brasa operators`, also
 * while the server runs); reads take the connection to use. */
#ifndef BR_STORE_OPERATORS_H
#define BR_STORE_OPERATORS_H
#include <sqlite3.h>
#include <stdint.h>

#define STORE_OPERATOR_NAME_MAX 60 /* fits an auth_ident name */

typedef struct {
    int64_t id;
    char name[STORE_OPERATOR_NAME_MAX + 1];
    char role[16];    /* "admin", "marketer", "read-only" */
    char pwhash[160]; /* crypto_pwhash_str's string (128 bytes at most) */
    int64_t created_at, last_login_at; /* ms; last_login_at 0: never */
} store_operator;

/* A new operator (the op's argument): BR_EEXISTS when the name is taken.
 * Sets id. */
int store_operator_insert_op(sqlite3 *db, void *arg);
/* By name: 0, BR_ENOTFOUND or BR_ESTORE. */
int store_operator_get(sqlite3 *db, const char *name, store_operator *out);
/* All, by name (malloc'd array; pwhash left empty). */
int store_operator_list(sqlite3 *db, store_operator **rows, int *n);
/* Removes one by name, with its sessions (op argument: const char *). */
int store_operator_delete_op(sqlite3 *db, void *arg);
/* New password and role for the operator named in the row (the op's
 * argument: store_operator with name, pwhash, role; an empty role keeps
 * it). Ends every session of the operator. 0 or BR_ENOTFOUND. */
int store_operator_update_op(sqlite3 *db, void *arg);

/* A session (the op's argument): inserted with the operator's
 * last_login_at set, and expired sessions trimmed in the same op. */
typedef struct {
    uint8_t hash[32];
    int64_t operator_id;
    int64_t now_ms, expires_at;
} store_session;
int store_session_insert_op(sqlite3 *db, void *arg);
/* Ends the session with this hash (op argument: uint8_t[32]); ending one
 * that is gone is not an error. */
int store_session_delete_op(sqlite3 *db, void *arg);
/* The operator of a live session: 0, BR_ENOTFOUND (unknown or expired at
 * now_ms) or BR_ESTORE. *expires_at gets the session's end. */
int store_session_find(sqlite3 *db, const uint8_t hash[32], int64_t now_ms, store_operator *out,
                       int64_t *expires_at);

/* An audit entry (the op's argument). */
typedef struct {
    int64_t id, at;
    char *who, *ip, *method, *path;
    int status;
} store_audit;
int store_audit_insert_op(sqlite3 *db, void *arg);
/* Newest first, ids below before_id (0: from the newest), at most limit;
 * a malloc'd array freed with store_audit_rows_free. */
int store_audit_list(sqlite3 *db, int64_t before_id, int limit, store_audit **rows, int *n);
void store_audit_rows_free(store_audit *rows, int n);

#endif
