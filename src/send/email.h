/* email.h -- the email channel's side of the dispatcher: a Braze email
 * object compiled once per dispatch, and one recipient's message rendered
 * from it into the bytes an SMTP relay takes (mime.h) and the envelope.
 *
 * Who can be emailed is decided first (email_recipient): a user with a
 * valid address whose email subscription state the send's
 * recipient_subscription_state admits ("subscribed", the default: opted
 * in or subscribed, or no state yet; "opted_in": opted in only; "all":
 * anyone, as for transactional mail). Hard-bounced addresses are the
 * dispatcher's to skip (store/email.h). */
#ifndef BR_SEND_EMAIL_H
#define BR_SEND_EMAIL_H
#include "links.h"
#include "mime.h"
#include "../liquid/liquid.h"
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

typedef struct email_src email_src;

/* From a checked messages.email object or a campaign variation's content. */
email_src *email_src_new(json_object *m);
void email_src_free(email_src *s);

/* The address to email user at, or NULL when the user has none or the
 * subscription rule ("subscribed", "opted_in", "all"; NULL: "subscribed")
 * leaves them out. Points into user. */
const char *email_recipient(json_object *user, const char *rule);

typedef struct {
    char *data;      /* the RFC 5322 message (malloc'd) */
    size_t len;
    char *mail_from; /* the envelope sender: the From address (malloc'd) */
    char *bcc;       /* the message's bcc address (malloc'd), or NULL */
} email_out;

/* What email_render adds to a message beyond its fields: for brasa's links
 * (links.h), the pixel and tracked links in the HTML (track.opens,
 * track.clicks) and List-Unsubscribe with RFC 8058's one-click
 * List-Unsubscribe-Post when unsubscribe is set (unless the message has
 * its own List-Unsubscribe); and the send's attachments. */
typedef struct {
    lnk_ctx track;
    const char *unsubscribe; /* the recipient's unsubscribe URL, or NULL */
    const mime_attachment *attachments; /* the send's files (attach.h) */
    int nattachments;
} email_links;

/* Renders s for the address `to` with o (the recipient's Liquid context)
 * and links (NULL: none): 0 and *out, or a Liquid code with err filled (a
 * render error, an abort_message, or a from/reply_to that rendered to no
 * address). */
int email_render(const email_src *s, liq_renderer *r, const liq_render_opts *o, const email_links *links, const char *to,
                 const char *message_id, int64_t now_ms, email_out *out, liq_error *err);

#endif
