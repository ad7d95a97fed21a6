/* json.c -- json-c helpers (see json.h). */
#include "json.h"
#include "err.h"
#include "timefmt.h"
#include "utf8.h"

#include <math.h>
#include <string.h>
#include <stdio.h>

json_object *json_get(json_object *o, const char *k) {
    json_object *v;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
        json_object_is_type(v, json_type_null))
        return NULL;
    return v;
}

const char *json_strlen(json_object *v, size_t *n) {
    if (n) *n = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

const char *json_str(json_object *o, const char *k, size_t *n) {
    json_object *v = json_get(o, k);
    if (!json_object_is_type(v, json_type_string)) return NULL;
    return json_strlen(v, n);
}

json_object *json_time(int64_t ms) {
    char b[40];
    timefmt_iso(ms, b, sizeof b);
    return json_object_new_string(b);
}

json_object *json_time_or_null(int64_t ms) { return ms ? json_time(ms) : NULL; }

const char *json_text(json_object *v, size_t *n) {
    size_t len;
    const char *s = json_object_to_json_string_length(v, JSON_PLAIN, &len);
    if (n) *n = len;
    return s;
}

json_object *json_parse(const char *s, size_t n) {
    json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    /* A bare number needs the end of input to finish: feed it. */
    if (!o && json_tokener_get_error(tok) == json_tokener_continue) o = json_tokener_parse_ex(tok, "", 1);
    if (o && json_tokener_get_parse_end(tok) < n) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

bool json_check_raw(const char *p, size_t n, char *why, size_t whylen) {
    size_t bad;
    const char *nul = memchr(p, 0, n);
    if (nul) {
        snprintf(why, whylen, "the body contains a NUL byte (byte %zu)", (size_t)(nul - p));
        return false;
    }
    if (!utf8_valid(p, n, &bad)) {
        snprintf(why, whylen, "the body is not valid UTF-8 (byte %zu)", bad);
        return false;
    }
    /* In valid JSON a backslash only occurs inside a string, where it
     * escapes the next character: skip that one ("\\u0000" is text). */
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != '\\') continue;
        if (p[i + 1] == 'u' && i + 5 < n && p[i + 2] == '0' && p[i + 3] == '0' && p[i + 4] == '0' && p[i + 5] == '0') {
            snprintf(why, whylen, "strings must not contain U+0000 (\\u0000 at byte %zu)", i);
            return false;
        }
        i++;
    }
    return true;
}

bool json_check_numbers(json_object *o) {
    switch (json_object_get_type(o)) {
    case json_type_double: return isfinite(json_object_get_double(o));
    case json_type_array:
        for (size_t i = 0, n = json_object_array_length(o); i < n; i++)
            if (!json_check_numbers(json_object_array_get_idx(o, i))) return false;
        return true;
    case json_type_object: {
        json_object_object_foreach(o, k, v) {
            (void)k;
            if (!json_check_numbers(v)) return false;
        }
        return true;
    }
    default: return true;
    }
}

int json_parse_body(const char *p, size_t n, json_object **out, char *why, size_t whylen) {
    json_object *j = NULL;
    *out = NULL;
    if (!json_check_raw(p, n, why, whylen)) return BR_EJSON;
    json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    j = json_tokener_parse_ex(tok, p, (int)n + 1); /* with the NUL: see above */
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (e == json_tokener_success && off < n) {
        /* Only whitespace may follow the value. */
        while (off < n && (p[off] == ' ' || p[off] == '\t' || p[off] == '\r' || p[off] == '\n')) off++;
        if (off < n) {
            snprintf(why, whylen, "unexpected data after the JSON value at byte %zu", off);
            goto bad;
        }
    } else if (e != json_tokener_success) {
        snprintf(why, whylen, "%s at byte %zu", e == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(e),
                 off);
        goto bad;
    }
    if (!json_check_numbers(j)) {
        snprintf(why, whylen, "numbers must be finite (NaN, Infinity and out-of-range values are not JSON)");
        goto bad;
    }
    *out = j;
    return 0;
bad:
    json_object_put(j);
    return BR_EJSON;
}
