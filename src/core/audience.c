/* audience.c -- connected audience objects compiled into segment
 * definitions (see audience.h; the mapping is tabled in docs/segments.md).
 *
 * One pass over the audience: each group becomes an "and"/"or" group and
 * each filter one segment filter, checked here first so that a bad
 * audience is refused with the audience's own words (its keys,
 * comparisons and path) rather than those of the segment it would
 * become. */
#include "audience.h"
#include "../lib/err.h"
#include "../lib/relin.h"
#include "../lib/timefmt.h"
#include "attrs.h"
#include "profile.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DAYS_MAX 1000000000 /* the segment language's bound on days */

typedef struct {
    int filters;
    char *why;
    size_t whylen;
} actx;

/* Sets why to "audience<path>: <message>"; returns NULL for the caller. */
__attribute__((format(printf, 3, 4))) static json_object *fail(actx *c, const char *path, const char *fmt, ...) {
    char msg[AUDIENCE_WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->whylen, "audience%s: %s", path, msg);
    return NULL;
}

/* A string without NUL bytes (a keyword, a regex), or NULL: "is\u0000x"
 * is not "is". */
static const char *word(json_object *v) {
    if (!v || !json_object_is_type(v, json_type_string)) return NULL;
    const char *s = json_object_get_string(v);
    return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* s for a message: at most 64 bytes, cut before a UTF-8 sequence, with
 * "..." when cut (out holds 68). */
static const char *clip(const char *s, char *out) {
    size_t n = strlen(s);
    if (n <= 64) return s;
    n = 64;
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] continues a sequence: cut before it */
    memcpy(out, s, n);
    memcpy(out + n, "...", 4);
    return out;
}

static bool is_num(json_object *v) { return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double); }

/* The one key of a filter's inner object that is not in allowed (a
 * NULL-terminated list), or NULL when every key is. */
static const char *unknown_key(json_object *o, const char *const *allowed) {
    json_object_object_foreach(o, k, v) {
        (void)v;
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(k, allowed[i]);
        if (!ok) return k;
    }
    return NULL;
}

static json_object *leaf(const char *type, const char *name, const char *op, json_object *value) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    if (name) json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "op", json_object_new_string(op));
    if (value) json_object_object_add(o, "value", value);
    return o;
}

/* A copy of a string, number or boolean (so *def shares nothing). */
static json_object *scalar_copy(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_string: return json_object_new_string_len(json_object_get_string(v), json_object_get_string_len(v));
    case json_type_int: return json_object_new_int64(json_object_get_int64(v));
    case json_type_double: return json_object_new_double(json_object_get_double(v));
    case json_type_boolean: return json_object_new_boolean(json_object_get_boolean(v));
    default: return NULL;
    }
}

static bool is_time(json_object *v) {
    int64_t ms;
    int year;
    return json_object_is_type(v, json_type_string) &&
           timefmt_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &ms, &year) == 0;
}

/* ---- custom attributes --------------------------------------------------- */

/* What a comparison's value must be. */
enum { W_NONE, W_SCALAR, W_STR_NUM, W_BOOL, W_REGEX, W_ELEM, W_NUM, W_DAYS, W_TIME };

static const struct {
    const char *name;
    int want;
    const char *op; /* the segment operator (W_SCALAR, W_STR_NUM, W_BOOL: by the value's type below) */
} comparisons[] = {
    {"equals", W_SCALAR, NULL},
    {"not_equal", W_STR_NUM, NULL},
    {"does_not_equal", W_BOOL, NULL},
    {"matches_regex", W_REGEX, "matches_regex"},
    {"does_not_match_regex", W_REGEX, "does_not_match_regex"},
    {"includes_value", W_ELEM, "includes_any"},
    {"does_not_include_value", W_ELEM, "includes_none"},
    {"greater_than", W_NUM, "greater_than"},
    {"greater_than_or_equal_to", W_NUM, "greater_than_or_equal_to"},
    {"less_than", W_NUM, "less_than"},
    {"less_than_or_equal_to", W_NUM, "less_than_or_equal_to"},
    {"less_than_x_days_ago", W_DAYS, "within_last_days"},
    {"greater_than_x_days_ago", W_DAYS, "more_than_days_ago"},
    {"less_than_x_days_in_the_future", W_DAYS, "within_next_days"},
    {"greater_than_x_days_in_the_future", W_DAYS, "more_than_days_from_now"},
    {"after", W_TIME, "after"},
    {"before", W_TIME, "before"},
    {"exists", W_NONE, "exists"},
    {"does_not_exist", W_NONE, "blank"},
};

static const char *const want_words[] = {
    [W_SCALAR] = "a string, number or boolean 'value'",
    [W_STR_NUM] = "a string or number 'value' (for a boolean, use 'does_not_equal')",
    [W_BOOL] = "a boolean 'value' (for a string or number, use 'not_equal')",
    [W_REGEX] = "a string 'value' (the regex)",
    [W_ELEM] = "a string or number 'value' (the array element)",
    [W_NUM] = "a number 'value'",
    [W_DAYS] = "a whole number of days from 0 to 1000000000 as 'value'",
    [W_TIME] = "an ISO-8601 time string as 'value'",
};

static json_object *custom_attribute(actx *c, json_object *o, const char *path) {
    static const char *const keys[] = {"custom_attribute_name", "comparison", "value", NULL};
    if (!json_object_is_type(o, json_type_object))
        return fail(c, path, "custom_attribute must be an object with 'custom_attribute_name', 'comparison' and 'value'");
    const char *k = unknown_key(o, keys);
    char clipped[68];
    if (k) return fail(c, path, "custom_attribute: unknown key '%s' (keys: custom_attribute_name, comparison, value)", clip(k, clipped));
    json_object *jn = NULL, *jc = NULL, *v = NULL;
    json_object_object_get_ex(o, "custom_attribute_name", &jn);
    json_object_object_get_ex(o, "comparison", &jc);
    json_object_object_get_ex(o, "value", &v);
    if (!jn || !json_object_is_type(jn, json_type_string) || !json_object_get_string_len(jn))
        return fail(c, path, "custom_attribute: 'custom_attribute_name' must be a non-empty string");
    const char *name = json_object_get_string(jn);
    size_t nl = (size_t)json_object_get_string_len(jn);
    /* The names /users/track accepts for custom attributes (api/attrs.c). */
    if (nl > ATTR_STR_MAX || strlen(name) != nl || name[0] == '$')
        return fail(c, path, "custom_attribute '%s': not a valid attribute name (1-255 characters, not starting with '$')",
                    clip(name, clipped));
    if (profile_std_lookup(name, nl))
        return fail(c, path,
                    "custom_attribute '%s': '%s' is a standard attribute; a connected audience filters custom "
                    "attributes only (use a segment)",
                    name, name);
    const char *cmp = word(jc);
    if (!cmp) return fail(c, path, "custom_attribute '%s': 'comparison' must be a string", name);
    int i = -1;
    for (size_t j = 0; j < sizeof comparisons / sizeof *comparisons; j++)
        if (!strcmp(comparisons[j].name, cmp)) i = (int)j;
    if (i < 0) {
        char list[600] = "";
        for (size_t j = 0; j < sizeof comparisons / sizeof *comparisons; j++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", comparisons[j].name);
        return fail(c, path, "custom_attribute '%s': comparison '%s' is not one of %s", name, clip(cmp, clipped), list);
    }
    int want = comparisons[i].want;
    const char *op = comparisons[i].op;
    if (want == W_NONE) return leaf("custom_attribute", name, op, NULL); /* a value, if any, is not needed */
    if (!v) return fail(c, path, "custom_attribute '%s': comparison '%s' needs a 'value'", name, cmp);
    bool ok = false;
    json_object *out = NULL;
    switch (want) {
    case W_SCALAR:
        if ((ok = json_object_is_type(v, json_type_string)))
            op = "equals";
        else if ((ok = is_num(v)))
            op = "number_equals";
        else if ((ok = json_object_is_type(v, json_type_boolean))) {
            op = json_object_get_boolean(v) ? "is_true" : "is_false";
            return leaf("custom_attribute", name, op, NULL);
        }
        break;
    case W_STR_NUM:
        if ((ok = json_object_is_type(v, json_type_string))) op = "not_equals";
        else if ((ok = is_num(v))) op = "number_not_equals";
        break;
    case W_BOOL:
        if ((ok = json_object_is_type(v, json_type_boolean))) {
            op = json_object_get_boolean(v) ? "is_not_true" : "is_not_false";
            return leaf("custom_attribute", name, op, NULL);
        }
        break;
    case W_REGEX:
        if ((ok = word(v) != NULL)) {
            char why[200];
            relin_t *re = relin_compile(json_object_get_string(v), why, sizeof why);
            if (!re) return fail(c, path, "custom_attribute '%s': invalid regex: %s", name, why);
            relin_free(re);
        }
        break;
    case W_ELEM:
        if ((ok = json_object_is_type(v, json_type_string) || is_num(v))) {
            out = json_object_new_array();
            json_object_array_add(out, scalar_copy(v));
        }
        break;
    case W_NUM: ok = is_num(v); break;
    case W_DAYS: {
        double d = is_num(v) ? json_object_get_double(v) : -1;
        if ((ok = d >= 0 && d <= DAYS_MAX && d == (double)(int64_t)d)) out = json_object_new_int64((int64_t)d);
        break;
    }
    case W_TIME: ok = is_time(v); break;
    }
    if (!ok) return fail(c, path, "custom_attribute '%s': comparison '%s' needs %s", name, cmp, want_words[want]);
    return leaf("custom_attribute", name, op, out ? out : scalar_copy(v));
}

/* ---- the other filters --------------------------------------------------- */

static json_object *subscription(actx *c, json_object *o, const char *path, const char *type) {
    static const char *const keys[] = {"comparison", "value", NULL};
    if (!json_object_is_type(o, json_type_object))
        return fail(c, path, "%s must be an object with 'comparison' and 'value'", type);
    const char *k = unknown_key(o, keys);
    char clipped[68];
    if (k) return fail(c, path, "%s: unknown key '%s' (keys: comparison, value)", type, clip(k, clipped));
    json_object *jc = NULL, *v = NULL;
    json_object_object_get_ex(o, "comparison", &jc);
    json_object_object_get_ex(o, "value", &v);
    const char *cmp = word(jc);
    if (!cmp || (strcmp(cmp, "is") && strcmp(cmp, "is_not")))
        return fail(c, path, "%s: 'comparison' must be one of is, is_not", type);
    const char *s = word(v);
    if (!s || (strcmp(s, "opted_in") && strcmp(s, "subscribed") && strcmp(s, "unsubscribed")))
        return fail(c, path, "%s: 'value' must be one of opted_in, subscribed, unsubscribed", type);
    return leaf(type, NULL, strcmp(cmp, "is") ? "not_equals" : "equals", json_object_new_string(s));
}

static json_object *last_used_app(actx *c, json_object *o, const char *path) {
    static const char *const keys[] = {"comparison", "value", NULL};
    if (!json_object_is_type(o, json_type_object))
        return fail(c, path, "last_used_app must be an object with 'comparison' and 'value'");
    const char *k = unknown_key(o, keys);
    char clipped[68];
    if (k) return fail(c, path, "last_used_app: unknown key '%s' (keys: comparison, value)", clip(k, clipped));
    json_object *jc = NULL, *v = NULL;
    json_object_object_get_ex(o, "comparison", &jc);
    json_object_object_get_ex(o, "value", &v);
    const char *cmp = word(jc);
    if (!cmp || (strcmp(cmp, "after") && strcmp(cmp, "before")))
        return fail(c, path, "last_used_app: 'comparison' must be one of after, before");
    if (!v || !is_time(v)) return fail(c, path, "last_used_app: 'value' must be an ISO-8601 time string");
    return leaf("last_used_app", NULL, cmp, scalar_copy(v));
}

/* ---- groups -------------------------------------------------------------- */

#define KEYS_WORDS "a filter (custom_attribute, push_subscription_status, email_subscription_status, last_used_app) or a group (AND, OR)"

/* path: "" at the top, ".AND[1].OR[0]" below; depth: groups above j. */
static json_object *node(actx *c, json_object *j, const char *path, int depth) {
    if (!json_object_is_type(j, json_type_object)) return fail(c, path, "must be an object: " KEYS_WORDS);
    if (json_object_object_length(j) != 1)
        return fail(c, path, "must have exactly one key, %s; found %d", KEYS_WORDS, json_object_object_length(j));
    const char *key = NULL;
    json_object *v = NULL;
    json_object_object_foreach(j, k, val) {
        key = k;
        v = val;
    }
    bool is_or = !strcmp(key, "OR");
    if (is_or || !strcmp(key, "AND")) {
        if (depth >= AUDIENCE_MAX_DEPTH) return fail(c, path, "groups are nested more than %d deep", AUDIENCE_MAX_DEPTH);
        if (!json_object_is_type(v, json_type_array) || !json_object_array_length(v))
            return fail(c, path, "'%s' must be a non-empty array of filters and groups", key);
        json_object *kids = json_object_new_array();
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s[%zu]", path, key, i);
            json_object *kid = node(c, json_object_array_get_idx(v, i), sub, depth + 1);
            if (!kid) {
                json_object_put(kids);
                return NULL;
            }
            json_object_array_add(kids, kid);
        }
        json_object *g = json_object_new_object();
        json_object_object_add(g, is_or ? "or" : "and", kids);
        return g;
    }
    bool known = !strcmp(key, "custom_attribute") || !strcmp(key, "push_subscription_status") ||
                 !strcmp(key, "email_subscription_status") || !strcmp(key, "last_used_app");
    char clipped[68];
    if (!known) return fail(c, path, "unknown key '%s': expected %s", clip(key, clipped), KEYS_WORDS);
    if (++c->filters > AUDIENCE_MAX_FILTERS) return fail(c, path, "more than %d filters", AUDIENCE_MAX_FILTERS);
    if (!strcmp(key, "custom_attribute")) return custom_attribute(c, v, path);
    if (!strcmp(key, "last_used_app")) return last_used_app(c, v, path);
    return subscription(c, v, path, key);
}

int audience_compile(json_object *audience, json_object **def, char *why, size_t whylen) {
    actx c = {0, why, whylen};
    json_object *d = node(&c, audience, "", 0);
    if (!d) return BR_EINVAL;
    *def = d;
    return 0;
}
