/* segments.c -- segment ops on the writer thread (see segments.h). */
#include "segments.h"
#include "../core/segment.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JFLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

int segs_resolve(void *db, const char *id, json_object **def, char **name) {
    store_segment_row r;
    int rc = store_segment_get(db, id, &r);
    if (rc < 0) return rc;
    *def = json_tokener_parse(r.definition);
    *name = r.name;
    r.name = NULL;
    store_segment_row_free(&r);
    return *def ? 0 : BR_ESTORE;
}

static json_object *iso(int64_t ms) {
    char t[40];
    timefmt_iso(ms, t, sizeof t);
    return json_object_new_string(t);
}

json_object *segs_json(sqlite3 *db, const store_segment_row *r) {
    json_object *o = json_object_new_object(), *def = json_tokener_parse(r->definition), *tags = json_tokener_parse(r->tags);
    json_object_object_add(o, "id", json_object_new_string(r->id));
    json_object_object_add(o, "name", json_object_new_string(r->name));
    json_object_object_add(o, "tags", tags ? tags : json_object_new_array());
    char *words = NULL;
    seg_def *d = NULL;
    char why[400];
    if (def && seg_compile(def, r->id, segs_resolve, db, &d, why, sizeof why) == 0) words = seg_describe(d);
    json_object_object_add(o, "definition", def);
    json_object_object_add(o, "description", words ? json_object_new_string(words) : NULL);
    free(words);
    seg_free(d);
    json_object_object_add(o, "text_description", json_object_new_string(r->description ? r->description : ""));
    json_object_object_add(o, "created_at", iso(r->created_at));
    json_object_object_add(o, "updated_at", iso(r->updated_at));
    json_object_object_add(o, "archived", json_object_new_boolean(r->archived_at != 0));
    json_object_object_add(o, "size", r->size >= 0 ? json_object_new_int64(r->size) : NULL);
    json_object_object_add(o, "size_at", r->size_at ? iso(r->size_at) : NULL);
    return o;
}

/* ---- create / update ----------------------------------------------------- */

static int invalid(segs_write *w, const char *msg) {
    snprintf(w->why, sizeof w->why, "%s", msg);
    return BR_EINVAL;
}

int segs_write_op(sqlite3 *db, void *arg) {
    segs_write *w = arg;
    json_object *b = w->body, *v;
    store_segment_row r;
    memset(&r, 0, sizeof r);
    int64_t now = clock_wall_ms();
    if (!json_object_is_type(b, json_type_object)) return invalid(w, "the body must be a JSON object");
    int rc;
    if (w->id) {
        if ((rc = store_segment_get(db, w->id, &r)) < 0) {
            if (rc == BR_ENOTFOUND) snprintf(w->why, sizeof w->why, "no segment with id '%s'", w->id);
            return rc;
        }
    } else {
        store_segment_new_id(w->new_id);
        memcpy(r.id, w->new_id, sizeof r.id);
        r.created_at = now;
        r.size = -1;
    }
    r.updated_at = now;
    v = NULL;
    if (json_object_object_get_ex(b, "name", &v) || !w->id) {
        if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v) ||
            json_object_get_string_len(v) > SEGS_NAME_MAX) {
            rc = invalid(w, "'name' must be a string of 1 to 255 bytes");
            goto out;
        }
        free(r.name);
        r.name = xstrdup(json_object_get_string(v));
    }
    if (json_object_object_get_ex(b, "tags", &v) && !json_object_is_type(v, json_type_null)) {
        bool ok = json_object_is_type(v, json_type_array) && json_object_array_length(v) <= SEGS_TAGS_MAX;
        for (size_t i = 0; ok && i < json_object_array_length(v); i++) {
            json_object *t = json_object_array_get_idx(v, i);
            ok = json_object_is_type(t, json_type_string) && json_object_get_string_len(t) &&
                 json_object_get_string_len(t) <= SEGS_NAME_MAX;
        }
        if (!ok) {
            rc = invalid(w, "'tags' must be an array of at most 50 strings of 1 to 255 bytes");
            goto out;
        }
        free(r.tags);
        r.tags = xstrdup(json_object_to_json_string_ext(v, JFLAGS));
    } else if (!w->id) r.tags = xstrdup("[]");
    if (json_object_object_get_ex(b, "text_description", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 10000) {
            rc = invalid(w, "'text_description' must be a string of at most 10000 bytes");
            goto out;
        }
        free(r.description);
        r.description = xstrdup(json_object_get_string(v));
    }
    if (json_object_object_get_ex(b, "archived", &v) && !json_object_is_type(v, json_type_null)) {
        if (!w->id) {
            rc = invalid(w, "'archived' applies to an existing segment");
            goto out;
        }
        if (!json_object_is_type(v, json_type_boolean)) {
            rc = invalid(w, "'archived' must be a boolean");
            goto out;
        }
        r.archived_at = json_object_get_boolean(v) ? (r.archived_at ? r.archived_at : now) : 0;
    }
    v = NULL;
    if (json_object_object_get_ex(b, "definition", &v) || !w->id) {
        seg_def *d = NULL;
        if (!v) {
            rc = invalid(w, "'definition' is required (a filter, or an {\"and\": [...]} / {\"or\": [...]} group)");
            goto out;
        }
        /* The new definition must compile with this id on the stack: a
         * reference back to it through other segments is a cycle. */
        if ((rc = seg_compile(v, r.id, segs_resolve, db, &d, w->why, sizeof w->why)) < 0) goto out;
        seg_free(d);
        free(r.definition);
        r.definition = xstrdup(json_object_to_json_string_ext(v, JFLAGS));
    }
    rc = w->id ? store_segment_update(db, &r) : store_segment_insert(db, &r);
    if (rc == 0) w->result = segs_json(db, &r);
out:
    store_segment_row_free(&r);
    return rc;
}

/* ---- evaluation ---------------------------------------------------------- */

static int eval_row(sqlite3 *db, engine_t *eng, const store_segment_row *r, bitmap_t **rows, int64_t *size, double *ms,
                    char *why, size_t whylen) {
    json_object *def = json_tokener_parse(r->definition);
    seg_def *d = NULL;
    int rc = def ? seg_compile(def, r->id, segs_resolve, db, &d, why, whylen) : BR_ESTORE;
    json_object_put(def);
    if (rc < 0) return rc;
    int64_t t0 = clock_mono_us();
    seg_env env = {engine_users(eng), engine_names(eng), engine_cohorts(eng), engine_columns(eng), clock_wall_ms()};
    bitmap_t *b = seg_eval(d, &env);
    *ms = (double)(clock_mono_us() - t0) / 1000.0;
    *size = (int64_t)bitmap_cardinality(b);
    seg_free(d);
    if (rows) *rows = b;
    else bitmap_free(b);
    return store_segment_size_put(db, r->id, *size, clock_wall_ms());
}

int segs_eval_op(sqlite3 *db, void *arg) {
    segs_eval *x = arg;
    store_segment_row r;
    int rc = store_segment_get(db, x->id, &r);
    if (rc == BR_ENOTFOUND) snprintf(x->why, sizeof x->why, "no segment with id '%s'", x->id);
    if (rc < 0) return rc;
    rc = eval_row(db, x->eng, &r, x->keep_rows ? &x->rows : NULL, &x->size, &x->ms, x->why, sizeof x->why);
    store_segment_row_free(&r);
    return rc;
}

int segs_snapshot_op(sqlite3 *db, void *arg) {
    segs_snapshot *s = arg;
    store_segment_row *rows;
    int n, rc;
    s->done = 0;
    s->more = false;
    int64_t day = clock_wall_ms() / 86400000, t0 = clock_mono_us();
    for (int off = 0;; off += 500) {
        if ((rc = store_segment_list(db, false, false, off, 500, &rows, &n)) < 0) return rc;
        for (int i = 0; i < n && rc == 0; i++) {
            bool has;
            if ((rc = store_segment_has_day(db, rows[i].id, day, &has)) < 0 || has) continue;
            int64_t size;
            double ms;
            char why[400];
            rc = eval_row(db, s->eng, &rows[i], NULL, &size, &ms, why, sizeof why);
            /* A definition that no longer compiles is logged, not fatal. */
            if (rc == BR_EINVAL) {
                log_warn("segments: %s: %s", rows[i].id, why);
                rc = 0;
            } else if (rc == 0) s->done++;
            if (rc == 0 && clock_mono_us() - t0 > SEGS_SNAPSHOT_BUDGET_MS * 1000) {
                s->more = true; /* the rest in the next op: requests run in between */
                break;
            }
        }
        store_segment_rows_free(rows, n);
        if (rc < 0 || n < 500 || s->more) return rc;
    }
}
