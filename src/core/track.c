/* track.c -- applying a /users/track command (see track.h). */
#include "track.h"
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
    case ID_EXTERNAL: return users_by_external_id(u, id->a, id->an);
    case ID_BRAZE: return users_by_braze_id(u, id->a, id->an);
    case ID_ALIAS: return users_by_alias(u, id->a, id->an, id->b, id->bn);
    case ID_EMAIL: return users_by_email(u, id->a, id->an);
    case ID_PHONE: return users_by_phone(u, id->a, id->an);
    }
    return USERS_NONE;
}

/* Creates the user an identifier names; braze_id users are never created. */
static uint32_t create(track_ctx *c, const track_ident *id) {
    if (id->kind == ID_BRAZE) return USERS_NONE;
    uint32_t now_s = (uint32_t)(c->now_ms / 1000);
    uint32_t row = users_create(c->users, now_s);
    pedit e;
    pedit_open(&e, NULL);
    if (id->kind == ID_ALIAS) {
        buf_t b = BUF_INIT;
        parr_put(&b, PT_STR, id->a, id->an);
        parr_put(&b, PT_STR, id->b, id->bn);
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
static uint32_t resolve(track_ctx *c, const track_ident *id, bool may_create) {
    uint32_t row = find(c->users, id);
    if (row == USERS_NONE && may_create) row = create(c, id);
    return row;
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
    if (!p->blob || !profile_get(p->blob, pkey(PF_EMAIL, PK_ATTR), &f)) return;
    char email[256];
    if (f.len >= sizeof email) return;
    memcpy(email, f.p, f.len); /* the blob may be replaced while walking */
    share_arg a = {c, row, state};
    users_each_email(c->users, email, f.len, share_one, &a);
}

static void apply_attrs(track_ctx *c, const track_attrs *o) {
    uint32_t row = resolve(c, &o->id, o->may_create);
    if (row == USERS_NONE) return;
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    attrs_apply(o->plan, &e, o->merge, c->names);
    if (e.changed) users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
    pedit_close(&e);
    c->touch(c->touch_arg, row);
    if (o->email_subscribe) share_email_state(c, row, o->email_subscribe);
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
    users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
    pedit_close(&e);
    c->touch(c->touch_arg, row);
    if (!c->outbox) return;
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

void track_apply(track_ctx *c, const track_cmd *cmd) {
    for (uint32_t i = 0; i < cmd->nattrs; i++) apply_attrs(c, &cmd->attrs[i]);
    for (uint32_t i = 0; i < cmd->nevents; i++) apply_event(c, &cmd->events[i], false);
    for (uint32_t i = 0; i < cmd->npurchases; i++) apply_event(c, &cmd->purchases[i], true);
}
