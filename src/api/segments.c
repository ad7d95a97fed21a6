/* segments.c -- Braze's segment exports and brasa's segment admin routes.
 *
 *   GET  /segments/list            segments.list          100 per page, by creation time, archived left out
 *   GET  /segments/details         segments.details       one segment; "description" = its filters in words
 *   GET  /segments/data_series     segments.data_series   daily sizes taken by the server
 *   GET  /admin/segments           brasa.marketing  every segment (?archived=true: archived ones too)
 *   POST /admin/segments           brasa.marketing  create {"name", "definition", "tags", "text_description"}
 *   GET  /admin/segments/{id}      brasa.marketing  one segment, sized now
 *   POST /admin/segments/{id}      brasa.marketing  update any of those fields, or {"archived": true}
 *
 * Segments are rows in SQLite (engine/segments.h): reads run on the engine
 * thread with its connection, where sizing reads the profiles; writes are
 * store ops in the engine's batches. The admin routes use brasa.marketing
 * (which brasa.keys implies), like /admin/cohorts. */
#include "api.h"
#include "parse.h"
#include "../engine/segments.h"
#include "../lib/json.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE 100
#define DAY_MS 86400000LL

typedef struct {
    eng_cmd cmd;
    char id[SEG_ID_LEN + 1];
    bool has_id;
    int page;
    bool desc, archived;
    int64_t from_day, to_day;
    segs_write w;
    segs_eval ev;
    json_object *out;
    char why[400];
} seg_req;

static void seg_req_free(void *p) {
    seg_req *s = p;
    json_object_put(s->out);
    json_object_put(s->w.result);
    bitmap_free(s->ev.rows);
}

static seg_req *state(http_req *r) { return http_state(r, sizeof(seg_req), seg_req_free); }
/* An id from the query or the path: a UUID-shaped string. */
static int take_id(http_req *r, seg_req *s, const char *v, const char *what) {
    char d[160];
    if (!v || !*v) {
        snprintf(d, sizeof d, "'%s' is required", what);
        http_error(r, BR_EINVAL, d);
        return -1;
    }
    if (strlen(v) > SEG_ID_LEN) {
        snprintf(d, sizeof d, "'%s' is not a segment id", what);
        http_error(r, BR_EINVAL, d);
        return -1;
    }
    memcpy(s->id, v, strlen(v) + 1);
    s->has_id = true;
    return 0;
}

/* Unknown ids are 400s with the id named, as for other bad input. */
static int seg_error(http_req *r, seg_req *s, int rc, const char *why) {
    char d[500];
    if (rc == BR_ENOTFOUND) {
        snprintf(d, sizeof d, "no segment with id '%s'", s->id);
        return http_error(r, BR_EINVAL, d);
    }
    if (rc == BR_EINVAL) return http_error(r, rc, why);
    return rc;
}

/* ---- GET /segments/list -------------------------------------------------- */

static int list_read(engine_t *e, void *arg) {
    seg_req *s = arg;
    sqlite3 *db = engine_reader(e);
    store_segment_row *rows;
    int n;
    int rc = store_segment_list(db, s->archived, s->desc, s->page * LIST_PAGE, s->page >= 0 ? LIST_PAGE : -1, &rows, &n);
    if (rc < 0) return rc;
    s->out = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *o;
        if (s->page >= 0) { /* Braze's shape */
            o = json_object_new_object();
            json_object_object_add(o, "id", json_object_new_string(rows[i].id));
            json_object_object_add(o, "name", json_object_new_string(rows[i].name));
            json_object_object_add(o, "analytics_tracking_enabled", json_object_new_boolean(1));
            json_object *tags = json_parse(rows[i].tags, strlen(rows[i].tags));
            json_object_object_add(o, "tags", tags ? tags : json_object_new_array());
        } else o = segs_json(db, &rows[i]);
        json_object_array_add(s->out, o);
    }
    store_segment_rows_free(rows, n);
    return 0;
}

static int list_done(http_req *r, int rc) {
    seg_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = api_success();
    json_object_object_add(o, "segments", json_object_get(s->out));
    return http_reply(r, 200, o);
}

static int get_list(http_req *r) {
    seg_req *s = state(r);
    if (api_query_page(r, &s->page, &s->desc) < 0) return 0;
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* ---- GET /segments/details ----------------------------------------------- */

static int details_read(engine_t *e, void *arg) {
    seg_req *s = arg;
    sqlite3 *db = engine_reader(e);
    store_segment_row row;
    int rc = store_segment_get(db, s->id, &row);
    if (rc < 0) return rc;
    json_object *full = segs_json(db, &row), *v;
    store_segment_row_free(&row);
    /* Braze's keys, in Braze's order. */
    s->out = api_success();
    static const char *const keys[] = {"created_at", "updated_at", "name", "description", "text_description", "tags"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_object_object_get_ex(full, keys[i], &v);
        json_object_object_add(s->out, keys[i], json_object_get(v));
    }
    json_object_object_add(s->out, "teams", json_object_new_array());
    json_object_put(full);
    return 0;
}

static int details_done(http_req *r, int rc) {
    seg_req *s = http_state_get(r);
    if (rc < 0) return seg_error(r, s, rc, NULL);
    return http_reply(r, 200, json_object_get(s->out));
}

static int get_details(http_req *r) {
    seg_req *s = state(r);
    if (take_id(r, s, http_query(r, "segment_id"), "segment_id") < 0) return 0;
    return api_read(r, &s->cmd, details_read, s, details_done);
}

/* ---- GET /segments/data_series ------------------------------------------- */

static int series_read(engine_t *e, void *arg) {
    seg_req *s = arg;
    sqlite3 *db = engine_reader(e);
    store_segment_row row;
    int rc = store_segment_get(db, s->id, &row);
    if (rc < 0) return rc;
    store_segment_row_free(&row);
    int64_t *days, *sizes;
    int n;
    if ((rc = store_segment_sizes(db, s->id, s->from_day, s->to_day, &days, &sizes, &n)) < 0) return rc;
    s->out = json_object_new_array();
    for (int i = 0; i < n; i++) {
        char t[16];
        timefmt_date(days[i], t, sizeof t);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "time", json_object_new_string(t));
        json_object_object_add(o, "size", json_object_new_int64(sizes[i]));
        json_object_array_add(s->out, o);
    }
    free(days);
    free(sizes);
    return 0;
}

static int series_done(http_req *r, int rc) {
    seg_req *s = http_state_get(r);
    if (rc < 0) return seg_error(r, s, rc, NULL);
    json_object *o = api_success();
    json_object_object_add(o, "data", json_object_get(s->out));
    return http_reply(r, 200, o);
}

static int get_series(http_req *r) {
    seg_req *s = state(r);
    if (take_id(r, s, http_query(r, "segment_id"), "segment_id") < 0) return 0;
    const char *e = http_query(r, "ending_at");
    long len;
    if (api_query_length(r, &len) < 0) return 0;
    int64_t at = clock_wall_ms();
    if (e) {
        int year;
        if (timefmt_parse(e, strlen(e), &at, &year) < 0)
            return http_error(r, BR_EINVAL, "'ending_at' must be an ISO-8601 time");
    }
    s->to_day = at / DAY_MS;
    s->from_day = s->to_day - len + 1;
    return api_read(r, &s->cmd, series_read, s, series_done);
}

/* ---- admin --------------------------------------------------------------- */

static int admin_list(http_req *r) {
    seg_req *s = state(r);
    const char *a = http_query(r, "archived");
    if (a && strcmp(a, "true") && strcmp(a, "false")) return http_error(r, BR_EINVAL, "'archived' must be true or false");
    s->archived = a && !strcmp(a, "true");
    s->page = -1;
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* Create or update (a store op), then size the segment (an engine read):
 * two steps of one request. */
static int one_done(http_req *r, int rc, int status) {
    seg_req *s = http_state_get(r);
    if (rc < 0) return seg_error(r, s, rc, s->w.why[0] ? s->w.why : s->ev.why);
    json_object *o = api_success(), *seg = s->w.result ? json_object_get(s->w.result) : json_object_get(s->out);
    json_object_object_add(seg, "size", json_object_new_int64(s->ev.size));
    json_object_object_add(seg, "evaluation_ms", json_object_new_double(s->ev.ms));
    json_object_object_add(o, "segment", seg);
    return http_reply(r, status, o);
}

static int created_done(http_req *r, int rc) { return one_done(r, rc, 201); }
static int updated_done(http_req *r, int rc) { return one_done(r, rc, 200); }

static int written(http_req *r, int rc) {
    seg_req *s = http_state_get(r);
    if (rc < 0) return seg_error(r, s, rc, s->w.why);
    s->ev.id = s->w.id ? s->w.id : s->w.new_id;
    return api_read(r, &s->cmd, segs_eval_read, &s->ev, s->w.id ? updated_done : created_done);
}

static int write_request(http_req *r, seg_req *s) {
    char why[200];
    int rc = api_segment_parse(http_body(r), s->w.id != NULL, &s->w, why, sizeof why);
    if (rc < 0) return http_error(r, rc, why);
    return api_store(r, &s->cmd, segs_write_op, &s->w, written);
}

static int admin_create(http_req *r) { return write_request(r, state(r)); }

static int admin_update(http_req *r) {
    seg_req *s = state(r);
    if (take_id(r, s, http_param(r, "id"), "id") < 0) return 0;
    s->w.id = s->id;
    return write_request(r, s);
}

static int get_one_read(engine_t *e, void *arg) {
    seg_req *s = arg;
    s->ev.id = s->id;
    int rc = segs_eval_read(e, &s->ev);
    if (rc < 0) return rc;
    store_segment_row row;
    if ((rc = store_segment_get(engine_reader(e), s->id, &row)) < 0) return rc;
    s->out = segs_json(engine_reader(e), &row);
    store_segment_row_free(&row);
    return 0;
}

static int admin_get(http_req *r) {
    seg_req *s = state(r);
    if (take_id(r, s, http_param(r, "id"), "id") < 0) return 0;
    return api_read(r, &s->cmd, get_one_read, s, updated_done);
}

/* ---- the segment body ---------------------------------------------------- */

#define FAIL(...)                           \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return BR_EINVAL;                   \
    } while (0)

int api_segment_parse(json_object *b, bool update, segs_write *w, char *why, size_t whylen) {
    json_object *v;
    w->archived = -1;
    if (!json_object_is_type(b, json_type_object)) FAIL("the body must be a JSON object");
    if (json_object_object_get_ex(b, "name", &v) || !update) {
        size_t n = 0;
        if (!json_object_is_type(v, json_type_string) || (json_strlen(v, &n), !n) || n > SEGS_NAME_MAX)
            FAIL("'name' must be a string of 1 to 255 bytes");
        w->name = json_object_get_string(v);
    }
    if ((v = json_get(b, "tags"))) {
        bool ok = json_object_is_type(v, json_type_array) && json_object_array_length(v) <= SEGS_TAGS_MAX;
        for (size_t i = 0; ok && i < json_object_array_length(v); i++) {
            json_object *t = json_object_array_get_idx(v, i);
            ok = json_object_is_type(t, json_type_string) && json_object_get_string_len(t) &&
                 json_object_get_string_len(t) <= SEGS_NAME_MAX;
        }
        if (!ok) FAIL("'tags' must be an array of at most 50 strings of 1 to 255 bytes");
        w->tags = v;
    }
    if ((v = json_get(b, "text_description"))) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > SEGS_DESCRIPTION_MAX)
            FAIL("'text_description' must be a string of at most 10000 bytes");
        w->description = json_object_get_string(v);
    }
    if ((v = json_get(b, "archived"))) {
        if (!update) FAIL("'archived' applies to an existing segment");
        if (!json_object_is_type(v, json_type_boolean)) FAIL("'archived' must be a boolean");
        w->archived = json_object_get_boolean(v);
    }
    json_object *def;
    if (json_object_object_get_ex(b, "definition", &def) || !update) {
        int rc = api_segment_definition(def, why, whylen);
        if (rc < 0) return rc;
        w->definition = def;
    }
    return 0;
}

int api_segment_definition(json_object *def, char *why, size_t whylen) {
    size_t n;
    if (!def) FAIL("'definition' is required (a filter, or an {\"and\": [...]} / {\"or\": [...]} group)");
    if (json_text(def, &n), n > SEGS_DEFINITION_MAX)
        FAIL("'definition' is %zu bytes as JSON; at most %d are allowed", n, SEGS_DEFINITION_MAX);
    return 0;
}

const http_route api_segments_routes[] = {
    {"GET", "/segments/list", PERM_SEGMENTS_LIST, RL_DEFAULT, get_list, 0},
    {"GET", "/segments/details", PERM_SEGMENTS_DETAILS, RL_DEFAULT, get_details, 0},
    {"GET", "/segments/data_series", PERM_SEGMENTS_DATA_SERIES, RL_DEFAULT, get_series, 0},
    {"GET", "/admin/segments", PERM_BRASA_MARKETING, RL_DEFAULT, admin_list, 0},
    {"POST", "/admin/segments", PERM_BRASA_MARKETING, RL_DEFAULT, admin_create, 0},
    {"GET", "/admin/segments/{id}", PERM_BRASA_MARKETING, RL_DEFAULT, admin_get, 0},
    {"POST", "/admin/segments/{id}", PERM_BRASA_MARKETING, RL_DEFAULT, admin_update, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
