/* attach.h -- an email's attachments: Braze's [{"file_name", "url",
 * "basic_auth_credential"}], fetched once per send and attached to every
 * recipient's message.
 *
 * As Braze: each file at most ATT_MAX_BYTES, its type taken from the
 * answer's Content-Type and allowed only from a list of document, image,
 * calendar, archive and media types, the file's extension named by that
 * type (file_name comes without one). A fetch follows no redirect, gives
 * up after its timeout and stops reading as soon as the file is too big:
 * a URL that hangs or streams forever costs one timeout, never memory. */
#ifndef BR_SEND_ATTACH_H
#define BR_SEND_ATTACH_H
#include "mime.h"
#include <stdbool.h>
#include <stddef.h>

#define ATT_MAX_BYTES (2u << 20)  /* Braze: 2 MB each */
#define ATT_MAX_FILES 10
#define ATT_NAME_MAX 255
#define ATT_TIMEOUT_MS 10000      /* default; BRASA_ATTACHMENT_TIMEOUT_MS */

/* Whether a file_name is usable: 1..ATT_NAME_MAX bytes of valid UTF-8, no
 * control character, no '/' or '\\'. */
bool att_name_ok(const char *name);

/* Fetches url (with user and password when user is not NULL) into *out:
 * its bytes, its type and "file_name.ext" as filename (all malloc'd).
 * Returns 0, or -1 with why ("... answered 404", "... is larger than 2
 * MB", "... has type text/html, which is not allowed"). */
int att_fetch(const char *url, const char *file_name, const char *user, const char *pass, long timeout_ms,
              mime_attachment *out, char *why, size_t whylen);
void att_free(mime_attachment *a);

#endif
