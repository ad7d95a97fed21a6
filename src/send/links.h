/* links.h -- the URLs an email carries back to brasa: its open pixel, its
 * tracked links and its subscription links, each naming the recipient and
 * the send in a token signed with the server's tracking key.
 *
 *   <base>/t/o/<token>            the open pixel (a 1x1 GIF)
 *   <base>/t/c/<token>?u=<url>    a tracked link: counts the click, redirects to url
 *   <base>/t/u/<token>            unsubscribe (s: subscribe, i: opt in): a page,
 *                                 and the one-click POST of RFC 8058
 *
 * A token is base64url(payload || HMAC-SHA256(key, payload)[0..16)); a
 * click's payload holds the SHA-256 of its URL, so the URL travels in the
 * clear (a reader hovering the link sees where it goes) and cannot be
 * swapped: no open redirect. 128 bits of MAC make tokens unforgeable and
 * unguessable; the key (LNK_KEY_LEN random bytes) is made at the first
 * start and kept in the data directory, so links in sent mail keep
 * working across restarts and upgrades.
 *
 * lnk_rewrite() puts the pixel and the tracked links into a rendered HTML
 * body. It finds links with libxml2's HTML parser, which reads markup the
 * way browsers do (comments, scripts and broken tags included), and
 * changes nothing else: only the bytes of each href value are replaced,
 * so an email's carefully built markup reaches the inbox as it was. */
#ifndef BR_SEND_LINKS_H
#define BR_SEND_LINKS_H
#include "../lib/buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LNK_KEY_LEN 32
#define LNK_KEY_FILE "tracking.key"
#define LNK_ID_MAX 64   /* dispatch and variation ids */
#define LNK_URL_MAX 4096 /* longer links are left as they are */

typedef enum { LNK_OPEN = 'o', LNK_CLICK = 'c', LNK_UNSUB = 'u', LNK_SUB = 's', LNK_OPTIN = 'i' } lnk_kind;

typedef struct {
    lnk_kind kind;
    uint8_t bz[12];                        /* the recipient's braze_id */
    char dispatch_id[LNK_ID_MAX + 1];      /* the dispatch row's id (a wave's "<id>.<k>") */
    char variation_id[LNK_ID_MAX + 1];     /* "" when the send has none */
    int link;                              /* clicks: the link's place in the body, from 1 */
    uint8_t url_hash[32];                  /* clicks: SHA-256 of the URL */
} lnk_token;

/* Reads <dir>/tracking.key, making it (0600, written and synced before it
 * is used) when there is none. 0, or -1 logged. */
int lnk_key_load(const char *dir, uint8_t key[LNK_KEY_LEN]);

/* Appends "<base>/t/<kind>/<token>" for t to out (clicks: then "?u=" and
 * url percent-encoded; url is hashed into the token). */
void lnk_url(buf_t *out, const char *base, const uint8_t key[LNK_KEY_LEN], const lnk_token *t, const char *url);

/* Checks a token from a path of kind `kind`: 0 and *t, or -1 when it is
 * not one this key signed for that kind (forged, truncated, altered). For
 * clicks, url must be the one the token was made for. */
int lnk_parse(const uint8_t key[LNK_KEY_LEN], int kind, const char *tok, const char *url, lnk_token *t);

/* What lnk_rewrite adds to one recipient's HTML. */
typedef struct {
    const char *base;                /* the public URL, no trailing '/' */
    const uint8_t *key;
    const lnk_token *who;            /* kind and link are set per URL */
    bool opens, clicks;
} lnk_ctx;

/* Appends html[0..n) to out with each http(s) href of <a> and <area>
 * tracked (when c->clicks; not links to base itself, nor those marked
 * clicktracking="off") and the open pixel before </body>, or at the end
 * (when c->opens). */
void lnk_rewrite(const lnk_ctx *c, const char *html, size_t n, buf_t *out);

/* The same in two steps, for a body many recipients share: the parse
 * once (a plan: where the links and the pixel go), then each
 * recipient's tokens put in (HMACs and copies, no parsing). html must be
 * the bytes the plan was made from. A plan is read-only once made: any
 * number of threads may apply it at once. */
typedef struct lnk_plan lnk_plan;
lnk_plan *lnk_plan_new(const char *base, const char *html, size_t n);
void lnk_apply(const lnk_plan *p, const lnk_ctx *c, const char *html, buf_t *out);
void lnk_plan_free(lnk_plan *p);

#endif
