/* config.c -- a connector's settings: the JSON the admin API and `brasa
 * currents add` take, checked field by field into a cur_conf, and the
 * same settings shown back without their secrets. */
#include "currents.h"
#include "internal.h"
#include "../lib/err.h"
#include "../lib/httpc.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../lib/str.h"
#include "../lib/timefmt.h"
#include "../store/credentials.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const type_names[CUR__TYPES] = {"custom_http", "amplitude", "mixpanel", "files"};
/* events per request or file write: Braze's 100 for Custom HTTP; the
 * partners' own batch limits; files group what one read brings */
static const int batch_max[CUR__TYPES] = {CUR_BATCH_MAX, 1000, 2000, 10000};

/* Where the partners' batches go unless `url` says otherwise. */
static const char *const endpoints[CUR__TYPES][2] = {
    [CUR_AMPLITUDE] = {"https://api2.amplitude.com/batch", "https://api.eu.amplitude.com/batch"},
    [CUR_MIXPANEL] = {"https://api.mixpanel.com/import?strict=1", "https://api-eu.mixpanel.com/import?strict=1"},
};

static const char *const known_fields[] = {"name", "type", "url", "token", "api_key", "api_secret", "project_token",
                                           "region", "event_types", "batch_size", "timeout_ms", "dir", "prefix",
                                           "cluster", "format", "max_bytes", "max_age_seconds", "start", "ca_file", NULL};
/* shown back as "<field>_set": true */
static const char *const secret_fields[] = {"token", "api_key", "api_secret", NULL};

const char *cur_type_name(cur_type t) { return t < CUR__TYPES ? type_names[t] : "?"; }

void cur_conf_free(cur_conf *c) {
    if (!c) return;
    free(c->name), free(c->url), free(c->token), free(c->api_key), free(c->api_secret), free(c->project_token);
    for (int i = 0; i < c->n_types; i++) free(c->event_types[i]);
    free(c->event_types), free(c->dir), free(c->prefix), free(c->cluster), free(c->ca_file);
    memset(c, 0, sizeof *c);
}

static int fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return BR_EINVAL;
}

/* An optional string field: 0 (NULL when absent or null), or BR_EINVAL. */
static int opt_str(json_object *o, const char *k, size_t max, char **out, char *why, size_t n) {
    json_object *v = json_get(o, k);
    *out = NULL;
    if (!v) return 0;
    size_t len;
    const char *s = json_object_is_type(v, json_type_string) ? json_strlen(v, &len) : NULL;
    if (!s || !len || len > max || strlen(s) != len)
        return fail(why, n, "'%s' must be a non-empty string of at most %zu bytes", k, max);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < ' ' || s[i] == 0x7f) return fail(why, n, "'%s' must not hold control characters", k);
    *out = xstrdup(s);
    return 0;
}

static int opt_int(json_object *o, const char *k, int64_t lo, int64_t hi, int64_t dflt, int64_t *out, char *why,
                   size_t n) {
    json_object *v = json_get(o, k);
    *out = dflt;
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < lo || json_object_get_int64(v) > hi)
        return fail(why, n, "'%s' must be an integer from %lld to %lld", k, (long long)lo, (long long)hi);
    *out = json_object_get_int64(v);
    return 0;
}

/* A relative path of safe segments (the files layout's prefix). */
static bool prefix_ok(const char *p) {
    if (*p == '/') return false;
    for (const char *s = p; *s;) {
        size_t seg = strcspn(s, "/");
        if (!seg || (seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.')) return false;
        for (size_t i = 0; i < seg; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.=", s[i])) return false;
        s += seg + (s[seg] == '/');
    }
    return true;
}

static int parse(json_object *o, cur_conf *c, int64_t *start_ms, char *why, size_t n) {
    if (!json_object_is_type(o, json_type_object)) return fail(why, n, "the connector must be a JSON object");
    json_object_object_foreach(o, key, val) {
        (void)val;
        bool known = false;
        for (const char *const *f = known_fields; *f && !known; f++) known = !strcmp(*f, key);
        if (!known) return fail(why, n, "unknown field '%s'", key);
    }
    size_t name_len = 0, type_len = 0;
    const char *name = json_str(o, "name", &name_len), *type = json_str(o, "type", &type_len);
    if (!name) return fail(why, n, "'name' is required and must be a string");
    /* a NUL inside ("a\u0000b") would cut the name C code sees: "" is refused */
    if (store_cred_check(strlen(name) == name_len ? name : "", NULL, NULL, 0, why, n) < 0) return BR_EINVAL;
    if (type && strlen(type) != type_len) type = NULL;
    c->name = xstrdup(name);
    c->type = CUR__TYPES;
    for (int t = 0; type && t < CUR__TYPES; t++)
        if (!strcmp(type, type_names[t])) c->type = (cur_type)t;
    if (c->type == CUR__TYPES) return fail(why, n, "'type' must be custom_http, amplitude, mixpanel or files");
    bool http = c->type != CUR_FILES;
    int rc;
    char *region = NULL, *format = NULL;
    if ((rc = opt_str(o, "url", 2048, &c->url, why, n)) || (rc = opt_str(o, "token", 4096, &c->token, why, n)) ||
        (rc = opt_str(o, "api_key", 512, &c->api_key, why, n)) ||
        (rc = opt_str(o, "api_secret", 512, &c->api_secret, why, n)) ||
        (rc = opt_str(o, "project_token", 512, &c->project_token, why, n)) ||
        (rc = opt_str(o, "dir", 4000, &c->dir, why, n)) || (rc = opt_str(o, "prefix", 1000, &c->prefix, why, n)) ||
        (rc = opt_str(o, "cluster", 64, &c->cluster, why, n)) || (rc = opt_str(o, "ca_file", 4000, &c->ca_file, why, n)))
        return rc;
    if ((rc = opt_str(o, "region", 8, &region, why, n)) || (rc = opt_str(o, "format", 8, &format, why, n))) {
        free(region);
        return rc;
    }
    c->eu = region && !strcmp(region, "EU");
    bool region_ok = !region || !strcmp(region, "US") || c->eu;
    c->format = format && !strcmp(format, "ndjson") ? CUR_NDJSON : CUR_AVRO;
    bool format_ok = !format || !strcmp(format, "ndjson") || !strcmp(format, "avro");
    free(region), free(format);
    if (!region_ok) return fail(why, n, "'region' must be US or EU");
    if (!format_ok) return fail(why, n, "'format' must be avro or ndjson");
    /* each field belongs to some types only: a misplaced one is a mistake */
    struct {
        const char *field;
        bool set, ok;
    } belongs[] = {
        {"url", c->url != NULL, http},
        {"token", c->token != NULL, c->type == CUR_CUSTOM_HTTP},
        {"api_key", c->api_key != NULL, c->type == CUR_AMPLITUDE},
        {"api_secret", c->api_secret != NULL, c->type == CUR_MIXPANEL},
        {"project_token", c->project_token != NULL, c->type == CUR_MIXPANEL},
        {"region", json_get(o, "region") != NULL, c->type == CUR_AMPLITUDE || c->type == CUR_MIXPANEL},
        {"timeout_ms", json_get(o, "timeout_ms") != NULL, http},
        {"ca_file", c->ca_file != NULL, http},
        {"dir", c->dir != NULL, !http},
        {"prefix", c->prefix != NULL, !http},
        {"cluster", c->cluster != NULL, !http},
        {"format", json_get(o, "format") != NULL, !http},
        {"max_bytes", json_get(o, "max_bytes") != NULL, !http},
        {"max_age_seconds", json_get(o, "max_age_seconds") != NULL, !http},
    };
    for (size_t i = 0; i < sizeof belongs / sizeof *belongs; i++)
        if (belongs[i].set && !belongs[i].ok)
            return fail(why, n, "'%s' does not apply to a %s connector", belongs[i].field, type_names[c->type]);
    switch (c->type) {
    case CUR_CUSTOM_HTTP:
        if (!c->url) return fail(why, n, "a custom_http connector needs 'url'");
        break;
    case CUR_AMPLITUDE:
        if (!c->api_key) return fail(why, n, "an amplitude connector needs 'api_key' (the project's API key)");
        break;
    case CUR_MIXPANEL:
        if (!c->api_secret || !c->project_token)
            return fail(why, n, "a mixpanel connector needs 'api_secret' and 'project_token'");
        break;
    case CUR_FILES:
        if (!c->dir || c->dir[0] != '/') return fail(why, n, "a files connector needs 'dir', an absolute directory");
        if (c->prefix && !prefix_ok(c->prefix))
            return fail(why, n, "'prefix' must be a relative path of letters, digits and _-.= (no '..')");
        for (const char *p = c->cluster; p && *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", *p))
                return fail(why, n, "'cluster' must be lowercase letters, digits and '-'");
        break;
    default:
        break;
    }
    if (http && !c->url) c->url = xstrdup(endpoints[c->type][c->eu]);
    if (http && !httpc_url_valid(c->url)) return fail(why, n, "'url' must be an absolute http:// or https:// URL");
    if (c->ca_file && (c->ca_file[0] != '/' || access(c->ca_file, R_OK) < 0))
        return fail(why, n, "'ca_file' must be an absolute path to a readable PEM file of CA certificates");
    if (!http) {
        if (!c->prefix) c->prefix = xstrdup("");
        if (!c->cluster) c->cluster = xstrdup("brasa-01");
    }
    json_object *types = json_get(o, "event_types");
    if (types) {
        size_t len = json_object_is_type(types, json_type_array) ? json_object_array_length(types) : 0;
        if (!len) return fail(why, n, "'event_types' must be a non-empty array of event type names");
        c->event_types = xcalloc(len, sizeof *c->event_types);
        for (size_t i = 0; i < len; i++) {
            json_object *t = json_object_array_get_idx(types, i);
            const char *s = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
            if (!s) return fail(why, n, "'event_types' must hold strings");
            if (!cur_event_type_known(s)) return fail(why, n, "unknown event type '%.200s' in 'event_types'", s);
            c->event_types[c->n_types++] = xstrdup(s);
        }
    }
    int64_t v;
    if ((rc = opt_int(o, "batch_size", 1, batch_max[c->type], c->type == CUR_FILES ? 1000 : CUR_BATCH_MAX, &v, why, n)))
        return rc;
    c->batch_size = (int)v;
    if ((rc = opt_int(o, "timeout_ms", 1000, 600000, 30000, &v, why, n))) return rc;
    c->timeout_ms = (long)v;
    if ((rc = opt_int(o, "max_bytes", 4096, (int64_t)1 << 32, 64 << 20, &c->max_bytes, why, n))) return rc;
    if ((rc = opt_int(o, "max_age_seconds", 1, 86400, 300, &v, why, n))) return rc;
    c->max_age_ms = v * 1000;
    if (start_ms) {
        json_object *s = json_get(o, "start");
        const char *sv = s && json_object_is_type(s, json_type_string) ? json_object_get_string(s) : NULL;
        *start_ms = -1;
        if (s && !sv) return fail(why, n, "'start' must be \"latest\", \"earliest\" or an ISO 8601 time");
        if (sv && cur_parse_from(sv, start_ms) < 0)
            return fail(why, n, "'start' must be \"latest\", \"earliest\" or an ISO 8601 time");
    }
    return 0;
}

int cur_conf_parse(json_object *o, cur_conf *c, int64_t *start_ms, char *why, size_t whylen) {
    memset(c, 0, sizeof *c);
    int rc = parse(o, c, start_ms, why, whylen);
    if (rc < 0) cur_conf_free(c);
    return rc;
}

int cur_check(json_object *o, int64_t *start_ms, char *why, size_t whylen) {
    cur_conf c;
    int rc = cur_conf_parse(o, &c, start_ms, why, whylen);
    if (rc == 0) cur_conf_free(&c);
    return rc;
}

void cur_new_id(char out[25]) {
    uint8_t b[12];
    secret_random(b, sizeof b);
    str_hex(b, sizeof b, out);
}

int cur_conf_parse_text(const char *text, cur_conf *c, char *why, size_t whylen) {
    json_object *o = json_parse(text, strlen(text));
    int rc = o ? cur_conf_parse(o, c, NULL, why, whylen) : fail(why, whylen, "the stored settings are not JSON");
    json_object_put(o);
    return rc;
}

int cur_parse_from(const char *s, int64_t *ms) {
    if (!strcmp(s, "latest")) return *ms = -1, 0;
    if (!strcmp(s, "earliest")) return *ms = 0, 0;
    int year;
    if (timefmt_parse(s, strlen(s), ms, &year) < 0 || *ms <= 0) return BR_EINVAL;
    return 0;
}

json_object *cur_conf_public(const char *config) {
    json_object *o = json_parse(config, strlen(config)), *out = json_object_new_object();
    json_object_object_foreach(o, key, val) {
        bool secret = false;
        for (const char *const *f = secret_fields; *f && !secret; f++) secret = !strcmp(*f, key);
        if (!strcmp(key, "start") || !strcmp(key, "name") || !strcmp(key, "type")) continue;
        if (secret) {
            char k[32];
            snprintf(k, sizeof k, "%s_set", key);
            json_object_object_add(out, k, json_object_new_boolean(1));
        } else json_object_object_add(out, key, json_object_get(val));
    }
    json_object_put(o);
    return out;
}
