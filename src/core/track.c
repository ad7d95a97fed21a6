/* track.c -- /users/track: identifiers, attributes, events, purchases
 * (see track.h). Each object is validated whole before anything of it is
 * applied; a bad object becomes an entry of Braze's `errors` array and the
 * others go ahead. */
#include "track.h"
#include "attrs.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../lib/varint.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define EXTERNAL_ID_MAX 987          /* bytes; Braze: "must be fewer than 988 bytes" */
#define EVENT_PROPS_MAX 102400       /* bytes of event properties */
#define PURCHASE_PROPS_MAX 51200     /* bytes of purchase properties */
#define PURCHASE_QUANTITY_MAX 100

static const char *const arrays[3] = {"attributes", "events", "purchases"};

int track_check(json_object *body, char *why, size_t whylen) {
    if (!json_object_is_type(body, json_type_object)) {
        snprintf(why, whylen, "the body must be a JSON object");
        return BR_EINVAL;
    }
    for (int i = 0; i < 3; i++) {
        json_object *a;
        if (!json_object_object_get_ex(body, arrays[i], &a) || json_object_is_type(a, json_type_null)) continue;
        if (!json_object_is_type(a, json_type_array)) {
            snprintf(why, whylen, "'%s' must be an array of objects", arrays[i]);
            return BR_EINVAL;
        }
        size_t n = json_object_array_length(a);
        if (n > TRACK_MAX_OBJECTS) {
            snprintf(why, whylen, "'%s' has %zu objects; at most %d are allowed per request", arrays[i], n,
                     TRACK_MAX_OBJECTS);
            return BR_ETOOMANY;
        }
    }
    return 0;
}

/* ---- identifiers --------------------------------------------------------- */

typedef enum { ID_EXTERNAL, ID_BRAZE, ID_ALIAS, ID_EMAIL, ID_PHONE } id_kind;

typedef struct {
    id_kind kind;
    const char *a, *b; /* value; alias: label, name */
    size_t an, bn;
} ident;

#define FAIL(...)                           \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return BR_EINVAL;                   \
    } while (0)

static bool get_str(json_object *o, const char *k, json_object **v) {
    return json_object_object_get_ex(o, k, v) && !json_object_is_type(*v, json_type_null);
}

/* Braze: one of external_id, braze_id, user_alias; email or phone only when
 * none of those is given (email first). */
static int get_ident(json_object *o, ident *id, char *why, size_t whylen) {
    json_object *ext = NULL, *bz = NULL, *al = NULL, *em = NULL, *ph = NULL;
    bool has_ext = get_str(o, "external_id", &ext), has_bz = get_str(o, "braze_id", &bz),
         has_al = get_str(o, "user_alias", &al);
    if (has_ext + has_bz + has_al > 1) FAIL("only one of 'external_id', 'braze_id' or 'user_alias' may be given");
    memset(id, 0, sizeof *id);
    if (has_ext) {
        /* Some partners send numeric ids; Braze stores them as strings. */
        if (json_object_is_type(ext, json_type_int)) {
            id->a = json_object_get_string(ext);
        } else if (!json_object_is_type(ext, json_type_string)) {
            FAIL("'external_id' must be a string");
        } else {
            id->a = json_object_get_string(ext);
        }
        id->an = strlen(id->a);
        if (id->an == 0) FAIL("'external_id' must not be empty");
        if (id->an > EXTERNAL_ID_MAX) FAIL("'external_id' must be fewer than 988 bytes");
        id->kind = ID_EXTERNAL;
        return 0;
    }
    if (has_bz) {
        if (!json_object_is_type(bz, json_type_string)) FAIL("'braze_id' must be a string");
        id->kind = ID_BRAZE;
        id->a = json_object_get_string(bz);
        id->an = (size_t)json_object_get_string_len(bz);
        return 0;
    }
    if (has_al) {
        json_object *l, *n;
        if (!json_object_is_type(al, json_type_object) || !json_object_object_get_ex(al, "alias_label", &l) ||
            !json_object_object_get_ex(al, "alias_name", &n) || !json_object_is_type(l, json_type_string) ||
            !json_object_is_type(n, json_type_string) || !json_object_get_string_len(l) || !json_object_get_string_len(n))
            FAIL("'user_alias' must be an object with non-empty string 'alias_name' and 'alias_label'");
        id->kind = ID_ALIAS;
        id->a = json_object_get_string(l);
        id->an = (size_t)json_object_get_string_len(l);
        id->b = json_object_get_string(n);
        id->bn = (size_t)json_object_get_string_len(n);
        return 0;
    }
    if (get_str(o, "email", &em)) {
        if (!json_object_is_type(em, json_type_string) ||
            !attrs_valid_email(json_object_get_string(em), (size_t)json_object_get_string_len(em)))
            FAIL("The value provided for the 'email' field is not a valid email.");
        id->kind = ID_EMAIL;
        id->a = json_object_get_string(em);
        id->an = (size_t)json_object_get_string_len(em);
        return 0;
    }
    if (get_str(o, "phone", &ph)) {
        if (!json_object_is_type(ph, json_type_string) || json_object_get_string_len(ph) == 0)
            FAIL("'phone' must be a non-empty string");
        id->kind = ID_PHONE;
        id->a = json_object_get_string(ph);
        id->an = (size_t)json_object_get_string_len(ph);
        return 0;
    }
    FAIL("'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required");
}

static int get_update_only(json_object *o, int *v, char *why, size_t whylen) {
    json_object *u;
    *v = -1; /* absent */
    if (!json_object_object_get_ex(o, "_update_existing_only", &u) || json_object_is_type(u, json_type_null)) return 0;
    if (!json_object_is_type(u, json_type_boolean)) FAIL("'_update_existing_only' must be a boolean");
    *v = json_object_get_boolean(u);
    return 0;
}

static uint32_t find(users_t *u, const ident *id) {
    switch (id->kind) {
    case ID_EXTERNAL: return users_by_external_id(u, id->a, id->an);
    case ID_BRAZE: return users_by_braze_id(u, id->a, id->an);
    case ID_ALIAS: return users_by_alias(u, id->a, id->an, id->b, id->bn);
    case ID_EMAIL: return users_by_email(u, id->a, id->an);
    case ID_PHONE: return users_by_phone(u, id->a, id->an);
    }
    return USERS_NONE;
}

static void str_elem(buf_t *b, const char *s, size_t n) {
    uint8_t tmp[VARINT_MAX];
    uint8_t t = PT_STR;
    buf_append(b, &t, 1);
    buf_append(b, tmp, varint_put(tmp, n));
    buf_append(b, s, n);
}

/* Creates the user an identifier names; braze_id users are never created. */
static uint32_t create(track_ctx *c, const ident *id) {
    if (id->kind == ID_BRAZE) return USERS_NONE;
    uint32_t now_s = (uint32_t)(c->now_ms / 1000);
    uint32_t row = users_create(c->users, now_s);
    pedit e;
    pedit_open(&e, NULL);
    if (id->kind == ID_ALIAS) {
        buf_t b = BUF_INIT;
        str_elem(&b, id->a, id->an);
        str_elem(&b, id->b, id->bn);
        pedit_set(&e, pkey(PF_ALIASES, PK_ATTR), PT_ARR, b.data, b.len);
        buf_free(&b);
    } else {
        uint32_t f = id->kind == ID_EXTERNAL ? PF_EXTERNAL_ID : id->kind == ID_EMAIL ? PF_EMAIL : PF_PHONE;
        pedit_set(&e, pkey(f, PK_ATTR), PT_STR, id->a, id->an);
    }
    users_commit(c->users, row, &e, now_s);
    pedit_close(&e);
    return row;
}

/* Finds the object's user, creating it when the rules allow. */
static uint32_t resolve(track_ctx *c, const ident *id, bool may_create) {
    uint32_t row = find(c->users, id);
    if (row == USERS_NONE && may_create) row = create(c, id);
    return row;
}

static void add_error(track_result *r, int array, size_t index, const char *type) {
    if (!r->errors) r->errors = json_object_new_array();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_add(e, "input_array", json_object_new_string(arrays[array]));
    json_object_object_add(e, "index", json_object_new_int64((int64_t)index));
    json_object_array_add(r->errors, e);
}

/* ---- attributes ---------------------------------------------------------- */

typedef struct {
    track_ctx *c;
    uint32_t self;
    const char *state;
} share_arg;

static void share_one(uint32_t row, void *arg) {
    share_arg *a = arg;
    if (row == a->self) return;
    pedit e;
    pedit_open(&e, users_get(a->c->users, row)->blob);
    pedit_set(&e, pkey(PF_EMAIL_SUBSCRIBE, PK_ATTR), PT_STR, a->state, strlen(a->state));
    /* Not an identifier: the commit does not touch the index being walked. */
    if (e.changed) users_commit(a->c->users, row, &e, (uint32_t)(a->c->now_ms / 1000));
    pedit_close(&e);
    a->c->touch(a->c->touch_arg, row);
}

/* Braze: setting email_subscribe through /users/track also sets it on the
 * other users with that email (an unsubscribe must reach duplicates). */
static void share_email_state(track_ctx *c, uint32_t row, const char *state) {
    pfield f;
    profile_t *p = users_get(c->users, row);
    if (!state || !p->blob || !profile_get(p->blob, pkey(PF_EMAIL, PK_ATTR), &f)) return;
    char email[256];
    if (f.len >= sizeof email) return;
    memcpy(email, f.p, f.len); /* the blob may be replaced while walking */
    share_arg a = {c, row, state};
    users_each_email(c->users, email, f.len, share_one, &a);
}

static int do_attributes(track_ctx *c, json_object *o, char *why, size_t whylen) {
    ident id;
    int upd;
    json_object *m, *pti;
    if (get_ident(o, &id, why, whylen) < 0 || get_update_only(o, &upd, why, whylen) < 0) return BR_EINVAL;
    if (json_object_object_get_ex(o, "push_token_import", &pti) && json_object_get_boolean(pti))
        FAIL("'push_token_import' is not supported by this server");
    bool merge = false;
    if (json_object_object_get_ex(o, "_merge_objects", &m) && !json_object_is_type(m, json_type_null)) {
        if (!json_object_is_type(m, json_type_boolean)) FAIL("'_merge_objects' must be a boolean");
        merge = json_object_get_boolean(m);
    }
    /* The email or phone that identifies the object is not also an update. */
    const char *skip = id.kind == ID_EMAIL ? "email" : id.kind == ID_PHONE ? "phone" : NULL;
    attrs_plan *plan;
    int rc = attrs_validate(o, skip, c->names, c->db, &plan, why, whylen);
    if (rc < 0) return rc;
    /* An alias creates a profile only when the object says
     * "_update_existing_only": false; other identifiers unless it says true. */
    bool may_create = id.kind == ID_ALIAS ? upd == 0 : upd != 1;
    uint32_t row = resolve(c, &id, may_create);
    if (row != USERS_NONE) {
        pedit e;
        pedit_open(&e, users_get(c->users, row)->blob);
        attrs_apply(plan, &e, merge);
        if (e.changed) users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
        pedit_close(&e);
        c->touch(c->touch_arg, row);
        json_object *sub;
        if (json_object_object_get_ex(o, "email_subscribe", &sub)) share_email_state(c, row, json_object_get_string(sub));
    }
    attrs_plan_free(plan);
    return 0;
}

/* ---- events and purchases ------------------------------------------------ */

static int check_props(json_object *o, size_t max, json_object **props, char *why, size_t whylen) {
    *props = NULL;
    if (!json_object_object_get_ex(o, "properties", props) || json_object_is_type(*props, json_type_null)) {
        *props = NULL;
        return 0;
    }
    if (!json_object_is_type(*props, json_type_object)) FAIL("'properties' must be an object");
    bool nested = false;
    size_t approx = 2; /* a cheap upper bound of the size when all values are scalars */
    json_object_object_foreach(*props, k, v) {
        nested |= json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array);
        approx += strlen(k) * 6 + 4 +
                  (json_object_is_type(v, json_type_string) ? (size_t)json_object_get_string_len(v) * 6 + 2 : 32);
        size_t kl = strlen(k);
        if (kl == 0 || kl > ATTR_STR_MAX || k[0] == '$')
            FAIL("'%.64s' is not a valid property name: names are 1-255 characters and do not start with '$'", k);
        if (!strcmp(k, "time") || !strcmp(k, "event_name")) FAIL("'%.32s' is a reserved property name", k);
        if (json_object_is_type(v, json_type_string) &&
            !attrs_utf8_len_ok(json_object_get_string(v), (size_t)json_object_get_string_len(v), ATTR_STR_MAX))
            FAIL("property '%.64s' must be 255 characters or fewer", k);
    }
    /* Serialising just to measure is costly on the hot path: only when
     * arrays or objects are present, or the scalar bound (6 bytes a
     * character: a \u escape) could exceed the limit. */
    if (nested || approx > max) {
        size_t n;
        json_object_to_json_string_length(*props, JSON_C_TO_STRING_PLAIN, &n);
        if (n > max) FAIL("'properties' must be at most %zu KB", max / 1024);
    }
    return 0;
}

static int get_time(track_ctx *c, json_object *o, int64_t *ms, char *why, size_t whylen) {
    json_object *t;
    int year;
    if (!get_str(o, "time", &t)) FAIL("'time' is required");
    if (!json_object_is_type(t, json_type_string) ||
        timefmt_parse(json_object_get_string(t), (size_t)json_object_get_string_len(t), ms, &year) < 0)
        FAIL("'time' is not a valid time");
    if (*ms > c->now_ms) *ms = c->now_ms; /* Braze: a future time becomes now */
    return 0;
}

static int get_app_id(json_object *o, const char **app, char *why, size_t whylen) {
    json_object *a;
    *app = NULL;
    if (!get_str(o, "app_id", &a)) return 0;
    if (!json_object_is_type(a, json_type_string)) FAIL("'app_id' must be a string");
    *app = json_object_get_string(a);
    return 0;
}

/* Adds n occurrences to the summary stored under key. */
static void bump_summary(track_ctx *c, pedit *e, uint32_t key, bool purchase, int64_t t, uint64_t n, double revenue) {
    psummary s;
    const pfield *f = pedit_get(e, key);
    if (f && f->type == PT_SUMMARY) psummary_decode(pedit_payload(e, f), f->len, purchase, &s);
    else memset(&s, 0, sizeof s);
    psummary_add(&s, t, n, revenue, c->now_ms);
    buf_t b = BUF_INIT;
    psummary_encode(&s, purchase, &b);
    pedit_set(e, key, PT_SUMMARY, b.data, b.len);
    buf_free(&b);
}

/* Appends the common head of a Currents event for the user in row to the
 * outbox (an open JSON object: the caller adds its fields and closes it).
 * Written with buf_* rather than json-c objects: this runs for every event. */
static void outbox_head(track_ctx *c, uint32_t row, const char *type, int64_t t_ms, const char *app, int idx, int sub) {
    profile_t *p = users_get(c->users, row);
    buf_t *b = c->outbox;
    char bz[25];
    users_braze_hex(p, bz);
    if (b->len > 1) buf_append(b, ",", 1);
    buf_printf(b, "{\"id\":\"%016llx-%04x-%04x\",\"event_type\":\"%s\",\"user_id\":\"%s\"",
               (unsigned long long)c->seq, idx, sub, type, bz);
    pfield f;
    if (p->blob && profile_get(p->blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f)) {
        buf_puts(b, ",\"external_user_id\":");
        buf_json_str(b, (const char *)f.p, f.len);
    }
    if (app) {
        buf_puts(b, ",\"app_id\":");
        buf_json_str(b, app, strlen(app));
    }
    buf_printf(b, ",\"time\":%lld", (long long)(t_ms / 1000));
}

/* Closes an event: Currents carries properties as a JSON-encoded string. */
static void outbox_end(track_ctx *c, json_object *props) {
    size_t n = 2;
    const char *s = props ? json_object_to_json_string_length(props, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n) : "{}";
    buf_puts(c->outbox, ",\"properties\":");
    buf_json_str(c->outbox, s, n);
    buf_append(c->outbox, "}", 1);
}

static int do_event(track_ctx *c, json_object *o, int idx, char *why, size_t whylen) {
    ident id;
    int upd;
    json_object *name, *props;
    const char *app;
    int64_t t;
    if (get_ident(o, &id, why, whylen) < 0 || get_update_only(o, &upd, why, whylen) < 0) return BR_EINVAL;
    if (!get_str(o, "name", &name)) FAIL("'name' is required");
    if (!json_object_is_type(name, json_type_string) || json_object_get_string_len(name) == 0)
        FAIL("'name' must be a non-empty string");
    const char *nm = json_object_get_string(name);
    size_t nl = (size_t)json_object_get_string_len(name);
    if (!attrs_utf8_len_ok(nm, nl, ATTR_STR_MAX)) FAIL("'name' must be 255 characters or fewer");
    if (get_time(c, o, &t, why, whylen) < 0 || get_app_id(o, &app, why, whylen) < 0 ||
        check_props(o, EVENT_PROPS_MAX, &props, why, whylen) < 0)
        return BR_EINVAL;
    uint32_t nid = names_intern(c->names, c->db, nm, nl);
    if (!nid) return BR_ESTORE;
    /* Events never create alias-only users. */
    uint32_t row = resolve(c, &id, id.kind != ID_ALIAS && upd != 1);
    if (row == USERS_NONE) return 0;
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    bump_summary(c, &e, pkey(nid, PK_EVENT), false, t, 1, 0);
    users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
    pedit_close(&e);
    c->touch(c->touch_arg, row);
    if (c->outbox) {
        outbox_head(c, row, "users.behaviors.CustomEvent", t, app, idx, 0);
        buf_puts(c->outbox, ",\"name\":");
        buf_json_str(c->outbox, nm, nl);
        outbox_end(c, props);
    }
    return 0;
}

static int do_purchase(track_ctx *c, json_object *o, int idx, char *why, size_t whylen) {
    ident id;
    int upd;
    json_object *pid, *cur, *price, *qty, *props;
    const char *app;
    int64_t t;
    if (get_ident(o, &id, why, whylen) < 0 || get_update_only(o, &upd, why, whylen) < 0) return BR_EINVAL;
    if (!get_str(o, "product_id", &pid)) FAIL("'product_id' is required");
    if (!json_object_is_type(pid, json_type_string) || json_object_get_string_len(pid) == 0 ||
        !attrs_utf8_len_ok(json_object_get_string(pid), (size_t)json_object_get_string_len(pid), ATTR_STR_MAX))
        FAIL("'product_id' must be a string of 1-255 characters");
    if (!get_str(o, "currency", &cur)) FAIL("'currency' is required");
    if (!json_object_is_type(cur, json_type_string) ||
        !attrs_currency(json_object_get_string(cur), (size_t)json_object_get_string_len(cur)))
        FAIL("'currency' must be an ISO 4217 currency");
    if (!get_str(o, "price", &price)) FAIL("'price' is required");
    if (!json_object_is_type(price, json_type_double) && !json_object_is_type(price, json_type_int))
        FAIL("'price' is not valid");
    int64_t q = 1;
    if (get_str(o, "quantity", &qty)) {
        if (!json_object_is_type(qty, json_type_int)) FAIL("'quantity' is not valid");
        q = json_object_get_int64(qty);
        if (q < 1 || q > PURCHASE_QUANTITY_MAX) FAIL("'quantity' is not valid");
    }
    if (get_time(c, o, &t, why, whylen) < 0 || get_app_id(o, &app, why, whylen) < 0 ||
        check_props(o, PURCHASE_PROPS_MAX, &props, why, whylen) < 0)
        return BR_EINVAL;
    const char *ps = json_object_get_string(pid);
    size_t pl = (size_t)json_object_get_string_len(pid);
    uint32_t nid = names_intern(c->names, c->db, ps, pl);
    if (!nid) return BR_ESTORE;
    uint32_t row = resolve(c, &id, id.kind != ID_ALIAS && upd != 1);
    if (row == USERS_NONE) return 0;
    double p = json_object_get_double(price), revenue = p * (double)q;
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    bump_summary(c, &e, pkey(nid, PK_PURCHASE), true, t, (uint64_t)q, revenue);
    const pfield *tr = pedit_get(&e, pkey(PF_TOTAL_REVENUE, PK_ATTR));
    double total = (tr && tr->type == PT_DBL ? pval_get_dbl(pedit_payload(&e, tr)) : 0) + revenue;
    pedit_set(&e, pkey(PF_TOTAL_REVENUE, PK_ATTR), PT_DBL, &total, sizeof total);
    users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
    pedit_close(&e);
    c->touch(c->touch_arg, row);
    /* A quantity of N is N purchases of one (Braze; Currents has no quantity). */
    for (int64_t k = 0; c->outbox && k < q; k++) {
        outbox_head(c, row, "users.behaviors.Purchase", t, app, idx, (int)k);
        buf_puts(c->outbox, ",\"product_id\":");
        buf_json_str(c->outbox, ps, pl);
        buf_printf(c->outbox, ",\"price\":%s,\"currency\":", json_object_to_json_string_ext(price, JSON_C_TO_STRING_PLAIN));
        buf_json_str(c->outbox, json_object_get_string(cur), (size_t)json_object_get_string_len(cur));
        outbox_end(c, props);
    }
    return 0;
}

int track_apply(track_ctx *c, json_object *body, track_result *r) {
    memset(r, 0, sizeof *r);
    char why[256];
    int base = 0; /* object index across arrays: unique event ids */
    for (int a = 0; a < 3; a++) {
        json_object *arr;
        if (!json_object_object_get_ex(body, arrays[a], &arr) || !json_object_is_type(arr, json_type_array)) continue;
        r->present[a] = true;
        size_t n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_array_get_idx(arr, i);
            int rc;
            why[0] = '\0';
            if (!json_object_is_type(o, json_type_object)) {
                snprintf(why, sizeof why, "each item of '%s' must be an object", arrays[a]);
                rc = BR_EINVAL;
            } else if (a == TRACK_ATTRIBUTES) {
                rc = do_attributes(c, o, why, sizeof why);
            } else if (a == TRACK_EVENTS) {
                rc = do_event(c, o, base + (int)i, why, sizeof why);
            } else {
                rc = do_purchase(c, o, base + (int)i, why, sizeof why);
            }
            if (rc == BR_ESTORE) return rc;
            if (rc < 0) add_error(r, a, i, why);
            else r->processed[a]++;
        }
        base += (int)n;
    }
    return 0;
}
