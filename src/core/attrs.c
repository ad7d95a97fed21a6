/* attrs.c -- validating and applying an attributes object (see attrs.h). */
#include "attrs.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../lib/varint.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { CH_SET, CH_UNSET, CH_INC, CH_ARR, CH_OBJ, CH_OBJARR, CH_TOKENS } ch_kind;

typedef struct {
    uint32_t key;
    ch_kind kind;
    uint8_t type;      /* CH_SET */
    size_t off, len;   /* CH_SET payload in plan->bytes */
    int64_t inc;       /* CH_INC */
    bool force_merge;  /* CH_OBJ: subscription groups always merge */
    json_object *a, *b, *c; /* owned refs: CH_ARR add/remove; CH_OBJ object; CH_OBJARR $add/$remove/$update */
} change;

struct attrs_plan {
    change *c;
    int n, cap;
    buf_t bytes;
};

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---- small checks ---------------------------------------------------------- */

bool attrs_utf8_len_ok(const char *s, size_t n, size_t max) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > max) return false;
    return true;
}

json_object *attrs_parse_stored(const uint8_t *p, uint32_t len) {
    /* check_nested admits 32 levels under the attribute, plus the array
     * around items: the tokener's default of 32 would refuse such a value,
     * and a value that reads back as missing is silently replaced. */
    json_tokener *tok = json_tokener_new_ex(64);
    json_object *j = json_tokener_parse_ex(tok, (const char *)p, (int)len);
    json_tokener_free(tok);
    return j;
}

bool attrs_valid_email(const char *s, size_t n) {
    if (n > 254) return false; /* RFC 5321's limit; also keeps index hashing case-insensitive */
    const char *at = memchr(s, '@', n);
    if (!at || at == s || at == s + n - 1 || memchr(at + 1, '@', (size_t)(s + n - at - 1))) return false;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]) || (unsigned char)s[i] < 0x20) return false;
    const char *dot = memchr(at + 1, '.', (size_t)(s + n - at - 1));
    return dot && dot != at + 1 && dot != s + n - 1 && s[n - 1] != '.';
}

static bool is_scalar(json_object *v) {
    json_type t = json_object_get_type(v);
    return t == json_type_string || t == json_type_int || t == json_type_double || t == json_type_boolean;
}

/* A string custom attribute is a time when it parses as one Braze accepts
 * and its year is within 0..3000 (Braze keeps other years as strings);
 * array elements never are (detect_time false). */
bool attrs_scalar(json_object *v, bool detect_time, uint8_t *type, buf_t *payload) {
    uint8_t tmp[VARINT_MAX];
    switch (json_object_get_type(v)) {
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        int64_t ms;
        int year;
        if (detect_time && timefmt_parse(s, n, &ms, &year) == 0 && year >= 0 && year <= 3000) {
            *type = PT_TIME;
            buf_append(payload, tmp, pval_int(tmp, ms));
        } else {
            *type = PT_STR;
            buf_append(payload, s, n);
        }
        return true;
    }
    case json_type_int:
        *type = PT_INT;
        buf_append(payload, tmp, pval_int(tmp, json_object_get_int64(v)));
        return true;
    case json_type_double: {
        double d = json_object_get_double(v);
        *type = PT_DBL;
        buf_append(payload, &d, sizeof d);
        return true;
    }
    case json_type_boolean:
        *type = json_object_get_boolean(v) ? PT_TRUE : PT_FALSE;
        return true;
    default:
        return false;
    }
}

/* ---- plan building ------------------------------------------------------- */

static change *add_change(attrs_plan *p, uint32_t key, ch_kind kind) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->c = xrealloc(p->c, (size_t)p->cap * sizeof *p->c);
    }
    change *c = &p->c[p->n++];
    memset(c, 0, sizeof *c);
    c->key = key;
    c->kind = kind;
    return c;
}

static void add_set(attrs_plan *p, uint32_t key, uint8_t type, const void *bytes, size_t len) {
    change *c = add_change(p, key, CH_SET);
    c->type = type;
    c->off = p->bytes.len;
    c->len = len;
    buf_append(&p->bytes, bytes, len);
}

void attrs_plan_free(attrs_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        json_object_put(p->c[i].a);
        json_object_put(p->c[i].b);
        json_object_put(p->c[i].c);
    }
    free(p->c);
    buf_free(&p->bytes);
    free(p);
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
        if (!attrs_utf8_len_ok(json_object_get_string(v), (size_t)json_object_get_string_len(v), ATTR_STR_MAX))
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
    json_object_to_json_string_length(v, JSON_FLAGS, &n);
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
                !attrs_utf8_len_ok(json_object_get_string(e), (size_t)json_object_get_string_len(e), ATTR_STR_MAX))
                FAIL("'%s' has an element longer than 255 characters", name);
        }
        *slot = val;
    }
    change *c = add_change(p, key, CH_ARR);
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
    change *c = add_change(p, key, CH_OBJARR);
    c->a = ops[0] ? json_object_get(ops[0]) : NULL;
    c->b = ops[1] ? json_object_get(ops[1]) : NULL;
    c->c = ops[2] ? json_object_get(ops[2]) : NULL;
    return 0;
}

static int plan_custom(attrs_plan *p, uint32_t id, const char *name, json_object *v, char *why, size_t whylen) {
    uint32_t key = pkey(id, PK_ATTR);
    if (!v) {
        add_change(p, key, CH_UNSET);
        return 0;
    }
    switch (json_object_get_type(v)) {
    case json_type_string:
        if (!attrs_utf8_len_ok(json_object_get_string(v), (size_t)json_object_get_string_len(v), ATTR_STR_MAX))
            FAIL("'%s' must be 255 characters or fewer", name);
        /* fall through */
    case json_type_int:
    case json_type_double:
    case json_type_boolean: {
        buf_t b = BUF_INIT;
        uint8_t type;
        attrs_scalar(v, true, &type, &b);
        add_set(p, key, type, b.data, b.len);
        buf_free(&b);
        return 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(v), objs = 0;
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (json_object_is_type(e, json_type_object)) objs++;
            else if (!is_scalar(e)) FAIL("'%s' must be an array of strings, numbers, booleans or objects", name);
            else if (json_object_is_type(e, json_type_string) &&
                     !attrs_utf8_len_ok(json_object_get_string(e), (size_t)json_object_get_string_len(e), ATTR_STR_MAX))
                FAIL("'%s' has an element longer than 255 characters", name);
        }
        if (objs && objs != n) FAIL("'%s' mixes objects with other values", name);
        if (objs) {
            if (check_nested(v, name, why, whylen, 0) < 0) return BR_EINVAL;
            if (json_size(v) > ATTR_OBJECT_MAX) FAIL("'%s' is larger than 100 KB", name);
            size_t len;
            const char *s = json_object_to_json_string_length(v, JSON_FLAGS, &len);
            add_set(p, key, PT_JSON, s, len);
            return 0;
        }
        /* Set semantics: duplicates dropped, first occurrence kept... and the
         * limit applied like "add", keeping the last ATTR_ARRAY_MAX. */
        change *c = add_change(p, key, CH_ARR);
        c->a = json_object_get(v);
        c->inc = 1; /* replace, not append */
        return 0;
    }
    case json_type_object: {
        json_object *inc;
        if (json_object_object_length(v) == 1 && json_object_object_get_ex(v, "inc", &inc)) {
            if (!json_object_is_type(inc, json_type_int)) FAIL("'%s' inc must be an integer", name);
            change *c = add_change(p, key, CH_INC);
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
        change *c = add_change(p, key, CH_OBJ);
        c->a = json_object_get(v);
        return 0;
    }
    default:
        FAIL("'%s' has an unsupported value", name);
    }
}

static bool str_or_null(json_object *v) { return !v || json_object_is_type(v, json_type_string); }

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

static int plan_country(attrs_plan *p, json_object *v) {
    uint32_t key = pkey(PF_COUNTRY, PK_ATTR);
    const char *s = v ? json_object_get_string(v) : NULL;
    size_t n = v ? (size_t)json_object_get_string_len(v) : 0;
    if (n == 2 && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1])) {
        char cc[2] = {(char)toupper((unsigned char)s[0]), (char)toupper((unsigned char)s[1])};
        add_set(p, key, PT_STR, cc, 2);
        return 0;
    }
    for (size_t i = 0; s && i < sizeof countries / sizeof *countries; i++)
        if (strlen(countries[i].name) == n && strncasecmp(countries[i].name, s, n) == 0) {
            add_set(p, key, PT_STR, countries[i].code, 2);
            return 0;
        }
    add_change(p, key, CH_UNSET); /* unmappable: null, as Braze does */
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

static const char *const genders[][2] = {
    {"m", "M"}, {"f", "F"}, {"o", "O"}, {"n", "N"}, {"p", "P"}, {"u", "U"},
    {"male", "M"}, {"female", "F"}, {"other", "O"}, {"not_applicable", "N"},
    {"prefer_not_to_say", "P"}, {"unknown", "U"},
};

static int plan_standard(attrs_plan *p, uint32_t id, const char *name, json_object *v, char *why, size_t whylen) {
    uint32_t key = pkey(id, PK_ATTR);
    const char *s = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    size_t n = s ? (size_t)json_object_get_string_len(v) : 0;
    switch (id) {
    case PF_FIRST_NAME:
    case PF_LAST_NAME:
    case PF_HOME_CITY:
    case PF_IMAGE_URL:
    case PF_PHONE:
        if (!str_or_null(v)) FAIL("'%s' must be a string", name);
        if (s && !attrs_utf8_len_ok(s, n, id == PF_IMAGE_URL ? 2048 : ATTR_STR_MAX))
            FAIL("'%s' must be 255 characters or fewer", name);
        break;
    case PF_EMAIL:
        if (!str_or_null(v) || (s && !attrs_valid_email(s, n)))
            FAIL("The value provided for the 'email' field is not a valid email.");
        break;
    case PF_GENDER:
        if (!str_or_null(v)) FAIL("'gender' is not valid");
        if (s) {
            for (size_t i = 0; i < sizeof genders / sizeof *genders; i++)
                if (strlen(genders[i][0]) == n && !strncasecmp(genders[i][0], s, n)) {
                    add_set(p, key, PT_STR, genders[i][1], 1);
                    return 0;
                }
            FAIL("'gender' is not valid");
        }
        break;
    case PF_DOB: {
        int64_t ms;
        int y;
        if (!str_or_null(v) || (s && (n != 10 || s[4] != '-' || s[7] != '-' || timefmt_parse(s, n, &ms, &y) < 0)))
            FAIL("'dob' must be a date in the format YYYY-MM-DD");
        break;
    }
    case PF_COUNTRY:
        if (!str_or_null(v)) FAIL("'country' must be a string");
        return plan_country(p, v);
    case PF_LANGUAGE:
        if (!str_or_null(v)) FAIL("'language' must be a string");
        if (s) {
            if (n != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1])) return 0; /* ignored */
            char lc[2] = {(char)tolower((unsigned char)s[0]), (char)tolower((unsigned char)s[1])};
            add_set(p, key, PT_STR, lc, 2);
            return 0;
        }
        break;
    case PF_TIME_ZONE:
        if (!str_or_null(v)) FAIL("'time_zone' must be a string");
        if (s && !valid_tz(s, n)) return 0; /* invalid zones are ignored */
        break;
    case PF_EMAIL_SUBSCRIBE:
    case PF_PUSH_SUBSCRIBE:
        if (!s || (strcmp(s, "opted_in") && strcmp(s, "subscribed") && strcmp(s, "unsubscribed")))
            FAIL("'%s' must be one of 'opted_in', 'subscribed' or 'unsubscribed'", name);
        break;
    case PF_FIRST_SESSION:
    case PF_LAST_SESSION:
    case PF_SPAM_AT: {
        int64_t ms;
        int y;
        uint8_t tmp[VARINT_MAX];
        if (!v) break;
        if (!s || timefmt_parse(s, n, &ms, &y) < 0) FAIL("'%s' is not a valid time", name);
        add_set(p, key, PT_TIME, tmp, pval_int(tmp, ms));
        return 0;
    }
    case PF_OPEN_TRACKING_OFF:
    case PF_CLICK_TRACKING_OFF:
        if (v && !json_object_is_type(v, json_type_boolean)) FAIL("'%s' must be a boolean", name);
        if (v) add_set(p, key, json_object_get_boolean(v) ? PT_TRUE : PT_FALSE, NULL, 0);
        else add_change(p, key, CH_UNSET);
        return 0;
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
        add_set(p, key, PT_JSON, tmp, (size_t)len);
        return 0;
    }
    case PF_FACEBOOK:
    case PF_TWITTER:
        if (!v) break;
        if (!json_object_is_type(v, json_type_object)) FAIL("'%s' must be an object", name);
        if (json_size(v) > ATTR_OBJECT_MAX) FAIL("'%s' is larger than 100 KB", name);
        {
            size_t len;
            const char *js = json_object_to_json_string_length(v, JSON_FLAGS, &len);
            add_set(p, key, PT_JSON, js, len);
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
        change *c = add_change(p, key, CH_OBJ);
        c->a = map;
        c->force_merge = true;
        return 0;
    }
    case PF_PUSH_TOKENS: {
        if (!v || !json_object_is_type(v, json_type_array)) FAIL("'push_tokens' must be an array");
        size_t cnt = json_object_array_length(v);
        for (size_t i = 0; i < cnt; i++) {
            json_object *t = json_object_array_get_idx(v, i), *app, *tok;
            if (!json_object_is_type(t, json_type_object) || !json_object_object_get_ex(t, "app_id", &app) ||
                !json_object_is_type(app, json_type_string) || !json_object_object_get_ex(t, "token", &tok) ||
                !json_object_is_type(tok, json_type_string))
                FAIL("'push_tokens' items need string 'app_id' and 'token'");
        }
        change *c = add_change(p, key, CH_TOKENS);
        c->a = json_object_get(v);
        return 0;
    }
    default:
        FAIL("'%s' is a reserved attribute name", name);
    }
    if (!v) add_change(p, key, CH_UNSET);
    else add_set(p, key, PT_STR, s, n);
    return 0;
}

/* Fields of an attributes object that are not attributes. */
static bool control_field(const char *k) {
    static const char *const skip[] = {"external_id", "user_alias", "braze_id", "_update_existing_only",
                                       "_merge_objects", "push_token_import", "alias_name", "alias_label",
                                       "app_id", NULL};
    for (int i = 0; skip[i]; i++)
        if (!strcmp(k, skip[i])) return true;
    return false;
}

int attrs_validate(json_object *obj, const char *skip, names_t *names, sqlite3 *db, attrs_plan **out, char *why,
                   size_t whylen) {
    attrs_plan *p = xcalloc(1, sizeof *p);
    *out = NULL;
    json_object_object_foreach(obj, k, v) {
        if (control_field(k) || (skip && !strcmp(k, skip))) continue;
        size_t kl = strlen(k);
        int rc;
        uint32_t std = profile_std_lookup(k, kl);
        /* Identity and computed fields cannot be set as attributes. */
        if (std == PF_ALIASES || std == PF_DEVICES || std == PF_TOTAL_REVENUE || std == PF_OLD_EXTERNAL_IDS ||
            std == PF_EMAIL_OPTED_IN_AT || std == PF_PUSH_OPTED_IN_AT || std == PF_EXTERNAL_ID) {
            snprintf(why, whylen, "'%s' is a reserved attribute name", k);
            rc = BR_EINVAL;
        } else if (std) {
            rc = plan_standard(p, std, k, v, why, whylen);
        } else if (kl == 0 || kl > ATTR_STR_MAX || k[0] == '$') {
            snprintf(why, whylen, "'%.64s' is not a valid attribute name: names are 1-255 characters and do not start with '$'", k);
            rc = BR_EINVAL;
        } else {
            uint32_t id = names_intern(names, db, k, kl);
            if (!id) {
                snprintf(why, whylen, "storage failure");
                rc = BR_ESTORE;
            } else {
                rc = plan_custom(p, id, k, v, why, whylen);
            }
        }
        if (rc < 0) {
            attrs_plan_free(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

/* ---- applying ------------------------------------------------------------ */

/* An array element: its type and payload, kept as an offset into one
 * buffer that holds every payload (so appends cannot leave it dangling). */
typedef struct {
    uint8_t type;
    size_t off;
    uint32_t len;
} elem;

typedef struct {
    elem *v;
    int n, cap;
    buf_t bytes;
} elems;

static void elems_push(elems *l, uint8_t type, const void *p, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (elem){type, l->bytes.len, (uint32_t)len};
    buf_append(&l->bytes, p, len);
}

static void elems_decode(elems *l, const uint8_t *p, uint32_t len) {
    const uint8_t *end = p + len;
    while (p < end) {
        uint8_t t = *p++;
        uint64_t n;
        if (varint_get(&p, end, &n) < 0 || n > (uint64_t)(end - p)) break;
        elems_push(l, t, p, (size_t)n);
        p += n;
    }
}

static void elems_push_json(elems *l, json_object *arr) {
    size_t cnt = arr ? json_object_array_length(arr) : 0;
    buf_t tmp = BUF_INIT;
    for (size_t i = 0; i < cnt; i++) {
        uint8_t t;
        buf_reset(&tmp);
        attrs_scalar(json_object_array_get_idx(arr, i), false, &t, &tmp);
        elems_push(l, t, tmp.data ? tmp.data : "", tmp.len);
    }
    buf_free(&tmp);
}

static bool elem_eq(const elems *a, const elem *x, const elems *b, const elem *y) {
    return x->type == y->type && x->len == y->len && memcmp(a->bytes.data + x->off, b->bytes.data + y->off, x->len) == 0;
}

/* Removes every element of l equal to x (from list src). */
static void elems_drop(elems *l, const elems *src, const elem *x) {
    int k = 0;
    for (int j = 0; j < l->n; j++)
        if (!elem_eq(l, &l->v[j], src, x)) l->v[k++] = l->v[j];
    l->n = k;
}

static void elems_free(elems *l) {
    free(l->v);
    buf_free(&l->bytes);
}

static void arr_apply(pedit *e, const change *c) {
    elems cur = {0}, add = {0}, rm = {0};
    const pfield *f = pedit_get(e, c->key);
    if (f && f->type == PT_ARR && !c->inc) elems_decode(&cur, pedit_payload(e, f), f->len);
    elems_push_json(&add, c->a);
    elems_push_json(&rm, c->b);
    /* add: an element already present moves to the end (Braze). A set
     * (c->inc) keeps the first of duplicates: ["a","b","a"] is ["a","b"]. */
    for (int i = 0; i < add.n; i++) {
        if (c->inc) {
            bool dup = false;
            for (int j = 0; j < cur.n && !dup; j++) dup = elem_eq(&cur, &cur.v[j], &add, &add.v[i]);
            if (dup) continue;
        }
        elems_drop(&cur, &add, &add.v[i]);
        if (cur.n == cur.cap) {
            cur.cap = cur.cap ? cur.cap * 2 : 8;
            cur.v = xrealloc(cur.v, (size_t)cur.cap * sizeof *cur.v);
        }
        elem x = add.v[i];
        x.off = cur.bytes.len;
        buf_append(&cur.bytes, add.bytes.data + add.v[i].off, x.len);
        cur.v[cur.n++] = x;
    }
    for (int i = 0; i < rm.n; i++) elems_drop(&cur, &rm, &rm.v[i]);
    int first = cur.n > ATTR_ARRAY_MAX ? cur.n - ATTR_ARRAY_MAX : 0; /* oldest dropped first */
    buf_t enc = BUF_INIT;
    uint8_t tmp[VARINT_MAX];
    for (int i = first; i < cur.n; i++) {
        buf_append(&enc, &cur.v[i].type, 1);
        buf_append(&enc, tmp, varint_put(tmp, cur.v[i].len));
        buf_append(&enc, cur.bytes.data + cur.v[i].off, cur.v[i].len);
    }
    pedit_set(e, c->key, PT_ARR, enc.data ? enc.data : "", enc.len);
    buf_free(&enc);
    elems_free(&cur);
    elems_free(&add);
    elems_free(&rm);
}

/* Deep merge of src into dst (objects merge key by key; anything else replaces). */
static void deep_merge(json_object *dst, json_object *src) {
    json_object_object_foreach(src, k, v) {
        json_object *d;
        if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(dst, k, &d) &&
            json_object_is_type(d, json_type_object)) {
            deep_merge(d, v);
        } else {
            json_object *copy = NULL;
            json_object_deep_copy(v, &copy, NULL);
            json_object_object_add(dst, k, copy);
        }
    }
}

static json_object *current_json(const pedit *e, uint32_t key, json_type want) {
    const pfield *f = pedit_get(e, key);
    if (!f || f->type != PT_JSON) return NULL;
    json_object *j = attrs_parse_stored(pedit_payload(e, f), f->len);
    if (j && !json_object_is_type(j, want)) {
        json_object_put(j);
        j = NULL;
    }
    return j;
}

static void set_json(pedit *e, uint32_t key, json_object *j) {
    size_t len;
    const char *s = json_object_to_json_string_length(j, JSON_FLAGS, &len);
    char *copy = xstrndup(s, len);
    pedit_set(e, key, PT_JSON, copy, len);
    free(copy);
}

static bool item_matches(json_object *item, json_object *sel) {
    json_object *k, *v, *iv;
    json_object_object_get_ex(sel, "$identifier_key", &k);
    json_object_object_get_ex(sel, "$identifier_value", &v);
    return json_object_object_get_ex(item, json_object_get_string(k), &iv) && json_object_equal(iv, v);
}

static void objarr_apply(pedit *e, const change *c, bool merge) {
    json_object *cur = current_json(e, c->key, json_type_array);
    if (!cur) cur = json_object_new_array();
    json_object *out = json_object_new_array();
    size_t n = json_object_array_length(cur);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(cur, i);
        bool drop = false;
        size_t rn = c->b ? json_object_array_length(c->b) : 0;
        for (size_t j = 0; j < rn && !drop; j++) drop = item_matches(item, json_object_array_get_idx(c->b, j));
        if (drop) continue;
        size_t un = c->c && merge ? json_object_array_length(c->c) : 0;
        for (size_t j = 0; j < un; j++) {
            json_object *u = json_object_array_get_idx(c->c, j), *nobj;
            if (item_matches(item, u) && json_object_object_get_ex(u, "$new_object", &nobj)) deep_merge(item, nobj);
        }
        json_object_array_add(out, json_object_get(item));
    }
    size_t an = c->a ? json_object_array_length(c->a) : 0;
    for (size_t i = 0; i < an; i++) {
        json_object *copy = NULL;
        json_object_deep_copy(json_object_array_get_idx(c->a, i), &copy, NULL);
        json_object_array_add(out, copy);
    }
    set_json(e, c->key, out);
    json_object_put(out);
    json_object_put(cur);
}

#define DEVICE_ID_MAX 255 /* bytes */

/* Adds a device id to the profile's devices unless it is there: a push
 * token that names its device_id ties that device to the user, the way the
 * SDK would (users.h indexes devices; cohort import matches anonymous users
 * by them). */
static void device_add(pedit *e, const char *id, size_t n) {
    elems cur = {0};
    uint32_t key = pkey(PF_DEVICES, PK_ATTR);
    const pfield *f = pedit_get(e, key);
    if (f && f->type == PT_ARR) elems_decode(&cur, pedit_payload(e, f), f->len);
    bool seen = false;
    for (int i = 0; i < cur.n && !seen; i++)
        seen = cur.v[i].len == n && memcmp(cur.bytes.data + cur.v[i].off, id, n) == 0;
    if (!seen) {
        elems_push(&cur, PT_STR, id, n);
        buf_t enc = BUF_INIT;
        uint8_t tmp[VARINT_MAX];
        for (int i = 0; i < cur.n; i++) {
            buf_append(&enc, &cur.v[i].type, 1);
            buf_append(&enc, tmp, varint_put(tmp, cur.v[i].len));
            buf_append(&enc, cur.bytes.data + cur.v[i].off, cur.v[i].len);
        }
        pedit_set(e, key, PT_ARR, enc.data, enc.len);
        buf_free(&enc);
    }
    elems_free(&cur);
}

static void tokens_apply(pedit *e, const change *c) {
    size_t nd = json_object_array_length(c->a);
    for (size_t i = 0; i < nd; i++) {
        json_object *d;
        if (json_object_object_get_ex(json_object_array_get_idx(c->a, i), "device_id", &d) &&
            json_object_is_type(d, json_type_string) && json_object_get_string_len(d) > 0 &&
            json_object_get_string_len(d) <= DEVICE_ID_MAX)
            device_add(e, json_object_get_string(d), (size_t)json_object_get_string_len(d));
    }
    json_object *cur = current_json(e, c->key, json_type_array);
    if (!cur) cur = json_object_new_array();
    size_t n = json_object_array_length(c->a);
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(c->a, i), *tok, *ct;
        json_object_object_get_ex(t, "token", &tok);
        bool seen = false;
        size_t cn = json_object_array_length(cur);
        for (size_t j = 0; j < cn && !seen; j++)
            seen = json_object_object_get_ex(json_object_array_get_idx(cur, j), "token", &ct) && json_object_equal(ct, tok);
        if (!seen) {
            json_object *copy = NULL;
            json_object_deep_copy(t, &copy, NULL);
            json_object_array_add(cur, copy);
        }
    }
    set_json(e, c->key, cur);
    json_object_put(cur);
}

void attrs_apply(const attrs_plan *p, pedit *e, bool merge) {
    for (int i = 0; i < p->n; i++) {
        const change *c = &p->c[i];
        switch (c->kind) {
        case CH_SET:
            pedit_set(e, c->key, c->type, p->bytes.data + c->off, c->len);
            break;
        case CH_UNSET:
            pedit_del(e, c->key);
            break;
        case CH_INC: {
            const pfield *f = pedit_get(e, c->key);
            uint8_t tmp[VARINT_MAX];
            if (f && f->type == PT_DBL) {
                double d = pval_get_dbl(pedit_payload(e, f)) + (double)c->inc;
                pedit_set(e, c->key, PT_DBL, &d, sizeof d);
            } else {
                int64_t v = f && f->type == PT_INT ? pval_get_int(pedit_payload(e, f), f->len) : 0, sum;
                /* A client-chosen increment must not overflow: saturate. */
                if (__builtin_add_overflow(v, c->inc, &sum)) sum = c->inc > 0 ? INT64_MAX : INT64_MIN;
                pedit_set(e, c->key, PT_INT, tmp, pval_int(tmp, sum));
            }
            break;
        }
        case CH_ARR:
            arr_apply(e, c);
            break;
        case CH_OBJ: {
            json_object *cur = (merge || c->force_merge) ? current_json(e, c->key, json_type_object) : NULL;
            if (cur) {
                deep_merge(cur, c->a);
                set_json(e, c->key, cur);
                json_object_put(cur);
            } else {
                set_json(e, c->key, c->a);
            }
            break;
        }
        case CH_OBJARR:
            objarr_apply(e, c, merge);
            break;
        case CH_TOKENS:
            tokens_apply(e, c);
            break;
        }
    }
}

/* ISO 4217 alphabetic codes in use (and the common funds/metals codes). */
static const char currencies[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW "
    "KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE "
    "SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED "
    "VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWL";

bool attrs_currency(const char *s, size_t n) {
    if (n != 3) return false;
    for (const char *p = currencies; *p; p += 4)
        if (!memcmp(p, s, 3)) return true;
    return false;
}
