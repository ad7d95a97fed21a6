/* partner.c -- the event names and property layout the Amplitude and
 * Mixpanel bodies share (see partner.h).
 *
 * The names are the titles Braze's Currents event glossary gives each type
 * on its Amplitude and Mixpanel tabs (braze-docs, _docs/_user_guide/data/
 * distribution/braze_currents/event_glossary/{customer_behavior_events,
 * message_engagement_events}.md: "// Email Send (users.messages.email.Send)").
 * Braze streams users.UserDeleteRequest and users.UserOrphan to storage
 * only, and brasa.cohorts.Change is brasa's own: those three are named in
 * the same style. */
#include "partner.h"
#include "../lib/json.h"

#include <string.h>

static const char *const titles[][2] = {
    {"users.behaviors.Purchase", "Purchase"},
    {"users.behaviors.subscription.GlobalStateChange", "Global Subscription State Change"},
    {"users.behaviors.subscriptiongroup.StateChange", "Subscription Group State Change"},
    {"users.campaigns.Conversion", "Campaign Conversion"},
    {"users.campaigns.EnrollInControl", "Campaign Control Group Enrollment"},
    {"users.messages.email.Abort", "Email Abort"},
    {"users.messages.email.Bounce", "Email Bounce"},
    {"users.messages.email.Click", "Email Click"},
    {"users.messages.email.Delivery", "Email Delivery"},
    {"users.messages.email.Open", "Email Open"},
    {"users.messages.email.Send", "Email Send"},
    {"users.messages.email.SoftBounce", "Email Soft Bounce"},
    {"users.messages.email.Unsubscribe", "Email Unsubscribe"},
    {"users.messages.webhook.Abort", "Webhook Abort"},
    {"users.messages.webhook.Failure", "Webhook Failure"},
    {"users.messages.webhook.Send", "Webhook Send"},
    {"users.UserDeleteRequest", "User Delete Request"},
    {"users.UserOrphan", "User Orphan"},
    {"brasa.cohorts.Change", "Cohort Change"},
};

const char *cur_partner_title(const char *type) {
    for (size_t i = 0; i < sizeof titles / sizeof *titles; i++)
        if (!strcmp(titles[i][0], type)) return titles[i][1];
    return type;
}

void cur_partner_name(buf_t *out, json_object *ev, const char *type, const char *before, const char *custom) {
    buf_t b = BUF_INIT;
    buf_puts(&b, before);
    if (!strcmp(type, "users.behaviors.CustomEvent")) {
        size_t n = 0;
        const char *s = json_str(ev, "name", &n);
        buf_puts(&b, custom);
        buf_append(&b, s ? s : "", n);
    } else {
        buf_puts(&b, cur_partner_title(type));
    }
    buf_json_str(out, b.data, b.len);
    buf_free(&b);
}

static void member(buf_t *out, bool *first, const char *k, size_t kn, json_object *v) {
    if (!*first) buf_append(out, ",", 1);
    *first = false;
    buf_json_str(out, k, kn);
    buf_append(out, ":", 1);
    size_t n;
    const char *s = json_text(v, &n);
    buf_append(out, s, n);
}

/* The custom properties of a CustomEvent or Purchase, one member each. */
static void expand(buf_t *out, bool *first, const char *prefix, json_object *props) {
    size_t n;
    const char *s = json_strlen(props, &n);
    json_object *o = json_parse(s, n);
    if (!json_object_is_type(o, json_type_object)) {
        member(out, first, "properties", strlen("properties"), props);
        json_object_put(o);
        return;
    }
    buf_t k = BUF_INIT;
    json_object_object_foreach(o, name, v) {
        buf_reset(&k);
        buf_puts(&k, prefix);
        buf_puts(&k, name);
        member(out, first, k.data, k.len, v); /* a null value is NULL: json-c writes "null" */
    }
    buf_free(&k);
    json_object_put(o);
}

void cur_partner_fields(buf_t *out, json_object *ev, const char *type, cur_partner_key key, bool *first) {
    bool custom = !strcmp(type, "users.behaviors.CustomEvent");
    const char *prefix = custom ? "[Custom event property] " : !strcmp(type, "users.behaviors.Purchase") ? "[Purchase property] " : NULL;
    json_object_object_foreach(ev, field, v) {
        if (!v) continue; /* null: absent, as everywhere in Currents */
        if (custom && !strcmp(field, "name")) continue; /* the event's name already */
        if (prefix && !strcmp(field, "properties") && json_object_is_type(v, json_type_string)) {
            expand(out, first, prefix, v);
            continue;
        }
        const char *k = key(field);
        if (k) member(out, first, k, strlen(k), v);
    }
}
