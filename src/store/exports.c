/* exports.c -- segment export jobs and their names (see exports.h). */
#include "exports.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/secret.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ext[2] = {".zip", ".json.gz"};
static const char *const format_name[2] = {"zip", "gzip"};

void store_export_job_free(store_export_job *j) {
    free(j->fields);
    free(j->callback);
    free(j->url);
    j->fields = j->callback = j->url = NULL;
}

void store_export_new_prefix(char out[STORE_EXPORT_PREFIX_MAX], int64_t now_ms) {
    char uuid[SECRET_KEY_LEN + 1];
    secret_new_key(uuid);
    snprintf(out, STORE_EXPORT_PREFIX_MAX, "%s-%lld", uuid, (long long)(now_ms / 1000));
}

void store_export_file_name(const char *prefix, int format, char out[STORE_EXPORT_NAME_MAX]) {
    snprintf(out, STORE_EXPORT_NAME_MAX, "%s%s", prefix, ext[format == STORE_EXPORT_GZIP]);
}

int store_export_name_parse(const char *name) {
    /* xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, lower-case hex, as secret_new_key writes */
    for (int i = 0; i < SECRET_KEY_LEN; i++) {
        char c = name[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !(isdigit((unsigned char)c) || (c >= 'a' && c <= 'f'))) return -1;
    }
    const char *p = name + SECRET_KEY_LEN;
    if (*p++ != '-') return -1;
    int digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (digits < 1 || digits > 19) return -1;
    for (int f = 0; f < 2; f++)
        if (!strcmp(p, ext[f])) return f;
    return -1;
}

int store_export_insert(sqlite3 *db, store_export_job *j, char *busy_prefix) {
    sqlite3_stmt *st = store_prep(db, "SELECT prefix FROM exports WHERE state IN ('queued', 'running') AND segment_id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, j->segment_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && busy_prefix)
        snprintf(busy_prefix, STORE_EXPORT_PREFIX_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return BR_EEXPORTBUSY;
    if (rc != SQLITE_DONE) return BR_ESTORE;
    char name[STORE_EXPORT_NAME_MAX];
    store_export_file_name(j->prefix, j->format, name);
    if (!(st = store_prep(db, "INSERT INTO exports (prefix, segment_id, fields, callback, format, name, url, created_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")))
        return BR_ESTORE;
    sqlite3_bind_text(st, 1, j->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->segment_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->fields, -1, SQLITE_STATIC);
    if (j->callback) sqlite3_bind_text(st, 4, j->callback, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, format_name[j->format == STORE_EXPORT_GZIP], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, j->url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, j->created_at);
    if ((rc = store_done(db, st)) == 0) j->id = sqlite3_last_insert_rowid(db);
    return rc;
}

int store_export_next(sqlite3 *db, int64_t now_ms, store_export_job *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_prep(db, "SELECT id, prefix, segment_id, format, fields, callback, url, created_at "
                                      "FROM exports WHERE state IN ('queued', 'running') ORDER BY id LIMIT 1");
    if (!st) return BR_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        snprintf(out->prefix, sizeof out->prefix, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(out->segment_id, sizeof out->segment_id, "%s", (const char *)sqlite3_column_text(st, 2));
        out->format = strcmp((const char *)sqlite3_column_text(st, 3), "gzip") ? STORE_EXPORT_ZIP : STORE_EXPORT_GZIP;
        out->fields = store_col_text(st, 4);
        out->callback = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : store_col_text(st, 5);
        out->url = store_col_text(st, 6);
        out->created_at = sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return BR_ENOTFOUND;
    if (rc != SQLITE_ROW) return BR_ESTORE;
    if (!(st = store_prep(db, "UPDATE exports SET state = 'running', started_at = ? WHERE id = ?"))) {
        store_export_job_free(out);
        return BR_ESTORE;
    }
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, out->id);
    if ((rc = store_done(db, st)) < 0) store_export_job_free(out);
    return rc;
}

int store_export_finish(sqlite3 *db, int64_t id, bool ok, int64_t users, const char *error, int64_t now_ms) {
    sqlite3_stmt *st = store_prep(db, "UPDATE exports SET state = ?, users = ?, error = ?, finished_at = ? WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, ok ? "done" : "failed", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, users);
    if (error) sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, id);
    return store_done(db, st);
}

int store_export_callback(sqlite3 *db, int64_t id, int status) {
    sqlite3_stmt *st = store_prep(db, "UPDATE exports SET callback_status = ? WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int(st, 1, status);
    sqlite3_bind_int64(st, 2, id);
    return store_done(db, st);
}

int store_export_state(sqlite3 *db, const char *prefix, char **state) {
    sqlite3_stmt *st = store_prep(db, "SELECT state FROM exports WHERE prefix = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *state = store_col_text(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}
