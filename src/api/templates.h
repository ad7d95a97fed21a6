/* templates.h -- what the messaging code takes from api/templates.c: an
 * email object's email_template_id resolved into its fields. */
#ifndef BR_API_TEMPLATES_H
#define BR_API_TEMPLATES_H
#include <json-c/json.h>
#include <sqlite3.h>
#include <stddef.h>

/* When the email object m (checked by msg_check) names an
 * email_template_id, fills the fields m leaves out -- subject, body,
 * plaintext_body, preheader, should_inline_css -- from the template read
 * through db, in place: the template supplies the defaults, the object's
 * own fields override them one by one, as Braze's email object does. m
 * keeps its email_template_id (it says where the content came from).
 * Returns 0 (nothing to do without an id), BR_ETPLID with why naming the
 * field (prefix, e.g. "messages.email") for an unknown id, or BR_ESTORE.
 *
 * Callers resolve where a message comes in (a send or schedule accepted,
 * a campaign's variation saved), so what is stored is the whole message:
 * a later edit of the template does not change a send in flight, a
 * schedule waiting to fire or a saved campaign, as a template copied into
 * a message in Braze's dashboard stays as copied. */
int api_template_apply(sqlite3 *db, json_object *m, const char *prefix, char *why, size_t whylen);

#endif
