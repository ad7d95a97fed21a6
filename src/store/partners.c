/* partners.c -- SQL for data import keys, partner settings and cohort rows
 * (see partners.h). */
#include "partners.h"
#include "store.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- data import keys ---------------------------------------------------- */

#define PKEY_COLUMNS "id, partner, created_at, expires_at"

static void read_pkey(sqlite3_stmt *st, partner_key_row *r) {
    r->id = sqlite3_column_int64(st, 0);
    store_col_copy(st, 1, r->partner, sizeof r->partner);
    r->created_at = sqlite3_column_int64(st, 2);
    r->expires_at = sqlite3_column_int64(st, 3);
}

int store_pkey_insert(sqlite3 *db, const char *partner, const uint8_t hash[32], int64_t now_ms, int64_t *id) {
    sqlite3_stmt *st = store_prep(db, "INSERT INTO partner_keys (partner, hash, created_at) VALUES (?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, partner, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    int rc = store_done(db, st);
    if (rc == 0) *id = sqlite3_last_insert_rowid(db);
    return rc;
}

int store_pkey_by_hash(sqlite3 *db, const uint8_t hash[32], partner_key_row *out) {
    sqlite3_stmt *st = store_prep(db, "SELECT " PKEY_COLUMNS " FROM partner_keys WHERE hash = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_pkey(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

int store_pkey_expire(sqlite3 *db, const char *partner, int64_t at_ms, int *n) {
    sqlite3_stmt *st = store_prep(db, "UPDATE partner_keys SET expires_at = ?1 WHERE partner = ?2 "
                                "AND (expires_at IS NULL OR expires_at > ?1)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, at_ms);
    sqlite3_bind_text(st, 2, partner, -1, SQLITE_STATIC);
    int rc = store_done(db, st);
    *n = rc == 0 ? sqlite3_changes(db) : 0;
    return rc;
}

int store_pkey_count_valid(sqlite3 *db, const char *partner, int64_t now_ms, int *n) {
    sqlite3_stmt *st = store_prep(db, "SELECT COUNT(*) FROM partner_keys WHERE partner = ? "
                                "AND (expires_at IS NULL OR expires_at > ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, partner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : BR_ESTORE;
    *n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Appends the text column of every row of sql to a fixed-size name array. */
static int names_of(sqlite3 *db, const char *sql, partner_name_t **out, int *n) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, sql);
    if (!st) return BR_ESTORE;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, (size_t)cap * sizeof **out);
        }
        store_col_copy(st, 0, (*out)[(*n)++], sizeof **out);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_partner_listing(sqlite3 *db, partner_listing *l) {
    memset(l, 0, sizeof *l);
    sqlite3_stmt *st = store_prep(db, "SELECT " PKEY_COLUMNS " FROM partner_keys ORDER BY partner, id");
    if (!st) return BR_ESTORE;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (l->nkeys == cap) {
            cap = cap ? cap * 2 : 8;
            l->keys = xrealloc(l->keys, (size_t)cap * sizeof *l->keys);
        }
        read_pkey(st, &l->keys[l->nkeys++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE ||
        names_of(db, "SELECT name FROM partners WHERE partner_api_key_hash IS NOT NULL ORDER BY name", &l->configured,
                 &l->nconfigured) < 0 ||
        names_of(db, "SELECT partner FROM cohorts ORDER BY rowid", &l->cohorts, &l->ncohorts) < 0) {
        partner_listing_free(l);
        return BR_ESTORE;
    }
    return 0;
}

int store_partner_keygen_op(sqlite3 *db, void *arg) {
    partner_keygen *k = arg;
    int64_t now = clock_wall_ms();
    int valid, rc;
    if ((rc = store_pkey_count_valid(db, k->partner, now, &valid)) < 0) return rc;
    if (valid && !k->rotate) return BR_EEXISTS;
    k->old_keys = 0;
    k->old_expire_at = 0;
    if (valid) {
        k->old_expire_at = now + k->overlap_ms;
        if ((rc = store_pkey_expire(db, k->partner, k->old_expire_at, &k->old_keys)) < 0) return rc;
    }
    uint8_t hash[SECRET_HASH_LEN];
    partner_keygen_draw(k, now, hash);
    return store_pkey_insert(db, k->partner, hash, now, &k->id);
}

int store_partner_invalidate_op(sqlite3 *db, void *arg) {
    partner_invalidate *p = arg;
    int rc = store_pkey_expire(db, p->partner, clock_wall_ms(), &p->n);
    if (rc == 0 && p->n == 0) rc = BR_ENOTFOUND;
    return rc;
}

int store_partner_set_api_key_op(sqlite3 *db, void *arg) {
    partner_setting *s = arg;
    uint8_t hash[SECRET_HASH_LEN];
    if (s->api_key) secret_hash(s->api_key, strlen(s->api_key), hash);
    return store_partner_set_api_key(db, s->partner, s->api_key ? hash : NULL, clock_wall_ms());
}

/* ---- partner settings ---------------------------------------------------- */

int store_partner_set_api_key(sqlite3 *db, const char *partner, const uint8_t *hash, int64_t now_ms) {
    sqlite3_stmt *st = store_prep(db, "INSERT INTO partners (name, partner_api_key_hash, updated_at) VALUES (?1, ?2, ?3) "
                                "ON CONFLICT(name) DO UPDATE SET partner_api_key_hash = ?2, updated_at = ?3");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, partner, -1, SQLITE_STATIC);
    if (hash) sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    else sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, now_ms);
    return store_done(db, st);
}

int store_partner_api_key(sqlite3 *db, const char *partner, bool *has, uint8_t out[32]) {
    *has = false;
    sqlite3_stmt *st = store_prep(db, "SELECT partner_api_key_hash FROM partners WHERE name = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, partner, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(out, sqlite3_column_blob(st, 0), 32);
        *has = true;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

/* ---- cohorts ------------------------------------------------------------- */

#define COHORT_COLUMNS                                                                          \
    "partner, cohort_id, name, created_at, updated_at, size, import_at, import_added, "          \
    "import_removed, import_unchanged, import_unmatched"

int store_cohort_put(sqlite3 *db, const store_cohort_row *r) {
    /* Metadata only (members NULL) leaves the stored members alone: they
     * change at checkpoints, and the journal holds what came after. */
    sqlite3_stmt *st = store_prep(db, r->members
        ? "INSERT INTO cohorts (" COHORT_COLUMNS ", members) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12) "
          "ON CONFLICT(partner, cohort_id) DO UPDATE SET name=?3, created_at=?4, updated_at=?5, size=?6, "
          "import_at=?7, import_added=?8, import_removed=?9, import_unchanged=?10, import_unmatched=?11, members=?12"
        : "INSERT INTO cohorts (" COHORT_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) "
          "ON CONFLICT(partner, cohort_id) DO UPDATE SET name=?3, created_at=?4, updated_at=?5, size=?6, "
          "import_at=?7, import_added=?8, import_removed=?9, import_unchanged=?10, import_unmatched=?11");
    if (!st) return BR_ESTORE;
    const cohort_meta *m = &r->m;
    sqlite3_bind_text(st, 1, m->partner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->cohort_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, m->created_at);
    sqlite3_bind_int64(st, 5, m->updated_at);
    sqlite3_bind_int64(st, 6, m->size);
    if (m->import_at) sqlite3_bind_int64(st, 7, m->import_at);
    else sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, m->import_added);
    sqlite3_bind_int64(st, 9, m->import_removed);
    sqlite3_bind_int64(st, 10, m->import_unchanged);
    sqlite3_bind_int64(st, 11, m->import_unmatched);
    if (r->members) sqlite3_bind_blob(st, 12, r->members, (int)r->members_len, SQLITE_STATIC);
    return store_done(db, st);
}

static void read_cohort(sqlite3_stmt *st, store_cohort_row *r) {
    cohort_meta *m = &r->m;
    m->partner = (const char *)sqlite3_column_text(st, 0);
    m->cohort_id = (const char *)sqlite3_column_text(st, 1);
    m->name = (const char *)sqlite3_column_text(st, 2);
    m->created_at = sqlite3_column_int64(st, 3);
    m->updated_at = sqlite3_column_int64(st, 4);
    m->size = sqlite3_column_int64(st, 5);
    m->import_at = sqlite3_column_int64(st, 6);
    m->import_added = sqlite3_column_int64(st, 7);
    m->import_removed = sqlite3_column_int64(st, 8);
    m->import_unchanged = sqlite3_column_int64(st, 9);
    m->import_unmatched = sqlite3_column_int64(st, 10);
    r->members = NULL;
    r->members_len = 0;
}

int store_cohort_each(sqlite3 *db, int (*fn)(const store_cohort_row *r, void *arg), void *arg) {
    sqlite3_stmt *st = store_prep(db, "SELECT " COHORT_COLUMNS ", members FROM cohorts ORDER BY rowid");
    if (!st) return BR_ESTORE;
    int rc, frc = 0;
    while (frc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_cohort_row r;
        read_cohort(st, &r);
        r.members = sqlite3_column_blob(st, 11);
        r.members_len = (size_t)sqlite3_column_bytes(st, 11);
        frc = fn(&r, arg);
    }
    sqlite3_finalize(st);
    if (frc < 0) return frc;
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

int store_cohort_list(sqlite3 *db, const char *partner, store_cohort_row **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT " COHORT_COLUMNS " FROM cohorts WHERE ?1 IS NULL OR partner = ?1 ORDER BY rowid");
    if (!st) return BR_ESTORE;
    if (partner) sqlite3_bind_text(st, 1, partner, -1, SQLITE_STATIC);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *rows = xrealloc(*rows, (size_t)cap * sizeof **rows);
        }
        store_cohort_row *r = &(*rows)[(*n)++];
        read_cohort(st, r);
        r->m.partner = store_col_text(st, 0);
        r->m.cohort_id = store_col_text(st, 1);
        r->m.name = store_col_text(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

void store_cohort_rows_free(store_cohort_row *rows, int n) {
    for (int i = 0; i < n; i++) {
        free((void *)rows[i].m.partner);
        free((void *)rows[i].m.cohort_id);
        free((void *)rows[i].m.name);
    }
    free(rows);
}
