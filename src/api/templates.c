/* templates.c -- Braze's email template endpoints.
 *
 *   POST /templates/email/create   templates.email.create   201 {email_template_id}
 *   POST /templates/email/update   templates.email.update   201 {"message": "success"}
 *   GET  /templates/email/list     templates.email.list     by creation time, paged
 *   GET  /templates/email/info     templates.email.info     one template, content included
 *
 * Fields are checked here: template_name, subject and body are required
 * on create, every Liquid field must compile (refused with the compiler's
 * line, column and message), should_inline_css is a JSON boolean. The
 * checks that need stored rows (the template exists, the Content Blocks
 * its Liquid names exist) run in the store op (store/templates.h), a
 * write in the engine's next batch, answered once durable. Reads run on
 * the engine's reader connection. Messages use a template through their
 * email_template_id (api_template_apply, templates.h). */
#include "api.h"
#include "templates.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/timefmt.h"
#include "../lib/utf8.h"
#include "../liquid/liquid.h"
#include "../send/message.h"
#include "../store/templates.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define NAME_MAX_CHARS 255
#define DESCRIPTION_MAX_CHARS 1000
#define FIELD_MAX (MSG_BODY_MAX * 4) /* bytes of a Liquid field: an email body's limit (send/message.h) */

typedef struct {
    eng_cmd cmd;
    store_template_write w;
    int inline_css;
    /* list */
    int64_t after, before;
    int limit, offset;
    store_template_row *rows;
    int n;
    /* info */
    char id[TPL_ID_LEN + 1];
    store_template_row one;
    char why[600];
} tpl_req;

static void tpl_req_free(void *p) {
    tpl_req *s = p;
    store_template_row_free(&s->w.row);
    store_template_rows_free(s->rows, s->n);
    store_template_row_free(&s->one);
}

static tpl_req *state(http_req *r) { return http_state(r, sizeof(tpl_req), tpl_req_free); }

static json_object *tags_json(const char *tags) {
    json_object *t = json_parse(tags, strlen(tags));
    return t ? t : json_object_new_array();
}

static json_object *str_or_null(const char *s) { return s ? json_object_new_string(s) : NULL; }

static bool blank(const char *s) { return strspn(s, " \t\r\n") == strlen(s); }

/* ---- POST /templates/email/create, /update --------------------------------- */

static int written(http_req *r, int rc) {
    tpl_req *s = http_state_get(r);
    if (rc == BR_ETPLBLOCKS || rc == BR_ETPLID) return http_error(r, rc, s->w.why[0] ? s->w.why : NULL);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object();
    if (!s->w.id) json_object_object_add(o, "email_template_id", json_object_new_string(s->w.row.id));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 201, o);
}

/* A string field given in the body (NULL when absent); BR_EINVAL when it
 * is not a string or is longer than max bytes, and, for a Liquid field,
 * BR_ETPLLIQUID when it does not compile. */
static int take_str(json_object *b, const char *k, size_t max, bool liquid, const char **out, char *why, size_t whylen) {
    json_object *v = json_get(b, k);
    size_t n;
    *out = NULL;
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_string)) return snprintf(why, whylen, "'%s' must be a string", k), BR_EINVAL;
    *out = json_strlen(v, &n);
    if (n > max) return snprintf(why, whylen, "'%s' is longer than %zu bytes", k, max), BR_EINVAL;
    liq_template *t;
    liq_error e;
    if (liquid && liq_compile(*out, n, &t, &e) < 0)
        return snprintf(why, whylen, "%s: line %d, column %d: %s", k, e.line, e.col, e.message), BR_ETPLLIQUID;
    if (liquid) liq_template_free(t);
    return 0;
}

/* The body into s->w, field by field; the refusal's code (and detail in
 * s->why) otherwise. On update, absent or null fields stay as they are. */
static int parse_write(json_object *b, bool update, tpl_req *s) {
    store_template_write *w = &s->w;
    char *why = s->why;
    size_t whylen = sizeof s->why;
    json_object *v;
    int rc;
    why[0] = '\0';
    if (!json_object_is_type(b, json_type_object)) return snprintf(why, whylen, "the body must be a JSON object"), BR_EINVAL;
    if (update) {
        v = json_get(b, "email_template_id");
        if (!json_object_is_type(v, json_type_string) || blank(json_object_get_string(v)))
            return snprintf(why, whylen, "'email_template_id' is required (a string)"), BR_EINVAL;
        w->id = json_object_get_string(v);
        if (strlen(w->id) > TPL_ID_LEN) return snprintf(why, whylen, "no email template with id '%.64s'", w->id), BR_ETPLID;
    }
    if ((v = json_get(b, "template_name")) || !update) {
        if (!json_object_is_type(v, json_type_string) || blank(json_object_get_string(v))) return BR_ETPLNAME;
        w->name = json_object_get_string(v);
        if (utf8_chars(w->name, strlen(w->name)) > NAME_MAX_CHARS)
            return snprintf(why, whylen, "'template_name' is longer than %d characters", NAME_MAX_CHARS), BR_EINVAL;
    }
    if ((rc = take_str(b, "description", DESCRIPTION_MAX_CHARS * 4, false, &w->description, why, whylen)) < 0) return rc;
    if (w->description && utf8_chars(w->description, strlen(w->description)) > DESCRIPTION_MAX_CHARS)
        return snprintf(why, whylen, "'description' is longer than %d characters", DESCRIPTION_MAX_CHARS), BR_EINVAL;
    static const char *const liquid[] = {"subject", "body", "plaintext_body", "preheader"};
    const char **dst[] = {&w->subject, &w->body, &w->plaintext_body, &w->preheader};
    for (int i = 0; i < 4; i++) {
        if ((rc = take_str(b, liquid[i], FIELD_MAX, true, dst[i], why, whylen)) < 0) return rc;
        if (i < 2 && !update && (!*dst[i] || blank(*dst[i])))
            return snprintf(why, whylen, "'%s' is required (a string)", liquid[i]), BR_EINVAL;
        if (i < 2 && update && *dst[i] && blank(*dst[i]))
            return snprintf(why, whylen, "'%s' cannot be blank", liquid[i]), BR_EINVAL;
    }
    if ((v = json_get(b, "tags"))) {
        if (!json_object_is_type(v, json_type_array)) return BR_ECBTAGSARRAY;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) return BR_ECBTAGSSTRINGS;
        w->tags = json_text(v, NULL);
    }
    if ((v = json_get(b, "should_inline_css"))) {
        if (!json_object_is_type(v, json_type_boolean)) return BR_ETPLINLINECSS;
        s->inline_css = json_object_get_boolean(v);
        w->inline_css = &s->inline_css;
    }
    if (update && !w->name && !w->description && !w->subject && !w->body && !w->plaintext_body && !w->preheader &&
        !w->tags && !w->inline_css)
        return snprintf(why, whylen, "give at least one field to change"), BR_EINVAL;
    return 0;
}

static int write_request(http_req *r, bool update) {
    tpl_req *s = state(r);
    int rc = parse_write(http_body(r), update, s);
    if (rc < 0) return http_error(r, rc, s->why[0] ? s->why : NULL);
    return api_store(r, &s->cmd, store_template_write_op, &s->w, written);
}

static int post_create(http_req *r) { return write_request(r, false); }
static int post_update(http_req *r) { return write_request(r, true); }

/* ---- GET /templates/email/list ----------------------------------------------- */

static int list_read(engine_t *e, void *arg) {
    tpl_req *s = arg;
    return store_template_list(engine_reader(e), s->after, s->before, s->offset, s->limit, &s->rows, &s->n);
}

static int list_done(http_req *r, int rc) {
    tpl_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    json_object_object_add(o, "count", json_object_new_int(s->n));
    for (int i = 0; i < s->n; i++) {
        const store_template_row *t = &s->rows[i];
        json_object *x = json_object_new_object();
        json_object_object_add(x, "email_template_id", json_object_new_string(t->id));
        json_object_object_add(x, "template_name", json_object_new_string(t->name));
        json_object_object_add(x, "created_at", json_time(t->created_at));
        json_object_object_add(x, "updated_at", json_time(t->updated_at));
        json_object_object_add(x, "tags", tags_json(t->tags));
        json_object_array_add(a, x);
    }
    json_object_object_add(o, "templates", a);
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 200, o);
}

/* A base-10 integer from lo to hi, nothing else around it. */
static bool int_in(const char *q, long lo, long hi, long *v) {
    char *end;
    if (!*q || strspn(q, "-0123456789") != strlen(q)) return false;
    *v = strtol(q, &end, 10);
    return !*end && *v >= lo && *v <= hi;
}

static int get_list(http_req *r) {
    tpl_req *s = state(r);
    const char *q;
    int year;
    long v;
    s->after = INT64_MIN;
    s->before = INT64_MAX;
    if ((q = http_query(r, "modified_after")) && timefmt_parse(q, strlen(q), &s->after, &year) < 0)
        return http_error(r, BR_EINVAL, "'modified_after' must be an ISO 8601 time");
    if ((q = http_query(r, "modified_before")) && timefmt_parse(q, strlen(q), &s->before, &year) < 0)
        return http_error(r, BR_EINVAL, "'modified_before' must be an ISO 8601 time");
    s->limit = LIST_DEFAULT;
    if ((q = http_query(r, "limit"))) {
        if (!int_in(q, 1, LIST_MAX, &v)) return http_error(r, BR_EINVAL, "'limit' must be an integer from 1 to 1000");
        s->limit = (int)v;
    }
    if ((q = http_query(r, "offset"))) {
        if (!int_in(q, 0, INT_MAX, &v)) return http_error(r, BR_EINVAL, "'offset' must be a non-negative integer");
        s->offset = (int)v;
    }
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* ---- GET /templates/email/info ----------------------------------------------- */

static int info_read(engine_t *e, void *arg) {
    tpl_req *s = arg;
    int rc = store_template_get(engine_reader(e), s->id, &s->one);
    return rc == BR_ENOTFOUND ? BR_ETPLID : rc;
}

static int info_done(http_req *r, int rc) {
    tpl_req *s = http_state_get(r);
    if (rc == BR_ETPLID) return http_error(r, rc, s->why);
    if (rc < 0) return rc;
    const store_template_row *t = &s->one;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "email_template_id", json_object_new_string(t->id));
    json_object_object_add(o, "template_name", json_object_new_string(t->name));
    json_object_object_add(o, "description", json_object_new_string(t->description));
    json_object_object_add(o, "subject", json_object_new_string(t->subject));
    json_object_object_add(o, "preheader", str_or_null(t->preheader));
    json_object_object_add(o, "body", json_object_new_string(t->body));
    json_object_object_add(o, "plaintext_body", str_or_null(t->plaintext_body));
    json_object_object_add(o, "should_inline_css", t->inline_css < 0 ? NULL : json_object_new_boolean(t->inline_css));
    json_object_object_add(o, "tags", tags_json(t->tags));
    json_object_object_add(o, "created_at", json_time(t->created_at));
    json_object_object_add(o, "updated_at", json_time(t->updated_at));
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 200, o);
}

static int get_info(http_req *r) {
    tpl_req *s = state(r);
    const char *id = http_query(r, "email_template_id");
    if (!id || blank(id)) return http_error(r, BR_EINVAL, "'email_template_id' is required");
    snprintf(s->why, sizeof s->why, "no email template with id '%.64s'", id);
    if (strlen(id) > TPL_ID_LEN) return http_error(r, BR_ETPLID, s->why);
    memcpy(s->id, id, strlen(id) + 1);
    return api_read(r, &s->cmd, info_read, s, info_done);
}

/* ---- email_template_id in a message ------------------------------------------ */

int api_template_apply(sqlite3 *db, json_object *m, const char *prefix, char *why, size_t whylen) {
    json_object *v = json_get(m, "email_template_id");
    const char *id = json_object_get_string(v);
    if (!v) return 0;
    store_template_row t;
    int rc = strlen(id) > TPL_ID_LEN ? BR_ENOTFOUND : store_template_get(db, id, &t);
    if (rc == BR_ENOTFOUND) {
        snprintf(why, whylen, "%s.email_template_id: no email template with id '%.64s'", prefix, id);
        return BR_ETPLID;
    }
    if (rc < 0) return rc;
    const char *names[] = {"subject", "body", "plaintext_body", "preheader"};
    const char *vals[] = {t.subject, t.body, t.plaintext_body, t.preheader};
    for (int i = 0; i < 4; i++)
        if (vals[i] && !json_get(m, names[i])) json_object_object_add(m, names[i], json_object_new_string(vals[i]));
    if (t.inline_css >= 0 && !json_get(m, "should_inline_css"))
        json_object_object_add(m, "should_inline_css", json_object_new_boolean(t.inline_css));
    store_template_row_free(&t);
    return 0;
}

const http_route api_templates_routes[] = {
    {"POST", "/templates/email/create", PERM_TEMPLATES_EMAIL_CREATE, RL_DEFAULT, post_create, 0},
    {"POST", "/templates/email/update", PERM_TEMPLATES_EMAIL_UPDATE, RL_DEFAULT, post_update, 0},
    {"GET", "/templates/email/list", PERM_TEMPLATES_EMAIL_LIST, RL_DEFAULT, get_list, 0},
    {"GET", "/templates/email/info", PERM_TEMPLATES_EMAIL_INFO, RL_DEFAULT, get_info, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
