/* exports.c -- segment exports: the request and the download.
 *
 *   POST /users/export/segment               users.export.segment               queue an export of a segment's users
 *   POST /users/export/global_control_group  users.export.global_control_group  the same for the Global Control Group
 *   GET  /exports/{name}                     none                               the finished file ("<prefix>.zip" / ".json.gz")
 *
 * The request is answered once its job is durably queued (store/exports.h);
 * the exporter (engine/exporter.h) writes the file later. The download
 * needs no key: the random object_prefix in its name is the credential,
 * as Braze's pre-signed URL is, so the URL can be handed to a tool as is. */
#include "api.h"
#include "../core/export.h"
#include "../core/gcg.h"
#include "../engine/exporter.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/httpc.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../store/exports.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOST_MAX 255

typedef struct {
    eng_cmd cmd;
    store_export_job job;
    char busy[STORE_EXPORT_PREFIX_MAX];
    char why[200];
} export_req;

static void export_req_free(void *p) { store_export_job_free(&((export_req *)p)->job); }

/* A store op (in a batch transaction): the segment must exist and be live,
 * and have no export queued or running (Braze allows one per segment at a
 * time). */
static int queue_op(sqlite3 *db, void *arg) {
    export_req *x = arg;
    store_segment_row row;
    int rc = store_segment_get(db, x->job.segment_id, &row);
    if (rc == BR_ENOTFOUND) {
        snprintf(x->why, sizeof x->why, "no segment with id '%s'", x->job.segment_id);
        return BR_EINVAL;
    }
    if (rc < 0) return rc;
    bool archived = row.archived_at != 0;
    store_segment_row_free(&row);
    if (archived) {
        snprintf(x->why, sizeof x->why, "segment '%s' is archived", x->job.segment_id);
        return BR_EINVAL;
    }
    rc = store_export_insert(db, &x->job, x->busy);
    if (rc == BR_EEXPORTBUSY)
        snprintf(x->why, sizeof x->why, "segment '%s' has export '%s' queued or running; retry once it has finished",
                 x->job.segment_id, x->busy);
    return rc;
}

static int queued(http_req *r, int rc) {
    export_req *x = http_state_get(r);
    if (rc == BR_EINVAL || rc == BR_EEXPORTBUSY) return http_error(r, rc, x->why);
    if (rc < 0) return rc;
    exporter_kick(http_context(r)->exporter);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("success"));
    json_object_object_add(o, "object_prefix", json_object_new_string(x->job.prefix));
    json_object_object_add(o, "url", json_object_new_string(x->job.url));
    return http_reply(r, 201, o);
}

/* The base of download URLs: --public-url, else what the client called
 * (its Host header, when it is a plain host[:port]). */
static void base_url(http_req *r, buf_t *b) {
    const char *pub = http_context(r)->public_url, *host = http_header(r, "Host");
    if (pub) {
        buf_puts(b, pub);
        return;
    }
    bool ok = host && *host && strlen(host) <= HOST_MAX;
    for (const char *p = host; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".-_:[]", *p);
    buf_printf(b, "http://%s", ok ? host : "localhost");
}

static int bad(http_req *r, const char *why) { return http_error(r, BR_EINVAL, why); }

/* The fields both exports take. */
typedef struct {
    const char *fields_json, *callback;
    int format;
} export_body;

/* Returns 1 for a good body; else the 400 is set and it returns 0. */
static int parse_export_body(http_req *r, json_object *body, export_body *b) {
    json_object *v;
    char why[160];
    /* Required since 2021: Braze no longer exports every field by default. */
    export_fields fields;
    if (!json_object_object_get_ex(body, "fields_to_export", &v) || json_object_is_type(v, json_type_null))
        return bad(r, "'fields_to_export' is required: an array of field names such as [\"external_id\", \"email\"]");
    if (export_fields_parse(v, &fields, why, sizeof why) < 0) return bad(r, why);
    if (!json_object_array_length(v)) return bad(r, "'fields_to_export' must name at least one field");
    b->fields_json = json_text(v, NULL);
    b->callback = NULL;
    if (json_object_object_get_ex(body, "callback_endpoint", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string) || !httpc_url_valid(json_object_get_string(v)))
            return bad(r, "'callback_endpoint' must be an http:// or https:// URL");
        b->callback = json_object_get_string(v);
    }
    b->format = STORE_EXPORT_ZIP;
    if (json_object_object_get_ex(body, "output_format", &v) && !json_object_is_type(v, json_type_null)) {
        const char *f = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (!strcmp(f, "gzip")) b->format = STORE_EXPORT_GZIP;
        else if (strcmp(f, "zip")) return bad(r, "'output_format' must be 'zip' or 'gzip'");
    }
    return 1;
}

/* Queues the job: op checks and inserts it in the batch's transaction. */
static int queue_export(http_req *r, const char *seg, const export_body *b, store_op_fn op) {
    export_req *x = http_state(r, sizeof *x, export_req_free);
    store_export_job *j = &x->job;
    j->created_at = clock_wall_ms();
    store_export_new_prefix(j->prefix, j->created_at);
    memcpy(j->segment_id, seg, strlen(seg) + 1);
    j->format = b->format;
    j->fields = xstrdup(b->fields_json);
    j->callback = b->callback ? xstrdup(b->callback) : NULL;
    char name[STORE_EXPORT_NAME_MAX];
    store_export_file_name(j->prefix, b->format, name);
    buf_t url = BUF_INIT;
    base_url(r, &url);
    buf_printf(&url, "/exports/%s", name);
    j->url = buf_take(&url);
    return api_store(r, &x->cmd, op, x, queued);
}

static int post_export_segment(http_req *r) {
    json_object *body = http_body(r), *v;
    char why[160];
    export_body b;
    if (!json_object_is_type(body, json_type_object)) return bad(r, "the body must be a JSON object");
    if (!json_object_object_get_ex(body, "segment_id", &v) || json_object_is_type(v, json_type_null))
        return bad(r, "'segment_id' is required");
    if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v))
        return bad(r, "'segment_id' must be a non-empty string");
    const char *seg = json_object_get_string(v);
    if (strlen(seg) > SEG_ID_LEN) {
        snprintf(why, sizeof why, "no segment with id '%.64s%s'", seg, strlen(seg) > 64 ? "..." : "");
        return bad(r, why);
    }
    int rc = parse_export_body(r, body, &b);
    return rc <= 0 ? rc : queue_export(r, seg, &b, queue_op);
}

/* A store op: one export of the group at a time, as for a segment. */
static int queue_gcg_op(sqlite3 *db, void *arg) {
    export_req *x = arg;
    int rc = store_export_insert(db, &x->job, x->busy);
    if (rc == BR_EEXPORTBUSY)
        snprintf(x->why, sizeof x->why, "the Global Control Group has export '%s' queued or running; retry once it has finished",
                 x->busy);
    return rc;
}

/* Braze exports the users of the workspace's Global Control Group; brasa's
 * group is a range of random buckets the operator sets (core/gcg.h), and
 * without one there is nothing to export: 400, not an empty file, so a
 * missing setting is not mistaken for an empty group. */
static int post_export_gcg(http_req *r) {
    json_object *body = http_body(r);
    export_body b;
    if (!json_object_is_type(body, json_type_object)) return bad(r, "the body must be a JSON object");
    if (!gcg_enabled(http_context(r)->gcg))
        return bad(r, "this server has no Global Control Group (brasa serve --global-control-group PERCENT sets one)");
    int rc = parse_export_body(r, body, &b);
    return rc <= 0 ? rc : queue_export(r, EXPORTER_GCG_ID, &b, queue_gcg_op);
}

static int get_export(http_req *r) {
    const char *name = http_param(r, "name");
    int format = name ? store_export_name_parse(name) : -1;
    if (format < 0) return http_error(r, BR_ENOTFOUND, "no export has this name");
    buf_t path = BUF_INIT;
    buf_printf(&path, "%s/%s/%s", http_context(r)->data_dir, STORE_EXPORTS_DIR, name);
    int fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    buf_free(&path);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) return http_error(r, BR_ENOTFOUND, "this export is not ready yet, has expired, or does not exist");
    return http_reply_file(r, fd, (uint64_t)st.st_size, format == STORE_EXPORT_ZIP ? "application/zip" : "application/gzip");
}

const http_route api_exports_routes[] = {
    {"POST", "/users/export/segment", PERM_USERS_EXPORT_SEGMENT, RL_DEFAULT, post_export_segment, 0},
    {"POST", "/users/export/global_control_group", PERM_USERS_EXPORT_GCG, RL_DEFAULT, post_export_gcg, 0},
    {"GET", "/exports/{name}", PERM_NONE, RL_DEFAULT, get_export, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
