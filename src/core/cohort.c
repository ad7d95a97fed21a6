/* cohort.c -- the cohort registry, the import commands and their
 * persistence (see cohort.h). */
#include "cohort.h"
#include "command.h"
#include "../lib/err.h"
#include "../lib/hash.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../store/partners.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY UINT32_MAX

struct cohorts {
    cohort_t **v; /* creation order; pointers stay put */
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: index into v */
    uint32_t nslots;
    uint32_t *meta; /* indexes of meta-dirty cohorts */
    uint32_t nmeta, capmeta;
};

/* ---- registry ------------------------------------------------------------ */

cohorts_t *cohorts_new(void) {
    cohorts_t *c = xcalloc(1, sizeof *c);
    c->nslots = 64;
    c->slots = xmalloc(c->nslots * sizeof *c->slots);
    for (uint32_t i = 0; i < c->nslots; i++) c->slots[i] = SLOT_EMPTY;
    return c;
}

static void cohort_free(cohort_t *k) {
    free(k->partner);
    free(k->id);
    free(k->name);
    bitmap_free(k->members);
    free(k);
}

void cohorts_free(cohorts_t *c) {
    if (!c) return;
    for (uint32_t i = 0; i < c->n; i++) cohort_free(c->v[i]);
    free(c->v);
    free(c->slots);
    free(c->meta);
    free(c);
}

uint32_t cohorts_count(const cohorts_t *c) { return c->n; }
cohort_t *cohorts_at(cohorts_t *c, uint32_t i) { return i < c->n ? c->v[i] : NULL; }

static uint64_t key_hash(const char *partner, const char *id, size_t idlen) {
    return hash_mix(hash_bytes(partner, strlen(partner)), hash_bytes(id, idlen));
}

static void slot_put(cohorts_t *c, uint64_t h, uint32_t idx) {
    uint32_t mask = c->nslots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask)
        if (c->slots[i] == SLOT_EMPTY) {
            c->slots[i] = idx;
            return;
        }
}

cohort_t *cohorts_find(cohorts_t *c, const char *partner, const char *id, size_t idlen) {
    uint32_t mask = c->nslots - 1;
    for (uint32_t i = (uint32_t)key_hash(partner, id, idlen) & mask;; i = (i + 1) & mask) {
        if (c->slots[i] == SLOT_EMPTY) return NULL;
        cohort_t *k = c->v[c->slots[i]];
        if (strlen(k->id) == idlen && memcmp(k->id, id, idlen) == 0 && !strcmp(k->partner, partner)) return k;
    }
}

static cohort_t *add(cohorts_t *c, const char *partner, const char *id, const char *name) {
    if ((c->n + 1) * 2 > c->nslots) { /* keep the table at most half full */
        free(c->slots);
        c->nslots *= 2;
        c->slots = xmalloc(c->nslots * sizeof *c->slots);
        for (uint32_t i = 0; i < c->nslots; i++) c->slots[i] = SLOT_EMPTY;
        for (uint32_t i = 0; i < c->n; i++) slot_put(c, key_hash(c->v[i]->partner, c->v[i]->id, strlen(c->v[i]->id)), i);
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    cohort_t *k = xcalloc(1, sizeof *k);
    k->partner = xstrdup(partner);
    k->id = xstrdup(id);
    k->name = xstrdup(name);
    k->members = bitmap_new();
    k->idx = c->n;
    c->v[c->n] = k;
    slot_put(c, key_hash(partner, id, strlen(id)), c->n);
    c->n++;
    return k;
}

/* Marks k changed: written whole at the next checkpoint, and its metadata
 * row with the current command. */
static void mark(cohorts_t *c, cohort_t *k) {
    k->dirty = true;
    if (k->meta_dirty) return;
    k->meta_dirty = true;
    if (c->nmeta == c->capmeta) {
        c->capmeta = c->capmeta ? c->capmeta * 2 : 16;
        c->meta = xrealloc(c->meta, c->capmeta * sizeof *c->meta);
    }
    c->meta[c->nmeta++] = k->idx;
}

void cohorts_forget_row(cohorts_t *c, uint32_t row) {
    for (uint32_t i = 0; i < c->n; i++)
        if (bitmap_remove(c->v[i]->members, row)) mark(c, c->v[i]);
}

size_t cohorts_memory(const cohorts_t *c) {
    size_t m = sizeof *c + c->cap * sizeof *c->v + c->nslots * sizeof *c->slots + c->capmeta * sizeof *c->meta;
    for (uint32_t i = 0; i < c->n; i++) {
        const cohort_t *k = c->v[i];
        m += sizeof *k + strlen(k->partner) + strlen(k->id) + strlen(k->name) + 3 + bitmap_memory(k->members);
    }
    return m;
}

/* ---- request checks ------------------------------------------------------ */

#define FAIL(code, ...)                         \
    do {                                        \
        snprintf(why, whylen, __VA_ARGS__);     \
        return code;                            \
    } while (0)

static int check_cohort_id(json_object *body, char *why, size_t whylen) {
    json_object *v;
    if (!json_object_object_get_ex(body, "cohort_id", &v) || json_object_is_type(v, json_type_null))
        FAIL(BR_ECOHORTID, "'cohort_id' is required");
    if (!json_object_is_type(v, json_type_string)) FAIL(BR_ECOHORTID, "'cohort_id' is not a string");
    int n = json_object_get_string_len(v);
    if (n == 0) FAIL(BR_ECOHORTID, "'cohort_id' is empty");
    if (n > COHORT_ID_MAX) FAIL(BR_ECOHORTID, "'cohort_id' is longer than %d bytes", COHORT_ID_MAX);
    if (memchr(json_object_get_string(v), 0, (size_t)n)) FAIL(BR_ECOHORTID, "'cohort_id' contains a NUL character");
    return 0;
}

/* ISO-8601 as Braze's partners send it: a calendar date first
 * (YYYY-MM-DD, then optionally a time and zone); timefmt's US forms are not
 * ISO-8601. */
static bool iso8601(const char *s, size_t n, int64_t *ms) {
    int year;
    if (n < 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 4; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return timefmt_parse(s, n, ms, &year) == 0;
}

int cohort_check_name(json_object *body, char *why, size_t whylen) {
    json_object *v;
    int rc = check_cohort_id(body, why, whylen);
    if (rc < 0) return rc;
    if (!json_object_object_get_ex(body, "name", &v) || json_object_is_type(v, json_type_null))
        FAIL(BR_ECOHORTNAME, "'name' is required");
    if (!json_object_is_type(v, json_type_string)) FAIL(BR_ECOHORTNAME, "'name' is not a string");
    int n = json_object_get_string_len(v);
    if (n == 0) FAIL(BR_ECOHORTNAME, "'name' is empty");
    if (n > COHORT_NAME_MAX) FAIL(BR_ECOHORTNAME, "'name' is longer than %d bytes", COHORT_NAME_MAX);
    if (memchr(json_object_get_string(v), 0, (size_t)n)) FAIL(BR_ECOHORTNAME, "'name' contains a NUL character");
    int64_t ms;
    if (!json_object_object_get_ex(body, "created_at", &v) || json_object_is_type(v, json_type_null))
        FAIL(BR_ECOHORTTIME, "'created_at' is required");
    if (!json_object_is_type(v, json_type_string) ||
        !iso8601(json_object_get_string(v), (size_t)json_object_get_string_len(v), &ms))
        FAIL(BR_ECOHORTTIME, "got %.64s",
             json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    return 0;
}

/* An optional array of strings (user_ids, device_ids). */
static int check_strings(json_object *ch, size_t i, const char *key, size_t *count, bool *present, char *why,
                         size_t whylen) {
    json_object *a;
    if (!json_object_object_get_ex(ch, key, &a) || json_object_is_type(a, json_type_null)) return 0;
    *present = true;
    if (!json_object_is_type(a, json_type_array))
        FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].%s is not an array", i, key);
    size_t n = json_object_array_length(a);
    for (size_t j = 0; j < n; j++)
        if (!json_object_is_type(json_object_array_get_idx(a, j), json_type_string))
            FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].%s[%zu] is not a string", i, key, j);
    *count += n;
    return 0;
}

static int check_aliases(json_object *ch, size_t i, size_t *count, bool *present, char *why, size_t whylen) {
    json_object *a, *x;
    if (!json_object_object_get_ex(ch, "aliases", &a) || json_object_is_type(a, json_type_null)) return 0;
    *present = true;
    if (!json_object_is_type(a, json_type_array))
        FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].aliases is not an array", i);
    size_t n = json_object_array_length(a);
    for (size_t j = 0; j < n; j++) {
        json_object *al = json_object_array_get_idx(a, j);
        if (!json_object_is_type(al, json_type_object) || !json_object_object_get_ex(al, "alias_name", &x) ||
            !json_object_is_type(x, json_type_string) || !json_object_object_get_ex(al, "alias_label", &x) ||
            !json_object_is_type(x, json_type_string))
            FAIL(BR_ECOHORTCHANGES,
                 "cohort_changes[%zu].aliases[%zu] is not an object with string alias_name and alias_label", i, j);
    }
    *count += n;
    return 0;
}

int cohort_check_users(json_object *body, char *why, size_t whylen) {
    json_object *changes, *v;
    int rc = check_cohort_id(body, why, whylen);
    if (rc < 0) return rc;
    if (!json_object_object_get_ex(body, "cohort_changes", &changes) || json_object_is_type(changes, json_type_null))
        FAIL(BR_ECOHORTCHANGES, "'cohort_changes' is required");
    if (!json_object_is_type(changes, json_type_array)) FAIL(BR_ECOHORTCHANGES, "'cohort_changes' is not an array");
    size_t n = json_object_array_length(changes), ids = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *ch = json_object_array_get_idx(changes, i);
        bool present = false;
        if (!json_object_is_type(ch, json_type_object)) FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu] is not an object", i);
        if ((rc = check_strings(ch, i, "user_ids", &ids, &present, why, whylen)) < 0 ||
            (rc = check_strings(ch, i, "device_ids", &ids, &present, why, whylen)) < 0 ||
            (rc = check_aliases(ch, i, &ids, &present, why, whylen)) < 0)
            return rc;
        if (!present) FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu] has none of user_ids, device_ids, aliases", i);
        if (json_object_object_get_ex(ch, "should_remove", &v) && !json_object_is_type(v, json_type_null) &&
            !json_object_is_type(v, json_type_boolean))
            FAIL(BR_ECOHORTCHANGES, "cohort_changes[%zu].should_remove is not a boolean", i);
    }
    if (ids > COHORT_MAX_IDS) FAIL(BR_ECOHORTMAX, "this request has %zu", ids);
    if (ids == 0) FAIL(BR_ECOHORTCHANGES, "no user_ids, device_ids or aliases were given");
    return 0;
}

/* ---- commands ------------------------------------------------------------ */

json_object *cohort_body(int kind, const char *partner, json_object *request) {
    static const char *const name_keys[] = {"cohort_id", "name", "created_at", NULL};
    static const char *const users_keys[] = {"cohort_id", "cohort_changes", NULL};
    json_object *o = json_object_new_object(), *v;
    json_object_object_add(o, "partner", json_object_new_string(partner));
    for (const char *const *k = kind == CMD_COHORT_NAME ? name_keys : users_keys; *k; k++)
        if (json_object_object_get_ex(request, *k, &v)) json_object_object_add(o, *k, json_object_get(v));
    return o;
}

static const char *str_of(json_object *o, const char *k, size_t *n) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    if (n) *n = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static cohort_t *find_body(cohorts_t *c, json_object *body) {
    size_t n;
    const char *partner = str_of(body, "partner", NULL), *id = str_of(body, "cohort_id", &n);
    return partner && id ? cohorts_find(c, partner, id, n) : NULL;
}

bool cohort_exists(cohorts_t *c, json_object *body) { return find_body(c, body) != NULL; }

static json_object *apply_name(cohorts_t *c, json_object *body, int64_t now_ms) {
    size_t idn, nn, tn;
    const char *partner = str_of(body, "partner", NULL), *id = str_of(body, "cohort_id", &idn),
               *name = str_of(body, "name", &nn), *at = str_of(body, "created_at", &tn);
    int64_t created;
    if (!partner || !id || !name || !at || !iso8601(at, tn, &created)) return NULL; /* checked before */
    cohort_t *k = cohorts_find(c, partner, id, idn);
    bool created_now = !k;
    if (!k) {
        k = add(c, partner, id, name);
        k->created_at = created;
        k->updated_at = now_ms;
        mark(c, k);
    } else if (strcmp(k->name, name) != 0) {
        free(k->name);
        k->name = xstrdup(name);
        k->updated_at = now_ms;
        mark(c, k);
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "created", json_object_new_boolean(created_now));
    return r;
}

typedef struct {
    uint32_t added, removed, unchanged, unmatched;
} tally;

static void change(cohort_t *k, uint32_t row, bool remove, tally *t) {
    if (row == USERS_NONE) t->unmatched++;
    else if (remove && bitmap_remove(k->members, row)) t->removed++;
    else if (!remove && bitmap_add(k->members, row)) t->added++;
    else t->unchanged++;
}

static json_object *apply_users(cohorts_t *c, users_t *u, json_object *body, int64_t now_ms) {
    cohort_t *k = find_body(c, body);
    json_object *changes;
    if (!k || !json_object_object_get_ex(body, "cohort_changes", &changes)) return NULL;
    tally t = {0, 0, 0, 0};
    size_t n = json_object_array_length(changes);
    for (size_t i = 0; i < n; i++) {
        json_object *ch = json_object_array_get_idx(changes, i), *a, *v;
        bool remove = json_object_object_get_ex(ch, "should_remove", &v) && json_object_get_boolean(v);
        if (json_object_object_get_ex(ch, "user_ids", &a) && json_object_is_type(a, json_type_array))
            for (size_t j = 0, m = json_object_array_length(a); j < m; j++) {
                v = json_object_array_get_idx(a, j);
                change(k, users_by_external_id(u, json_object_get_string(v), (size_t)json_object_get_string_len(v)),
                       remove, &t);
            }
        if (json_object_object_get_ex(ch, "device_ids", &a) && json_object_is_type(a, json_type_array))
            for (size_t j = 0, m = json_object_array_length(a); j < m; j++) {
                v = json_object_array_get_idx(a, j);
                change(k, users_by_device(u, json_object_get_string(v), (size_t)json_object_get_string_len(v)),
                       remove, &t);
            }
        if (json_object_object_get_ex(ch, "aliases", &a) && json_object_is_type(a, json_type_array))
            for (size_t j = 0, m = json_object_array_length(a); j < m; j++) {
                json_object *al = json_object_array_get_idx(a, j);
                size_t ln = 0, nl = 0;
                const char *label = str_of(al, "alias_label", &ln), *name = str_of(al, "alias_name", &nl);
                change(k, label && name ? users_by_alias(u, label, ln, name, nl) : USERS_NONE, remove, &t);
            }
    }
    k->import_at = now_ms;
    k->import_added = t.added;
    k->import_removed = t.removed;
    k->import_unchanged = t.unchanged;
    k->import_unmatched = t.unmatched;
    if (t.added || t.removed) k->updated_at = now_ms;
    mark(c, k);
    json_object *r = json_object_new_object();
    json_object_object_add(r, "added", json_object_new_int64(t.added));
    json_object_object_add(r, "removed", json_object_new_int64(t.removed));
    json_object_object_add(r, "unchanged", json_object_new_int64(t.unchanged));
    json_object_object_add(r, "unmatched", json_object_new_int64(t.unmatched));
    return r;
}

json_object *cohort_apply(cohorts_t *c, users_t *u, int kind, json_object *body, int64_t now_ms) {
    return kind == CMD_COHORT_NAME ? apply_name(c, body, now_ms) : apply_users(c, u, body, now_ms);
}

/* ---- persistence --------------------------------------------------------- */

store_cohort_row cohort_row(const cohort_t *k) {
    return (store_cohort_row){k->partner, k->id, k->name, k->created_at, k->updated_at,
                              (int64_t)bitmap_cardinality(k->members), k->import_at, k->import_added,
                              k->import_removed, k->import_unchanged, k->import_unmatched, NULL, 0};
}

static json_object *iso(int64_t ms) {
    char b[32];
    timefmt_iso(ms, b, sizeof b);
    return json_object_new_string(b);
}

json_object *cohort_row_json(const store_cohort_row *r) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "partner", json_object_new_string(r->partner));
    json_object_object_add(o, "cohort_id", json_object_new_string(r->cohort_id));
    json_object_object_add(o, "name", json_object_new_string(r->name));
    json_object_object_add(o, "size", json_object_new_int64(r->size));
    json_object_object_add(o, "created_at", iso(r->created_at));
    json_object_object_add(o, "updated_at", iso(r->updated_at));
    json_object *imp = NULL;
    if (r->import_at) {
        imp = json_object_new_object();
        json_object_object_add(imp, "at", iso(r->import_at));
        json_object_object_add(imp, "added", json_object_new_int64(r->import_added));
        json_object_object_add(imp, "removed", json_object_new_int64(r->import_removed));
        json_object_object_add(imp, "unchanged", json_object_new_int64(r->import_unchanged));
        json_object_object_add(imp, "unmatched", json_object_new_int64(r->import_unmatched));
    }
    json_object_object_add(o, "last_import", imp);
    return o;
}

static int load_one(const store_cohort_row *r, void *arg) {
    cohorts_t *c = arg;
    bitmap_t *m = r->members ? bitmap_deserialize(r->members, r->members_len) : bitmap_new();
    if (!m) {
        log_error("cohorts: the members of %s/%s do not parse", r->partner, r->cohort_id);
        return BR_ESTORE;
    }
    cohort_t *k = add(c, r->partner, r->cohort_id, r->name);
    bitmap_free(k->members);
    k->members = m;
    k->created_at = r->created_at;
    k->updated_at = r->updated_at;
    k->import_at = r->import_at;
    k->import_added = (uint32_t)r->import_added;
    k->import_removed = (uint32_t)r->import_removed;
    k->import_unchanged = (uint32_t)r->import_unchanged;
    k->import_unmatched = (uint32_t)r->import_unmatched;
    return 0;
}

int cohorts_load(cohorts_t *c, sqlite3 *db) { return store_cohort_each(db, load_one, c); }

int cohorts_sync(cohorts_t *c, sqlite3 *db) {
    int rc = 0;
    for (uint32_t i = 0; i < c->nmeta; i++) {
        cohort_t *k = c->v[c->meta[i]];
        k->meta_dirty = false;
        if (db && rc == 0) {
            store_cohort_row r = cohort_row(k);
            rc = store_cohort_put(db, &r);
        }
    }
    c->nmeta = 0;
    return rc;
}

int cohorts_write_dirty(cohorts_t *c, sqlite3 *db, uint32_t *written) {
    *written = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        cohort_t *k = c->v[i];
        if (!k->dirty) continue;
        bitmap_optimize(k->members);
        size_t len = bitmap_serialized_size(k->members);
        void *buf = xmalloc(len ? len : 1);
        bitmap_serialize(k->members, buf);
        store_cohort_row r = cohort_row(k);
        r.members = buf;
        r.members_len = len;
        int rc = store_cohort_put(db, &r);
        free(buf);
        if (rc < 0) return rc;
        (*written)++;
    }
    return 0;
}

void cohorts_clean(cohorts_t *c) {
    for (uint32_t i = 0; i < c->n; i++) c->v[i]->dirty = false;
}
