/* credentials.h -- Connected Content's basic-auth credentials (table
 * basic_auth_credentials, sql/009_credentials.sql).
 *
 * A template names a credential ({% connected_content URL :basic_auth NAME
 * %}); the fetcher (send/fetch.h) looks its username and password up at
 * send time from a render thread, through a store_cred_reader: a read-only
 * connection of its own behind a mutex, so it needs neither the engine nor
 * the writer. Writes are store ops (the admin routes, api/credentials.c) or
 * store_exec (the CLI). Passwords are stored as given (they must be sent)
 * and never listed. */
#ifndef BR_STORE_CREDENTIALS_H
#define BR_STORE_CREDENTIALS_H
#include "store.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_CRED_NAME_MAX 64
#define STORE_CRED_USER_MAX 255
#define STORE_CRED_PASS_MAX 1024

typedef struct {
    char *name;
    char *username;
    int64_t created_at; /* ms since epoch */
} store_cred_row;

/* A credential to insert (a store op's argument). The fields are borrowed;
 * created_at 0 means now. */
typedef struct {
    const char *name;
    const char *username;
    const char *password;
    size_t password_len;
    int64_t created_at;
} store_cred_new;

/* Checks a credential's fields: name 1 to 64 letters, digits, '_', '-' or
 * '.' (it is written in templates and URL paths); username 1 to 255 bytes
 * without ':' (RFC 7617) or control characters; password at most 1024
 * bytes without NUL. Returns 0, or BR_EINVAL with why set (naming the
 * field). Any of the three may be NULL to skip it. */
int store_cred_check(const char *name, const char *username, const char *password, size_t password_len,
                     char *why, size_t whylen);

/* Inserts; BR_EEXISTS when the name is taken, BR_ESTORE on failure. */
int store_cred_insert(sqlite3 *db, const store_cred_new *c);
/* store op over a store_cred_new. */
int store_cred_insert_op(sqlite3 *db, void *arg);
/* Deletes by name: 0, BR_ENOTFOUND or BR_ESTORE. */
int store_cred_delete(sqlite3 *db, const char *name);
/* store op; arg is the name (const char *). */
int store_cred_delete_op(sqlite3 *db, void *arg);
/* Every credential by name, without passwords, in a malloc'd array (free
 * with store_cred_rows_free). 0 or BR_ESTORE. */
int store_cred_list(sqlite3 *db, store_cred_row **rows, int *n);
void store_cred_rows_free(store_cred_row *rows, int n);
/* Copies the username and password of name into user[user_size] and
 * pass[pass_size] (NUL-terminated). 0, BR_ENOTFOUND, BR_ETOOMANY when a
 * buffer is too small, or BR_ESTORE. */
int store_cred_get(sqlite3 *db, const char *name, char *user, size_t user_size, char *pass, size_t pass_size);

/* ---- lookups from any thread --------------------------------------------- */

typedef struct store_cred_reader store_cred_reader;

/* Opens a read-only connection to s's database for lookups. 0 or BR_E*. */
int store_cred_reader_open(store_t *s, store_cred_reader **out);
void store_cred_reader_close(store_cred_reader *r);
/* store_cred_get through the reader (ud: a store_cred_reader *), from any
 * thread: the shape of send_fetch_opts.credential. Sees every credential
 * committed before the call. */
int store_cred_lookup(void *ud, const char *name, char *user, size_t user_size, char *pass, size_t pass_size);

#endif
