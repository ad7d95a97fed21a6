/* types.c -- the Currents event types brasa produces: what a connector's
 * event_types may name, and what the storage files have a schema for. */
#include "internal.h"

#include <string.h>

const char *const cur_event_types[] = {
    "users.behaviors.CustomEvent",
    "users.behaviors.Purchase",
    "users.behaviors.subscription.GlobalStateChange",
    "users.behaviors.subscriptiongroup.StateChange",
    "users.campaigns.Conversion",
    "users.campaigns.EnrollInControl",
    "users.messages.email.Abort",
    "users.messages.email.Bounce",
    "users.messages.email.Click",
    "users.messages.email.Delivery",
    "users.messages.email.Open",
    "users.messages.email.Send",
    "users.messages.email.SoftBounce",
    "users.messages.email.Unsubscribe",
    "users.messages.webhook.Abort",
    "users.messages.webhook.Failure",
    "users.messages.webhook.Send",
    "users.UserDeleteRequest",
    "users.UserOrphan",
    "brasa.cohorts.Change", /* brasa's own: a cohort import added or removed users */
    NULL,
};

bool cur_event_type_known(const char *type) {
    for (const char *const *t = cur_event_types; *t; t++)
        if (!strcmp(*t, type)) return true;
    return false;
}
