/* merge.c -- folding one profile into another, and /users/merge (see merge.h). */
#include "merge.h"
#include "attrs.h"
#include "engage.h"
#include "lifecycle.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdlib.h>
#include <string.h>

void merge_cmd_free(merge_cmd *c) {
    free(c->pairs);
    json_object_put(c->body);
    memset(c, 0, sizeof *c);
}

/* ---- field rules ----------------------------------------------------------- */

/* Drops per-day counts older than the window summaries keep (profile.h):
 * two profiles last updated far apart would otherwise hold more days than
 * a summary has room for. */
static void prune_days(psummary *s, int64_t now_ms) {
    uint32_t today = now_ms < 0 ? 0 : (uint32_t)(now_ms / 86400000);
    uint32_t oldest = today >= SUMMARY_DAYS - 1 ? today - (SUMMARY_DAYS - 1) : 0, keep = 0;
    /* Days after today too (counted under a clock that was ahead): both
     * sides then fit one window, so their union fits days[]. */
    for (uint32_t i = 0; i < s->ndays; i++)
        if (s->days[i].day >= oldest && s->days[i].day <= today) s->days[keep++] = s->days[i];
    s->ndays = keep;
}

/* Events and purchases: counts (and revenue) add up, first is the earlier,
 * last the later, per-day counts add up day by day. */
static void merge_summary(pedit *into, const pfield *theirs, bool purchase, int64_t now_ms) {
    psummary a, b;
    const pfield *mine = pedit_get(into, theirs->key);
    psummary_decode(theirs->p, theirs->len, purchase, &b);
    prune_days(&b, now_ms);
    if (!mine || mine->type != PT_SUMMARY) {
        a = b;
    } else {
        psummary_decode(pedit_payload(into, mine), mine->len, purchase, &a);
        prune_days(&a, now_ms);
        a.count += b.count;
        if (b.first_ms < a.first_ms) a.first_ms = b.first_ms;
        if (b.last_ms > a.last_ms) a.last_ms = b.last_ms;
        a.revenue += b.revenue;
        for (uint32_t i = 0; i < b.ndays; i++) {
            uint32_t j = 0;
            while (j < a.ndays && a.days[j].day < b.days[i].day) j++;
            if (j < a.ndays && a.days[j].day == b.days[i].day) {
                a.days[j].count += b.days[i].count;
            } else { /* both pruned to one window: room for every day */
                memmove(&a.days[j + 1], &a.days[j], (a.ndays - j) * sizeof *a.days);
                a.days[j] = b.days[i];
                a.ndays++;
            }
        }
    }
    buf_t enc = BUF_INIT;
    psummary_encode(&a, purchase, &enc);
    pedit_set(into, theirs->key, PT_SUMMARY, enc.data, enc.len);
    buf_free(&enc);
}

static bool arr_has(const pedit *e, uint32_t key, size_t step, size_t at, const uint8_t *s, size_t n) {
    const pfield *f = pedit_get(e, key);
    if (!f || f->type != PT_ARR) return false;
    parr_iter it;
    const uint8_t *x;
    size_t xn, i = 0;
    parr_init(&it, pedit_payload(e, f), f->len);
    for (; parr_next(&it, NULL, &x, &xn, NULL, NULL); i++)
        if (i % step == at && xn == n && !memcmp(x, s, n)) return true;
    return false;
}

/* Appends to the array at key the raw elements raw[0..len). */
static void arr_append_raw(pedit *e, uint32_t key, const uint8_t *raw, size_t len) {
    const pfield *f = pedit_get(e, key);
    buf_t b = BUF_INIT;
    if (f && f->type == PT_ARR) buf_append(&b, pedit_payload(e, f), f->len);
    buf_append(&b, raw, len);
    pedit_set(e, key, PT_ARR, b.data ? b.data : "", b.len);
    buf_free(&b);
}

/* Devices: theirs that the kept user lacks. */
static void merge_devices(pedit *e, const pfield *theirs) {
    parr_iter it;
    const uint8_t *s, *raw;
    size_t n, rn;
    parr_init(&it, theirs->p, theirs->len);
    while (parr_next(&it, NULL, &s, &n, &raw, &rn))
        if (!arr_has(e, theirs->key, 1, 0, s, n)) arr_append_raw(e, theirs->key, raw, rn);
}

/* Aliases move to the kept user, but a user holds one name per label: an
 * alias whose label the kept user already has goes with the merged user. */
static void merge_aliases(pedit *e, const pfield *theirs) {
    parr_iter it;
    const uint8_t *l, *nm, *raw, *raw2;
    size_t ln, nn, rn, rn2;
    parr_init(&it, theirs->p, theirs->len);
    while (parr_next(&it, NULL, &l, &ln, &raw, &rn) && parr_next(&it, NULL, &nm, &nn, &raw2, &rn2)) {
        if (arr_has(e, theirs->key, 2, 0, l, ln)) continue;
        buf_t pair = BUF_INIT;
        buf_append(&pair, raw, rn);
        buf_append(&pair, raw2, rn2);
        arr_append_raw(e, theirs->key, (const uint8_t *)pair.data, pair.len);
        buf_free(&pair);
    }
}

static void merge_tokens(pedit *e, const pfield *theirs) {
    json_object *t = theirs->type == PT_JSON ? attrs_parse_stored(theirs->p, theirs->len) : NULL;
    if (json_object_is_type(t, json_type_array)) attrs_add_tokens(e, t);
    json_object_put(t);
}

/* Subscription groups: the kept user's state of a group wins; groups only
 * the merged user has join. */
static void merge_groups(pedit *e, const pfield *theirs) {
    const pfield *f = pedit_get(e, theirs->key);
    json_object *mine = f && f->type == PT_JSON ? attrs_parse_stored(pedit_payload(e, f), f->len) : NULL;
    json_object *their = theirs->type == PT_JSON ? attrs_parse_stored(theirs->p, theirs->len) : NULL;
    if (!json_object_is_type(their, json_type_object)) goto out;
    if (!json_object_is_type(mine, json_type_object)) {
        json_object_put(mine);
        mine = json_object_new_object();
    }
    json_object_object_foreach(their, k, v) {
        if (!json_object_object_get_ex(mine, k, NULL)) json_object_object_add(mine, k, json_object_get(v));
    }
    size_t len;
    const char *s = json_object_to_json_string_length(mine, JSON_PLAIN, &len);
    char *copy = xstrndup(s, len);
    pedit_set(e, theirs->key, PT_JSON, copy, len);
    free(copy);
out:
    json_object_put(mine);
    json_object_put(their);
}

/* First session: the earlier; last session: the later. */
static void merge_time(pedit *e, const pfield *theirs, bool earlier) {
    const pfield *f = pedit_get(e, theirs->key);
    if (!f || f->type != PT_TIME || theirs->type != PT_TIME) {
        if (!f) pedit_set(e, theirs->key, theirs->type, theirs->p, theirs->len);
        return;
    }
    int64_t mine = pval_get_int(pedit_payload(e, f), f->len), their = pval_get_int(theirs->p, theirs->len);
    if (earlier ? their < mine : their > mine) pedit_set(e, theirs->key, PT_TIME, theirs->p, theirs->len);
}

limit_kind identity_merge(identity_ctx *c, uint32_t from, uint32_t into, bool enforce) {
    profile_t *pf = users_get(c->users, from);
    const uint8_t *old = users_get(c->users, into)->blob;
    pedit e;
    pedit_open(&e, old);
    piter it;
    pfield f;
    piter_init(&it, pf->blob);
    while (piter_next(&it, &f)) {
        uint32_t id = f.key / 4;
        int kind = (int)(f.key % 4);
        if (kind == PK_EVENT || kind == PK_PURCHASE) {
            if (f.type == PT_SUMMARY) merge_summary(&e, &f, kind == PK_PURCHASE, c->now_ms);
            continue;
        }
        switch (id) {
        case PF_ALIASES: merge_aliases(&e, &f); break;
        case PF_DEVICES: merge_devices(&e, &f); break;
        case PF_PUSH_TOKENS: merge_tokens(&e, &f); break;
        case PF_SUBSCRIPTION_GROUPS: merge_groups(&e, &f); break;
        case PF_ENGAGEMENT: engage_merge(&e, &f); break;
        case PF_FIRST_SESSION: merge_time(&e, &f, true); break;
        case PF_LAST_SESSION: merge_time(&e, &f, false); break;
        case PF_TOTAL_REVENUE: {
            const pfield *mine = pedit_get(&e, f.key);
            double t = pval_get_dbl(f.p) + (mine && mine->type == PT_DBL ? pval_get_dbl(pedit_payload(&e, mine)) : 0);
            pedit_set(&e, f.key, PT_DBL, &t, sizeof t);
            break;
        }
        case PF_EXTERNAL_ID:
        case PF_OLD_EXTERNAL_IDS: break; /* the kept user's identity wins; the merged one's ids go with it */
        default:
            if (!pedit_get(&e, f.key)) pedit_set(&e, f.key, f.type, f.p, f.len); /* only what the kept user lacks */
        }
    }
    if (enforce) {
        limits_counts before, after;
        limits_count_blob(old, &before);
        limits_count_edit(&e, &after);
        limit_kind k = limits_check(&before, &after);
        if (k != LIM_OK) {
            pedit_close(&e);
            return k;
        }
    }
    /* The merged user's aliases must leave the index before the kept user
     * takes them: delete first, then commit the kept user. */
    uint32_t created = pf->created;
    if (c->outbox) life_orphaned(c->outbox, c->users, from, into, c->event_base, c->events++, c->now_ms);
    users_delete(c->users, from);
    c->touch(c->touch_arg, from);
    profile_t *pi = users_get(c->users, into);
    if (created < pi->created) pi->created = created;
    users_commit(c->users, into, &e, (uint32_t)(c->now_ms / 1000));
    c->touch(c->touch_arg, into);
    pedit_close(&e);
    return LIM_OK;
}

/* ---- /users/merge ---------------------------------------------------------- */

static int merge_one(identity_ctx *c, const gcg_t *gcg, const merge_pair *p) {
    uint32_t from = identity_find(c, &p->merge), into = identity_find(c, &p->keep);
    if (from == USERS_NONE) return IDO_MERGE_NONE;
    if (into == USERS_NONE) return IDO_KEEP_NONE;
    if (from == into) return IDO_MERGE_SAME;
    /* Braze never merges Global Control Group users: the merge would move
     * a user in or out of the group. */
    if (gcg_has(gcg, c->users, from) || gcg_has(gcg, c->users, into)) return IDO_MERGE_GCG;
    return identity_outcome_of(identity_merge(c, from, into, true));
}

void merge_apply(identity_ctx *c, const merge_cmd *cmd, uint8_t *outcome) {
    for (uint32_t i = 0; i < cmd->n; i++) {
        int o = merge_one(c, &cmd->gcg, &cmd->pairs[i]);
        if (outcome) outcome[i] = (uint8_t)o;
    }
}
