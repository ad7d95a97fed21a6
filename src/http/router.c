/* router.c -- matching a method and path against the route tables.
 *
 * Braze's surface is a few dozen fixed paths and one parameterised family
 * (/partners/{partner}/...), so a linear walk over the tables costs well
 * under a microsecond and keeps the tables the single source of truth.
 *
 * Paths are matched as the client sent them, never percent-decoded: a proxy
 * or firewall rule written on the raw path ("deny /admin/") must see the
 * same path brasa routes, so "/%61dmin/keys" or "/users%2ftrack" match
 * nothing. Parameters are handed over raw too; the handlers' own checks
 * (partner names, export names, ids) refuse anything encoded. */
#include "http.h"
#include "../lib/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Matches path against pattern segment by segment; fills params. */
static bool match(const char *pat, const char *path, http_params *params) {
    params->n = 0;
    while (*pat && *path) {
        if (*pat != '/' || *path != '/') return false;
        pat++, path++;
        const char *pe = strchr(pat, '/'), *se = strchr(path, '/');
        size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
        size_t sl = se ? (size_t)(se - path) : strlen(path);
        if (pl >= 2 && pat[0] == '{' && pat[pl - 1] == '}') {
            if (sl == 0 || sl >= HTTP_MAX_PARAM_LEN || params->n == HTTP_MAX_PARAMS) return false;
            http_param_t *p = &params->p[params->n++];
            p->name = pat + 1;
            p->name_len = pl - 2;
            memcpy(p->value, path, sl);
            p->value[sl] = '\0';
        } else if (pl != sl || memcmp(pat, path, pl) != 0) {
            return false;
        }
        pat += pl, path += sl;
    }
    /* Tolerate one trailing slash: "/users/track/" is "/users/track". */
    return !*pat && (!*path || (path[0] == '/' && !path[1]));
}

const http_route *http_route_match(const http_route *const *tables, const char *method,
                                   const char *path, http_params *params, int *err, char *allow,
                                   size_t allowlen) {
    size_t used = 0;
    allow[0] = '\0';
    *err = BR_ENOTFOUND;
    /* HEAD is GET without the body (RFC 9110 9.3.2); libmicrohttpd leaves
     * the body out, so every GET route answers HEAD too. */
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    for (const http_route *const *t = tables; *t; t++)
        for (const http_route *r = *t; r->method; r++) {
            if (!match(r->path, path, params)) continue;
            if (strcmp(r->method, want) == 0) return r;
            *err = BR_EMETHOD;
            bool get = strcmp(r->method, "GET") == 0;
            if (used < allowlen)
                used += (size_t)snprintf(allow + used, allowlen - used, "%s%s%s", used ? ", " : "", r->method,
                                         get ? ", HEAD" : "");
        }
    return NULL;
}
