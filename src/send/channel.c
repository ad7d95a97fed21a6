/* channel.c -- what every channel driver shares about a send_msg
 * (channel.h): freeing the fields the dispatcher filled in. */
#include "channel.h"

#include <stdlib.h>

void send_msg_clear(send_msg *m) {
    free(m->url);
    free(m->body);
    free(m->mail_from);
    for (char **h = m->headers; h && *h; h++) free(*h);
    free(m->headers);
    for (char **r = m->rcpt; r && *r; r++) free(*r);
    free(m->rcpt);
    m->url = m->body = m->mail_from = NULL;
    m->headers = m->rcpt = NULL;
}
