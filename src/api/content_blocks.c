/* content_blocks.c -- Braze's Content Blocks endpoints.
 *
 *   POST /content_blocks/create   content_blocks.create   201 {content_block_id, liquid_tag, created_at}
 *   POST /content_blocks/update   content_blocks.update   201, the same shape
 *   GET  /content_blocks/list     content_blocks.list     live blocks by creation time, paged
 *   GET  /content_blocks/info     content_blocks.info     one block, content included
 *
 * Fields are checked here against core/content_block.h (the content must
 * compile as Liquid); the checks that need the stored blocks (name taken,
 * the update rules) run in the store op (store/content_blocks.h), a write
 * in the engine's next batch, answered once durable. Reads run on the
 * engine's reader connection. Every refusal is a 400 with Braze's text
 * (lib/err.h, the BR_ECB* group). inclusion_count counts the live message
 * variations that reference a block; brasa has no campaigns yet, so it is
 * 0 (cblock_refs() is how message code will count). */
#include "api.h"
#include "../core/content_block.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/timefmt.h"
#include "../store/content_blocks.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000

typedef struct {
    eng_cmd cmd;
    store_block_write w;
    cblock_state state;
    /* list */
    int64_t after, before;
    int limit, offset;
    store_block_row *rows;
    int n;
    /* info */
    char id[BLOCK_ID_LEN + 1];
    bool inclusion_data;
    store_block_row one;
    char why[600];
} cb_req;

static void cb_req_free(void *p) {
    cb_req *s = p;
    store_block_row_free(&s->w.row);
    store_block_rows_free(s->rows, s->n);
    store_block_row_free(&s->one);
}

static cb_req *state(http_req *r) { return http_state(r, sizeof(cb_req), cb_req_free); }

static json_object *tags_json(const char *tags) {
    json_object *t = json_parse(tags, strlen(tags));
    return t ? t : json_object_new_array();
}

static json_object *liquid_tag(const char *name) {
    char tag[CBLOCK_TAG_MAX];
    cblock_liquid_tag(name, tag, sizeof tag);
    return json_object_new_string(tag);
}

/* ---- POST /content_blocks/create, /update ----------------------------------- */

static int written(http_req *r, int rc) {
    cb_req *s = http_state_get(r);
    if (rc < 0) return rc; /* Braze's text alone: nothing to add */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "content_block_id", json_object_new_string(s->w.row.id));
    json_object_object_add(o, "liquid_tag", liquid_tag(s->w.row.name));
    json_object_object_add(o, "created_at", json_time(s->w.row.created_at));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

/* The body into s->w, field by field; the refusal's code (and detail in
 * s->why) otherwise. On update, absent or null fields stay as they are. */
static int parse_write(json_object *b, bool update, cb_req *s) {
    store_block_write *w = &s->w;
    json_object *v;
    size_t n;
    s->why[0] = '\0';
    if (!json_object_is_type(b, json_type_object)) {
        snprintf(s->why, sizeof s->why, "the body must be a JSON object");
        return BR_EINVAL;
    }
    if (update) {
        if (!(v = json_get(b, "content_block_id"))) return BR_ECBIDBLANK;
        if (!json_object_is_type(v, json_type_string)) return BR_ECBID;
        const char *id = json_strlen(v, &n);
        if (strspn(id, " \t\r\n") == n) return BR_ECBIDBLANK;
        w->id = id;
    }
    int rc;
    if ((v = json_get(b, "name")) || !update) {
        if (!v) return BR_ECBNAMEBLANK;
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(s->why, sizeof s->why, "'name' must be a string");
            return BR_EINVAL;
        }
        w->name = json_strlen(v, &n);
        if ((rc = cblock_check_name(w->name, n)) < 0) return rc;
    }
    if ((v = json_get(b, "description"))) {
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(s->why, sizeof s->why, "'description' must be a string");
            return BR_EINVAL;
        }
        w->description = json_strlen(v, &n);
        if ((rc = cblock_check_description(w->description, n)) < 0) return rc;
    }
    if ((v = json_get(b, "content")) || !update) {
        if (!v) return BR_ECBCONTENTBLANK;
        if (!json_object_is_type(v, json_type_string)) return BR_ECBCONTENTTYPE;
        w->content = json_strlen(v, &n);
        if ((rc = cblock_check_content(w->content, n, s->why, sizeof s->why)) < 0) return rc;
    }
    if ((v = json_get(b, "state"))) {
        if (!json_object_is_type(v, json_type_string) || cblock_parse_state(json_object_get_string(v), &s->state) < 0)
            return BR_ECBSTATE;
        w->state = &s->state;
    }
    if ((v = json_get(b, "tags"))) {
        if (!json_object_is_type(v, json_type_array)) return BR_ECBTAGSARRAY;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) return BR_ECBTAGSSTRINGS;
        w->tags = json_text(v, NULL);
    }
    return 0;
}

static int write_request(http_req *r, bool update) {
    cb_req *s = state(r);
    int rc = parse_write(http_body(r), update, s);
    if (rc < 0) return http_error(r, rc, s->why[0] ? s->why : NULL);
    return api_store(r, &s->cmd, store_block_write_op, &s->w, written);
}

static int post_create(http_req *r) { return write_request(r, false); }
static int post_update(http_req *r) { return write_request(r, true); }

/* ---- GET /content_blocks/list ----------------------------------------------- */

/* A base-10 integer with an optional '-', nothing else: 0 and *v (clamped
 * to +-LLONG_MAX/10), or -1. */
static int parse_int(const char *s, long long *v) {
    const char *p = s + (*s == '-');
    if (!*p || strspn(p, "0123456789") != strlen(p)) return -1;
    long long x = 0;
    for (; *p; p++) x = x > LLONG_MAX / 100 ? LLONG_MAX / 10 : x * 10 + (*p - '0');
    *v = *s == '-' ? -x : x;
    return 0;
}

static int list_read(engine_t *e, void *arg) {
    cb_req *s = arg;
    return store_block_list(engine_reader(e), s->after, s->before, s->offset, s->limit, &s->rows, &s->n);
}

static int list_done(http_req *r, int rc) {
    cb_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    json_object_object_add(o, "count", json_object_new_int(s->n));
    for (int i = 0; i < s->n; i++) {
        const store_block_row *b = &s->rows[i];
        json_object *x = json_object_new_object();
        json_object_object_add(x, "content_block_id", json_object_new_string(b->id));
        json_object_object_add(x, "name", json_object_new_string(b->name));
        json_object_object_add(x, "content_type", json_object_new_string(b->content_type));
        json_object_object_add(x, "liquid_tag", liquid_tag(b->name));
        json_object_object_add(x, "inclusion_count", json_object_new_int(0));
        json_object_object_add(x, "created_at", json_time(b->created_at));
        json_object_object_add(x, "last_edited", json_time(b->updated_at));
        json_object_object_add(x, "tags", tags_json(b->tags));
        json_object_array_add(a, x);
    }
    json_object_object_add(o, "content_blocks", a);
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 200, o);
}

static int get_list(http_req *r) {
    cb_req *s = state(r);
    const char *q;
    int year;
    s->after = INT64_MIN;
    s->before = INT64_MAX;
    if ((q = http_query(r, "modified_after")) && timefmt_parse(q, strlen(q), &s->after, &year) < 0)
        return http_error(r, BR_ECBAFTER, NULL);
    if ((q = http_query(r, "modified_before")) && timefmt_parse(q, strlen(q), &s->before, &year) < 0)
        return http_error(r, BR_ECBBEFORE, NULL);
    long long v;
    s->limit = LIST_DEFAULT;
    if ((q = http_query(r, "limit"))) {
        if (parse_int(q, &v) < 0) return http_error(r, BR_ECBLIMIT, NULL);
        if (v <= 0) return http_error(r, BR_ECBLIMITLOW, NULL);
        if (v > LIST_MAX) return http_error(r, BR_ECBLIMITHIGH, NULL);
        s->limit = (int)v;
    }
    if ((q = http_query(r, "offset"))) {
        if (parse_int(q, &v) < 0 || v < 0) return http_error(r, BR_ECBOFFSET, NULL);
        s->offset = v > INT_MAX ? INT_MAX : (int)v; /* past the end: an empty page */
    }
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* ---- GET /content_blocks/info ----------------------------------------------- */

static int info_read(engine_t *e, void *arg) {
    cb_req *s = arg;
    int rc = store_block_by_id(engine_reader(e), s->id, &s->one);
    if (rc == BR_ENOTFOUND) return BR_ECBID;
    if (rc == 0 && s->one.archived_at) return BR_ECBDELETED;
    return rc;
}

static int info_done(http_req *r, int rc) {
    cb_req *s = http_state_get(r);
    if (rc < 0) return rc;
    const store_block_row *b = &s->one;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "content_block_id", json_object_new_string(b->id));
    json_object_object_add(o, "name", json_object_new_string(b->name));
    json_object_object_add(o, "content", json_object_new_string(b->content));
    json_object_object_add(o, "description", json_object_new_string(b->description));
    json_object_object_add(o, "content_type", json_object_new_string(b->content_type));
    json_object_object_add(o, "tags", tags_json(b->tags));
    json_object_object_add(o, "created_at", json_time(b->created_at));
    json_object_object_add(o, "last_edited", json_time(b->updated_at));
    json_object_object_add(o, "inclusion_count", json_object_new_int(0));
    if (s->inclusion_data) json_object_object_add(o, "inclusion_data", json_object_new_array());
    json_object_object_add(o, "state", json_object_new_string(cblock_state_name(b->state)));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 200, o);
}

static int get_info(http_req *r) {
    cb_req *s = state(r);
    const char *id = http_query(r, "content_block_id"), *inc = http_query(r, "include_inclusion_data");
    if (!id || strspn(id, " \t\r\n") == strlen(id)) return http_error(r, BR_ECBIDBLANK, NULL);
    if (inc && strcmp(inc, "true") && strcmp(inc, "false"))
        return http_error(r, BR_EINVAL, "'include_inclusion_data' must be true or false");
    if (strlen(id) > BLOCK_ID_LEN) return http_error(r, BR_ECBID, NULL);
    memcpy(s->id, id, strlen(id) + 1);
    s->inclusion_data = inc && !strcmp(inc, "true");
    return api_read(r, &s->cmd, info_read, s, info_done);
}

const http_route api_content_blocks_routes[] = {
    {"POST", "/content_blocks/create", PERM_CONTENT_BLOCKS_CREATE, RL_DEFAULT, post_create, 0},
    {"POST", "/content_blocks/update", PERM_CONTENT_BLOCKS_UPDATE, RL_DEFAULT, post_update, 0},
    {"GET", "/content_blocks/list", PERM_CONTENT_BLOCKS_LIST, RL_DEFAULT, get_list, 0},
    {"GET", "/content_blocks/info", PERM_CONTENT_BLOCKS_INFO, RL_DEFAULT, get_info, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
