/* attrs.c -- a /users/track attributes object checked and turned into a
 * plan of changes (core/attrs.h), on the HTTP thread. */
#include "api.h"
#include "parse.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../lib/utf8.h"
#include "../lib/varint.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_scalar(json_object *v) {
    json_type t = json_object_get_type(v);
    return t == json_type_string || t == json_type_int || t == json_type_double || t == json_type_boolean;
}

#define FAIL(...)                            \
    do {                                     \
        snprintf(why, whylen, __VA_ARGS__);  \
        return BR_EINVAL;                    \
    } while (0)

/* Nested object keys and values (Braze: keys <= 255, no spaces, no '.' or
 * '$' except the {"$time": ...} form; strings <= 255 characters). */
static int check_nested(json_object *v, const char *name, char *why, size_t whylen, int depth) {
    if (depth > 32) FAIL("'%s' is nested too deeply", name);
    if (json_object_is_type(v, json_type_string)) {
        if (utf8_chars(json_object_get_string(v), (size_t)json_object_get_string_len(v)) > ATTR_STR_MAX)
            FAIL("'%s' has a string value longer than 255 characters", name);
    } else if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            if (check_nested(json_object_array_get_idx(v, i), name, why, whylen, depth + 1) < 0) return BR_EINVAL;
    } else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val) {
            size_t kl = strlen(k);
            if (!strcmp(k, "$time") && json_object_object_length(v) == 1) {
                int64_t ms;
                int y;
                if (!json_object_is_type(val, json_type_string) ||
                    timefmt_parse(json_object_get_string(val), (size_t)json_object_get_string_len(val), &ms, &y) < 0)
                    FAIL("'%s' has a '$time' that is not a valid time", name);
                continue;
            }
            if (kl == 0 || kl > ATTR_STR_MAX || strpbrk(k, " .$"))
                FAIL("'%s' has an invalid key '%.64s': keys must be 1-255 characters without spaces, '.' or '$'", name, k);
            if (check_nested(val, name, why, whylen, depth + 1) < 0) return BR_EINVAL;
        }
    }
    return 0;
}

static size_t json_size(json_object *v) {
    size_t n;
    json_object_to_json_string_length(v, JSON_PLAIN, &n);
    return n;
}

/* {"add": [...], "remove": [...]} of scalars. */
static int plan_array_ops(attrs_plan *p, uint32_t key, const char *name, json_object *v, char *why, size_t whylen) {
    json_object *add = NULL, *rm = NULL;
    json_object_object_foreach(v, k, val) {
        json_object **slot = !strcmp(k, "add") ? &add : !strcmp(k, "remove") ? &rm : NULL;
        if (!slot) FAIL("'%s' has an unknown operator '%.64s'", name, k);
        if (!json_object_is_type(val, json_type_array)) FAIL("'%s' %s must be an array", name, k);
        size_t n = json_object_array_length(val);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(val, i);
            if (!is_scalar(e)) FAIL("'%s' %s must hold strings, numbers or booleans", name, k);
            if (json_object_is_type(e, json_type_string) &&
                utf8_chars(json_object_get_string(e), (size_t)json_object_get_string_len(e)) > ATTR_STR_MAX)
                FAIL("'%s' has an element longer than 255 characters", name);
        }
        *slot = val;
    }
    attrs_change *c = attrs_add(p, key, CH_ARR);
    c->a = add ? json_object_get(add) : NULL;
    c->b = rm ? json_object_get(rm) : NULL;
    return 0;
}

/* {"$add": [...], "$remove": [...], "$update": [...]} on an array of objects. */
static int plan_objarr_ops(attrs_plan *p, uint32_t key, const char *name, json_object *v, char *why, size_t whylen) {
    json_object *ops[3] = {NULL, NULL, NULL};
    static const char *const opn[3] = {"$add", "$remove", "$update"};
    json_object_object_foreach(v, k, val) {
        int i = 0;
        while (i < 3 && strcmp(k, opn[i])) i++;
        if (i == 3) FAIL("'%s' has an unknown operator '%.64s'", name, k);
        if (!json_object_is_type(val, json_type_array)) FAIL("'%s' %s must be an array", name, k);
        size_t n = json_object_array_length(val);
        for (size_t j = 0; j < n; j++) {
            json_object *e = json_object_array_get_idx(val, j), *idk, *idv, *nobj;
            if (!json_object_is_type(e, json_type_object)) FAIL("'%s' %s must hold objects", name, k);
            if (i == 0) {
                if (check_nested(e, name, why, whylen, 0) < 0) return BR_EINVAL;
                continue;
            }
            if (!json_object_object_get_ex(e, "$identifier_key", &idk) || !json_object_is_type(idk, json_type_string) ||
                !json_object_object_get_ex(e, "$identifier_value", &idv))
                FAIL("'%s' %s items need '$identifier_key' and '$identifier_value'", name, k);
            if (i == 2) {
                if (!json_object_object_get_ex(e, "$new_object", &nobj) || !json_object_is_type(nobj, json_type_object))
                    FAIL("'%s' $update items need a '$new_object' object", name);
                if (check_nested(nobj, name, why, whylen, 0) < 0) return BR_EINVAL;
            }
        }
        if (json_size(val) > ATTR_OBJECT_MAX) FAIL("'%s' is larger than 100 KB", name);
        ops[i] = val;
    }
    attrs_change *c = attrs_add(p, key, CH_OBJARR);
    c->a = ops[0] ? json_object_get(ops[0]) : NULL;
    c->b = ops[1] ? json_object_get(ops[1]) : NULL;
    c->c = ops[2] ? json_object_get(ops[2]) : NULL;
    return 0;
}

/* A custom attribute's scalar or null value; key 0 (the caller names it). */
static int plan_custom_value(attrs_plan *p, const char *name, const attrs_value *v, char *why, size_t whylen) {
    if (v->type == json_type_null) {
        attrs_add(p, 0, CH_UNSET);
        return 0;
    }
    if (v->type == json_type_string && utf8_chars(v->s, v->n) > ATTR_STR_MAX)
        FAIL("'%s' must be 255 characters or fewer", name);
    attrs_add_value(p, 0, v, true);
    return 0;
}

/* Plans a custom attribute; its changes get key 0 (the caller names them). */
static int plan_custom(attrs_plan *p, const char *name, json_object *v, char *why, size_t whylen) {
    const uint32_t key = 0;
    attrs_value x;
    if (attrs_value_of(v, &x)) return plan_custom_value(p, name, &x, why, whylen);
    switch (x.type) {
    case json_type_array: {
        size_t n = json_object_array_length(v), objs = 0;
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (json_object_is_type(e, json_type_object)) objs++;
            else if (!is_scalar(e)) FAIL("'%s' must be an array of strings, numbers, booleans or objects", name);
            else if (json_object_is_type(e, json_type_string) &&
                     utf8_chars(json_object_get_string(e), (size_t)json_object_get_string_len(e)) > ATTR_STR_MAX)
                FAIL("'%s' has an element longer than 255 characters", name);
        }
        if (objs && objs != n) FAIL("'%s' mixes objects with other values", name);
        if (objs) {
            if (check_nested(v, name, why, whylen, 0) < 0) return BR_EINVAL;
            if (json_size(v) > ATTR_OBJECT_MAX) FAIL("'%s' is larger than 100 KB", name);
            size_t len;
            const char *s = json_object_to_json_string_length(v, JSON_PLAIN, &len);
            attrs_add_set(p, key, PT_JSON, s, len);
            return 0;
        }
        /* Set semantics: duplicates dropped, first occurrence kept... and the
         * limit applied like "add", keeping the last ATTR_ARRAY_MAX. */
        attrs_change *c = attrs_add(p, key, CH_ARR);
        c->a = json_object_get(v);
        c->inc = 1; /* replace, not append */
        return 0;
    }
    case json_type_object: {
        json_object *inc;
        if (json_object_object_length(v) == 1 && json_object_object_get_ex(v, "inc", &inc)) {
            if (!json_object_is_type(inc, json_type_int)) FAIL("'%s' inc must be an integer", name);
            attrs_change *c = attrs_add(p, key, CH_INC);
            c->inc = json_object_get_int64(inc);
            return 0;
        }
        bool has_ops = false, has_dollar = false;
        json_object_object_foreach(v, k, val) {
            (void)val;
            if (!strcmp(k, "add") || !strcmp(k, "remove")) has_ops = true;
            if (!strcmp(k, "$add") || !strcmp(k, "$remove") || !strcmp(k, "$update")) has_dollar = true;
        }
        if (has_ops) return plan_array_ops(p, key, name, v, why, whylen);
        if (has_dollar) return plan_objarr_ops(p, key, name, v, why, whylen);
        if (check_nested(v, name, why, whylen, 0) < 0) return BR_EINVAL;
        if (json_size(v) > ATTR_OBJECT_MAX) FAIL("'%s' is larger than 100 KB", name);
        attrs_change *c = attrs_add(p, key, CH_OBJ);
        c->a = json_object_get(v);
        return 0;
    }
    default:
        FAIL("'%s' has an unsupported value", name);
    }
}

/* Country names Braze maps to ISO-3166 codes; others are stored as null. */
static const struct {
    const char *name, *code;
} countries[] = {
    {"united states", "US"}, {"united states of america", "US"}, {"usa", "US"}, {"canada", "CA"},
    {"mexico", "MX"}, {"brazil", "BR"}, {"argentina", "AR"}, {"united kingdom", "GB"}, {"uk", "GB"},
    {"great britain", "GB"}, {"ireland", "IE"}, {"france", "FR"}, {"germany", "DE"}, {"spain", "ES"},
    {"portugal", "PT"}, {"italy", "IT"}, {"netherlands", "NL"}, {"belgium", "BE"}, {"switzerland", "CH"},
    {"austria", "AT"}, {"sweden", "SE"}, {"norway", "NO"}, {"denmark", "DK"}, {"finland", "FI"},
    {"poland", "PL"}, {"czech republic", "CZ"}, {"greece", "GR"}, {"turkey", "TR"}, {"russia", "RU"},
    {"ukraine", "UA"}, {"israel", "IL"}, {"united arab emirates", "AE"}, {"saudi arabia", "SA"},
    {"india", "IN"}, {"china", "CN"}, {"japan", "JP"}, {"south korea", "KR"}, {"korea", "KR"},
    {"taiwan", "TW"}, {"hong kong", "HK"}, {"singapore", "SG"}, {"indonesia", "ID"}, {"thailand", "TH"},
    {"vietnam", "VN"}, {"philippines", "PH"}, {"malaysia", "MY"}, {"australia", "AU"},
    {"new zealand", "NZ"}, {"south africa", "ZA"}, {"nigeria", "NG"}, {"egypt", "EG"}, {"kenya", "KE"},
    {"chile", "CL"}, {"colombia", "CO"}, {"peru", "PE"},
};

static int plan_country(attrs_plan *p, const char *s, size_t n) {
    uint32_t key = pkey(PF_COUNTRY, PK_ATTR);
    if (n == 2 && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1])) {
        char cc[2] = {(char)toupper((unsigned char)s[0]), (char)toupper((unsigned char)s[1])};
        attrs_add_set(p, key, PT_STR, cc, 2);
        return 0;
    }
    for (size_t i = 0; s && i < sizeof countries / sizeof *countries; i++)
        if (strlen(countries[i].name) == n && strncasecmp(countries[i].name, s, n) == 0) {
            attrs_add_set(p, key, PT_STR, countries[i].code, 2);
            return 0;
        }
    attrs_add(p, key, CH_UNSET); /* unmappable: null, as Braze does */
    return 0;
}

static bool valid_tz(const char *s, size_t n) {
    static const char *const areas[] = {"Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/",
                                        "Australia/", "Europe/", "Indian/", "Pacific/", "Etc/"};
    if (n == 0 || n > 64) return false;
    if ((n == 3 && (!memcmp(s, "UTC", 3) || !memcmp(s, "GMT", 3)))) return true;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("/_+-", s[i])) return false;
    for (size_t i = 0; i < sizeof areas / sizeof *areas; i++)
        if (n > strlen(areas[i]) && !strncmp(s, areas[i], strlen(areas[i]))) return true;
    return false;
}

const char *api_subscribe_state(const char *s, size_t n) {
    static const char *const states[] = {"opted_in", "subscribed", "unsubscribed"};
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        if (strlen(states[i]) == n && !memcmp(states[i], s, n)) return states[i];
    return NULL;
}

static const char *const genders[][2] = {
    {"m", "M"}, {"f", "F"}, {"o", "O"}, {"n", "N"}, {"p", "P"}, {"u", "U"},
    {"male", "M"}, {"female", "F"}, {"other", "O"}, {"not_applicable", "N"},
    {"prefer_not_to_say", "P"}, {"unknown", "U"},
};

/* The standard attributes whose value is a scalar (or null). */
static bool scalar_std(uint32_t id) {
    switch (id) {
    case PF_FIRST_NAME: case PF_LAST_NAME: case PF_HOME_CITY: case PF_IMAGE_URL: case PF_PHONE: case PF_EMAIL:
    case PF_GENDER: case PF_DOB: case PF_COUNTRY: case PF_LANGUAGE: case PF_TIME_ZONE: case PF_EMAIL_SUBSCRIBE:
    case PF_PUSH_SUBSCRIBE: case PF_FIRST_SESSION: case PF_LAST_SESSION: case PF_SPAM_AT: case PF_OPEN_TRACKING_OFF:
    case PF_CLICK_TRACKING_OFF:
        return true;
    default: return false;
    }
}

/* A scalar standard attribute (scalar_std) from its value, whatever its
 * type: a value of the wrong type is refused here. */
static int plan_std_value(attrs_plan *p, uint32_t id, const char *name, const attrs_value *v, char *why, size_t whylen) {
    uint32_t key = pkey(id, PK_ATTR);
    bool null = v->type == json_type_null, str_or_null = null || v->type == json_type_string;
    const char *s = v->type == json_type_string ? v->s : NULL;
    size_t n = s ? v->n : 0;
    switch (id) {
    case PF_FIRST_NAME:
    case PF_LAST_NAME:
    case PF_HOME_CITY:
    case PF_IMAGE_URL:
    case PF_PHONE:
        if (!str_or_null) FAIL("'%s' must be a string", name);
        if (s && utf8_chars(s, n) > (id == PF_IMAGE_URL ? 2048 : ATTR_STR_MAX))
            FAIL("'%s' must be 255 characters or fewer", name);
        break;
    case PF_EMAIL:
        if (!str_or_null || (s && !attrs_valid_email(s, n)))
            FAIL("The value provided for the 'email' field is not a valid email.");
        break;
    case PF_GENDER:
        if (!str_or_null) FAIL("'gender' is not valid");
        if (s) {
            for (size_t i = 0; i < sizeof genders / sizeof *genders; i++)
                if (strlen(genders[i][0]) == n && !strncasecmp(genders[i][0], s, n)) {
                    attrs_add_set(p, key, PT_STR, genders[i][1], 1);
                    return 0;
                }
            FAIL("'gender' is not valid");
        }
        break;
    case PF_DOB: {
        int64_t ms;
        int y;
        if (!str_or_null || (s && (n != 10 || s[4] != '-' || s[7] != '-' || timefmt_parse(s, n, &ms, &y) < 0)))
            FAIL("'dob' must be a date in the format YYYY-MM-DD");
        break;
    }
    case PF_COUNTRY:
        if (!str_or_null) FAIL("'country' must be a string");
        return plan_country(p, s, n);
    case PF_LANGUAGE:
        if (!str_or_null) FAIL("'language' must be a string");
        if (s) {
            if (n != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1])) return 0; /* ignored */
            char lc[2] = {(char)tolower((unsigned char)s[0]), (char)tolower((unsigned char)s[1])};
            attrs_add_set(p, key, PT_STR, lc, 2);
            return 0;
        }
        break;
    case PF_TIME_ZONE:
        if (!str_or_null) FAIL("'time_zone' must be a string");
        if (s && !valid_tz(s, n)) return 0; /* invalid zones are ignored */
        break;
    case PF_EMAIL_SUBSCRIBE:
    case PF_PUSH_SUBSCRIBE:
        if (!s || !api_subscribe_state(s, n))
            FAIL("'%s' must be one of 'opted_in', 'subscribed' or 'unsubscribed'", name);
        break;
    case PF_FIRST_SESSION:
    case PF_LAST_SESSION:
    case PF_SPAM_AT: {
        int64_t ms;
        int y;
        uint8_t tmp[VARINT_MAX];
        if (null) break;
        if (!s || timefmt_parse(s, n, &ms, &y) < 0) FAIL("'%s' is not a valid time", name);
        attrs_add_set(p, key, PT_TIME, tmp, pval_int(tmp, ms));
        return 0;
    }
    case PF_OPEN_TRACKING_OFF:
    case PF_CLICK_TRACKING_OFF:
        if (!null && v->type != json_type_boolean) FAIL("'%s' must be a boolean", name);
        if (!null) attrs_add_set(p, key, v->i ? PT_TRUE : PT_FALSE, NULL, 0);
        else attrs_add(p, key, CH_UNSET);
        return 0;
    default:
        FAIL("'%s' is a reserved attribute name", name);
    }
    if (null) attrs_add(p, key, CH_UNSET);
    else attrs_add_set(p, key, PT_STR, s, n);
    return 0;
}

static int plan_standard(attrs_plan *p, uint32_t id, const char *name, json_object *v, bool v1, char *why, size_t whylen) {
    uint32_t key = pkey(id, PK_ATTR);
    if (scalar_std(id)) {
        attrs_value x;
        attrs_value_of(v, &x);
        return plan_std_value(p, id, name, &x, why, whylen);
    }
    switch (id) {
    case PF_CURRENT_LOCATION: {
        json_object *lon, *lat;
        if (!v) break;
        if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "longitude", &lon) ||
            !json_object_object_get_ex(v, "latitude", &lat) ||
            !(json_object_is_type(lon, json_type_double) || json_object_is_type(lon, json_type_int)) ||
            !(json_object_is_type(lat, json_type_double) || json_object_is_type(lat, json_type_int)) ||
            fabs(json_object_get_double(lon)) > 180 || fabs(json_object_get_double(lat)) > 90)
            FAIL("'current_location' must be an object with numeric 'longitude' and 'latitude'");
        char tmp[96];
        int len = snprintf(tmp, sizeof tmp, "[%.17g,%.17g]", json_object_get_double(lon), json_object_get_double(lat));
        attrs_add_set(p, key, PT_JSON, tmp, (size_t)len);
        return 0;
    }
    case PF_FACEBOOK:
    case PF_TWITTER:
        if (!v) break;
        if (!json_object_is_type(v, json_type_object)) FAIL("'%s' must be an object", name);
        if (json_size(v) > ATTR_OBJECT_MAX) FAIL("'%s' is larger than 100 KB", name);
        {
            size_t len;
            const char *js = json_object_to_json_string_length(v, JSON_PLAIN, &len);
            attrs_add_set(p, key, PT_JSON, js, len);
        }
        return 0;
    case PF_SUBSCRIPTION_GROUPS: {
        if (!v || !json_object_is_type(v, json_type_array)) FAIL("'subscription_groups' must be an array");
        json_object *map = json_object_new_object();
        size_t cnt = json_object_array_length(v);
        for (size_t i = 0; i < cnt; i++) {
            json_object *g = json_object_array_get_idx(v, i), *gid, *st;
            if (!json_object_is_type(g, json_type_object) ||
                !json_object_object_get_ex(g, "subscription_group_id", &gid) || !json_object_is_type(gid, json_type_string) ||
                !json_object_object_get_ex(g, "subscription_state", &st) || !json_object_is_type(st, json_type_string) ||
                (strcmp(json_object_get_string(st), "subscribed") && strcmp(json_object_get_string(st), "unsubscribed"))) {
                json_object_put(map);
                FAIL("'subscription_groups' items need a 'subscription_group_id' and a 'subscription_state' of 'subscribed' or 'unsubscribed'");
            }
            json_object_object_add(map, json_object_get_string(gid), json_object_get(st));
        }
        attrs_change *c = attrs_add(p, key, CH_OBJ);
        c->a = map;
        c->force_merge = true;
        return 0;
    }
    case PF_PUSH_TOKENS: {
        if (v1) { /* the checks of the version that journaled it */
            if (!v || !json_object_is_type(v, json_type_array)) FAIL("'push_tokens' must be an array");
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *t = json_object_array_get_idx(v, i), *app, *tok;
                if (!json_object_is_type(t, json_type_object) || !json_object_object_get_ex(t, "app_id", &app) ||
                    !json_object_is_type(app, json_type_string) || !json_object_object_get_ex(t, "token", &tok) ||
                    !json_object_is_type(tok, json_type_string))
                    FAIL("'push_tokens' items need string 'app_id' and 'token'");
            }
        } else if (api_push_tokens_check(v, why, whylen) < 0) {
            return BR_EINVAL;
        }
        attrs_change *c = attrs_add(p, key, CH_TOKENS);
        c->a = json_object_get(v);
        return 0;
    }
    default:
        FAIL("'%s' is a reserved attribute name", name);
    }
    attrs_add(p, key, CH_UNSET); /* the cases left: null */
    return 0;
}

int api_push_tokens_check(json_object *v, char *why, size_t whylen) {
    if (!v || !json_object_is_type(v, json_type_array)) FAIL("'push_tokens' must be an array");
    size_t cnt = json_object_array_length(v);
    /* More than one user may hold: the request alone would pass the limit. */
    if (cnt > LIMIT_PUSH_TOKENS) FAIL("'push_tokens' has %zu tokens; a user holds at most %d", cnt, LIMIT_PUSH_TOKENS);
    for (size_t i = 0; i < cnt; i++) {
        json_object *t = json_object_array_get_idx(v, i), *app, *tok, *dev;
        if (!json_object_is_type(t, json_type_object) || !json_object_object_get_ex(t, "app_id", &app) ||
            !json_object_is_type(app, json_type_string) || !json_object_object_get_ex(t, "token", &tok) ||
            !json_object_is_type(tok, json_type_string) || !json_object_get_string_len(tok))
            FAIL("'push_tokens' items need string 'app_id' and a non-empty string 'token'");
        /* A device id is an index key (users.h): bounded, and never dropped
         * without a word. */
        if (json_object_object_get_ex(t, "device_id", &dev) &&
            (!json_object_is_type(dev, json_type_string) || !json_object_get_string_len(dev) ||
             json_object_get_string_len(dev) > ATTR_DEVICE_ID_MAX))
            FAIL("'push_tokens' item %zu: 'device_id' must be a string of 1-%d bytes", i, ATTR_DEVICE_ID_MAX);
    }
    return 0;
}

/* Fields of an attributes object that are not attributes (lengths first:
 * every key of every object of a bulk import is asked). */
static bool control_field(const char *k, size_t kl) {
#define S(s) {s, sizeof s - 1}
    static const struct {
        const char *s;
        size_t n;
    } skip[] = {S("external_id"), S("user_alias"), S("braze_id"), S("_update_existing_only"), S("_merge_objects"),
                S("push_token_import"), S("alias_name"), S("alias_label"), S("app_id")};
#undef S
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (kl == skip[i].n && !memcmp(k, skip[i].s, kl)) return true;
    return false;
}

/* Identity and computed fields: never set as attributes. */
static bool reserved_std(uint32_t std) {
    return std == PF_ALIASES || std == PF_DEVICES || std == PF_TOTAL_REVENUE || std == PF_OLD_EXTERNAL_IDS ||
           std == PF_EMAIL_OPTED_IN_AT || std == PF_PUSH_OPTED_IN_AT || std == PF_EXTERNAL_ID || std == PF_ENGAGEMENT;
}

static bool valid_custom_name(const char *k, size_t kl) { return kl > 0 && kl <= ATTR_STR_MAX && k[0] != '$'; }

bool api_attrs_value_field(const char *k, size_t kl, uint32_t *std) {
    *std = profile_std_lookup(k, kl);
    if (control_field(k, kl)) return false;
    return *std ? scalar_std(*std) : valid_custom_name(k, kl);
}

int api_attrs_value(attrs_plan *p, uint32_t std, const char *k, size_t kl, const attrs_value *v, char *why,
                    size_t whylen) {
    if (std) return plan_std_value(p, std, k, v, why, whylen);
    int rc = plan_custom_value(p, k, v, why, whylen);
    if (rc == 0) p->c[p->n - 1].name = k, p->c[p->n - 1].namelen = (uint32_t)kl;
    return rc;
}

int api_attrs_parse(json_object *obj, const char *skip, bool v1, attrs_plan **out, char *why, size_t whylen) {
    attrs_plan *p = attrs_plan_new();
    *out = NULL;
    json_object_object_foreach(obj, k, v) {
        size_t kl = strlen(k);
        if (control_field(k, kl) || (skip && !strcmp(k, skip))) continue;
        int rc;
        uint32_t std = profile_std_lookup(k, kl);
        if (reserved_std(std)) {
            snprintf(why, whylen, "'%s' is a reserved attribute name", k);
            rc = BR_EINVAL;
        } else if (std) {
            rc = plan_standard(p, std, k, v, v1, why, whylen);
        } else if (!valid_custom_name(k, kl)) {
            snprintf(why, whylen, "'%.64s' is not a valid attribute name: names are 1-255 characters and do not start with '$'", k);
            rc = BR_EINVAL;
        } else {
            int first = p->n;
            rc = plan_custom(p, k, v, why, whylen);
            for (int i = first; i < p->n; i++) p->c[i].name = k, p->c[i].namelen = (uint32_t)kl;
        }
        if (rc < 0) {
            attrs_plan_free(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

