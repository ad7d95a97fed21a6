/* view.c -- a connector as people see it (currents.h's cur_json): the
 * admin API and `brasa currents list --json` answer the same object. */
#include "currents.h"
#include "../lib/clock.h"
#include "../lib/json.h"
#include "../lib/timefmt.h"
#include "../store/currents.h"

#include <string.h>

static void put_time(json_object *o, const char *k, int64_t ms) { json_object_object_add(o, k, json_time_or_null(ms)); }

static void put_int(json_object *o, const char *k, int64_t v) { json_object_object_add(o, k, json_object_new_int64(v)); }

json_object *cur_json(sqlite3 *db, const store_cur *row, const char *state) {
    int64_t lag_events, lag_s;
    if (store_cur_lag(db, &row->pos, clock_wall_ms(), &lag_events, &lag_s) < 0) return NULL;
    json_object *o = json_object_new_object(), *pub = cur_conf_public(row->config);
    json_object_object_add(o, "id", json_object_new_string(row->id));
    json_object_object_add(o, "name", json_object_new_string(row->name));
    json_object_object_add(o, "type", json_object_new_string(row->type));
    json_object_object_add(o, "state", json_object_new_string(row->paused ? "paused" : state ? state : "stopped"));
    json_object_object_add(o, "settings", pub);
    put_time(o, "created_at", row->created_at);
    put_int(o, "sent", row->sent);
    put_int(o, "batches", row->batches);
    put_int(o, "retries", row->retries);
    json_object *errs = json_parse(row->errors, strlen(row->errors));
    json_object_object_add(o, "errors", errs ? errs : json_object_new_object());
    put_int(o, "dead_letter", row->dead);
    json_object *lag = json_object_new_object();
    put_int(lag, "events", lag_events);
    put_int(lag, "seconds", lag_s);
    json_object_object_add(o, "lag", lag);
    json_object *cur = json_object_new_object();
    put_int(cur, "outbox_seq", row->pos.out_seq);
    put_int(cur, "outbox_index", row->pos.out_idx);
    put_int(cur, "message_id", row->pos.msg_id);
    put_int(cur, "message_index", row->pos.msg_idx);
    json_object_object_add(o, "cursor", cur);
    json_object_object_add(o, "last_error", row->last_error ? json_object_new_string(row->last_error) : NULL);
    put_time(o, "last_error_at", row->last_error_at);
    put_time(o, "last_sent_at", row->last_sent_at);
    return o;
}
