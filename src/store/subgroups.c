/* subgroups.c -- subscription groups in SQL (see subgroups.h). */
#include "subgroups.h"
#include "store.h"
#include "../lib/err.h"
#include "../lib/mem.h"

#include <stdlib.h>
#include <string.h>

int store_subgroup_add(sqlite3 *db, const store_subgroup *g) {
    sqlite3_stmt *st = store_prep(db, "INSERT INTO subscription_groups (id, name, channel, created_at) VALUES (?, ?, ?, ?)");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, g->channel, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, g->created_at);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    return rc == SQLITE_CONSTRAINT ? BR_EEXISTS : BR_ESTORE;
}

static void row(sqlite3_stmt *st, store_subgroup *g) {
    g->id = store_col_text(st, 0);
    g->name = store_col_text(st, 1);
    g->channel = store_col_text(st, 2);
    g->created_at = sqlite3_column_int64(st, 3);
}

int store_subgroup_get(sqlite3 *db, const char *id, store_subgroup *g) {
    memset(g, 0, sizeof *g);
    sqlite3_stmt *st = store_prep(db, "SELECT id, name, channel, created_at FROM subscription_groups WHERE id = ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row(st, g);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BR_ENOTFOUND : BR_ESTORE;
}

void store_subgroup_clear(store_subgroup *g) {
    free(g->id);
    free(g->name);
    free(g->channel);
    memset(g, 0, sizeof *g);
}

int store_subgroups_list(sqlite3 *db, store_subgroup **out, int *n) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prep(db, "SELECT id, name, channel, created_at FROM subscription_groups ORDER BY created_at, id");
    if (!st) return BR_ESTORE;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *out = xrealloc(*out, (size_t)(cap = cap ? cap * 2 : 8) * sizeof **out);
        row(st, &(*out)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return 0;
    store_subgroups_free(*out, *n);
    *out = NULL;
    *n = 0;
    return BR_ESTORE;
}

void store_subgroups_free(store_subgroup *v, int n) {
    for (int i = 0; i < n; i++) store_subgroup_clear(&v[i]);
    free(v);
}
