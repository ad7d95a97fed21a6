/* mixpanel.c -- the body of a Mixpanel connector: Mixpanel's Import Events
 * API (POST /import?strict=1, a JSON array of {"event", "properties"},
 * Basic auth with the project's API secret, which http.c sets), each event
 * as Braze's Mixpanel export writes it.
 *
 * Braze's mapping (the Mixpanel tabs of its Currents event glossary and its
 * "Mixpanel for Currents" page): event = the glossary name ("[Braze Custom
 * Event] <name>" for custom events), and in properties: distinct_id = the
 * external id, $insert_id = the Currents id, token = the project token,
 * $partner_id "braze", $device and $os for device_model and os_version,
 * every other field flat (the Braze user id stays out), custom properties
 * as "[Custom event property] k" / "[Purchase property] k". Braze sends
 * only users with an external id: the others are left out here, and count
 * as delivered.
 *
 * Beyond Braze: time in milliseconds (Mixpanel takes either), and an id
 * Mixpanel would refuse as $insert_id (it allows 36 characters of
 * [A-Za-z0-9-]; brasa's message event ids are longer) is replaced by the
 * first 128 bits of its SHA-256 in hex: the same id gives the same
 * $insert_id on every re-send, so Mixpanel still deduplicates. */
#include "internal.h"
#include "partner.h"
#include "../lib/json.h"
#include "../lib/secret.h"
#include "../lib/str.h"

#include <inttypes.h>
#include <string.h>

#define MIXPANEL_INSERT_ID_MAX 36

static const char *key_of(const char *f) {
    static const char *const gone[] = {"id", "event_type", "user_id", "external_user_id", "time", NULL};
    for (const char *const *g = gone; *g; g++)
        if (!strcmp(*g, f)) return NULL;
    if (!strcmp(f, "device_model")) return "$device";
    if (!strcmp(f, "os_version")) return "$os";
    return f;
}

/* id as Mixpanel takes it, into out[MIXPANEL_INSERT_ID_MAX + 1]. */
static void insert_id(const char *id, char *out) {
    size_t n = strlen(id);
    bool ok = n && n <= MIXPANEL_INSERT_ID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-';
    if (ok) {
        memcpy(out, id, n + 1);
        return;
    }
    uint8_t h[SECRET_HASH_LEN];
    secret_hash(id, n, h);
    str_hex(h, 16, out);
}

static void event(buf_t *b, const cur_conf *c, const cur_event *e, json_object *ext) {
    json_object *ev = e->ev;
    buf_puts(b, "{\"event\":");
    cur_partner_name(b, ev, e->type, "", "[Braze Custom Event] ");
    char iid[MIXPANEL_INSERT_ID_MAX + 1];
    insert_id(e->id, iid);
    buf_printf(b, ",\"properties\":{\"$insert_id\":\"%s\",\"distinct_id\":", iid);
    size_t n;
    const char *s = json_text(ext, &n);
    buf_append(b, s, n);
    json_object *t = json_get(ev, "time");
    if (t) buf_printf(b, ",\"time\":%" PRId64, json_object_get_int64(t) * 1000);
    buf_puts(b, ",\"token\":");
    buf_json_str(b, c->project_token ? c->project_token : "", c->project_token ? strlen(c->project_token) : 0);
    buf_puts(b, ",\"$partner_id\":\"braze\"");
    bool first = false;
    cur_partner_fields(b, ev, e->type, key_of, &first);
    buf_puts(b, "}}");
}

int cur_fmt_mixpanel(const cur_conf *c, const cur_event *ev, int n, buf_t *out) {
    buf_append(out, "[", 1);
    int held = 0;
    for (int i = 0; i < n; i++) {
        json_object *ext = json_get(ev[i].ev, "external_user_id");
        if (!ext) continue;
        if (held++) buf_append(out, ",", 1);
        event(out, c, &ev[i], ext);
    }
    buf_append(out, "]", 1);
    return held;
}
