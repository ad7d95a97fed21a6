/* segments.c -- segment writes, evaluation and views (see segments.h). */
#include "segments.h"
#include "../core/segment.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stored definition that no longer parses is the store's inconsistency,
 * not the caller's: logged, and a 500 that says so. */
static json_object *stored_definition(const store_segment_row *r) {
    json_object *def = json_parse(r->definition, strlen(r->definition));
    if (!def) log_error("segments: the stored definition of %s does not parse", r->id);
    return def;
}

int segs_resolve(void *db, const char *id, json_object **def, char **name) {
    store_segment_row r;
    int rc = store_segment_get(db, id, &r);
    if (rc < 0) return rc;
    *def = stored_definition(&r);
    *name = r.name;
    r.name = NULL;
    store_segment_row_free(&r);
    return *def ? 0 : BR_EINTERNAL;
}

json_object *segs_json(sqlite3 *db, const store_segment_row *r) {
    json_object *o = json_object_new_object(), *def = stored_definition(r),
                *tags = json_parse(r->tags, strlen(r->tags));
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
    json_object_object_add(o, "created_at", json_time(r->created_at));
    json_object_object_add(o, "updated_at", json_time(r->updated_at));
    json_object_object_add(o, "archived", json_object_new_boolean(r->archived_at != 0));
    json_object_object_add(o, "size", r->size >= 0 ? json_object_new_int64(r->size) : NULL);
    json_object_object_add(o, "size_at", r->size_at ? json_time(r->size_at) : NULL);
    return o;
}

/* ---- create / update ----------------------------------------------------- */

int segs_write_op(sqlite3 *db, void *arg) {
    segs_write *w = arg;
    store_segment_row r;
    memset(&r, 0, sizeof r);
    int64_t now = clock_wall_ms();
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
        r.tags = xstrdup("[]");
    }
    r.updated_at = now;
    if (w->name) {
        free(r.name);
        r.name = xstrdup(w->name);
    }
    if (w->tags) {
        free(r.tags);
        r.tags = xstrdup(json_text(w->tags, NULL));
    }
    if (w->description) {
        free(r.description);
        r.description = xstrdup(w->description);
    }
    if (w->archived >= 0) r.archived_at = w->archived ? (r.archived_at ? r.archived_at : now) : 0;
    if (w->definition) {
        seg_def *d = NULL;
        /* The new definition must compile with this id on the stack: a
         * reference back to it through other segments is a cycle. */
        if ((rc = seg_compile(w->definition, r.id, segs_resolve, db, &d, w->why, sizeof w->why)) < 0) goto out;
        seg_free(d);
        free(r.definition);
        r.definition = xstrdup(json_text(w->definition, NULL));
    }
    rc = w->id ? store_segment_update(db, &r) : store_segment_insert(db, &r);
    if (rc == 0) w->result = segs_json(db, &r);
out:
    store_segment_row_free(&r);
    return rc;
}

/* ---- evaluation ---------------------------------------------------------- */

typedef struct {
    char id[SEG_ID_LEN + 1];
    int64_t size, at;
} size_put;

static int size_put_op(sqlite3 *db, void *arg) {
    size_put *s = arg;
    /* The segment may have gone meanwhile: that is not the batch's failure. */
    return store_segment_size_put(db, s->id, s->size, s->at) == BR_ESTORE ? BR_ESTORE : 0;
}

static int eval_row(engine_t *e, const store_segment_row *r, bitmap_t **rows, int64_t *size, double *ms, char *why,
                    size_t whylen) {
    json_object *def = stored_definition(r);
    seg_def *d = NULL;
    int rc = def ? seg_compile(def, r->id, segs_resolve, engine_reader(e), &d, why, whylen) : BR_EINTERNAL;
    json_object_put(def);
    if (rc < 0) return rc;
    int64_t t0 = clock_mono_us();
    seg_env env = {engine_users(e), engine_names(e), engine_cohorts(e), engine_columns(e), clock_wall_ms()};
    bitmap_t *b = seg_eval(d, &env);
    *ms = (double)(clock_mono_us() - t0) / 1000.0;
    *size = (int64_t)bitmap_cardinality(b);
    seg_free(d);
    if (rows) *rows = b;
    else bitmap_free(b);
    size_put *s = xmalloc(sizeof *s);
    memcpy(s->id, r->id, sizeof s->id);
    s->size = *size;
    s->at = clock_wall_ms();
    engine_write_later(e, size_put_op, s, free);
    return 0;
}

int segs_eval_read(engine_t *e, void *arg) {
    segs_eval *x = arg;
    store_segment_row r;
    int rc = store_segment_get(engine_reader(e), x->id, &r);
    if (rc == BR_ENOTFOUND) snprintf(x->why, sizeof x->why, "no segment with id '%s'", x->id);
    if (rc < 0) return rc;
    rc = eval_row(e, &r, x->keep_rows ? &x->rows : NULL, &x->size, &x->ms, x->why, sizeof x->why);
    store_segment_row_free(&r);
    return rc;
}

int segs_eval_json_read(engine_t *e, void *arg) {
    segs_eval_json *x = arg;
    seg_def *d = NULL;
    int rc = seg_compile(x->def, NULL, segs_resolve, engine_reader(e), &d, x->why, sizeof x->why);
    if (rc < 0) return rc;
    seg_env env = {engine_users(e), engine_names(e), engine_cohorts(e), engine_columns(e), clock_wall_ms()};
    x->rows = seg_eval(d, &env);
    if (x->describe) x->description = seg_describe(d);
    seg_free(d);
    return 0;
}

/* Segment r explained for each row into out[i]'s array. */
static void explain_one(engine_t *e, const store_segment_row *r, const uint32_t *rows, int n, json_object **out) {
    json_object *def = stored_definition(r);
    seg_def *d = NULL;
    char why[400] = "its stored definition does not parse";
    int rc = def ? seg_compile(def, r->id, segs_resolve, engine_reader(e), &d, why, sizeof why) : BR_EINTERNAL;
    json_object_put(def);
    seg_env env = {engine_users(e), engine_names(e), engine_cohorts(e), engine_columns(e), clock_wall_ms()};
    for (int i = 0; i < n; i++) {
        json_object *o = json_object_new_object(), *filters = json_object_new_array();
        json_object_object_add(o, "id", json_object_new_string(r->id));
        json_object_object_add(o, "name", json_object_new_string(r->name));
        json_object_object_add(o, "member", json_object_new_boolean(rc == 0 && seg_match_row(d, &env, rows[i])));
        for (int k = 0; rc == 0 && k < seg_top_count(d); k++) {
            json_object *f = json_object_new_object();
            char *words = seg_top_describe(d, k);
            json_object_object_add(f, "description", json_object_new_string(words));
            free(words);
            json_object_object_add(f, "matched", json_object_new_boolean(seg_top_match(d, &env, rows[i], k)));
            json_object_array_add(filters, f);
        }
        json_object_object_add(o, "filters", filters);
        if (rc < 0) json_object_object_add(o, "error", json_object_new_string(why));
        json_object_array_add(out[i], o);
    }
    seg_free(d);
}

int segs_explain(engine_t *e, const uint32_t *rows, int n, json_object **out) {
    store_segment_row *list;
    int count;
    int rc = store_segment_list(engine_reader(e), false, false, 0, -1, &list, &count);
    if (rc < 0) return rc;
    for (int i = 0; i < n; i++) out[i] = json_object_new_array();
    for (int k = 0; k < count; k++) explain_one(e, &list[k], rows, n, out);
    store_segment_rows_free(list, count);
    return 0;
}

int segs_snapshot_read(engine_t *e, void *arg) {
    segs_snapshot *s = arg;
    sqlite3 *db = engine_reader(e);
    store_segment_row *rows;
    int n, rc;
    s->done = 0;
    s->more = false;
    int64_t day = clock_wall_ms() / 86400000, t0 = clock_mono_us();
    for (int off = s->offset;; off += 500) {
        if ((rc = store_segment_list(db, false, false, off, 500, &rows, &n)) < 0) return rc;
        for (int i = 0; i < n && rc == 0; i++) {
            bool has;
            if ((rc = store_segment_has_day(db, rows[i].id, day, &has)) < 0 || has) continue;
            int64_t size;
            double ms;
            char why[400];
            rc = eval_row(e, &rows[i], NULL, &size, &ms, why, sizeof why);
            /* A definition that no longer compiles is logged, not fatal. */
            if (rc == BR_EINVAL || rc == BR_EINTERNAL) {
                log_warn("segments: %s: %s", rows[i].id, rc == BR_EINVAL ? why : "stored definition unreadable");
                rc = 0;
            } else if (rc == 0) s->done++;
            if (rc == 0 && clock_mono_us() - t0 > SEGS_SNAPSHOT_BUDGET_MS * 1000) {
                s->more = true; /* the rest in the next command: requests run in between */
                s->offset = off + i + 1;
                break;
            }
        }
        store_segment_rows_free(rows, n);
        if (rc < 0 || n < 500 || s->more) return rc;
    }
}
