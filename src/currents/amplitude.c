/* amplitude.c -- the body of an Amplitude connector: Amplitude's Batch
 * Event Upload API (POST {"api_key", "events": [...]} to /batch), each
 * event as Braze's Amplitude export writes it (config.c has the US and EU
 * endpoints).
 *
 * Braze's mapping (the Amplitude tabs of its Currents event glossary and
 * its "Amplitude for Currents" page): user_id = the external id, device_id
 * at the top, event_type = "[Appboy] " + the glossary name ("[Appboy]
 * [Custom Event] <name>" for custom events: the partner page says Braze
 * still applies the legacy prefix), insert_id = the Currents id (Amplitude
 * deduplicates on it, so a re-sent batch counts once), library "Braze",
 * every other field flat in event_properties (the Braze user id stays out),
 * custom properties as "[Custom event property] k" / "[Purchase property]
 * k", and for a purchase price and productId at the top (Amplitude counts
 * revenue as price x quantity, and a Currents Purchase is one unit).
 * Braze sends only users with an external id or a device id: the others
 * are left out here, and count as delivered.
 *
 * Beyond Braze: time in milliseconds (Amplitude reads it so; Braze's tab
 * says an int), and options.min_id_length 1, because Amplitude otherwise
 * drops ids shorter than 5 characters and refuses an event left with none,
 * which would dead-letter the events of every short external id. */
#include "internal.h"
#include "partner.h"
#include "../lib/json.h"

#include <inttypes.h>
#include <string.h>

/* The fields that go to the top level, or nowhere (id, event_type: in
 * insert_id and event_type; user_id: Braze does not export it). */
static const char *key_of(const char *f) {
    static const char *const top[] = {"id", "event_type", "user_id", "external_user_id", "device_id", "time", NULL};
    for (const char *const *t = top; *t; t++)
        if (!strcmp(*t, f)) return NULL;
    return f;
}

/* Purchase's product and price are at the top. */
static const char *key_purchase(const char *f) { return strcmp(f, "product_id") && strcmp(f, "price") ? key_of(f) : NULL; }

static void put(buf_t *b, const char *k, json_object *v) {
    buf_printf(b, ",\"%s\":", k);
    size_t n;
    const char *s = json_text(v, &n);
    buf_append(b, s, n);
}

/* One event, of a user Amplitude can put it on (an external id or a device id). */
static void event(buf_t *b, const cur_event *e) {
    json_object *ev = e->ev, *ext = json_get(ev, "external_user_id"), *dev = json_get(ev, "device_id");
    bool purchase = !strcmp(e->type, "users.behaviors.Purchase");
    buf_puts(b, "{\"event_type\":");
    cur_partner_name(b, ev, e->type, "[Appboy] ", "[Custom Event] ");
    buf_puts(b, ",\"insert_id\":");
    buf_json_str(b, e->id, strlen(e->id));
    if (ext) put(b, "user_id", ext);
    if (dev) put(b, "device_id", dev);
    json_object *t = json_get(ev, "time");
    if (t) buf_printf(b, ",\"time\":%" PRId64, json_object_get_int64(t) * 1000);
    buf_puts(b, ",\"library\":\"Braze\"");
    if (purchase) {
        json_object *price = json_get(ev, "price"), *product = json_get(ev, "product_id");
        if (price) put(b, "price", price);
        if (product) put(b, "productId", product);
    }
    /* Amplitude's own ad id fields, by the id's kind (ad_id stays in the properties too, as Braze sends it) */
    json_object *ad = json_get(ev, "ad_id");
    const char *adt = json_str(ev, "ad_id_type", NULL);
    if (ad && adt && !strcmp(adt, "ios_idfa")) put(b, "idfa", ad);
    if (ad && adt && !strcmp(adt, "google_ad_id")) put(b, "adid", ad);
    buf_puts(b, ",\"event_properties\":{");
    bool first = true;
    cur_partner_fields(b, ev, e->type, purchase ? key_purchase : key_of, &first);
    buf_puts(b, "}}");
}

int cur_fmt_amplitude(const cur_conf *c, const cur_event *ev, int n, buf_t *out) {
    buf_puts(out, "{\"api_key\":");
    buf_json_str(out, c->api_key ? c->api_key : "", c->api_key ? strlen(c->api_key) : 0);
    buf_puts(out, ",\"events\":[");
    int held = 0;
    for (int i = 0; i < n; i++) {
        if (!json_get(ev[i].ev, "external_user_id") && !json_get(ev[i].ev, "device_id")) continue;
        if (held++) buf_append(out, ",", 1);
        event(out, &ev[i]);
    }
    buf_puts(out, "],\"options\":{\"min_id_length\":1}}");
    return held;
}
