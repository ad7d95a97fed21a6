/* credentials.c -- SQL for Connected Content's basic-auth credentials, and
 * the locked read-only connection render threads look them up through (see
 * credentials.h). */
#include "credentials.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_cred_check(const char *name, const char *username, const char *password, size_t password_len,
                     char *why, size_t whylen) {
    if (name) {
        size_t n = strlen(name);
        bool ok = n >= 1 && n <= STORE_CRED_NAME_MAX;
        for (size_t i = 0; ok && i < n; i++) {
            char c = name[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || c == '.';
        }
        if (!ok) {
            snprintf(why, whylen, "'name' must be 1 to %d letters, digits, '_', '-' or '.'", STORE_CRED_NAME_MAX);
            return BR_EINVAL;
        }
    }
    if (username) {
        size_t n = strlen(username);
        bool ok = n >= 1 && n <= STORE_CRED_USER_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = username[i] != ':' && (unsigned char)username[i] >= 0x20 && username[i] != 0x7f;
        if (!ok) {
            snprintf(why, whylen, "'username' must be 1 to %d bytes without ':' or control characters",
                     STORE_CRED_USER_MAX);
            return BR_EINVAL;
        }
    }
    if (password && (password_len > STORE_CRED_PASS_MAX || memchr(password, '\0', password_len))) {
        snprintf(why, whylen, "'password' must be at most %d bytes, without NUL", STORE_CRED_PASS_MAX);
        return BR_EINVAL;
    }
    return 0;
}

int store_cred_insert(sqlite3 *db, const store_cred_new *c) {
    /* DO NOTHING and count the change: a taken name is an answer, not a
     * constraint failure for the store to log. */
    sqlite3_stmt *st = store_prep(db, "INSERT INTO basic_auth_credentials (name, username, password, created_at) "
                                      "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO NOTHING");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->password, (int)c->password_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, c->created_at ? c->created_at : clock_wall_ms());
    int rc = store_done(db, st);
    if (rc == 0 && sqlite3_changes(db) == 0) rc = BR_EEXISTS;
    return rc;
}

int store_cred_insert_op(sqlite3 *db, void *arg) { return store_cred_insert(db, arg); }

int store_cred_delete(sqlite3 *db, const char *name) {
    sqlite3_stmt *st = store_prep(db, "DELETE FROM basic_auth_credentials WHERE name = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = store_done(db, st);
    if (rc == 0 && sqlite3_changes(db) == 0) rc = BR_ENOTFOUND;
    return rc;
}

int store_cred_delete_op(sqlite3 *db, void *arg) { return store_cred_delete(db, arg); }

int store_cred_list(sqlite3 *db, store_cred_row **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT name, username, created_at FROM basic_auth_credentials ORDER BY name");
    if (!st) return BR_ESTORE;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *rows = xrealloc(*rows, (size_t)cap * sizeof **rows);
        }
        store_cred_row *r = &(*rows)[(*n)++];
        r->name = store_col_text(st, 0);
        r->username = store_col_text(st, 1);
        r->created_at = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_cred_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return BR_ESTORE;
}

void store_cred_rows_free(store_cred_row *rows, int n) {
    for (int i = 0; i < n; i++) {
        free(rows[i].name);
        free(rows[i].username);
    }
    free(rows);
}

/* Copies column i into out[size]; false when it does not fit. */
static bool copy_col(sqlite3_stmt *st, int i, char *out, size_t size) {
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (n >= size) return false;
    if (n) memcpy(out, t, n);
    out[n] = '\0';
    return true;
}

int store_cred_get(sqlite3 *db, const char *name, char *user, size_t user_size, char *pass, size_t pass_size) {
    sqlite3_stmt *st = store_prep(db, "SELECT username, password FROM basic_auth_credentials WHERE name = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) rc = copy_col(st, 0, user, user_size) && copy_col(st, 1, pass, pass_size) ? 0 : BR_ETOOMANY;
    else rc = rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
    sqlite3_finalize(st);
    return rc;
}

/* ---- the reader ---------------------------------------------------------- */

struct store_cred_reader {
    pthread_mutex_t lock; /* the connection is opened NOMUTEX */
    sqlite3 *db;
};

int store_cred_reader_open(store_t *s, store_cred_reader **out) {
    sqlite3 *db;
    int rc = store_open_reader(s, &db);
    if (rc < 0) return rc;
    /* query_only: this connection can never write, whatever a bug asks. */
    if ((rc = store_sql(db, "PRAGMA query_only=ON")) < 0) {
        sqlite3_close(db);
        return rc;
    }
    store_cred_reader *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->db = db;
    *out = r;
    return 0;
}

void store_cred_reader_close(store_cred_reader *r) {
    if (!r) return;
    sqlite3_close(r->db);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int store_cred_lookup(void *ud, const char *name, char *user, size_t user_size, char *pass, size_t pass_size) {
    store_cred_reader *r = ud;
    pthread_mutex_lock(&r->lock);
    int rc = store_cred_get(r->db, name, user, user_size, pass, pass_size);
    pthread_mutex_unlock(&r->lock);
    return rc;
}
