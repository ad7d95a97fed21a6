/* message.h -- the channel message objects of Braze's messaging endpoints
 * (`messages.webhook`, `messages.email`), checked once where they enter:
 * a /messages/send body, a schedule, an API-triggered campaign's stored
 * variation content.
 *
 * A message that passes is one the dispatcher can render and deliver: its
 * fields have the types Braze documents and every string that is Liquid
 * compiles (a syntax error is refused with its field, line and column,
 * never discovered per recipient). */
#ifndef BR_SEND_MESSAGE_H
#define BR_SEND_MESSAGE_H
#include "../liquid/liquid.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* The channels brasa delivers (and the keys of a `messages` object). */
typedef enum { CH_WEBHOOK, CH_EMAIL, CH__COUNT } msg_channel;

/* "webhook", "email". */
const char *msg_channel_name(msg_channel c);
/* The channel of a name; -1 when it is none of brasa's. */
int msg_channel_of(const char *name);
/* Whether a `messages` key is a Braze channel brasa does not deliver
 * (apple_push, sms, ...): refused with a clear message, not ignored. */
bool msg_channel_known_elsewhere(const char *name);

#define MSG_URL_MAX 2048
#define MSG_BODY_MAX (512u << 10)
#define MSG_HEADERS_MAX 64

/* Checks one channel object (webhook or email). in_campaign: it is an
 * API-triggered campaign's stored content, where message_variation_id
 * does not belong. Returns 0, or BR_EINVAL with why naming the field
 * ("messages.webhook.url: ..."); prefix names the object in messages. */
int msg_check(msg_channel ch, json_object *m, bool in_campaign, const char *prefix, char *why, size_t whylen);

/* Checks that every Liquid string of a checked message compiles; BR_EINVAL
 * with "FIELD: line L, column C: ..." otherwise. */
int msg_check_liquid(msg_channel ch, json_object *m, const char *prefix, char *why, size_t whylen);
/* Checks Braze's attachments array (send/attach.h: at most ATT_MAX_FILES
 * {"file_name", "url", "basic_auth_credential"?}); what names it in why. */
int msg_check_attachments(json_object *v, const char *what, char *why, size_t whylen);

/* A checked message's Liquid string v compiled (NULL when v is absent);
 * the dispatcher compiles each field once per dispatch. */
liq_template *msg_compile(json_object *v);
/* t rendered with o into a malloc'd string (*len bytes; "" for a NULL t),
 * or NULL with err set. */
char *msg_render(liq_renderer *r, const liq_template *t, const liq_render_opts *o, size_t *len, liq_error *err);

#endif
