/* export.c -- building the /users/export/ids user object (see export.h). */
#include "export.h"
#include "attrs.h"
#include "cohort.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/timefmt.h"
#include "../lib/varint.h"

#include <stdio.h>
#include <string.h>

/* Braze's fields_to_export names, in the order objects are written. */
#define EXPORT_MAP(XX)                                                                   \
    XX(CREATED_AT, "created_at") XX(EXTERNAL_ID, "external_id")                          \
    XX(USER_ALIASES, "user_aliases") XX(BRAZE_ID, "braze_id")                            \
    XX(RANDOM_BUCKET, "random_bucket") XX(FIRST_NAME, "first_name")                      \
    XX(LAST_NAME, "last_name") XX(EMAIL, "email") XX(DOB, "dob")                         \
    XX(HOME_CITY, "home_city") XX(COUNTRY, "country") XX(PHONE, "phone")                 \
    XX(LANGUAGE, "language") XX(TIME_ZONE, "time_zone")                                  \
    XX(LAST_COORDINATES, "last_coordinates") XX(GENDER, "gender")                        \
    XX(TOTAL_REVENUE, "total_revenue") XX(PUSH_SUBSCRIBE, "push_subscribe")              \
    XX(EMAIL_SUBSCRIBE, "email_subscribe") XX(CUSTOM_ATTRIBUTES, "custom_attributes")    \
    XX(CUSTOM_EVENTS, "custom_events") XX(PURCHASES, "purchases")                        \
    XX(DEVICES, "devices") XX(PUSH_TOKENS, "push_tokens") XX(APPS, "apps")               \
    XX(CAMPAIGNS_RECEIVED, "campaigns_received")                                         \
    XX(CANVASES_RECEIVED, "canvases_received") XX(CARDS_CLICKED, "cards_clicked")        \
    XX(ATTRIBUTED_CAMPAIGN, "attributed_campaign") XX(ATTRIBUTED_SOURCE, "attributed_source") \
    XX(ATTRIBUTED_ADGROUP, "attributed_adgroup") XX(ATTRIBUTED_AD, "attributed_ad")      \
    XX(UNINSTALLED_AT, "uninstalled_at")                                                 \
    XX(COHORTS, "cohorts") /* brasa: partner cohorts (export_cohorts) */

enum {
#define XX(id, name) EX_##id,
    EXPORT_MAP(XX)
#undef XX
    EX__COUNT
};

static const char *const ex_names[] = {
#define XX(id, name) name,
    EXPORT_MAP(XX)
#undef XX
};

int export_fields_parse(json_object *list, export_fields *f, char *why, size_t whylen) {
    f->bits = 0;
    if (!list || json_object_is_type(list, json_type_null)) return 0;
    if (!json_object_is_type(list, json_type_array)) {
        snprintf(why, whylen, "'fields_to_export' must be an array of strings");
        return BR_EINVAL;
    }
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(list, i));
        int k = -1;
        for (int j = 0; s && j < EX__COUNT; j++)
            if (!strcmp(s, ex_names[j])) k = j;
        if (k < 0 || !json_object_is_type(json_object_array_get_idx(list, i), json_type_string)) {
            snprintf(why, whylen, "'fields_to_export' has an unknown field '%.64s'", s ? s : "");
            return BR_EINVAL;
        }
        f->bits |= 1ull << k;
    }
    return 0;
}

static bool want(const export_fields *f, int k) { return !f->bits || (f->bits >> k) & 1; }

static json_object *parse_json(const uint8_t *p, uint32_t len) { return attrs_parse_stored(p, len); }

/* A scalar element or field payload as JSON. */
static json_object *value(uint8_t type, const uint8_t *p, uint32_t len) {
    switch (type) {
    case PT_STR: return json_object_new_string_len((const char *)p, (int)len);
    case PT_INT: return json_object_new_int64(pval_get_int(p, len));
    case PT_DBL: return json_object_new_double(pval_get_dbl(p));
    case PT_TRUE: return json_object_new_boolean(1);
    case PT_FALSE: return json_object_new_boolean(0);
    case PT_TIME: return json_time(pval_get_int(p, len));
    case PT_JSON: return parse_json(p, len);
    case PT_ARR: {
        json_object *a = json_object_new_array();
        parr_iter it;
        uint8_t t;
        const uint8_t *s;
        size_t n;
        parr_init(&it, p, len);
        while (parr_next(&it, &t, &s, &n, NULL, NULL)) json_object_array_add(a, value(t, s, (uint32_t)n));
        return a;
    }
    }
    return NULL;
}

static void std_field(json_object *o, const export_fields *f, int k, const uint8_t *blob, uint32_t id) {
    pfield fl;
    if (!want(f, k)) return;
    if (blob && profile_get(blob, pkey(id, PK_ATTR), &fl)) json_object_object_add(o, ex_names[k], value(fl.type, fl.p, fl.len));
}

static json_object *summaries(users_t *u, names_t *names, const uint8_t *blob, int kind) {
    json_object *a = json_object_new_array();
    piter it;
    pfield f;
    piter_init(&it, blob);
    while (piter_next(&it, &f)) {
        if ((int)(f.key % 4) != kind || f.type != PT_SUMMARY) continue;
        psummary s;
        psummary_decode(f.p, f.len, kind == PK_PURCHASE, &s);
        size_t nl;
        const char *nm = names_str(names, f.key / 4, &nl);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "name", nm ? json_object_new_string_len(nm, (int)nl) : NULL);
        json_object_object_add(e, "first", json_time(s.first_ms));
        json_object_object_add(e, "last", json_time(s.last_ms));
        json_object_object_add(e, "count", json_object_new_int64((int64_t)s.count));
        json_object_array_add(a, e);
    }
    (void)u;
    return a;
}

json_object *export_user(users_t *u, names_t *names, uint32_t row, const export_fields *f) {
    profile_t *p = users_get(u, row);
    const uint8_t *blob = p->blob;
    json_object *o = json_object_new_object();
    pfield fl;
    char bz[25];
    if (want(f, EX_CREATED_AT)) json_object_object_add(o, "created_at", json_time((int64_t)p->created * 1000));
    std_field(o, f, EX_EXTERNAL_ID, blob, PF_EXTERNAL_ID);
    if (want(f, EX_USER_ALIASES)) {
        json_object *a = json_object_new_array();
        if (blob && profile_get(blob, pkey(PF_ALIASES, PK_ATTR), &fl)) {
            json_object *strs = value(PT_ARR, fl.p, fl.len);
            for (size_t i = 0; i + 1 < json_object_array_length(strs); i += 2) {
                json_object *al = json_object_new_object();
                json_object_object_add(al, "alias_name", json_object_get(json_object_array_get_idx(strs, i + 1)));
                json_object_object_add(al, "alias_label", json_object_get(json_object_array_get_idx(strs, i)));
                json_object_array_add(a, al);
            }
            json_object_put(strs);
        }
        json_object_object_add(o, "user_aliases", a);
    }
    users_braze_hex(u, row, bz);
    if (want(f, EX_BRAZE_ID)) json_object_object_add(o, "braze_id", json_object_new_string(bz));
    if (want(f, EX_RANDOM_BUCKET)) json_object_object_add(o, "random_bucket", json_object_new_int((int)users_random_bucket(u, row)));
    static const struct {
        int k;
        uint32_t id;
    } plain[] = {{EX_FIRST_NAME, PF_FIRST_NAME}, {EX_LAST_NAME, PF_LAST_NAME}, {EX_EMAIL, PF_EMAIL},
                 {EX_DOB, PF_DOB},               {EX_HOME_CITY, PF_HOME_CITY}, {EX_COUNTRY, PF_COUNTRY},
                 {EX_PHONE, PF_PHONE},           {EX_LANGUAGE, PF_LANGUAGE},   {EX_TIME_ZONE, PF_TIME_ZONE},
                 {EX_LAST_COORDINATES, PF_CURRENT_LOCATION}, {EX_GENDER, PF_GENDER}};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) std_field(o, f, plain[i].k, blob, plain[i].id);
    if (want(f, EX_TOTAL_REVENUE)) {
        double t = blob && profile_get(blob, pkey(PF_TOTAL_REVENUE, PK_ATTR), &fl) ? pval_get_dbl(fl.p) : 0;
        json_object_object_add(o, "total_revenue", json_object_new_double(t));
    }
    /* Braze's default subscription state is "subscribed". */
    static const struct {
        int k;
        uint32_t id;
    } subs[] = {{EX_PUSH_SUBSCRIBE, PF_PUSH_SUBSCRIBE}, {EX_EMAIL_SUBSCRIBE, PF_EMAIL_SUBSCRIBE}};
    for (int i = 0; i < 2; i++) {
        if (!want(f, subs[i].k)) continue;
        bool has = blob && profile_get(blob, pkey(subs[i].id, PK_ATTR), &fl);
        json_object_object_add(o, ex_names[subs[i].k],
                               has ? json_object_new_string_len((const char *)fl.p, (int)fl.len)
                                   : json_object_new_string("subscribed"));
    }
    if (want(f, EX_CUSTOM_ATTRIBUTES)) {
        json_object *ca = json_object_new_object();
        piter it;
        piter_init(&it, blob);
        while (piter_next(&it, &fl)) {
            if (fl.key % 4 != PK_ATTR || fl.key / 4 < NAMES_FIRST) continue;
            const char *nm = names_str(names, fl.key / 4, NULL);
            if (nm) json_object_object_add(ca, nm, value(fl.type, fl.p, fl.len));
        }
        json_object_object_add(o, "custom_attributes", ca);
    }
    if (want(f, EX_CUSTOM_EVENTS)) json_object_object_add(o, "custom_events", summaries(u, names, blob, PK_EVENT));
    if (want(f, EX_PURCHASES)) json_object_object_add(o, "purchases", summaries(u, names, blob, PK_PURCHASE));
    if (want(f, EX_DEVICES)) {
        json_object *d = json_object_new_array();
        if (blob && profile_get(blob, pkey(PF_DEVICES, PK_ATTR), &fl)) {
            json_object *ids = value(PT_ARR, fl.p, fl.len);
            for (size_t i = 0; i < json_object_array_length(ids); i++) {
                json_object *dev = json_object_new_object();
                json_object_object_add(dev, "device_id", json_object_get(json_object_array_get_idx(ids, i)));
                json_object_array_add(d, dev);
            }
            json_object_put(ids);
        }
        json_object_object_add(o, "devices", d);
    }
    if (want(f, EX_PUSH_TOKENS)) {
        json_object *t = json_object_new_array();
        if (blob && profile_get(blob, pkey(PF_PUSH_TOKENS, PK_ATTR), &fl)) {
            json_object *list = parse_json(fl.p, fl.len), *v;
            for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                json_object *in = json_object_array_get_idx(list, i), *out = json_object_new_object();
                if (json_object_object_get_ex(in, "app_id", &v)) json_object_object_add(out, "app", json_object_get(v));
                if (json_object_object_get_ex(in, "token", &v)) json_object_object_add(out, "token", json_object_get(v));
                if (json_object_object_get_ex(in, "device_id", &v)) json_object_object_add(out, "device_id", json_object_get(v));
                json_object_array_add(t, out);
            }
            json_object_put(list);
        }
        json_object_object_add(o, "push_tokens", t);
    }
    static const int empty_lists[] = {EX_APPS, EX_CAMPAIGNS_RECEIVED, EX_CANVASES_RECEIVED, EX_CARDS_CLICKED};
    for (size_t i = 0; i < sizeof empty_lists / sizeof *empty_lists; i++)
        if (want(f, empty_lists[i])) json_object_object_add(o, ex_names[empty_lists[i]], json_object_new_array());
    return o;
}

void export_cohorts(json_object *user, cohorts_t *c, uint32_t row, const export_fields *f) {
    json_object *a = NULL;
    for (uint32_t i = 0, n = cohorts_count(c); i < n; i++) {
        const cohort_t *k = cohorts_at(c, i);
        if (!bitmap_contains(k->members, row)) continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "partner", json_object_new_string(k->partner));
        json_object_object_add(o, "cohort_id", json_object_new_string(k->id));
        json_object_object_add(o, "name", json_object_new_string(k->name));
        if (!a) a = json_object_new_array();
        json_object_array_add(a, o);
    }
    /* Asked for by name: always there; in a full export: only when the user
     * is in a cohort, so exports of everyone else keep Braze's exact keys. */
    if (!a && f->bits && want(f, EX_COHORTS)) a = json_object_new_array();
    if (a && want(f, EX_COHORTS)) json_object_object_add(user, "cohorts", a);
    else json_object_put(a);
}
