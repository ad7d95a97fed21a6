/* outbox.c -- an outbox row as events: the JSON array of flat records,
 * with cohort imports' compact items expanded (core/cohort.c writes one
 * item per import, {"event_type":"brasa.cohorts.Change","id":"<base>-c",
 * "time","cohort_id","cohort_name","partner","changes":[[i,"<braze_id>",
 * "<external id>"|null,1|0],...]}, rather than ~250 bytes per change). */
#define _GNU_SOURCE
#include "internal.h"
#include "../lib/json.h"

#include <stdio.h>
#include <string.h>

/* The flat event of one change: the fields in the order of every other
 * event (id, event_type, user_id, external_user_id, time, ...). */
static json_object *change_event(json_object *group, json_object *ch) {
    json_object *o = json_object_new_object();
    char id[64];
    snprintf(id, sizeof id, "%s%04llx", json_object_get_string(json_get(group, "id")),
             (unsigned long long)json_object_get_int64(json_object_array_get_idx(ch, 0)));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "event_type", json_object_new_string("brasa.cohorts.Change"));
    json_object_object_add(o, "user_id", json_object_get(json_object_array_get_idx(ch, 1)));
    json_object *ext = json_object_array_get_idx(ch, 2);
    if (ext) json_object_object_add(o, "external_user_id", json_object_get(ext));
    static const char *const shared[] = {"time", "cohort_id", "cohort_name", "partner", NULL};
    for (const char *const *k = shared; *k; k++) json_object_object_add(o, *k, json_object_get(json_get(group, *k)));
    bool added = json_object_get_int(json_object_array_get_idx(ch, 3)) != 0;
    json_object_object_add(o, "change", json_object_new_string(added ? "added" : "removed"));
    return o;
}

json_object *cur_outbox_events(const char *text, size_t n) {
    json_object *a = json_parse(text, n);
    if (!a || !json_object_is_type(a, json_type_array)) {
        json_object_put(a);
        return NULL;
    }
    if (!memmem(text, n, "\"changes\":[", 11)) return a; /* nothing compact: as it is */
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *e = json_object_array_get_idx(a, i), *ch = json_get(e, "changes");
        if (!ch || !json_object_is_type(ch, json_type_array)) {
            json_object_array_add(out, json_object_get(e));
            continue;
        }
        for (size_t k = 0; k < json_object_array_length(ch); k++)
            json_object_array_add(out, change_event(e, json_object_array_get_idx(ch, k)));
    }
    json_object_put(a);
    return out;
}
