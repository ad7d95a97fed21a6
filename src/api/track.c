/* track.c -- a /users/track body checked object by object and turned into a
 * track_cmd (core/track.h). Each object is validated whole before it is
 * kept; a bad one becomes an entry of Braze's `errors` array and the others
 * go ahead. Nothing here reads the profiles: whether a user exists is the
 * engine's business, when it applies the command. */
#include "parse.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../lib/utf8.h"

#include <stdio.h>
#include <string.h>

#define EVENT_PROPS_MAX 102400       /* bytes of event properties */
#define PURCHASE_PROPS_MAX 51200     /* bytes of purchase properties */
#define PURCHASE_QUANTITY_MAX 100
/* |price| bound: price x quantity is summed into total_revenue, which must
 * stay a finite number however many purchases a user makes. */
#define PURCHASE_PRICE_MAX 1e13

static const char *const arrays[3] = {"attributes", "events", "purchases"};

#define FAIL(...)                           \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return BR_EINVAL;                   \
    } while (0)

void api_utf8_trim(char *s) {
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--; /* back to the last lead byte */
    if (i > 0 && (unsigned char)s[i - 1] >= 0x80) {
        int32_t cp;
        if (!utf8_decode((const unsigned char *)s + i - 1, n - i + 1, &cp)) s[i - 1] = '\0';
    }
}

/* ---- identifiers --------------------------------------------------------- */

int api_ident_check(const track_ident *id, char *why, size_t whylen) {
    switch (id->kind) {
    case ID_EXTERNAL:
        if (id->an > EXTERNAL_ID_MAX) FAIL("'external_id' must be fewer than 988 bytes");
        break;
    case ID_ALIAS:
        if (id->an > EXTERNAL_ID_MAX || id->bn > EXTERNAL_ID_MAX)
            FAIL("'user_alias' 'alias_name' and 'alias_label' must be fewer than 988 bytes");
        break;
    case ID_EMAIL:
        if (!attrs_valid_email(id->a, id->an)) FAIL("The value provided for the 'email' field is not a valid email.");
        break;
    case ID_PHONE: /* as when phone is an attribute (an identifier is stored too) */
        if (utf8_chars(id->a, id->an) > ATTR_STR_MAX) FAIL("'phone' must be 255 characters or fewer");
        break;
    default: break;
    }
    return 0;
}

/* Braze: one of external_id, braze_id, user_alias; email or phone only when
 * none of those is given (email first). */
static int get_ident(json_object *o, track_ident *id, char *why, size_t whylen) {
    json_object *ext = json_get(o, "external_id"), *bz = json_get(o, "braze_id"), *al = json_get(o, "user_alias");
    json_object *em, *ph;
    if (!!ext + !!bz + !!al > 1) FAIL("only one of 'external_id', 'braze_id' or 'user_alias' may be given");
    memset(id, 0, sizeof *id);
    if (ext) {
        /* Some partners send numeric ids; Braze stores them as strings. */
        if (!json_object_is_type(ext, json_type_int) && !json_object_is_type(ext, json_type_string))
            FAIL("'external_id' must be a string");
        id->a = json_object_get_string(ext);
        id->an = strlen(id->a);
        if (id->an == 0) FAIL("'external_id' must not be empty");
        id->kind = ID_EXTERNAL;
    } else if (bz) {
        if (!json_object_is_type(bz, json_type_string)) FAIL("'braze_id' must be a string");
        id->kind = ID_BRAZE;
        id->a = json_strlen(bz, &id->an);
    } else if (al) {
        id->a = json_str(al, "alias_label", &id->an);
        id->b = json_str(al, "alias_name", &id->bn);
        if (!id->a || !id->b || !id->an || !id->bn)
            FAIL("'user_alias' must be an object with non-empty string 'alias_name' and 'alias_label'");
        id->kind = ID_ALIAS;
    } else if ((em = json_get(o, "email"))) {
        id->a = json_object_is_type(em, json_type_string) ? json_strlen(em, &id->an) : NULL;
        if (!id->a) FAIL("The value provided for the 'email' field is not a valid email.");
        id->kind = ID_EMAIL;
    } else if ((ph = json_get(o, "phone"))) {
        if (!json_object_is_type(ph, json_type_string) || json_object_get_string_len(ph) == 0)
            FAIL("'phone' must be a non-empty string");
        id->kind = ID_PHONE;
        id->a = json_strlen(ph, &id->an);
    } else {
        FAIL("'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required");
    }
    return api_ident_check(id, why, whylen);
}

/* _update_existing_only: -1 absent, else its value. */
static int get_update_only(json_object *o, int *v, char *why, size_t whylen) {
    json_object *u = json_get(o, "_update_existing_only");
    *v = -1;
    if (!u) return 0;
    if (!json_object_is_type(u, json_type_boolean)) FAIL("'_update_existing_only' must be a boolean");
    *v = json_object_get_boolean(u);
    return 0;
}

/* ---- attributes ---------------------------------------------------------- */

/* push_token_import: true (Braze's anonymous token migration): no
 * identifier; each token goes to an anonymous user of its own, so email
 * and phone are that user's attributes, and an alias, which names one
 * user, cannot be given. */
static int parse_import(json_object *o, track_attrs *a, char *why, size_t whylen) {
    json_object *t;
    if (json_get(o, "external_id") || json_get(o, "braze_id"))
        FAIL("a 'push_token_import' object must not have 'external_id' or 'braze_id': its tokens go to anonymous users");
    if (json_get(o, "user_alias"))
        FAIL("a 'push_token_import' object must not have 'user_alias': each of its tokens gets an anonymous user of its own");
    if (!(t = json_get(o, "push_tokens"))) FAIL("a 'push_token_import' object needs 'push_tokens'");
    if (api_push_tokens_check(t, why, whylen) < 0) return BR_EINVAL;
    if (!json_object_array_length(t)) FAIL("'push_tokens' must not be empty in a 'push_token_import' object");
    a->id.kind = ID_NONE;
    a->tokens = t;
    return 0;
}

static int parse_attributes(json_object *o, track_attrs *a, bool v1, char *why, size_t whylen) {
    int upd;
    json_object *m, *pti;
    memset(a, 0, sizeof *a);
    if (v1 && (pti = json_get(o, "push_token_import")) && json_object_get_boolean(pti))
        FAIL("'push_token_import' is not supported by this server"); /* as then */
    if ((pti = json_get(o, "push_token_import"))) {
        if (!json_object_is_type(pti, json_type_boolean)) FAIL("'push_token_import' must be a boolean");
        a->token_import = json_object_get_boolean(pti);
    }
    if ((a->token_import ? parse_import(o, a, why, whylen) : get_ident(o, &a->id, why, whylen)) < 0 ||
        get_update_only(o, &upd, why, whylen) < 0)
        return BR_EINVAL;
    if ((m = json_get(o, "_merge_objects"))) {
        if (!json_object_is_type(m, json_type_boolean)) FAIL("'_merge_objects' must be a boolean");
        a->merge = json_object_get_boolean(m);
    }
    /* The email or phone that identifies the object is not also an update;
     * an import's tokens are applied per token, not as an attribute. */
    const char *skip = a->token_import ? "push_tokens" : a->id.kind == ID_EMAIL ? "email" : a->id.kind == ID_PHONE ? "phone" : NULL;
    int rc = api_attrs_parse(o, skip, v1, &a->plan, why, whylen);
    if (rc < 0) return rc;
    /* An alias creates a profile only when the object says
     * "_update_existing_only": false; other identifiers unless it says true. */
    a->may_create = a->id.kind == ID_ALIAS ? upd == 0 : upd != 1;
    a->email_subscribe = json_str(o, "email_subscribe", NULL); /* checked by the plan */
    return 0;
}

/* ---- events and purchases ------------------------------------------------ */

static int check_props(json_object *o, size_t max, json_object **props, char *why, size_t whylen) {
    if (!(*props = json_get(o, "properties"))) return 0;
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
            utf8_chars(json_object_get_string(v), (size_t)json_object_get_string_len(v)) > ATTR_STR_MAX)
            FAIL("property '%.64s' must be 255 characters or fewer", k);
    }
    /* Serialising just to measure is costly on the hot path: only when
     * arrays or objects are present, or the scalar bound (6 bytes a
     * character: a \u escape) could exceed the limit. */
    if (nested || approx > max) {
        size_t n;
        json_text(*props, &n);
        if (n > max) FAIL("'properties' must be at most %zu KB", max / 1024);
    }
    return 0;
}

static int get_time(json_object *o, int64_t *ms, char *why, size_t whylen) {
    json_object *t = json_get(o, "time");
    int year;
    if (!t) FAIL("'time' is required");
    if (!json_object_is_type(t, json_type_string) ||
        timefmt_parse(json_object_get_string(t), (size_t)json_object_get_string_len(t), ms, &year) < 0)
        FAIL("'time' is not a valid time");
    return 0;
}

static int get_app_id(json_object *o, const char **app, char *why, size_t whylen) {
    json_object *a = json_get(o, "app_id");
    *app = NULL;
    if (!a) return 0;
    if (!json_object_is_type(a, json_type_string)) FAIL("'app_id' must be a string");
    *app = json_object_get_string(a);
    return 0;
}

/* The fields events and purchases share. name: the event's name or the
 * purchase's product_id, already checked. */
static int parse_common(json_object *o, track_event *e, size_t max_props, char *why, size_t whylen) {
    int upd;
    if (get_time(o, &e->t_ms, why, whylen) < 0 || get_app_id(o, &e->app, why, whylen) < 0 ||
        check_props(o, max_props, &e->props, why, whylen) < 0 || get_update_only(o, &upd, why, whylen) < 0)
        return BR_EINVAL;
    /* Events never create alias-only users. */
    e->may_create = e->id.kind != ID_ALIAS && upd != 1;
    return 0;
}

static int parse_event(json_object *o, track_event *e, char *why, size_t whylen) {
    json_object *name;
    memset(e, 0, sizeof *e);
    if (get_ident(o, &e->id, why, whylen) < 0) return BR_EINVAL;
    if (!(name = json_get(o, "name"))) FAIL("'name' is required");
    if (!json_object_is_type(name, json_type_string) || json_object_get_string_len(name) == 0)
        FAIL("'name' must be a non-empty string");
    e->name = json_strlen(name, &e->nl);
    if (utf8_chars(e->name, e->nl) > ATTR_STR_MAX) FAIL("'name' must be 255 characters or fewer");
    return parse_common(o, e, EVENT_PROPS_MAX, why, whylen);
}

static int parse_purchase(json_object *o, track_event *e, char *why, size_t whylen) {
    json_object *pid, *cur, *qty;
    memset(e, 0, sizeof *e);
    if (get_ident(o, &e->id, why, whylen) < 0) return BR_EINVAL;
    if (!(pid = json_get(o, "product_id"))) FAIL("'product_id' is required");
    if (!json_object_is_type(pid, json_type_string) || json_object_get_string_len(pid) == 0 ||
        utf8_chars(json_object_get_string(pid), (size_t)json_object_get_string_len(pid)) > ATTR_STR_MAX)
        FAIL("'product_id' must be a string of 1-255 characters");
    e->name = json_strlen(pid, &e->nl);
    if (!(cur = json_get(o, "currency"))) FAIL("'currency' is required");
    if (!json_object_is_type(cur, json_type_string) ||
        !attrs_currency(json_object_get_string(cur), (size_t)json_object_get_string_len(cur)))
        FAIL("'currency' must be an ISO 4217 currency");
    e->currency = json_object_get_string(cur);
    if (!(e->price = json_get(o, "price"))) FAIL("'price' is required");
    if (!json_object_is_type(e->price, json_type_double) && !json_object_is_type(e->price, json_type_int))
        FAIL("'price' is not valid");
    e->price_value = json_object_get_double(e->price);
    if (!(e->price_value >= -PURCHASE_PRICE_MAX && e->price_value <= PURCHASE_PRICE_MAX))
        FAIL("'price' must be at most %.0f in absolute value", PURCHASE_PRICE_MAX);
    e->quantity = 1;
    if ((qty = json_get(o, "quantity"))) {
        if (!json_object_is_type(qty, json_type_int)) FAIL("'quantity' is not valid");
        e->quantity = json_object_get_int64(qty);
        if (e->quantity < 1 || e->quantity > PURCHASE_QUANTITY_MAX) FAIL("'quantity' is not valid");
    }
    return parse_common(o, e, PURCHASE_PROPS_MAX, why, whylen);
}

/* ---- the request --------------------------------------------------------- */

static void add_error(api_track_result *r, int array, size_t index, char *type) {
    if (!r->errors) r->errors = json_object_new_array();
    api_utf8_trim(type);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_add(e, "input_array", json_object_new_string(arrays[array]));
    json_object_object_add(e, "index", json_object_new_int64((int64_t)index));
    json_object_array_add(r->errors, e);
}

static int track_parse(json_object *body, track_cmd *cmd, api_track_result *r, bool v1, char *why, size_t whylen) {
    memset(cmd, 0, sizeof *cmd);
    cmd->legacy = v1;
    memset(r, 0, sizeof *r);
    if (!json_object_is_type(body, json_type_object)) FAIL("the body must be a JSON object");
    json_object *arr[3];
    for (int a = 0; a < 3; a++) {
        arr[a] = json_get(body, arrays[a]);
        if (!arr[a]) continue;
        if (!json_object_is_type(arr[a], json_type_array)) FAIL("'%s' must be an array of objects", arrays[a]);
        size_t n = json_object_array_length(arr[a]);
        if (n > TRACK_MAX_OBJECTS) {
            snprintf(why, whylen, "'%s' has %zu objects; at most %d are allowed per request", arrays[a], n,
                     TRACK_MAX_OBJECTS);
            return BR_ETOOMANY;
        }
    }
    cmd->body = json_object_get(body);
    char msg[256];
    int base = 0; /* object index across arrays: unique event ids */
    for (int a = 0; a < 3; a++) {
        if (!arr[a]) continue;
        r->present[a] = true;
        size_t n = json_object_array_length(arr[a]);
        if (a == TRACK_ATTRIBUTES) cmd->attrs = xcalloc(n ? n : 1, sizeof *cmd->attrs);
        else if (a == TRACK_EVENTS) cmd->events = xcalloc(n ? n : 1, sizeof *cmd->events);
        else cmd->purchases = xcalloc(n ? n : 1, sizeof *cmd->purchases);
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_array_get_idx(arr[a], i);
            int rc;
            msg[0] = '\0';
            if (!json_object_is_type(o, json_type_object)) {
                snprintf(msg, sizeof msg, "each item of '%s' must be an object", arrays[a]);
                rc = BR_EINVAL;
            } else if (a == TRACK_ATTRIBUTES) {
                rc = parse_attributes(o, &cmd->attrs[cmd->nattrs], v1, msg, sizeof msg);
                cmd->attrs[cmd->nattrs].index = (int)i;
                if (rc == 0) cmd->nattrs++;
            } else {
                track_event *e = a == TRACK_EVENTS ? &cmd->events[cmd->nevents] : &cmd->purchases[cmd->npurchases];
                rc = a == TRACK_EVENTS ? parse_event(o, e, msg, sizeof msg) : parse_purchase(o, e, msg, sizeof msg);
                e->idx = base + (int)i;
                if (rc == 0) *(a == TRACK_EVENTS ? &cmd->nevents : &cmd->npurchases) += 1;
            }
            if (rc < 0) add_error(r, a, i, msg);
            else r->processed[a]++;
        }
        base += (int)n;
    }
    return 0;
}

int api_track_parse(json_object *body, track_cmd *cmd, api_track_result *r, char *why, size_t whylen) {
    return track_parse(body, cmd, r, false, why, whylen);
}

int api_track_parse_v1(json_object *body, track_cmd *cmd, api_track_result *r, char *why, size_t whylen) {
    return track_parse(body, cmd, r, true, why, whylen);
}

/* ---- refusals of the engine ---------------------------------------------- */

void api_limit_text(limit_kind k, const char *name, size_t namelen, char *out, size_t n) {
    static const char *const lists[] = {[LIM_ALIASES] = "aliases", [LIM_DEVICES] = "devices",
                                        [LIM_PUSH_TOKENS] = "push tokens", [LIM_OLD_IDS] = "deprecated external ids"};
    if (k == LIM_OBJECT)
        snprintf(out, n, "'%.*s' would be larger than %d KB", (int)(namelen > 64 ? 64 : namelen), name ? name : "",
                 ATTR_OBJECT_MAX / 1024);
    else
        snprintf(out, n, "the user would have more than %u %s (the limit per user)", limits_cap(k), lists[k]);
    api_utf8_trim(out);
}

static int error_rank(json_object *e) {
    json_object *a, *i;
    json_object_object_get_ex(e, "input_array", &a);
    json_object_object_get_ex(e, "index", &i);
    int rank = 0;
    for (int k = 0; k < 3; k++)
        if (!strcmp(json_object_get_string(a), arrays[k])) rank = k;
    return rank * 1000 + json_object_get_int(i);
}

static int by_position(const void *x, const void *y) {
    return error_rank(*(json_object *const *)x) - error_rank(*(json_object *const *)y);
}

void api_track_refusals(const track_cmd *t, api_track_result *r) {
    char type[160];
    bool any = false;
    for (uint32_t i = 0; i < t->nattrs; i++) {
        const track_attrs *a = &t->attrs[i];
        if (a->refused.kind == LIM_OK) continue;
        api_limit_text(a->refused.kind, a->refused.name, a->refused.namelen, type, sizeof type);
        add_error(r, TRACK_ATTRIBUTES, (size_t)a->index, type);
        r->processed[TRACK_ATTRIBUTES]--;
        any = true;
    }
    if (any) json_object_array_sort(r->errors, by_position);
}
