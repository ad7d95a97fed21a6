/* engage.c -- the per-user engagement-hour histogram (see engage.h). */
#include "engage.h"

#include <string.h>

static const uint32_t KEY = PF_ENGAGEMENT * 4 + PK_ATTR;

static int slot(const uint8_t *h, int i) { return (h[i / 2] >> (i % 2 * 4)) & 15; }
static void set_slot(uint8_t *h, int i, int v) {
    h[i / 2] = (uint8_t)((h[i / 2] & ~(15 << (i % 2 * 4))) | (v << (i % 2 * 4)));
}

/* The histogram of the profile being edited, into h (zeros if none). */
static void load(const pedit *e, uint8_t h[ENGAGE_BYTES]) {
    const pfield *f = pedit_get(e, KEY);
    if (f && f->type == PT_STR && f->len == ENGAGE_BYTES) memcpy(h, pedit_payload(e, f), ENGAGE_BYTES);
    else memset(h, 0, ENGAGE_BYTES);
}

static void bump(uint8_t h[ENGAGE_BYTES], int hour, int n) {
    while (n-- > 0) {
        if (slot(h, hour) == 15)
            for (int i = 0; i < 24; i++) set_slot(h, i, slot(h, i) / 2);
        set_slot(h, hour, slot(h, hour) + 1);
    }
}

void engage_add(pedit *e, int64_t t_ms) {
    uint8_t h[ENGAGE_BYTES];
    load(e, h);
    int64_t s = t_ms / 1000 % 86400;
    bump(h, (int)((s < 0 ? s + 86400 : s) / 3600), 1);
    pedit_set(e, KEY, PT_STR, h, ENGAGE_BYTES);
}

void engage_merge(pedit *e, const pfield *f) {
    if (f->type != PT_STR || f->len != ENGAGE_BYTES) return;
    uint8_t h[ENGAGE_BYTES];
    load(e, h);
    for (int i = 0; i < 24; i++) bump(h, i, slot(f->p, i));
    pedit_set(e, KEY, PT_STR, h, ENGAGE_BYTES);
}

uint32_t engage_sum(const uint8_t *blob, uint32_t hist[24]) {
    pfield f;
    uint32_t w = 0;
    if (!blob || !profile_get(blob, KEY, &f) || f.type != PT_STR || f.len != ENGAGE_BYTES) return 0;
    for (int i = 0; i < 24; i++) {
        hist[i] += (uint32_t)slot(f.p, i);
        w += (uint32_t)slot(f.p, i);
    }
    return w;
}

int engage_best_hour(const uint32_t hist[24], uint32_t min_weight) {
    uint32_t w = 0;
    int best = 0;
    for (int i = 0; i < 24; i++) {
        w += hist[i];
        if (hist[i] > hist[best]) best = i;
    }
    return w && w >= min_weight ? best : -1;
}
