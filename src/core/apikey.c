/* apikey.c -- REST API key rules, creation and revocation (see apikey.h). */
#include "apikey.h"
#include "perm.h"
#include "../lib/cidr.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 255

static char *msg(const char *fmt, const char *arg) {
    size_t n = strlen(fmt) + (arg ? strlen(arg) : 0) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, fmt, arg ? arg : "");
    return s;
}

int apikey_prepare(apikey_new *k, const char *name, const char *perms, const char *allow_ips,
                   char **why) {
    memset(k, 0, sizeof *k);
    *why = NULL;
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > NAME_MAX_LEN) {
        *why = msg("name must be 1 to 255 characters", NULL);
        return BR_EINVAL;
    }
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
            *why = msg("name must not contain control characters", NULL);
            return BR_EINVAL;
        }
    perm_set set;
    char *bad;
    if (perm_parse(perms ? perms : "", &set, &bad) < 0) {
        *why = msg("unknown permission '%s'", bad);
        free(bad);
        return BR_EINVAL;
    }
    char *norm = perm_format(&set);
    if (!*norm) {
        free(norm);
        *why = msg("at least one permission is required", NULL);
        return BR_EINVAL;
    }
    cidr_t *cidrs;
    if (cidr_parse_list(allow_ips ? allow_ips : "", &cidrs) < 0) {
        free(norm);
        *why = msg("invalid IP address or CIDR range in '%s'", allow_ips);
        return BR_EINVAL;
    }
    free(cidrs);
    k->name = xstrdup(name);
    k->permissions = norm;
    k->allow_ips = xstrdup(allow_ips ? allow_ips : "");
    secret_new_key(k->key);
    secret_hash(k->key, SECRET_KEY_LEN, k->hash);
    k->created_at = clock_wall_ms();
    return 0;
}

void apikey_new_free(apikey_new *k) {
    free(k->name);
    free(k->permissions);
    free(k->allow_ips);
    /* The key text must not outlive its one showing in freed memory. */
    memset(k, 0, sizeof *k);
}

/* "a,b" -> ["a","b"] */
static json_object *list_json(const char *list) {
    json_object *a = json_object_new_array();
    const char *p;
    size_t len;
    while ((p = str_item(&list, &len))) json_object_array_add(a, json_object_new_string_len(p, (int)len));
    return a;
}

json_object *apikey_row_json(int64_t id, const char *name, const char *perms, const char *allow_ips,
                             int64_t created_at, int64_t last_used_at, int64_t revoked_at,
                             const char *key_text) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(id));
    json_object_object_add(o, "name", json_object_new_string(name));
    if (key_text) json_object_object_add(o, "key", json_object_new_string(key_text));
    json_object_object_add(o, "permissions", list_json(perms));
    json_object_object_add(o, "allow_ips", list_json(allow_ips));
    json_object_object_add(o, "created_at", json_time_or_null(created_at));
    json_object_object_add(o, "last_used_at", json_time_or_null(last_used_at));
    json_object_object_add(o, "revoked_at", json_time_or_null(revoked_at));
    return o;
}
