/* assets.c -- serving the dashboard's embedded files.
 *
 *   GET /dashboard, /dashboard/{page}, /dashboard/{page}/{id}   the page shell (index.html)
 *   GET /dashboard/assets/{file}                               a script, style sheet or icon
 *
 * Every page is the same shell: the script renders the page its URL names
 * (so URLs can be bookmarked) after asking /dashboard/api/me who is signed
 * in. No key is needed for these files; they hold no data. Each answer
 * carries a Content-Security-Policy that allows only this origin's own
 * scripts, styles and requests (no inline script, no other origin), is
 * never framed, and is revalidated by ETag (304 when unchanged). */
#include "assets.h"
#include "dash.h"
#include "../lib/err.h"

#include <string.h>

#define CSP                                                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const dash_asset *find(const char *name) {
    for (const dash_asset *a = dash_assets; a->name; a++)
        if (!strcmp(a->name, name)) return a;
    return NULL;
}

static int serve(http_req *r, const dash_asset *a) {
    http_header_add(r, "Content-Security-Policy", CSP);
    http_header_add(r, "X-Content-Type-Options", "nosniff");
    http_header_add(r, "X-Frame-Options", "DENY");
    http_header_add(r, "Referrer-Policy", "same-origin");
    http_header_add(r, "Cache-Control", "no-cache");
    http_header_add(r, "ETag", a->etag);
    const char *inm = http_header(r, "If-None-Match");
    if (inm && !strcmp(inm, a->etag)) return http_reply_text(r, 304, a->type, "", 0);
    return http_reply_text(r, 200, a->type, (const char *)a->data, a->len);
}

static int get_shell(http_req *r) { return serve(r, find("index.html")); }

static int get_asset(http_req *r) {
    const dash_asset *a = find(http_param(r, "file"));
    return a && strcmp(a->name, "index.html") ? serve(r, a) : http_error(r, BR_ENOTFOUND, "no such dashboard file");
}

const http_route dash_asset_routes[] = {
    {"GET", "/dashboard/assets/{file}", PERM_NONE, RL_DEFAULT, get_asset, 0},
    {"GET", "/dashboard", PERM_NONE, RL_DEFAULT, get_shell, 0},
    {"GET", "/dashboard/{page}", PERM_NONE, RL_DEFAULT, get_shell, 0},
    {"GET", "/dashboard/{page}/{id}", PERM_NONE, RL_DEFAULT, get_shell, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
