/* limits.c -- counting a profile's lists against their caps (see limits.h). */
#include "limits.h"
#include "attrs.h"

#include <json-c/json.h>

static uint32_t arr_count(uint8_t type, const uint8_t *p, uint32_t len) {
    if (type != PT_ARR) return 0;
    parr_iter it;
    const uint8_t *s;
    size_t n;
    uint32_t c = 0;
    parr_init(&it, p, len);
    while (parr_next(&it, NULL, &s, &n, NULL, NULL)) c++;
    return c;
}

/* Push tokens are a JSON array of objects (what the request sent). */
static uint32_t json_count(uint8_t type, const uint8_t *p, uint32_t len) {
    if (type != PT_JSON) return 0;
    json_object *j = attrs_parse_stored(p, len);
    uint32_t c = json_object_is_type(j, json_type_array) ? (uint32_t)json_object_array_length(j) : 0;
    json_object_put(j);
    return c;
}

static void count_field(uint32_t key, uint8_t type, const uint8_t *p, uint32_t len, limits_counts *c) {
    if (key % 4 != PK_ATTR) return;
    switch (key / 4) {
    case PF_ALIASES: c->aliases = arr_count(type, p, len) / 2; break;
    case PF_DEVICES: c->devices = arr_count(type, p, len); break;
    case PF_OLD_EXTERNAL_IDS: c->old_ids = arr_count(type, p, len); break;
    case PF_PUSH_TOKENS: c->tokens = json_count(type, p, len); break;
    }
}

void limits_count_blob(const uint8_t *blob, limits_counts *c) {
    static const uint32_t lists[] = {PF_ALIASES, PF_DEVICES, PF_PUSH_TOKENS, PF_OLD_EXTERNAL_IDS};
    *c = (limits_counts){0};
    pfield f;
    for (size_t i = 0; blob && i < sizeof lists / sizeof *lists; i++)
        if (profile_get(blob, pkey(lists[i], PK_ATTR), &f)) count_field(f.key, f.type, f.p, f.len, c);
}

void limits_count_edit(const pedit *e, limits_counts *c) {
    static const uint32_t lists[] = {PF_ALIASES, PF_DEVICES, PF_PUSH_TOKENS, PF_OLD_EXTERNAL_IDS};
    *c = (limits_counts){0};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        const pfield *f = pedit_get(e, pkey(lists[i], PK_ATTR));
        if (f) count_field(f->key, f->type, pedit_payload(e, f), f->len, c);
    }
}

static bool grew_past(uint32_t before, uint32_t after, uint32_t cap) { return after > cap && after > before; }

limit_kind limits_check(const limits_counts *before, const limits_counts *after) {
    if (grew_past(before->aliases, after->aliases, LIMIT_ALIASES)) return LIM_ALIASES;
    if (grew_past(before->tokens, after->tokens, LIMIT_PUSH_TOKENS)) return LIM_PUSH_TOKENS;
    if (grew_past(before->devices, after->devices, LIMIT_DEVICES)) return LIM_DEVICES;
    if (grew_past(before->old_ids, after->old_ids, LIMIT_OLD_IDS)) return LIM_OLD_IDS;
    return LIM_OK;
}

uint32_t limits_cap(limit_kind k) {
    switch (k) {
    case LIM_ALIASES: return LIMIT_ALIASES;
    case LIM_DEVICES: return LIMIT_DEVICES;
    case LIM_PUSH_TOKENS: return LIMIT_PUSH_TOKENS;
    case LIM_OLD_IDS: return LIMIT_OLD_IDS;
    default: return 0;
    }
}
