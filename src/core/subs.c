/* subs.c -- subscription state changes and the kept states of addresses
 * (see subs.h). */
#include "subs.h"
#include "attrs.h"
#include "../lib/hash.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[] = {"subscribed", "unsubscribed", "opted_in"};
static const char *const currents[] = {"Subscribed", "Unsubscribed", "Opted In"};

int subs_state_parse(const char *s, bool group) {
    for (int i = 0; s && i < (group ? 2 : 3); i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

const char *subs_state_name(subs_state s) { return names[s]; }
const char *subs_state_currents(subs_state s) { return currents[s]; }

/* ---- kept states ----------------------------------------------------------- */

/* Open addressing over entry indexes (+1; 0 = empty); entries never leave
 * (a state is replaced, not removed). */
typedef struct {
    char *address;
    uint32_t len;
    uint8_t state;
    bool dirty;
    int64_t at;
} kept_entry;

struct subs_kept {
    kept_entry *v;
    uint32_t n, cap;
    uint32_t *slot, nslot; /* nslot: a power of two */
    uint32_t *dirty, ndirty, capdirty;
};

subs_kept *subs_kept_new(void) { return xcalloc(1, sizeof(subs_kept)); }

void subs_kept_free(subs_kept *k) {
    if (!k) return;
    for (uint32_t i = 0; i < k->n; i++) free(k->v[i].address);
    free(k->v);
    free(k->slot);
    free(k->dirty);
    free(k);
}

size_t subs_kept_count(const subs_kept *k) { return k ? k->n : 0; }

static uint64_t lower_hash(const char *s, size_t n) {
    char buf[321];
    if (n > sizeof buf) n = sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = (char)tolower((unsigned char)s[i]);
    return hash_bytes(buf, n);
}

/* The slot of address: its entry's (value != 0) or the empty one to fill. */
static uint32_t *find_slot(const subs_kept *k, const char *a, size_t n) {
    uint32_t mask = k->nslot - 1;
    for (uint32_t i = (uint32_t)lower_hash(a, n) & mask;; i = (i + 1) & mask) {
        uint32_t *s = &k->slot[i];
        if (!*s) return s;
        const kept_entry *e = &k->v[*s - 1];
        if (e->len == n && !strncasecmp(e->address, a, n)) return s;
    }
}

static void grow(subs_kept *k) {
    free(k->slot);
    k->nslot = k->nslot ? k->nslot * 2 : 64;
    k->slot = xcalloc(k->nslot, sizeof *k->slot);
    for (uint32_t i = 0; i < k->n; i++) *find_slot(k, k->v[i].address, k->v[i].len) = i + 1;
}

void subs_kept_set(subs_kept *k, const char *a, size_t n, subs_state s, int64_t at_ms, bool dirty) {
    if ((k->n + 1) * 4 >= k->nslot * 3) grow(k); /* load below 3/4 */
    uint32_t *slot = find_slot(k, a, n);
    if (!*slot) {
        if (k->n == k->cap) k->v = xrealloc(k->v, (k->cap = k->cap ? k->cap * 2 : 64) * sizeof *k->v);
        kept_entry *e = &k->v[k->n];
        e->address = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++) e->address[i] = (char)tolower((unsigned char)a[i]);
        e->address[n] = '\0';
        e->len = (uint32_t)n;
        e->dirty = false;
        *slot = ++k->n;
    }
    kept_entry *e = &k->v[*slot - 1];
    e->state = (uint8_t)s;
    e->at = at_ms;
    if (dirty && !e->dirty) {
        e->dirty = true;
        if (k->ndirty == k->capdirty) k->dirty = xrealloc(k->dirty, (k->capdirty = k->capdirty ? k->capdirty * 2 : 16) * sizeof *k->dirty);
        k->dirty[k->ndirty++] = *slot - 1;
    }
}

bool subs_kept_get(const subs_kept *k, const char *a, size_t n, subs_state *s) {
    if (!k || !k->n) return false;
    uint32_t *slot = find_slot(k, a, n);
    if (!*slot) return false;
    *s = (subs_state)k->v[*slot - 1].state;
    return true;
}

subs_kept_row *subs_kept_take(subs_kept *k, int *n) {
    *n = 0;
    if (!k || !k->ndirty) return NULL;
    subs_kept_row *rows = xmalloc(k->ndirty * sizeof *rows);
    for (uint32_t i = 0; i < k->ndirty; i++) {
        kept_entry *e = &k->v[k->dirty[i]];
        e->dirty = false;
        rows[i] = (subs_kept_row){xstrdup(e->address), (subs_state)e->state, e->at};
    }
    *n = (int)k->ndirty;
    k->ndirty = 0;
    return rows;
}

void subs_kept_rows_free(subs_kept_row *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].address);
    free(rows);
}

/* ---- events -------------------------------------------------------------- */

static void put_str(buf_t *b, const char *k, const char *v, size_t n) {
    buf_printf(b, ",\"%s\":", k);
    buf_json_str(b, v, n);
}

/* The head of an event for row (an open object: the caller closes it). */
static void event_head(track_ctx *c, uint32_t row, const char *type) {
    buf_t *b = c->outbox;
    char bz[25];
    users_braze_hex(c->users, row, bz);
    if (b->len > 1) buf_append(b, ",", 1);
    /* "-s": apart from /users/track's event ids of the same command */
    buf_printf(b, "{\"id\":\"%016llx-s%04x\",\"event_type\":\"%s\",\"user_id\":\"%s\"", (unsigned long long)c->event_base,
               c->subs_events++, type, bz);
    const uint8_t *blob = users_get(c->users, row)->blob;
    pfield f;
    if (blob && profile_get(blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f)) put_str(b, "external_user_id", (const char *)f.p, f.len);
    if (blob && profile_get(blob, pkey(PF_TIME_ZONE, PK_ATTR), &f)) put_str(b, "timezone", (const char *)f.p, f.len);
    buf_printf(b, ",\"time\":%lld", (long long)(c->now_ms / 1000));
}

static void global_event(track_ctx *c, uint32_t row, subs_state s, const char *source) {
    if (!c->outbox) return;
    event_head(c, row, "users.behaviors.subscription.GlobalStateChange");
    buf_t *b = c->outbox;
    buf_puts(b, ",\"channel\":\"email\"");
    pfield f;
    const uint8_t *blob = users_get(c->users, row)->blob;
    if (blob && profile_get(blob, pkey(PF_EMAIL, PK_ATTR), &f)) {
        put_str(b, "channel_identifier", (const char *)f.p, f.len);
        put_str(b, "email_address", (const char *)f.p, f.len);
    }
    put_str(b, "state_change_source", source, strlen(source));
    put_str(b, "subscription_status", currents[s], strlen(currents[s]));
    buf_append(b, "}", 1);
}

/* ---- global state -------------------------------------------------------- */

static bool email_state_of(const uint8_t *blob, subs_state *s) {
    pfield f;
    if (!blob || !profile_get(blob, pkey(PF_EMAIL_SUBSCRIBE, PK_ATTR), &f) || f.type != PT_STR) return false;
    for (int i = 0; i < 3; i++)
        if (f.len == strlen(names[i]) && !memcmp(f.p, names[i], f.len)) return *s = (subs_state)i, true;
    return false;
}

/* Sets one user's email_subscribe; an event when it changed (a user who
 * had none was "subscribed", Braze's default). */
static void set_one(track_ctx *c, uint32_t row, subs_state s, const char *source) {
    const uint8_t *blob = users_get(c->users, row)->blob;
    subs_state was = SUBS_SUBSCRIBED;
    bool had = email_state_of(blob, &was);
    if (had && was == s) return;
    pedit e;
    pedit_open(&e, blob);
    pedit_set(&e, pkey(PF_EMAIL_SUBSCRIBE, PK_ATTR), PT_STR, names[s], strlen(names[s]));
    users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000)); /* not an identifier: indexes stay */
    pedit_close(&e);
    c->touch(c->touch_arg, row);
    if (was != s) global_event(c, row, s, source);
}

typedef struct {
    uint32_t *rows;
    uint32_t n, cap;
} rows_t;

static void collect(uint32_t row, void *arg) {
    rows_t *r = arg;
    if (r->n == r->cap) r->rows = xrealloc(r->rows, (r->cap = r->cap ? r->cap * 2 : 8) * sizeof *r->rows);
    r->rows[r->n++] = row;
}

/* Every user of address but `skip` (USERS_NONE: none skipped). */
static uint32_t set_address(track_ctx *c, const char *a, size_t n, subs_state s, const char *source, uint32_t skip) {
    rows_t r = {0};
    users_each_email(c->users, a, n, collect, &r); /* collected first: the walk is not edited under */
    for (uint32_t i = 0; i < r.n; i++)
        if (r.rows[i] != skip) set_one(c, r.rows[i], s, source);
    free(r.rows);
    if (c->kept) subs_kept_set(c->kept, a, n, s, c->now_ms, true);
    return r.n;
}

uint32_t subs_set_email(track_ctx *c, const char *a, size_t n, subs_state s, const char *source) {
    return set_address(c, a, n, s, source, USERS_NONE);
}

/* Copies row's email into out (321 bytes); false when it has none. */
static bool email_of(const uint8_t *blob, char out[321], size_t *n) {
    pfield f;
    if (!blob || !profile_get(blob, pkey(PF_EMAIL, PK_ATTR), &f) || !f.len || f.len > 320) return false;
    memcpy(out, f.p, f.len); /* the blob may be replaced while the users are edited */
    out[f.len] = '\0';
    *n = f.len;
    return true;
}

void subs_set_user_email(track_ctx *c, uint32_t row, subs_state s, const char *source) {
    char a[321];
    size_t n;
    if (email_of(users_get(c->users, row)->blob, a, &n)) set_address(c, a, n, s, source, USERS_NONE);
    else set_one(c, row, s, source);
}

void subs_before_of(const uint8_t *blob, subs_before *b) {
    size_t n;
    b->has_email = email_of(blob, b->email, &n);
    b->state = SUBS_SUBSCRIBED;
    email_state_of(blob, &b->state);
}

void subs_after_track(track_ctx *c, uint32_t row, const subs_before *b, const char *email_subscribe) {
    char a[321];
    size_t n;
    bool has = email_of(users_get(c->users, row)->blob, a, &n);
    int s = subs_state_parse(email_subscribe, false);
    if (s >= 0) {
        /* The object set it on its user already (the attribute plan);
         * the event goes out here, with the other users' of the address. */
        if ((b ? b->state : SUBS_SUBSCRIBED) != (subs_state)s) global_event(c, row, (subs_state)s, "REST API");
        if (has) set_address(c, a, n, (subs_state)s, "REST API", row);
        return;
    }
    subs_state kept;
    bool same = b && b->has_email && has && strlen(b->email) == n && !strncasecmp(b->email, a, n);
    if (has && !same && subs_kept_get(c->kept, a, n, &kept)) set_one(c, row, kept, "REST API");
}

/* ---- groups ---------------------------------------------------------------- */

static json_object *groups_of(const uint8_t *p, uint32_t len, bool has) {
    json_object *m = has ? attrs_parse_stored(p, len) : NULL;
    if (json_object_is_type(m, json_type_object)) return m;
    json_object_put(m);
    return json_object_new_object();
}

json_object *subs_group_states(const uint8_t *blob) {
    pfield f;
    bool has = blob && profile_get(blob, pkey(PF_SUBSCRIPTION_GROUPS, PK_ATTR), &f) && f.type == PT_JSON;
    return groups_of(has ? f.p : NULL, has ? f.len : 0, has);
}

int subs_group_state(const uint8_t *blob, const char *group_id, subs_state *s) {
    pfield f;
    bool has = blob && profile_get(blob, pkey(PF_SUBSCRIPTION_GROUPS, PK_ATTR), &f) && f.type == PT_JSON;
    if (!has) return -1;
    json_object *m = groups_of(f.p, f.len, true);
    int st = subs_state_parse(json_object_get_string(json_get(m, group_id)), true);
    json_object_put(m);
    if (st < 0) return -1;
    *s = (subs_state)st;
    return 0;
}

bool subs_set_group(track_ctx *c, uint32_t row, const char *group_id, subs_state s, const char *channel,
                    const char *source) {
    const uint8_t *blob = users_get(c->users, row)->blob;
    subs_state was;
    if (subs_group_state(blob, group_id, &was) == 0 && was == s) return false;
    pedit e;
    pedit_open(&e, blob);
    uint32_t key = pkey(PF_SUBSCRIPTION_GROUPS, PK_ATTR);
    const pfield *f = pedit_get(&e, key);
    json_object *m = groups_of(f ? pedit_payload(&e, f) : NULL, f ? f->len : 0, f && f->type == PT_JSON);
    json_object_object_add(m, group_id, json_object_new_string(names[s]));
    size_t len;
    const char *txt = json_text(m, &len);
    pedit_set(&e, key, PT_JSON, txt, len);
    users_commit(c->users, row, &e, (uint32_t)(c->now_ms / 1000));
    pedit_close(&e);
    json_object_put(m);
    c->touch(c->touch_arg, row);
    if (!c->outbox) return true;
    event_head(c, row, "users.behaviors.subscriptiongroup.StateChange");
    buf_t *b = c->outbox;
    put_str(b, "channel", channel, strlen(channel));
    pfield id;
    const uint8_t *now = users_get(c->users, row)->blob;
    bool sms = !strcmp(channel, "sms");
    if (profile_get(now, pkey(sms ? PF_PHONE : PF_EMAIL, PK_ATTR), &id)) put_str(b, "channel_identifier", (const char *)id.p, id.len);
    if (profile_get(now, pkey(PF_EMAIL, PK_ATTR), &id)) put_str(b, "email_address", (const char *)id.p, id.len);
    if (profile_get(now, pkey(PF_PHONE, PK_ATTR), &id)) put_str(b, "phone_number", (const char *)id.p, id.len);
    put_str(b, "subscription_group_id", group_id, strlen(group_id));
    put_str(b, "subscription_status", currents[s], strlen(currents[s]));
    put_str(b, "state_change_source", source, strlen(source));
    buf_append(b, "}", 1);
    return true;
}

/* ---- the command ------------------------------------------------------------ */

static void apply_row(track_ctx *c, subs_cmd *cmd, uint32_t row) {
    cmd->reached++;
    if (cmd->kind == SUBS_GROUP) subs_set_group(c, row, cmd->group_id, cmd->state, cmd->channel, cmd->source);
    else subs_set_user_email(c, row, cmd->state, cmd->source);
}

static void apply_one(track_ctx *c, subs_cmd *cmd) {
    cmd->reached = 0;
    for (int i = 0; i < cmd->nexternal; i++) {
        uint32_t row = users_by_external_id(c->users, cmd->external_ids[i], strlen(cmd->external_ids[i]));
        if (row != USERS_NONE) apply_row(c, cmd, row);
    }
    for (int i = 0; i < cmd->nbraze; i++) {
        uint32_t row = users_by_braze_id(c->users, cmd->braze_ids[i], strlen(cmd->braze_ids[i]));
        if (row != USERS_NONE) apply_row(c, cmd, row);
    }
    for (int i = 0; i < cmd->nemails; i++) {
        const char *a = cmd->emails[i];
        if (cmd->kind == SUBS_EMAIL) {
            cmd->reached += subs_set_email(c, a, strlen(a), cmd->state, cmd->source);
            continue;
        }
        rows_t r = {0};
        users_each_email(c->users, a, strlen(a), collect, &r);
        for (uint32_t k = 0; k < r.n; k++) apply_row(c, cmd, r.rows[k]);
        free(r.rows);
    }
    for (int i = 0; i < cmd->nphones; i++) {
        rows_t r = {0};
        users_each_phone(c->users, cmd->phones[i], strlen(cmd->phones[i]), collect, &r);
        for (uint32_t k = 0; k < r.n; k++) apply_row(c, cmd, r.rows[k]);
        free(r.rows);
    }
}

void subs_apply(track_ctx *c, subs_cmd *cmd) {
    for (; cmd; cmd = cmd->next) apply_one(c, cmd);
}
