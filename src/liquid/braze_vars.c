/* braze_vars.c -- where Braze's ${...} personalization tags live in the
 * user object.
 *
 * Braze names default attributes differently in templates and in the
 * /users/export/ids objects brasa renders against: {{${email_address}}}
 * is "email", ${user_id} is "external_id", custom_attribute.${x} is
 * custom_attributes.x, subscribed_state.${email_global} is
 * "email_subscribe". Unknown names map to themselves, so callers can put
 * any extra top-level key (e.g. "most_recent_locale") in the context. */
#include "internal.h"

#include <string.h>

static const struct {
    const char *tag, *key;
} roots[] = {
    {"email_address", "email"},
    {"user_id", "external_id"},
    {"city", "home_city"},
    {"date_of_birth", "dob"},
    {"phone_number", "phone"},
    {"random_bucket_number", "random_bucket"},
};

static const struct {
    const char *ns, *key;
} namespaces[] = {
    {"custom_attribute", "custom_attributes"},
    {"custom_attributes", "custom_attributes"},
    {"event_properties", "event_properties"},
    {"api_trigger_properties", "api_trigger_properties"},
    {"canvas_entry_properties", "canvas_entry_properties"},
    {"campaign", "campaign"},
    {"canvas", "canvas"},
    {"message_variation", "message_variation"},
    {"subscribed_state", "subscribed_state"},
    {"most_recently_used_device", "most_recently_used_device"},
    {"targeted_device", "targeted_device"},
    {"card", "card"},
    {"sms", "sms"},
};

static bool is(const char *s, size_t n, const char *w) { return strlen(w) == n && memcmp(s, w, n) == 0; }

void liq_braze_root(const char *name, size_t len, const char **cname, size_t *clen) {
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        if (is(name, len, roots[i].tag)) {
            *cname = roots[i].key;
            *clen = strlen(roots[i].key);
            return;
        }
    }
    *cname = name;
    *clen = len;
}

bool liq_braze_namespace(const char *name, size_t len, const char **cname, size_t *clen) {
    for (size_t i = 0; i < sizeof namespaces / sizeof *namespaces; i++) {
        if (is(name, len, namespaces[i].ns)) {
            *cname = namespaces[i].key;
            *clen = strlen(namespaces[i].key);
            return true;
        }
    }
    return false;
}

const char *liq_braze_subscription(const char *key, size_t len) {
    if (is(key, len, "email_global")) return "email_subscribe";
    if (is(key, len, "push_global")) return "push_subscribe";
    return NULL;
}
