/* identity.c -- aliases, identify (merge), delete, external id rename and
 * remove (see identity.h). */
#include "identity.h"
#include "command.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/varint.h"

#include <stdio.h>
#include <string.h>

#define FAIL(...)                           \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return BR_EINVAL;                   \
    } while (0)

static bool nonempty_str(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) &&
           json_object_get_string_len(v) > 0;
}

static bool is_alias(json_object *a) {
    return json_object_is_type(a, json_type_object) && nonempty_str(a, "alias_name") && nonempty_str(a, "alias_label");
}

static const char *sget(json_object *o, const char *k, size_t *n) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null)) return NULL;
    /* Braze accepted an integer external_id in /users/identify. */
    if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_int)) return NULL;
    const char *s = json_object_get_string(v);
    if (n) *n = strlen(s);
    return s;
}

/* An external id as /users/track accepts it: a string (or integer) of 1 to
 * 987 bytes without NUL; absent is fine unless required. */
static bool valid_ext(json_object *o, const char *k, bool required) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null)) return !required;
    if (json_object_is_type(v, json_type_int)) return true;
    if (!json_object_is_type(v, json_type_string)) return false;
    size_t n = (size_t)json_object_get_string_len(v);
    return n > 0 && n < 988 && strlen(json_object_get_string(v)) == n;
}

/* An array field of at most IDENTITY_MAX items, each passing ok(). */
static int check_array(json_object *body, const char *field, bool (*ok)(json_object *), const char *shape,
                       size_t *count, char *why, size_t whylen) {
    json_object *a;
    *count = 0;
    if (!json_object_object_get_ex(body, field, &a) || json_object_is_type(a, json_type_null)) return 0;
    if (!json_object_is_type(a, json_type_array)) FAIL("'%s' must be an array of %s", field, shape);
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++)
        if (!ok(json_object_array_get_idx(a, i))) FAIL("'%s' item %zu must be %s", field, i, shape);
    *count = n;
    return 0;
}

static bool ok_alias_new(json_object *o) {
    json_object *x; /* a string here: only /users/identify was seen taking an integer */
    return is_alias(o) && valid_ext(o, "external_id", false) &&
           (!json_object_object_get_ex(o, "external_id", &x) || !json_object_is_type(x, json_type_int));
}
static bool ok_alias_identify(json_object *o) {
    json_object *a;
    return json_object_is_type(o, json_type_object) && valid_ext(o, "external_id", true) &&
           json_object_object_get_ex(o, "user_alias", &a) && is_alias(a);
}
static bool ok_email_identify(json_object *o) {
    return json_object_is_type(o, json_type_object) && valid_ext(o, "external_id", true) && nonempty_str(o, "email");
}
static bool ok_phone_identify(json_object *o) {
    return json_object_is_type(o, json_type_object) && valid_ext(o, "external_id", true) && nonempty_str(o, "phone");
}
static bool ok_string(json_object *o) {
    /* No NUL inside: ids are looked up as C strings. */
    return json_object_is_type(o, json_type_string) && json_object_get_string_len(o) > 0 &&
           strlen(json_object_get_string(o)) == (size_t)json_object_get_string_len(o);
}
static bool ok_email_obj(json_object *o) { return json_object_is_type(o, json_type_object) && nonempty_str(o, "email"); }
static bool ok_phone_obj(json_object *o) { return json_object_is_type(o, json_type_object) && nonempty_str(o, "phone"); }
static bool ok_rename(json_object *o) {
    return json_object_is_type(o, json_type_object) && nonempty_str(o, "current_external_id") &&
           nonempty_str(o, "new_external_id") && valid_ext(o, "new_external_id", true);
}

typedef struct {
    const char *field;
    bool (*ok)(json_object *);
    const char *shape;
} field_rule;

static const field_rule rules_alias_new[] = {
    {"user_aliases", ok_alias_new, "objects with string 'alias_name' and 'alias_label' (and optional 'external_id')"}, {0}};
static const field_rule rules_identify[] = {
    {"aliases_to_identify", ok_alias_identify, "objects with an 'external_id' and a 'user_alias' object"},
    {"emails_to_identify", ok_email_identify, "objects with an 'external_id' and an 'email'"},
    {"phone_numbers_to_identify", ok_phone_identify, "objects with an 'external_id' and a 'phone'"}, {0}};
static const field_rule rules_delete[] = {
    {"external_ids", ok_string, "non-empty strings"},
    {"user_aliases", is_alias, "objects with string 'alias_name' and 'alias_label'"},
    {"braze_ids", ok_string, "non-empty strings"},
    {"email_addresses", ok_email_obj, "objects with an 'email'"},
    {"phone_numbers", ok_phone_obj, "objects with a 'phone'"}, {0}};
static const field_rule rules_rename[] = {
    {"external_id_renames", ok_rename, "objects with string 'current_external_id' and 'new_external_id'"}, {0}};
static const field_rule rules_remove[] = {{"external_ids", ok_string, "non-empty strings"}, {0}};

static const field_rule *rules_of(int kind) {
    switch (kind) {
    case CMD_ALIAS_NEW: return rules_alias_new;
    case CMD_IDENTIFY: return rules_identify;
    case CMD_DELETE: return rules_delete;
    case CMD_RENAME: return rules_rename;
    default: return rules_remove;
    }
}

int identity_check(int kind, json_object *body, char *why, size_t whylen) {
    if (!json_object_is_type(body, json_type_object)) FAIL("the body must be a JSON object");
    const field_rule *r = rules_of(kind);
    size_t total = 0, n;
    char names[160] = "";
    for (int i = 0; r[i].field; i++) {
        if (check_array(body, r[i].field, r[i].ok, r[i].shape, &n, why, whylen) < 0) return BR_EINVAL;
        total += n;
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s'%s'", i ? (r[i + 1].field ? ", " : " or ") : "",
                 r[i].field);
    }
    if (total == 0) FAIL("%s must be a non-empty array", names);
    if (total > IDENTITY_MAX) {
        snprintf(why, whylen, "a single request may not contain more than %d identifiers", IDENTITY_MAX);
        return BR_ETOOMANY;
    }
    return 0;
}

/* ---- profile helpers ----------------------------------------------------- */

static void arr_append(pedit *e, uint32_t key, const char *const *s, const size_t *n, int count) {
    const pfield *f = pedit_get(e, key);
    buf_t b = BUF_INIT;
    if (f && f->type == PT_ARR) buf_append(&b, pedit_payload(e, f), f->len);
    uint8_t tmp[VARINT_MAX], t = PT_STR;
    for (int i = 0; i < count; i++) {
        buf_append(&b, &t, 1);
        buf_append(&b, tmp, varint_put(tmp, n[i]));
        buf_append(&b, s[i], n[i]);
    }
    pedit_set(e, key, PT_ARR, b.data, b.len);
    buf_free(&b);
}

/* Walks the elements of an array payload (type, varint length, bytes):
 * s and n: the element's bytes; raw and rawlen: the whole element. No limit on
 * how many: a user may have any number of aliases, devices or ids. */
typedef struct {
    const uint8_t *p, *end;
} arr_iter;

static bool arr_next(arr_iter *it, const uint8_t **s, size_t *n, const uint8_t **raw, size_t *rawlen) {
    if (it->p >= it->end) return false;
    const uint8_t *start = it->p++;
    uint64_t l;
    if (varint_get(&it->p, it->end, &l) < 0 || l > (uint64_t)(it->end - it->p)) return false;
    *s = it->p;
    *n = (size_t)l;
    it->p += l;
    *raw = start;
    *rawlen = (size_t)(it->p - start);
    return true;
}

/* Whether the profile has an alias with this label (any name); aliases
 * are stored as label, name pairs. */
static bool has_label(const uint8_t *blob, const char *label, size_t ll) {
    pfield f;
    if (!blob || !profile_get(blob, pkey(PF_ALIASES, PK_ATTR), &f)) return false;
    arr_iter it = {f.p, f.p + f.len};
    const uint8_t *s, *name, *raw;
    size_t n, nn, rn;
    while (arr_next(&it, &s, &n, &raw, &rn) && arr_next(&it, &name, &nn, &raw, &rn))
        if (n == ll && !memcmp(s, label, ll)) return true;
    return false;
}

static bool has_external_id(const profile_t *p) {
    pfield f;
    return p->blob && profile_get(p->blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f);
}

static void commit(identity_ctx *c, uint32_t row, pedit *e) {
    users_commit(c->users, row, e, (uint32_t)(c->now_ms / 1000));
    c->touch(c->touch_arg, row);
}

static void set_external_id(identity_ctx *c, uint32_t row, const char *x, size_t xn) {
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    pedit_set(&e, pkey(PF_EXTERNAL_ID, PK_ATTR), PT_STR, x, xn);
    commit(c, row, &e);
    pedit_close(&e);
}

static void merge_summary(pedit *into, const pfield *theirs, const uint8_t *tp, bool purchase) {
    psummary a, b;
    const pfield *mine = pedit_get(into, theirs->key);
    psummary_decode(tp, theirs->len, purchase, &b);
    if (!mine || mine->type != PT_SUMMARY) {
        pedit_set(into, theirs->key, PT_SUMMARY, tp, theirs->len);
        return;
    }
    psummary_decode(pedit_payload(into, mine), mine->len, purchase, &a);
    a.count += b.count;
    if (b.first_ms < a.first_ms) a.first_ms = b.first_ms;
    if (b.last_ms > a.last_ms) a.last_ms = b.last_ms;
    a.revenue += b.revenue;
    for (uint32_t i = 0; i < b.ndays; i++) {
        uint32_t j = 0;
        while (j < a.ndays && a.days[j].day < b.days[i].day) j++;
        if (j < a.ndays && a.days[j].day == b.days[i].day) {
            a.days[j].count += b.days[i].count;
        } else if (a.ndays < sizeof a.days / sizeof *a.days) {
            memmove(&a.days[j + 1], &a.days[j], (a.ndays - j) * sizeof *a.days);
            a.days[j] = b.days[i];
            a.ndays++;
        }
    }
    buf_t enc = BUF_INIT;
    psummary_encode(&a, purchase, &enc);
    pedit_set(into, theirs->key, PT_SUMMARY, enc.data, enc.len);
    buf_free(&enc);
}

void identity_merge(identity_ctx *c, uint32_t from, uint32_t into) {
    profile_t *pf = users_get(c->users, from);
    pedit e;
    pedit_open(&e, users_get(c->users, into)->blob);
    piter it;
    pfield f;
    piter_init(&it, pf->blob);
    while (piter_next(&it, &f)) {
        uint32_t id = f.key / 4;
        int kind = (int)(f.key % 4);
        if (kind == PK_EVENT || kind == PK_PURCHASE) {
            merge_summary(&e, &f, f.p, kind == PK_PURCHASE);
        } else if (id == PF_ALIASES || id == PF_DEVICES) {
            /* Both arrays hold elements of the same form: append theirs. */
            const pfield *mine = pedit_get(&e, f.key);
            buf_t b = BUF_INIT;
            if (mine && mine->type == PT_ARR) buf_append(&b, pedit_payload(&e, mine), mine->len);
            buf_append(&b, f.p, f.len);
            pedit_set(&e, f.key, PT_ARR, b.data, b.len);
            buf_free(&b);
        } else if (id == PF_TOTAL_REVENUE) {
            const pfield *mine = pedit_get(&e, f.key);
            double t = pval_get_dbl(f.p) + (mine && mine->type == PT_DBL ? pval_get_dbl(pedit_payload(&e, mine)) : 0);
            pedit_set(&e, f.key, PT_DBL, &t, sizeof t);
        } else if (id == PF_EXTERNAL_ID || id == PF_OLD_EXTERNAL_IDS) {
            continue; /* the kept profile's identity wins */
        } else if (!pedit_get(&e, f.key)) {
            pedit_set(&e, f.key, f.type, f.p, f.len); /* only fields the target lacks */
        }
    }
    /* The merged user's aliases must leave the index before the target
     * takes them: delete first, then commit the target. */
    uint32_t created = pf->created;
    users_delete(c->users, from);
    c->touch(c->touch_arg, from);
    profile_t *pi = users_get(c->users, into);
    if (created < pi->created) pi->created = created;
    commit(c, into, &e);
    pedit_close(&e);
}

/* ---- endpoints ----------------------------------------------------------- */

static json_object *arr(json_object *body, const char *k) {
    json_object *a;
    return json_object_object_get_ex(body, k, &a) && json_object_is_type(a, json_type_array) ? a : NULL;
}

static json_object *alias_new(identity_ctx *c, json_object *body) {
    json_object *a = arr(body, "user_aliases");
    size_t n = json_object_array_length(a);
    int processed = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(a, i);
        size_t ln, nn, xn = 0;
        const char *label = sget(o, "alias_label", &ln), *name = sget(o, "alias_name", &nn);
        const char *x = sget(o, "external_id", &xn);
        processed++;
        if (users_by_alias(c->users, label, ln, name, nn) != USERS_NONE) continue; /* the pair is taken */
        uint32_t row;
        if (x) {
            row = users_by_external_id(c->users, x, xn);
            /* No such user: the alias is not added anywhere (Braze); one
             * alias per label per user. */
            if (row == USERS_NONE || has_label(users_get(c->users, row)->blob, label, ln)) continue;
        } else {
            row = users_create(c->users, (uint32_t)(c->now_ms / 1000));
        }
        pedit e;
        pedit_open(&e, users_get(c->users, row)->blob);
        const char *s[2] = {label, name};
        size_t l[2] = {ln, nn};
        arr_append(&e, pkey(PF_ALIASES, PK_ATTR), s, l, 2);
        commit(c, row, &e);
        pedit_close(&e);
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "aliases_processed", json_object_new_int(processed));
    return r;
}

/* Identify: merge the unidentified profile `row` into the user with
 * external id x, or give it x when nobody has it. */
static void identify_row(identity_ctx *c, uint32_t row, const char *x, size_t xn, const char *label, size_t ln) {
    profile_t *p = users_get(c->users, row);
    if (has_external_id(p)) return; /* already identified: nothing to merge */
    uint32_t target = users_by_external_id(c->users, x, xn);
    if (target == USERS_NONE) {
        set_external_id(c, row, x, xn);
        return;
    }
    /* Braze: when the identified user already has an alias with this label
     * the profiles are not combined. */
    if (label && has_label(users_get(c->users, target)->blob, label, ln)) return;
    identity_merge(c, row, target);
}

typedef struct {
    identity_ctx *c;
    uint32_t best, best_upd;
    bool unidentified, identified, least;
    int matches;
} prio_pick;

static void prio_cb(uint32_t row, void *arg) {
    prio_pick *pp = arg;
    profile_t *p = users_get(pp->c->users, row);
    if (pp->unidentified && has_external_id(p)) return;
    if (pp->identified && !has_external_id(p)) return;
    pp->matches++;
    bool better = pp->least ? p->updated < pp->best_upd : p->updated > pp->best_upd;
    if (pp->best == USERS_NONE || better || (p->updated == pp->best_upd && row > pp->best)) {
        pp->best = row;
        pp->best_upd = p->updated;
    }
}

/* Picks the email/phone user to act on by Braze's `prioritization`
 * (default: unidentified, then most recently updated). When the
 * prioritization names no recency and several users remain, none is
 * picked (Braze: nothing is merged). */
static uint32_t by_prioritization(identity_ctx *c, json_object *o, bool phone) {
    json_object *pr;
    bool unid = true, ided = false, recent = true, least = false;
    if (json_object_object_get_ex(o, "prioritization", &pr) && json_object_is_type(pr, json_type_array)) {
        unid = recent = false;
        size_t n = json_object_array_length(pr);
        for (size_t i = 0; i < n; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(pr, i));
            if (!s) continue;
            if (!strcmp(s, "unidentified")) unid = true;
            if (!strcmp(s, "identified")) ided = true;
            if (!strcmp(s, "most_recently_updated")) recent = true;
            if (!strcmp(s, "least_recently_updated")) least = true;
        }
    }
    size_t n;
    const char *v = sget(o, phone ? "phone" : "email", &n);
    /* "identified" and "unidentified" exclude each other (Braze); a request
     * naming both is read as "unidentified". */
    if (unid && ided) ided = false;
    prio_pick pp = {c, USERS_NONE, 0, unid, ided, least && !recent, 0};
    if (phone) users_each_phone(c->users, v, n, prio_cb, &pp);
    else users_each_email(c->users, v, n, prio_cb, &pp);
    if (pp.matches > 1 && !recent && !least) return USERS_NONE;
    return pp.best;
}

static json_object *identify(identity_ctx *c, json_object *body) {
    static const char *const fields[3] = {"aliases_to_identify", "emails_to_identify", "phone_numbers_to_identify"};
    static const char *const counts[3] = {"aliases_processed", "emails_processed", "phone_numbers_processed"};
    json_object *r = json_object_new_object();
    for (int f = 0; f < 3; f++) {
        json_object *a = arr(body, fields[f]);
        if (!a) continue;
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_array_get_idx(a, i), *al;
            size_t xn, ln = 0, nn;
            const char *x = sget(o, "external_id", &xn), *label = NULL;
            uint32_t row;
            if (f == 0) {
                json_object_object_get_ex(o, "user_alias", &al);
                label = sget(al, "alias_label", &ln);
                const char *name = sget(al, "alias_name", &nn);
                row = users_by_alias(c->users, label, ln, name, nn);
            } else {
                row = by_prioritization(c, o, f == 2);
            }
            if (row != USERS_NONE) identify_row(c, row, x, xn, label, ln);
        }
        json_object_object_add(r, counts[f], json_object_new_int((int)n));
    }
    return r;
}

static json_object *delete_users(identity_ctx *c, json_object *body) {
    int queued = 0;
    json_object *a;
    if ((a = arr(body, "external_ids")))
        for (size_t i = 0; i < json_object_array_length(a); i++, queued++) {
            json_object *v = json_object_array_get_idx(a, i);
            uint32_t row = users_by_external_id(c->users, json_object_get_string(v), (size_t)json_object_get_string_len(v));
            if (row != USERS_NONE) users_delete(c->users, row), c->touch(c->touch_arg, row);
        }
    if ((a = arr(body, "braze_ids")))
        for (size_t i = 0; i < json_object_array_length(a); i++, queued++) {
            json_object *v = json_object_array_get_idx(a, i);
            uint32_t row = users_by_braze_id(c->users, json_object_get_string(v), (size_t)json_object_get_string_len(v));
            if (row != USERS_NONE) users_delete(c->users, row), c->touch(c->touch_arg, row);
        }
    if ((a = arr(body, "user_aliases")))
        for (size_t i = 0; i < json_object_array_length(a); i++, queued++) {
            json_object *o = json_object_array_get_idx(a, i);
            size_t ln, nn;
            const char *l = sget(o, "alias_label", &ln), *nm = sget(o, "alias_name", &nn);
            uint32_t row = users_by_alias(c->users, l, ln, nm, nn);
            if (row != USERS_NONE) users_delete(c->users, row), c->touch(c->touch_arg, row);
        }
    for (int ph = 0; ph < 2; ph++)
        if ((a = arr(body, ph ? "phone_numbers" : "email_addresses")))
            for (size_t i = 0; i < json_object_array_length(a); i++, queued++) {
                uint32_t row = by_prioritization(c, json_object_array_get_idx(a, i), ph);
                if (row != USERS_NONE) users_delete(c->users, row), c->touch(c->touch_arg, row);
            }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "deleted", json_object_new_int(queued));
    return r;
}

static json_object *pair_error(size_t i, const char *msg) {
    json_object *e = json_object_new_array();
    json_object_array_add(e, json_object_new_int64((int64_t)i));
    json_object_array_add(e, json_object_new_string(msg));
    return e;
}

static bool is_primary(users_t *u, uint32_t row, const char *x, size_t xn) {
    pfield f;
    profile_t *p = users_get(u, row);
    return p->blob && profile_get(p->blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f) && f.len == xn && !memcmp(f.p, x, xn);
}

static json_object *rename_ids(identity_ctx *c, json_object *body) {
    json_object *a = arr(body, "external_id_renames"), *ok = json_object_new_array(), *errs = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i);
        size_t cn, nn;
        const char *cur = sget(o, "current_external_id", &cn), *nw = sget(o, "new_external_id", &nn);
        uint32_t row = users_by_external_id(c->users, cur, cn);
        if (cn == nn && !memcmp(cur, nw, cn)) {
            json_object_array_add(errs, pair_error(i, "'current_external_id' and 'new_external_id' are the same"));
        } else if (row == USERS_NONE || !is_primary(c->users, row, cur, cn)) {
            json_object_array_add(errs, pair_error(i, "'current_external_id' is not the primary external_id of any user"));
        } else if (users_by_external_id(c->users, nw, nn) != USERS_NONE) {
            json_object_array_add(errs, pair_error(i, "'new_external_id' is already in use"));
        } else {
            pedit e;
            pedit_open(&e, users_get(c->users, row)->blob);
            const char *s[1] = {cur};
            size_t l[1] = {cn};
            arr_append(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR), s, l, 1);
            pedit_set(&e, pkey(PF_EXTERNAL_ID, PK_ATTR), PT_STR, nw, nn);
            commit(c, row, &e);
            pedit_close(&e);
            json_object *d = json_object_new_object();
            json_object_object_add(d, "current_external_id", json_object_new_string_len(cur, (int)cn));
            json_object_object_add(d, "new_external_id", json_object_new_string_len(nw, (int)nn));
            json_object_array_add(ok, d);
        }
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "external_ids", ok);
    json_object_object_add(r, "rename_errors", errs);
    return r;
}

static json_object *remove_ids(identity_ctx *c, json_object *body) {
    json_object *a = arr(body, "external_ids"), *ok = json_object_new_array(), *errs = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *v = json_object_array_get_idx(a, i);
        const char *x = json_object_get_string(v);
        size_t xn = (size_t)json_object_get_string_len(v);
        uint32_t row = users_by_external_id(c->users, x, xn);
        if (row == USERS_NONE) {
            json_object_array_add(errs, pair_error(i, "no user has this deprecated external_id"));
            continue;
        }
        if (is_primary(c->users, row, x, xn)) {
            json_object_array_add(errs, pair_error(i, "a primary external_id cannot be removed; only deprecated ones"));
            continue;
        }
        pedit e;
        pedit_open(&e, users_get(c->users, row)->blob);
        /* The deprecated ids but this one, elements copied as they are. */
        const pfield *f = pedit_get(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR));
        buf_t keep = BUF_INIT;
        if (f) {
            const uint8_t *p = pedit_payload(&e, f), *s, *raw;
            size_t n, rn;
            arr_iter it = {p, p + f->len};
            while (arr_next(&it, &s, &n, &raw, &rn))
                if (!(n == xn && !memcmp(s, x, xn))) buf_append(&keep, raw, rn);
        }
        if (keep.len) pedit_set(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR), PT_ARR, keep.data, keep.len);
        else pedit_del(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR));
        buf_free(&keep);
        commit(c, row, &e);
        pedit_close(&e);
        json_object_array_add(ok, json_object_new_string_len(x, (int)xn));
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "removed_ids", ok);
    json_object_object_add(r, "removal_errors", errs);
    return r;
}

json_object *identity_apply(identity_ctx *c, int kind, json_object *body) {
    switch (kind) {
    case CMD_ALIAS_NEW: return alias_new(c, body);
    case CMD_IDENTIFY: return identify(c, body);
    case CMD_DELETE: return delete_users(c, body);
    case CMD_RENAME: return rename_ids(c, body);
    default: return remove_ids(c, body);
    }
}
