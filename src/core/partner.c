/* partner.c -- partner names, data import keys and settings (see partner.h). */
#include "partner.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int partner_name(const char *in, char out[PARTNER_NAME_MAX + 1]) {
    size_t n = in ? strlen(in) : 0;
    if (n == 0 || n > PARTNER_NAME_MAX) return BR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tolower((unsigned char)in[i]);
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (i > 0 && strchr("._-", ch));
        if (!ok) return BR_EINVAL;
        out[i] = ch;
    }
    out[n] = '\0';
    return 0;
}

int partner_duration(const char *s, int64_t *ms) {
    char *end;
    if (!s || !isdigit((unsigned char)*s)) return BR_EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    long long unit = 1;
    if (*end == 's') unit = 1, end++;
    else if (*end == 'm') unit = 60, end++;
    else if (*end == 'h') unit = 3600, end++;
    else if (*end == 'd') unit = 86400, end++;
    if (errno || *end || v > 365LL * 86400 / unit) return BR_EINVAL;
    *ms = v * unit * 1000;
    return 0;
}

void partner_keygen_draw(partner_keygen *k, int64_t now_ms, uint8_t hash[SECRET_HASH_LEN]) {
    secret_new_key(k->key);
    secret_hash(k->key, SECRET_KEY_LEN, hash);
    k->created_at = now_ms;
}

json_object *partner_keygen_json(const partner_keygen *k) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "partner", json_object_new_string(k->partner));
    json_object_object_add(o, "id", json_object_new_int64(k->id));
    json_object_object_add(o, "key", json_object_new_string(k->key));
    json_object_object_add(o, "created_at", json_time_or_null(k->created_at));
    json_object_object_add(o, "previous_keys", json_object_new_int(k->old_keys));
    json_object_object_add(o, "previous_keys_expire_at", k->old_keys ? json_time_or_null(k->old_expire_at) : NULL);
    return o;
}

/* The entry of name in the object being built (created on first use). */
static json_object *entry(json_object *by_name, const char *name) {
    json_object *e;
    if (json_object_object_get_ex(by_name, name, &e)) return e;
    e = json_object_new_object();
    json_object_object_add(e, "partner", json_object_new_string(name));
    json_object_object_add(e, "valid_keys", json_object_new_int(0));
    json_object_object_add(e, "keys", json_object_new_array());
    json_object_object_add(e, "partner_api_key", json_object_new_string("any"));
    json_object_object_add(e, "cohorts", json_object_new_int(0));
    json_object_object_add(by_name, name, e);
    return e;
}

static void bump(json_object *e, const char *field) {
    json_object *v;
    json_object_object_get_ex(e, field, &v);
    json_object_set_int(v, json_object_get_int(v) + 1);
}

static int by_partner(const void *a, const void *b) {
    json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b, *xn, *yn;
    json_object_object_get_ex(x, "partner", &xn);
    json_object_object_get_ex(y, "partner", &yn);
    return strcmp(json_object_get_string(xn), json_object_get_string(yn));
}

void partner_listing_free(partner_listing *l) {
    free(l->keys);
    free(l->configured);
    free(l->cohorts);
    memset(l, 0, sizeof *l);
}

json_object *partner_list_json(const partner_listing *l, int64_t now) {
    json_object *by_name = json_object_new_object();
    for (int i = 0; i < l->nkeys; i++) {
        const partner_key_row *k0 = &l->keys[i];
        json_object *e = entry(by_name, k0->partner), *a, *k = json_object_new_object();
        bool valid = !k0->expires_at || k0->expires_at > now;
        json_object_object_add(k, "id", json_object_new_int64(k0->id));
        json_object_object_add(k, "created_at", json_time_or_null(k0->created_at));
        json_object_object_add(k, "expires_at", json_time_or_null(k0->expires_at));
        json_object_object_add(k, "valid", json_object_new_boolean(valid));
        json_object_object_get_ex(e, "keys", &a);
        json_object_array_add(a, k);
        if (valid) bump(e, "valid_keys");
    }
    for (int i = 0; i < l->nconfigured; i++)
        json_object_object_add(entry(by_name, l->configured[i]), "partner_api_key", json_object_new_string("configured"));
    for (int i = 0; i < l->ncohorts; i++) bump(entry(by_name, l->cohorts[i]), "cohorts");
    json_object *out = json_object_new_array();
    json_object_object_foreach(by_name, name, e) {
        (void)name;
        json_object_array_add(out, json_object_get(e));
    }
    json_object_array_sort(out, by_partner);
    json_object_put(by_name);
    return out;
}
