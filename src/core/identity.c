/* identity.c -- aliases (new, update), identify (a merge, merge.h), delete,
 * external id rename and remove (see identity.h). */
#include "identity.h"
#include "lifecycle.h"
#include "merge.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int identity_outcome_of(limit_kind k) { return k == LIM_OK ? IDO_OK : IDO_OVER_ALIASES + (int)k - LIM_ALIASES; }

/* IDO_OVER_x when the edit of a profile whose blob was `old` takes list k
 * past its cap (limits.h), else IDO_OK. */
static int grows_past(const pedit *e, const uint8_t *old, limit_kind k) {
    limits_counts before, after;
    limits_count_blob(old, &before);
    limits_count_edit(e, &after);
    return limits_check(&before, &after) == k ? identity_outcome_of(k) : IDO_OK;
}

void identity_cmd_free(identity_cmd *c) {
    free(c->items);
    json_object_put(c->body);
    memset(c, 0, sizeof *c);
}

/* ---- profile helpers ----------------------------------------------------- */

static void arr_append(pedit *e, uint32_t key, const char *const *s, const size_t *n, int count) {
    const pfield *f = pedit_get(e, key);
    buf_t b = BUF_INIT;
    if (f && f->type == PT_ARR) buf_append(&b, pedit_payload(e, f), f->len);
    for (int i = 0; i < count; i++) parr_put(&b, PT_STR, s[i], n[i]);
    pedit_set(e, key, PT_ARR, b.data, b.len);
    buf_free(&b);
}

/* Whether the profile has an alias with this label (any name); aliases
 * are stored as label, name pairs. */
static bool has_label(const uint8_t *blob, const char *label, size_t ll) {
    pfield f;
    if (!blob || !profile_get(blob, pkey(PF_ALIASES, PK_ATTR), &f)) return false;
    parr_iter it;
    const uint8_t *s, *name;
    size_t n, nn;
    parr_init(&it, f.p, f.len);
    while (parr_next(&it, NULL, &s, &n, NULL, NULL) && parr_next(&it, NULL, &name, &nn, NULL, NULL))
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

/* ---- endpoints ----------------------------------------------------------- */

static int alias_new(identity_ctx *c, const identity_item *it, bool enforce) {
    if (users_by_alias(c->users, it->a, it->an, it->b, it->bn) != USERS_NONE) return IDO_OK; /* the pair is taken */
    uint32_t row = USERS_NONE;
    if (it->ext) {
        row = users_by_external_id(c->users, it->ext, it->extn);
        /* No such user: the alias is not added anywhere (Braze); one
         * alias per label per user. */
        if (row == USERS_NONE || has_label(users_get(c->users, row)->blob, it->a, it->an)) return IDO_OK;
    }
    const uint8_t *old = row == USERS_NONE ? NULL : users_get(c->users, row)->blob;
    pedit e;
    pedit_open(&e, old);
    const char *s[2] = {it->a, it->b};
    size_t l[2] = {it->an, it->bn};
    arr_append(&e, pkey(PF_ALIASES, PK_ATTR), s, l, 2);
    int o = enforce ? grows_past(&e, old, LIM_ALIASES) : IDO_OK;
    if (o == IDO_OK) {
        if (row == USERS_NONE) row = users_create(c->users, (uint32_t)(c->now_ms / 1000));
        commit(c, row, &e);
    }
    pedit_close(&e);
    return o;
}

/* Renames one alias: the label's old name becomes the new one. A pair
 * names one user, so a new name another user has (for that label) is
 * refused. */
static int alias_update(identity_ctx *c, const identity_item *it) {
    uint32_t row = users_by_alias(c->users, it->a, it->an, it->b, it->bn);
    if (row == USERS_NONE) return IDO_ALIAS_UNKNOWN;
    if (it->bn == it->cn && !memcmp(it->b, it->c, it->cn)) return IDO_OK;
    if (users_by_alias(c->users, it->a, it->an, it->c, it->cn) != USERS_NONE) return IDO_ALIAS_TAKEN;
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    const pfield *f = pedit_get(&e, pkey(PF_ALIASES, PK_ATTR));
    buf_t b = BUF_INIT;
    parr_iter pi;
    const uint8_t *l, *nm, *raw, *raw2;
    size_t ln, nn, rn, rn2;
    parr_init(&pi, pedit_payload(&e, f), f->len);
    while (parr_next(&pi, NULL, &l, &ln, &raw, &rn) && parr_next(&pi, NULL, &nm, &nn, &raw2, &rn2)) {
        buf_append(&b, raw, rn);
        if (ln == it->an && !memcmp(l, it->a, ln) && nn == it->bn && !memcmp(nm, it->b, nn)) parr_put(&b, PT_STR, it->c, it->cn);
        else buf_append(&b, raw2, rn2);
    }
    pedit_set(&e, pkey(PF_ALIASES, PK_ATTR), PT_ARR, b.data, b.len);
    buf_free(&b);
    commit(c, row, &e);
    pedit_close(&e);
    return IDO_OK;
}

/* Identify: merge the unidentified profile `row` into the user with
 * external id x, or give it x when nobody has it. */
static int identify_row(identity_ctx *c, uint32_t row, const char *x, size_t xn, const char *label, size_t ln,
                        bool enforce) {
    profile_t *p = users_get(c->users, row);
    if (has_external_id(p)) return IDO_OK; /* already identified: nothing to merge */
    uint32_t target = users_by_external_id(c->users, x, xn);
    if (target == USERS_NONE) {
        set_external_id(c, row, x, xn);
        return IDO_OK;
    }
    /* Braze: when the identified user already has an alias with this label
     * the profiles are not combined. */
    if (label && has_label(users_get(c->users, target)->blob, label, ln)) return IDO_OK;
    return identity_outcome_of(identity_merge(c, row, target, enforce));
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
static uint32_t by_prioritization(identity_ctx *c, const identity_item *it) {
    bool unid = it->prio & PRIO_UNIDENTIFIED, ided = it->prio & PRIO_IDENTIFIED, recent = it->prio & PRIO_RECENT,
         least = it->prio & PRIO_LEAST;
    /* "identified" and "unidentified" exclude each other (Braze); a request
     * naming both is read as "unidentified". */
    if (unid && ided) ided = false;
    prio_pick pp = {c, USERS_NONE, 0, unid, ided, least && !recent, 0};
    if (it->list == IDL_PHONE) users_each_phone(c->users, it->a, it->an, prio_cb, &pp);
    else users_each_email(c->users, it->a, it->an, prio_cb, &pp);
    if (pp.matches > 1 && !recent && !least) return USERS_NONE;
    return pp.best;
}

uint32_t identity_find(identity_ctx *c, const identity_item *it) {
    switch (it->list) {
    case IDL_EXTERNAL: return users_by_external_id(c->users, it->ext, it->extn);
    case IDL_BRAZE: return users_by_braze_id(c->users, it->a, it->an);
    case IDL_ALIAS: return users_by_alias(c->users, it->a, it->an, it->b, it->bn);
    default: return by_prioritization(c, it);
    }
}

static int identify(identity_ctx *c, const identity_item *it, bool enforce) {
    uint32_t row = identity_find(c, it);
    if (row == USERS_NONE) return IDO_OK;
    return identify_row(c, row, it->ext, it->extn, it->list == IDL_ALIAS ? it->a : NULL, it->an, enforce);
}

static void delete_user(identity_ctx *c, const identity_item *it) {
    uint32_t row = identity_find(c, it);
    if (row == USERS_NONE) return;
    if (c->outbox) life_deleted(c->outbox, c->users, row, c->event_base, c->events++, c->now_ms);
    users_delete(c->users, row);
    c->touch(c->touch_arg, row);
}

static bool is_primary(users_t *u, uint32_t row, const char *x, size_t xn) {
    pfield f;
    profile_t *p = users_get(u, row);
    return p->blob && profile_get(p->blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f) && f.len == xn && !memcmp(f.p, x, xn);
}

static int rename_id(identity_ctx *c, const identity_item *it, bool enforce) {
    uint32_t row = users_by_external_id(c->users, it->ext, it->extn);
    if (it->extn == it->an && !memcmp(it->ext, it->a, it->an)) return IDO_SAME;
    if (row == USERS_NONE || !is_primary(c->users, row, it->ext, it->extn)) return IDO_NOT_PRIMARY;
    if (users_by_external_id(c->users, it->a, it->an) != USERS_NONE) return IDO_IN_USE;
    const uint8_t *old = users_get(c->users, row)->blob;
    pedit e;
    pedit_open(&e, old);
    const char *s[1] = {it->ext};
    size_t l[1] = {it->extn};
    arr_append(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR), s, l, 1);
    pedit_set(&e, pkey(PF_EXTERNAL_ID, PK_ATTR), PT_STR, it->a, it->an);
    int o = enforce ? grows_past(&e, old, LIM_OLD_IDS) : IDO_OK;
    if (o == IDO_OK) commit(c, row, &e);
    pedit_close(&e);
    return o;
}

static int remove_id(identity_ctx *c, const identity_item *it) {
    uint32_t row = users_by_external_id(c->users, it->ext, it->extn);
    if (row == USERS_NONE) return IDO_UNKNOWN;
    if (is_primary(c->users, row, it->ext, it->extn)) return IDO_PRIMARY;
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    /* The deprecated ids but this one, elements copied as they are. */
    const pfield *f = pedit_get(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR));
    buf_t keep = BUF_INIT;
    if (f) {
        parr_iter pi;
        const uint8_t *s, *raw;
        size_t n, rn;
        parr_init(&pi, pedit_payload(&e, f), f->len);
        while (parr_next(&pi, NULL, &s, &n, &raw, &rn))
            if (!(n == it->extn && !memcmp(s, it->ext, n))) buf_append(&keep, raw, rn);
    }
    if (keep.len) pedit_set(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR), PT_ARR, keep.data, keep.len);
    else pedit_del(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR));
    buf_free(&keep);
    commit(c, row, &e);
    pedit_close(&e);
    return IDO_OK;
}

void identity_apply(identity_ctx *c, const identity_cmd *cmd, uint8_t *outcome) {
    bool enforce = !cmd->legacy;
    for (uint32_t i = 0; i < cmd->n; i++) {
        const identity_item *it = &cmd->items[i];
        int o = IDO_OK;
        switch (cmd->kind) {
        case IDENTITY_ALIAS_NEW: o = alias_new(c, it, enforce); break;
        case IDENTITY_ALIAS_UPDATE: o = alias_update(c, it); break;
        case IDENTITY_IDENTIFY: o = identify(c, it, enforce); break;
        case IDENTITY_DELETE: delete_user(c, it); break;
        case IDENTITY_RENAME: o = rename_id(c, it, enforce); break;
        default: o = remove_id(c, it);
        }
        if (outcome) outcome[i] = (uint8_t)o;
    }
}
