/* partner.h -- what the Amplitude and Mixpanel bodies share (amplitude.c,
 * mixpanel.c): the names Braze exports event types under, and a flat
 * record's fields written as a partner's event properties. */
#ifndef BR_CURRENTS_PARTNER_H
#define BR_CURRENTS_PARTNER_H
#include "../lib/buf.h"

#include <json-c/json.h>
#include <stdbool.h>

/* The name Braze's event glossary gives type on its Amplitude and Mixpanel
 * tabs ("Email Send" for users.messages.email.Send), brasa's own name in the
 * same style for the types Braze only stores, or type itself for a type
 * this table does not know (a newer outbox): never NULL. CustomEvent has
 * none: its name is the event's. */
const char *cur_partner_title(const char *type);

/* Appends the event's name as a JSON string: before + the glossary name,
 * or for a CustomEvent before + custom + the event's own name. */
void cur_partner_name(buf_t *out, json_object *ev, const char *type, const char *before, const char *custom);

/* How a partner writes one field of the flat record: the key to write, or
 * NULL to leave the field out (it went to the top level, or the partner
 * drops it). */
typedef const char *(*cur_partner_key)(const char *field);

/* Appends the fields of the flat record ev as members of an open JSON
 * object (`"k":v`, comma-separated, a leading comma unless *first), keyed
 * by key(). A CustomEvent's name is left out (it is in the event's). CustomEvent's and Purchase's `properties` (a JSON-encoded
 * string) become one member per property, "[Custom event property] k" or
 * "[Purchase property] k", values kept as they are (nested ones too), as
 * Braze exports them; one that does not hold an object stays the string it
 * is. *first is cleared once something was written. */
void cur_partner_fields(buf_t *out, json_object *ev, const char *type, cur_partner_key key, bool *first);

#endif
