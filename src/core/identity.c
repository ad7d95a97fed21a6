/* identity.c -- aliases, identify (merge), delete, external id rename and
 * remove (see identity.h). */
#include "identity.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void alias_new(identity_ctx *c, const identity_item *it) {
    if (users_by_alias(c->users, it->a, it->an, it->b, it->bn) != USERS_NONE) return; /* the pair is taken */
    uint32_t row;
    if (it->ext) {
        row = users_by_external_id(c->users, it->ext, it->extn);
        /* No such user: the alias is not added anywhere (Braze); one
         * alias per label per user. */
        if (row == USERS_NONE || has_label(users_get(c->users, row)->blob, it->a, it->an)) return;
    } else {
        row = users_create(c->users, (uint32_t)(c->now_ms / 1000));
    }
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    const char *s[2] = {it->a, it->b};
    size_t l[2] = {it->an, it->bn};
    arr_append(&e, pkey(PF_ALIASES, PK_ATTR), s, l, 2);
    commit(c, row, &e);
    pedit_close(&e);
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

static void identify(identity_ctx *c, const identity_item *it) {
    uint32_t row = it->list == IDL_ALIAS ? users_by_alias(c->users, it->a, it->an, it->b, it->bn)
                                         : by_prioritization(c, it);
    if (row != USERS_NONE) identify_row(c, row, it->ext, it->extn, it->list == IDL_ALIAS ? it->a : NULL, it->an);
}

static void delete_user(identity_ctx *c, const identity_item *it) {
    uint32_t row;
    switch (it->list) {
    case IDL_EXTERNAL: row = users_by_external_id(c->users, it->ext, it->extn); break;
    case IDL_BRAZE: row = users_by_braze_id(c->users, it->a, it->an); break;
    case IDL_ALIAS: row = users_by_alias(c->users, it->a, it->an, it->b, it->bn); break;
    default: row = by_prioritization(c, it);
    }
    if (row == USERS_NONE) return;
    users_delete(c->users, row);
    c->touch(c->touch_arg, row);
}

static bool is_primary(users_t *u, uint32_t row, const char *x, size_t xn) {
    pfield f;
    profile_t *p = users_get(u, row);
    return p->blob && profile_get(p->blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f) && f.len == xn && !memcmp(f.p, x, xn);
}

static int rename_id(identity_ctx *c, const identity_item *it) {
    uint32_t row = users_by_external_id(c->users, it->ext, it->extn);
    if (it->extn == it->an && !memcmp(it->ext, it->a, it->an)) return IDO_SAME;
    if (row == USERS_NONE || !is_primary(c->users, row, it->ext, it->extn)) return IDO_NOT_PRIMARY;
    if (users_by_external_id(c->users, it->a, it->an) != USERS_NONE) return IDO_IN_USE;
    pedit e;
    pedit_open(&e, users_get(c->users, row)->blob);
    const char *s[1] = {it->ext};
    size_t l[1] = {it->extn};
    arr_append(&e, pkey(PF_OLD_EXTERNAL_IDS, PK_ATTR), s, l, 1);
    pedit_set(&e, pkey(PF_EXTERNAL_ID, PK_ATTR), PT_STR, it->a, it->an);
    commit(c, row, &e);
    pedit_close(&e);
    return IDO_OK;
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
    for (uint32_t i = 0; i < cmd->n; i++) {
        const identity_item *it = &cmd->items[i];
        int o = IDO_OK;
        switch (cmd->kind) {
        case IDENTITY_ALIAS_NEW: alias_new(c, it); break;
        case IDENTITY_IDENTIFY: identify(c, it); break;
        case IDENTITY_DELETE: delete_user(c, it); break;
        case IDENTITY_RENAME: o = rename_id(c, it); break;
        default: o = remove_id(c, it);
        }
        if (outcome) outcome[i] = (uint8_t)o;
    }
}
