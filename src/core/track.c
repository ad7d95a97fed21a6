/* track.c -- applying a /users/track command (see track.h). */
#include "track.h"
#include "engage.h"
#include "limits.h"
#include "subs.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/varint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void track_cmd_free(track_cmd *c) {
    for (uint32_t i = 0; i < c->nattrs; i++) attrs_plan_free(c->attrs[i].plan);
    free(c->attrs);
    free(c->events);
    free(c->purchases);
    json_object_put(c->body);
    memset(c, 0, sizeof *c);
}

static uint32_t find(users_t *u, const track_ident *id) {
    switch (id->kind) {
    case ID_NONE: return USERS_NONE;
    case ID_EXTERNAL: return users_by_external_id(u, id->a, id->an);
    case ID_BRAZE: return users_by_braze_id(u, id->a, id->an);
    case ID_ALIAS: return users_by_alias(u, id->a, id->an, id->b, id->bn);
    case ID_EMAIL: return users_by_email(u, id->a, id->an);
    case ID_PHONE: return users_by_phone(u, id->a, id->an);
    }
    return USERS_NONE;
}

/* Sets the identifier a new user is created with. */
static void set_identity(pedit *e, const track_ident *id) {
    if (id->kind == ID_ALIAS) {
        buf_t b = BUF_INIT;
        parr_put(&b, PT_STR, id->a, id->an);
        parr_put(&b, PT_STR, id->b, id->bn);
        pedit_set(e, pkey(PF_ALIASES, PK_ATTR), PT_ARR, b.data, b.len);
        buf_free(&b);
    } else {
        uint32_t f = id->kind == ID_EXTERNAL ? PF_EXTERNAL_ID : id->kind == ID_EMAIL ? PF_EMAIL : PF_PHONE;
        pedit_set(e, pkey(f, PK_ATTR), PT_STR, id->a, id->an);
    }
}

/* Commits e as a new user's profile. */
static uint32_t create_with(track_ctx *c, pedit *e) {
    uint32_t now_s = (uint32_t)(c->now_ms / 1000);
    uint32_t row = users_create(c->users, now_s);
    users_commit(c->users, row, e, now_s);
    return row;
}

/* Creates the user an identifier names; braze_id users are never created. */
static uint32_t create(track_ctx *c, const track_ident *id) {
    if (id->kind == ID_BRAZE || id->kind == ID_NONE) return USERS_NONE;
    pedit e;
    pedit_open(&e, NULL);
    set_identity(&e, id);
    uint32_t row = create_with(c, &e);
    pedit_close(&e);
    if (id->kind == ID_EMAIL) subs_after_track(c, row, NULL, NULL);
    return row;
}

/* Finds the object's user, creating it when the rules allow. */
static uint32_t resolve(track_ctx *c, const track_ident *id, bool may_create) {
    uint32_t row = find(c->users, id);
    if (row == USERS_NONE && may_create) row = create(c, id);
    return row;
}

/* ---- attributes ---------------------------------------------------------- */

#define LIST_FIELDS (1u << PF_ALIASES | 1u << PF_DEVICES | 1u << PF_PUSH_TOKENS | 1u << PF_OLD_EXTERNAL_IDS)

/* Whether the edit of a profile whose blob was `old` keeps its lists
 * within limits.h; sets r when not. */
static bool within_limits(const uint8_t *old, const pedit *e, attrs_refusal *r) {
    if (!(e->std_touched & LIST_FIELDS)) return true;
    limits_counts before, after;
    limits_count_blob(old, &before);
    limits_count_edit(e, &after);
    r->kind = limits_check(&before, &after);
    return r->kind == LIM_OK;
}

static void apply_attrs(track_ctx *c, const track_cmd *cmd, track_attrs *o) {
    bool enforce = !cmd->legacy;
    uint32_t row = find(c->users, &o->id);
    if (row == USERS_NONE && (!o->may_create || o->id.kind == ID_BRAZE)) return;
    const uint8_t *old = row == USERS_NONE ? NULL : users_get(c->users, row)->blob;
    subs_before before;
    subs_before_of(old, &before);
    pedit e;
    pedit_open(&e, old);
    if (row == USERS_NONE) set_identity(&e, &o->id);
    /* Decided on the whole edit before any of it is kept: a refused
     * object changes nothing, not even by creating its user. */
    if (attrs_apply(o->plan, &e, o->merge, c->names, enforce, &o->refused) != LIM_OK ||
        (enforce && !within_limits(old, &e, &o->refused))) {
        pedit_close(&e);
        return;
    }
    if (row == USERS_NONE) row = create_with(c, &e);
    else if (e.changed) users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
    pedit_close(&e);
    c->touch(c->touch_arg, row);
    subs_after_track(c, row, &before, o->email_subscribe);
}

/* ---- push token import ----------------------------------------------------- */

/* The device an imported token belongs to: its device_id, or one derived
 * from the app and the token (Braze makes a random one; a derived one lets
 * a retried import find the user it made). FNV-1a: the same after a
 * restart, unlike the index hash. */
static const char *import_device(json_object *t, char buf[40], size_t *n) {
    json_object *d, *app, *tok;
    if (json_object_object_get_ex(t, "device_id", &d)) {
        *n = (size_t)json_object_get_string_len(d);
        return json_object_get_string(d);
    }
    json_object_object_get_ex(t, "app_id", &app);
    json_object_object_get_ex(t, "token", &tok);
    uint64_t h = 0xcbf29ce484222325ull;
    const char *parts[2] = {json_object_get_string(app), json_object_get_string(tok)};
    for (int k = 0; k < 2; k++)
        for (const unsigned char *p = (const unsigned char *)parts[k];; p++) {
            h = (h ^ *p) * 0x100000001b3ull; /* the NUL separates app from token */
            if (!*p) break;
        }
    *n = (size_t)snprintf(buf, 40, "token-%016llx", (unsigned long long)h);
    return buf;
}

static bool has_token(const uint8_t *blob, json_object *t) {
    pfield f;
    json_object *tok, *ct;
    if (!blob || !profile_get(blob, pkey(PF_PUSH_TOKENS, PK_ATTR), &f) || f.type != PT_JSON) return false;
    json_object_object_get_ex(t, "token", &tok);
    json_object *cur = attrs_parse_stored(f.p, f.len);
    bool seen = false;
    for (size_t j = 0; cur && json_object_is_type(cur, json_type_array) && j < json_object_array_length(cur) && !seen; j++)
        seen = json_object_object_get_ex(json_object_array_get_idx(cur, j), "token", &ct) && json_object_equal(ct, tok);
    json_object_put(cur);
    return seen;
}

/* The token as stored: with the device it was given to. */
static json_object *token_with_device(json_object *t, const char *dev, size_t dn) {
    json_object *copy = NULL, *one = json_object_new_array();
    json_object_deep_copy(t, &copy, NULL);
    json_object_object_add(copy, "device_id", json_object_new_string_len(dev, (int)dn));
    json_object_array_add(one, copy);
    return one;
}

/* Where each token of an import goes: the anonymous user holding its
 * device (USERS_NONE: a new one), or nowhere (skip: that user already has
 * the token, which Braze ignores). */
typedef struct {
    uint32_t row;
    bool skip;
    char buf[40];
    const char *dev;
    size_t dn;
} import_target;

/* The edit an import makes to an existing user: its attributes (once) and
 * every new token of the object that goes to it. */
static limit_kind import_edit(track_ctx *c, track_attrs *o, import_target *t, size_t n, uint32_t row, pedit *e,
                              bool enforce) {
    const uint8_t *old = users_get(c->users, row)->blob;
    pedit_open(e, old);
    if (attrs_apply(o->plan, e, o->merge, c->names, enforce, &o->refused) != LIM_OK) return LIM_OBJECT;
    for (size_t i = 0; i < n; i++) {
        if (t[i].skip || t[i].row != row) continue;
        json_object *one = token_with_device(json_object_array_get_idx(o->tokens, i), t[i].dev, t[i].dn);
        attrs_add_tokens(e, one);
        json_object_put(one);
    }
    return enforce && !within_limits(old, e, &o->refused) ? o->refused.kind : LIM_OK;
}

/* push_token_import: one anonymous user per device (Braze: a temporary
 * anonymous profile per token); a token some user of its device already
 * has is skipped. Every existing user the object would change is checked
 * against the limits first: a refusal changes nothing. */
static void apply_import(track_ctx *c, track_attrs *o) {
    size_t n = json_object_array_length(o->tokens);
    import_target *t = xcalloc(n ? n : 1, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        json_object *tok = json_object_array_get_idx(o->tokens, i);
        t[i].dev = import_device(tok, t[i].buf, &t[i].dn);
        t[i].row = users_by_device(c->users, t[i].dev, t[i].dn);
        t[i].skip = t[i].row != USERS_NONE && has_token(users_get(c->users, t[i].row)->blob, tok);
    }
    for (size_t i = 0; i < n; i++) {
        bool first = !t[i].skip && t[i].row != USERS_NONE;
        for (size_t j = 0; j < i && first; j++) first = t[j].skip || t[j].row != t[i].row;
        if (!first) continue;
        pedit e;
        limit_kind k = import_edit(c, o, t, n, t[i].row, &e, true);
        pedit_close(&e);
        if (k != LIM_OK) {
            free(t);
            return;
        }
    }
    /* A new user gets the request's values alone, and they too can pass a
     * limit (an $update merged into every item of an $add): checked once,
     * as the plan is the same for each new user. */
    for (size_t i = 0; i < n && o->may_create; i++) {
        if (t[i].skip || t[i].row != USERS_NONE) continue;
        pedit e;
        pedit_open(&e, NULL);
        limit_kind k = attrs_apply(o->plan, &e, o->merge, c->names, true, &o->refused);
        pedit_close(&e);
        if (k != LIM_OK) {
            free(t);
            return;
        }
        break;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i].skip) continue;
        /* Looked up again: an earlier token of this object may have made
         * the user of this device. */
        uint32_t row = users_by_device(c->users, t[i].dev, t[i].dn);
        json_object *tok = json_object_array_get_idx(o->tokens, i);
        if (row != USERS_NONE && has_token(users_get(c->users, row)->blob, tok)) continue;
        pedit e;
        subs_before before;
        subs_before_of(row == USERS_NONE ? NULL : users_get(c->users, row)->blob, &before);
        if (row == USERS_NONE) {
            if (!o->may_create) continue;
            pedit_open(&e, NULL);
            attrs_apply(o->plan, &e, o->merge, c->names, false, NULL); /* checked above */
            json_object *one = token_with_device(tok, t[i].dev, t[i].dn);
            attrs_add_tokens(&e, one);
            json_object_put(one);
            row = create_with(c, &e);
        } else {
            bool planned = false; /* the attributes go to each user once */
            for (size_t j = 0; j < i && !planned; j++) planned = !t[j].skip && t[j].row == row;
            pedit_open(&e, users_get(c->users, row)->blob);
            if (!planned) attrs_apply(o->plan, &e, o->merge, c->names, false, NULL); /* checked above */
            json_object *one = token_with_device(tok, t[i].dev, t[i].dn);
            attrs_add_tokens(&e, one);
            json_object_put(one);
            if (e.changed) users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
        }
        pedit_close(&e);
        t[i].row = row;
        c->touch(c->touch_arg, row);
        subs_after_track(c, row, &before, o->email_subscribe);
    }
    free(t);
}

/* ---- events and purchases ------------------------------------------------ */

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
    users_braze_hex(c->users, row, bz);
    if (b->len > 1) buf_append(b, ",", 1);
    buf_printf(b, "{\"id\":\"%016llx-%04x-%04x\",\"event_type\":\"%s\",\"user_id\":\"%s\"",
               (unsigned long long)c->event_base, idx, sub, type, bz);
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
    const char *s = props ? json_text(props, &n) : "{}";
    buf_puts(c->outbox, ",\"properties\":");
    buf_json_str(c->outbox, s, n);
    buf_append(c->outbox, "}", 1);
}

static void apply_event(track_ctx *c, const track_event *o, bool purchase) {
    uint32_t nid = names_intern(c->names, o->name, o->nl);
    uint32_t row = resolve(c, &o->id, o->may_create);
    if (row == USERS_NONE) return;
    int64_t t = o->t_ms > c->now_ms ? c->now_ms : o->t_ms; /* Braze: a future time becomes now */
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    if (!purchase) {
        bump_summary(c, &e, pkey(nid, PK_EVENT), false, t, 1, 0);
    } else {
        double revenue = o->price_value * (double)o->quantity;
        bump_summary(c, &e, pkey(nid, PK_PURCHASE), true, t, (uint64_t)o->quantity, revenue);
        const pfield *tr = pedit_get(&e, pkey(PF_TOTAL_REVENUE, PK_ATTR));
        double total = (tr && tr->type == PT_DBL ? pval_get_dbl(pedit_payload(&e, tr)) : 0) + revenue;
        pedit_set(&e, pkey(PF_TOTAL_REVENUE, PK_ATTR), PT_DBL, &total, sizeof total);
    }
    engage_add(&e, t);
    users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
    pedit_close(&e);
    c->touch(c->touch_arg, row);
    if (!c->outbox) return;
    c->recorded += purchase ? o->quantity : 1; /* as many as Currents gets */
    if (!purchase) {
        outbox_head(c, row, "users.behaviors.CustomEvent", t, o->app, o->idx, 0);
        buf_puts(c->outbox, ",\"name\":");
        buf_json_str(c->outbox, o->name, o->nl);
        outbox_end(c, o->props);
        return;
    }
    /* A quantity of N is N purchases of one (Braze; Currents has no quantity). */
    for (int64_t k = 0; k < o->quantity; k++) {
        outbox_head(c, row, "users.behaviors.Purchase", t, o->app, o->idx, (int)k);
        buf_puts(c->outbox, ",\"product_id\":");
        buf_json_str(c->outbox, o->name, o->nl);
        buf_printf(c->outbox, ",\"price\":%s,\"currency\":", json_text(o->price, NULL));
        buf_json_str(c->outbox, o->currency, 3);
        outbox_end(c, o->props);
    }
}

/* The index slots the objects' users will be looked up in (and, for a new
 * user with an email, added to), fetched ahead of the lookups: a bulk
 * import's otherwise wait on a cache miss each. */
static void prefetch(track_ctx *c, const track_cmd *cmd) {
    const uint32_t email = pkey(PF_EMAIL, PK_ATTR);
    /* The objects were built on another thread: their plans are fetched
     * first, each level for all objects at once, so the misses overlap. */
    for (uint32_t i = 0; i < cmd->nattrs; i++) {
        __builtin_prefetch(cmd->attrs[i].plan);
        __builtin_prefetch(cmd->attrs[i].id.a);
    }
    for (uint32_t i = 0; i < cmd->nattrs; i++) {
        const attrs_plan *p = cmd->attrs[i].plan;
        if (p) __builtin_prefetch(p->c), __builtin_prefetch(p->bytes.data);
    }
    for (uint32_t i = 0; i < cmd->nattrs; i++) {
        const track_attrs *o = &cmd->attrs[i];
        if (o->id.kind != ID_EXTERNAL) continue;
        users_prefetch(c->users, o->id.a, o->id.an, false);
        for (int k = 0; o->plan && k < o->plan->n; k++)
            if (o->plan->c[k].key == email && o->plan->c[k].kind == CH_SET)
                users_prefetch(c->users, (const char *)o->plan->bytes.data + o->plan->c[k].off, o->plan->c[k].len, true);
    }
}

void track_apply(track_ctx *c, track_cmd *cmd) {
    if (cmd->nattrs > 1) prefetch(c, cmd);
    for (uint32_t i = 0; i < cmd->nattrs; i++) {
        track_attrs *o = &cmd->attrs[i];
        o->refused.kind = LIM_OK;
        /* Old journals: such objects were refused then. */
        if (o->token_import && !cmd->legacy) apply_import(c, o);
        else if (!o->token_import) apply_attrs(c, cmd, o);
    }
    for (uint32_t i = 0; i < cmd->nevents; i++) apply_event(c, &cmd->events[i], false);
    for (uint32_t i = 0; i < cmd->npurchases; i++) apply_event(c, &cmd->purchases[i], true);
}
