/* format.c -- the Custom HTTP body (Braze's "Custom Currents Export",
 * which Heap, Tealium, Treasure Data and RudderStack take as is):
 *
 *   {"events": [{"event_type", "id", "time",
 *                "user": {"user_id", "external_user_id", "device_id", "timezone"},
 *                "properties": {every other field of the flat record}}, ...]}
 *
 * A pure projection of the flat record (spec/currents.md §2.2): the
 * identity fields move into `user`, the rest into `properties`, except that
 * CustomEvent's and Purchase's JSON-string `properties` become real objects
 * named `custom_properties` and `purchase_properties`. Absent and null
 * fields are left out, as Braze's examples do. */
#include "internal.h"
#include "../lib/json.h"

#include <string.h>

static const char *const user_fields[] = {"user_id", "external_user_id", "device_id", "timezone", NULL};

static bool is_user_field(const char *k) {
    for (const char *const *f = user_fields; *f; f++)
        if (!strcmp(*f, k)) return true;
    return false;
}

/* key:value, value as JSON (strings through buf_json_str). */
static void put(buf_t *out, bool *first, const char *k, json_object *v) {
    if (!*first) buf_append(out, ",", 1);
    *first = false;
    buf_json_str(out, k, strlen(k));
    buf_append(out, ":", 1);
    if (json_object_is_type(v, json_type_string)) {
        size_t n;
        const char *s = json_strlen(v, &n);
        buf_json_str(out, s, n);
    } else {
        size_t n;
        const char *s = json_text(v, &n);
        buf_append(out, s, n);
    }
}

static void event(const cur_event *e, buf_t *out) {
    json_object *o = e->ev;
    buf_puts(out, "{\"event_type\":");
    buf_json_str(out, e->type, strlen(e->type));
    buf_puts(out, ",\"id\":");
    buf_json_str(out, e->id, strlen(e->id));
    json_object *t = json_get(o, "time");
    buf_printf(out, ",\"time\":%lld,\"user\":{", (long long)(t ? json_object_get_int64(t) : 0));
    bool first = true;
    for (const char *const *f = user_fields; *f; f++) {
        json_object *v = json_get(o, *f);
        if (v) put(out, &first, *f, v);
    }
    buf_puts(out, "},\"properties\":{");
    first = true;
    const char *renamed = !strcmp(e->type, "users.behaviors.CustomEvent") ? "custom_properties"
                          : !strcmp(e->type, "users.behaviors.Purchase") ? "purchase_properties"
                                                                          : NULL;
    json_object_object_foreach(o, k, v) {
        if (!v || !strcmp(k, "event_type") || !strcmp(k, "id") || !strcmp(k, "time") || is_user_field(k)) continue;
        if (renamed && !strcmp(k, "properties") && json_object_is_type(v, json_type_string)) {
            /* The string is JSON brasa wrote itself (core/track.c, from the
             * parsed request): an object's text goes in as it is, with no
             * second parse and print per event. */
            size_t n;
            const char *s = json_strlen(v, &n);
            if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
                if (!first) buf_append(out, ",", 1);
                first = false;
                buf_printf(out, "\"%s\":", renamed);
                buf_append(out, s, n);
                continue;
            }
        }
        put(out, &first, k, v);
    }
    buf_puts(out, "}}");
}

int cur_fmt_custom_http(const cur_conf *c, const cur_event *ev, int n, buf_t *out) {
    (void)c;
    buf_puts(out, "{\"events\":[");
    for (int i = 0; i < n; i++) {
        if (i) buf_append(out, ",", 1);
        event(&ev[i], out);
    }
    buf_puts(out, "]}");
    return n;
}
