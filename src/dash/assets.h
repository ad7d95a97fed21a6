/* assets.h -- the dashboard's files, embedded in the binary at build time
 * (scripts/embed-assets.sh writes build/gen/dash_assets.c from dashboard/):
 * no file is read at run time, and an installed brasa needs no Node. */
#ifndef BR_DASH_ASSETS_H
#define BR_DASH_ASSETS_H
#include <stddef.h>

typedef struct {
    const char *name; /* "app.js"; "index.html" is the page shell */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted */
} dash_asset;

extern const dash_asset dash_assets[]; /* ends with a NULL name */

#endif
