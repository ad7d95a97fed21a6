/* currents.c -- brasa's admin API for Currents connectors (Braze
 * configures Currents in its dashboard; brasa over these routes and
 * `brasa currents`: docs/currents.md).
 *
 *   GET    /admin/currents                           brasa.keys  every connector with its counters and lag
 *   POST   /admin/currents                           brasa.keys  {"name", "type", ...} -> 201 {"id"}
 *   GET    /admin/currents/{id}                      brasa.keys  one (id or name)
 *   DELETE /admin/currents/{id}                      brasa.keys  removed, with its dead letter
 *   POST   /admin/currents/{id}/pause                brasa.keys  stops delivering; events wait in the outbox
 *   POST   /admin/currents/{id}/resume               brasa.keys  goes on from its cursor
 *   POST   /admin/currents/{id}/replay               brasa.keys  {"from": "earliest" | ISO time} or
 *                                                                {"cursor": {...}}: rewinds (or skips ahead)
 *   GET    /admin/currents/{id}/dead_letter          brasa.keys  ?after=SEQ&limit=N: the events refused alone
 *   POST   /admin/currents/{id}/dead_letter/replay   brasa.keys  {"seq": N} or {} for all: sent again
 *
 * Writes are store ops in the engine's batches, after which the
 * supervisor is woken: the change applies at once. */
#include "api.h"
#include "../currents/currents.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../store/currents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    eng_cmd cmd;
    char key[80];
    char id[25];
    char *config;
    store_cur_new nw;
    store_cur_edit edit;
    store_cur_dead_mark mark;
    store_cur *rows;
    int n;
    store_cur_dead *dead;
    int ndead;
    int64_t after;
    int limit;
    json_object *out;
} cur_state_t;

static void cleanup(void *p) {
    cur_state_t *s = p;
    store_cur_rows_free(s->rows, s->n);
    store_cur_dead_rows_free(s->dead, s->ndead);
    free(s->config);
    json_object_put(s->out);
}

static cur_state_t *state(http_req *r) { return http_state(r, sizeof(cur_state_t), cleanup); }

static int not_found(http_req *r, const char *key) {
    char d[160];
    snprintf(d, sizeof d, "no Currents connector '%.100s'", key);
    return http_error(r, BR_ENOTFOUND, d);
}

/* The {id} of the path into s->key (an id or a name). */
static bool key_of(http_req *r, cur_state_t *s) {
    const char *k = http_param(r, "id");
    if (!k || !*k || strlen(k) >= sizeof s->key) {
        http_error(r, BR_EINVAL, "the connector's id or name is missing or too long");
        return false;
    }
    snprintf(s->key, sizeof s->key, "%s", k);
    return true;
}

/* ---- reads --------------------------------------------------------------- */

/* Lists (s->key empty) or gets one, building the answer on the engine
 * thread's reader, where the lag query runs. */
static int list_read(engine_t *e, void *arg) {
    cur_state_t *s = arg;
    sqlite3 *db = engine_reader(e);
    int rc;
    if (s->key[0]) {
        s->rows = calloc(1, sizeof *s->rows);
        if ((rc = store_cur_get(db, s->key, s->rows)) < 0) return rc;
        s->n = 1;
    } else if ((rc = store_cur_list(db, &s->rows, &s->n)) < 0)
        return rc;
    s->out = json_object_new_array();
    return 0;
}

static int list_done(http_req *r, int rc) {
    cur_state_t *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) return not_found(r, s->key);
    if (rc < 0) return rc;
    /* the lag reads the outboxes: here, off the engine thread */
    sqlite3 *db = NULL;
    if (store_open_reader(engine_store(http_context(r)->engine), &db) < 0) return BR_ESTORE;
    for (int i = 0; i < s->n; i++) {
        json_object *j = cur_json(db, &s->rows[i], cur_state(http_context(r)->currents, s->rows[i].id));
        if (!j) {
            sqlite3_close(db);
            return BR_ESTORE;
        }
        json_object_array_add(s->out, j);
    }
    sqlite3_close(db);
    json_object *o = api_success();
    if (s->key[0]) json_object_object_add(o, "connector", json_object_get(json_object_array_get_idx(s->out, 0)));
    else json_object_object_add(o, "connectors", json_object_get(s->out));
    return http_reply(r, 200, o);
}

static int get_list(http_req *r) {
    cur_state_t *s = state(r);
    return api_read(r, &s->cmd, list_read, s, list_done);
}

static int get_one(http_req *r) {
    cur_state_t *s = state(r);
    if (!key_of(r, s)) return 0;
    return api_read(r, &s->cmd, list_read, s, list_done);
}

/* ---- create -------------------------------------------------------------- */

static int created(http_req *r, int rc) {
    cur_state_t *s = http_state_get(r);
    char d[160];
    if (rc == BR_EEXISTS) {
        snprintf(d, sizeof d, "a Currents connector named '%s' already exists", s->nw.name);
        return http_error(r, rc, d);
    }
    if (rc == BR_ETOOMANY) {
        snprintf(d, sizeof d, "at most %d Currents connectors can be configured", STORE_CUR_MAX);
        return http_error(r, BR_EINVAL, d);
    }
    if (rc < 0) return rc;
    cur_wake(http_context(r)->currents);
    json_object *o = api_success();
    json_object_object_add(o, "id", json_object_new_string(s->id));
    return http_reply(r, 201, o);
}

static int post_connector(http_req *r) {
    json_object *b = http_body(r);
    char why[300];
    int64_t start;
    if (cur_check(b, &start, why, sizeof why) < 0) return http_error(r, BR_EINVAL, why);
    cur_state_t *s = state(r);
    cur_new_id(s->id);
    size_t n;
    s->config = strdup(json_text(b, &n));
    s->nw = (store_cur_new){.id = s->id, .name = json_str(b, "name", NULL), .type = json_str(b, "type", NULL),
                            .config = s->config, .start_ms = start};
    return api_store(r, &s->cmd, store_cur_insert_op, &s->nw, created);
}

/* ---- edits --------------------------------------------------------------- */

static int edited(http_req *r, int rc) {
    cur_state_t *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) return not_found(r, s->key);
    if (rc < 0) return rc;
    cur_wake(http_context(r)->currents);
    return http_reply(r, 200, api_success());
}

static int edit(http_req *r, store_op_fn op, bool paused) {
    cur_state_t *s = state(r);
    if (!key_of(r, s)) return 0;
    s->edit = (store_cur_edit){.key = s->key, .paused = paused};
    return api_store(r, &s->cmd, op, &s->edit, edited);
}

static int delete_connector(http_req *r) { return edit(r, store_cur_delete_op, false); }
static int post_pause(http_req *r) { return edit(r, store_cur_pause_op, true); }
static int post_resume(http_req *r) { return edit(r, store_cur_pause_op, false); }

/* A non-negative integer member of o into *v: false when absent or not one. */
static bool pos_field(json_object *o, const char *k, int64_t *v) {
    json_object *x = json_get(o, k);
    if (!x || !json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0) return false;
    *v = json_object_get_int64(x);
    return true;
}

static int post_replay(http_req *r) {
    static const char *const known[] = {"from", "cursor", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    cur_state_t *s = state(r);
    if (!key_of(r, s)) return 0;
    json_object *b = http_body(r), *cur = json_get(b, "cursor");
    const char *from = json_str(b, "from", NULL);
    s->edit = (store_cur_edit){.key = s->key};
    if (!from == !cur)
        return http_error(r, BR_EINVAL, "give either 'from' (\"earliest\" or an ISO 8601 time) or 'cursor'");
    if (from && (cur_parse_from(from, &s->edit.from_ms) < 0 || s->edit.from_ms < 0))
        return http_error(r, BR_EINVAL, "'from' must be \"earliest\" or an ISO 8601 time");
    if (cur) {
        store_cur_pos *p = &s->edit.pos;
        if (!pos_field(cur, "outbox_seq", &p->out_seq) || !pos_field(cur, "message_id", &p->msg_id))
            return http_error(r, BR_EINVAL, "'cursor' needs 'outbox_seq' and 'message_id', non-negative integers "
                                            "(as GET /admin/currents shows them)");
        if ((json_get(cur, "outbox_index") && !pos_field(cur, "outbox_index", &p->out_idx)) ||
            (json_get(cur, "message_index") && !pos_field(cur, "message_index", &p->msg_idx)))
            return http_error(r, BR_EINVAL, "'outbox_index' and 'message_index' must be non-negative integers");
        s->edit.use_pos = true;
    }
    return api_store(r, &s->cmd, store_cur_replay_op, &s->edit, edited);
}

/* ---- the dead letter ----------------------------------------------------- */

static int dead_read(engine_t *e, void *arg) {
    cur_state_t *s = arg;
    sqlite3 *db = engine_reader(e);
    store_cur row;
    int rc = store_cur_get(db, s->key, &row);
    if (rc < 0) return rc;
    snprintf(s->id, sizeof s->id, "%s", row.id);
    store_cur_free(&row);
    return store_cur_dead_list(db, s->id, s->after, s->limit, false, &s->dead, &s->ndead);
}

static int dead_done(http_req *r, int rc) {
    cur_state_t *s = http_state_get(r);
    if (rc == BR_ENOTFOUND) return not_found(r, s->key);
    if (rc < 0) return rc;
    json_object *o = api_success(), *a = json_object_new_array();
    for (int i = 0; i < s->ndead; i++) {
        const store_cur_dead *d = &s->dead[i];
        json_object *j = json_object_new_object(), *ev = json_parse(d->event, strlen(d->event));
        json_object_object_add(j, "seq", json_object_new_int64(d->seq));
        json_object_object_add(j, "event_id", json_object_new_string(d->event_id));
        json_object_object_add(j, "event_type", json_object_new_string(d->event_type));
        json_object_object_add(j, "status", json_object_new_int(d->status));
        json_object_object_add(j, "error", json_object_new_string(d->error));
        json_object_object_add(j, "at", json_time(d->at));
        json_object_object_add(j, "replay", json_object_new_boolean(d->replay));
        json_object_object_add(j, "event", ev);
        json_object_array_add(a, j);
    }
    json_object_object_add(o, "events", a);
    return http_reply(r, 200, o);
}

static int get_dead(http_req *r) {
    cur_state_t *s = state(r);
    if (!key_of(r, s)) return 0;
    const char *after = http_query(r, "after"), *limit = http_query(r, "limit");
    char *end;
    s->after = 0;
    s->limit = 100;
    if (after && (s->after = strtoll(after, &end, 10), *end || end == after || s->after < 0))
        return http_error(r, BR_EINVAL, "'after' must be a dead-letter seq (a non-negative integer)");
    if (limit && (s->limit = (int)strtol(limit, &end, 10), *end || end == limit || s->limit < 1 || s->limit > 1000))
        return http_error(r, BR_EINVAL, "'limit' must be an integer from 1 to 1000");
    return api_read(r, &s->cmd, dead_read, s, dead_done);
}

static int dead_mark_op(sqlite3 *db, void *arg) {
    cur_state_t *s = arg;
    store_cur row;
    int rc = store_cur_get(db, s->key, &row);
    if (rc < 0) return rc;
    snprintf(s->id, sizeof s->id, "%s", row.id);
    store_cur_free(&row);
    s->mark.connector_id = s->id;
    return store_cur_dead_replay_op(db, &s->mark);
}

static int marked(http_req *r, int rc) {
    cur_state_t *s = http_state_get(r);
    if (rc == BR_ENOTFOUND && s->mark.connector_id && s->mark.seq) {
        char d[120];
        snprintf(d, sizeof d, "no dead-letter event %lld for this connector", (long long)s->mark.seq);
        return http_error(r, rc, d);
    }
    if (rc == BR_ENOTFOUND) return not_found(r, s->key);
    if (rc < 0) return rc;
    json_object *o = api_success();
    json_object_object_add(o, "marked", json_object_new_int(s->mark.marked));
    return http_reply(r, 200, o);
}

static int post_dead_replay(http_req *r) {
    static const char *const known[] = {"seq", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    cur_state_t *s = state(r);
    if (!key_of(r, s)) return 0;
    json_object *seq = json_get(http_body(r), "seq");
    if (seq && !pos_field(http_body(r), "seq", &s->mark.seq))
        return http_error(r, BR_EINVAL, "'seq' must be a dead-letter seq (a positive integer)");
    return api_store(r, &s->cmd, dead_mark_op, s, marked);
}

const http_route api_currents_routes[] = {
    {"GET", "/admin/currents", PERM_BRASA_KEYS, RL_DEFAULT, get_list, 0},
    {"POST", "/admin/currents", PERM_BRASA_KEYS, RL_DEFAULT, post_connector, 0},
    {"GET", "/admin/currents/{id}", PERM_BRASA_KEYS, RL_DEFAULT, get_one, 0},
    {"DELETE", "/admin/currents/{id}", PERM_BRASA_KEYS, RL_DEFAULT, delete_connector, 0},
    {"POST", "/admin/currents/{id}/pause", PERM_BRASA_KEYS, RL_DEFAULT, post_pause, 0},
    {"POST", "/admin/currents/{id}/resume", PERM_BRASA_KEYS, RL_DEFAULT, post_resume, 0},
    {"POST", "/admin/currents/{id}/replay", PERM_BRASA_KEYS, RL_DEFAULT, post_replay, 0},
    {"GET", "/admin/currents/{id}/dead_letter", PERM_BRASA_KEYS, RL_DEFAULT, get_dead, 0},
    {"POST", "/admin/currents/{id}/dead_letter/replay", PERM_BRASA_KEYS, RL_DEFAULT, post_dead_replay, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
