/* arena.c -- the bump allocator behind compiled templates and renders.
 *
 * A render allocates many small strings and arrays that all die together,
 * so a bump allocator with one reset per render replaces malloc/free pairs;
 * a warm renderer keeps its first chunk and allocates nothing. The byte
 * limit is the render's memory budget: past it, allocation returns NULL and
 * the caller fails the render instead of growing without bound. */
#include "internal.h"
#include "../lib/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct liq_chunk {
    liq_chunk *next;
    size_t cap, top;
    _Alignas(16) char data[];
};

void liq_arena_init(liq_arena *a, size_t limit, size_t chunk) {
    a->cur = NULL;
    a->used = 0;
    a->limit = limit;
    a->chunk = chunk < 1024 ? 1024 : chunk;
}

static liq_chunk *new_chunk(size_t need, size_t chunk) {
    size_t cap = need > chunk ? need : chunk;
    liq_chunk *ch = xmalloc(sizeof *ch + cap);
    ch->cap = cap;
    ch->top = 0;
    ch->next = NULL;
    return ch;
}

/* Takes n (rounded) bytes without accounting for them. */
static void *bump(liq_arena *a, size_t n) {
    liq_chunk *ch = a->cur;
    if (!ch || ch->cap - ch->top < n) {
        /* A big request gets its own chunk behind the current one, so the
         * space left in the current chunk is not wasted. */
        liq_chunk *nc = new_chunk(n, a->chunk);
        if (ch && n > a->chunk / 4) {
            nc->next = ch->next;
            ch->next = nc;
            nc->top = n;
            return nc->data;
        }
        nc->next = ch;
        a->cur = ch = nc;
    }
    void *p = ch->data + ch->top;
    ch->top += n;
    return p;
}

static bool charge(liq_arena *a, size_t n) {
    if (a->limit && (n > a->limit || a->used > a->limit - n)) return false;
    a->used += n;
    return true;
}

void *liq_arena_alloc(liq_arena *a, size_t n) {
    if (n > SIZE_MAX / 4) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    return charge(a, n) ? bump(a, n) : NULL;
}

void *liq_arena_grow(liq_arena *a, void *p, size_t old, size_t n) {
    if (n > SIZE_MAX / 4) return NULL;
    size_t o16 = (old + 15) & ~(size_t)15, n16 = (n + 15) & ~(size_t)15;
    if (!p || n16 <= o16) return p ? p : liq_arena_alloc(a, n);
    /* The budget counts the growth only, whether it happens in place or by
     * a copy, so that a render's accounting does not depend on how the
     * renderer's chunks were laid out by earlier renders. */
    if (!charge(a, n16 - o16)) return NULL;
    liq_chunk *ch = a->cur;
    if (ch && (char *)p + o16 == ch->data + ch->top && n16 - o16 <= ch->cap - ch->top) {
        ch->top += n16 - o16;
        return p;
    }
    void *q = bump(a, n16);
    if (old) memcpy(q, p, old);
    return q;
}

char *liq_arena_dup(liq_arena *a, const char *s, size_t n) {
    char *d = liq_arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void liq_arena_reset(liq_arena *a) {
    /* Keep one chunk of at most 16 standard chunks so one huge render does
     * not pin its memory forever. */
    liq_chunk *keep = NULL;
    for (liq_chunk *ch = a->cur, *next; ch; ch = next) {
        next = ch->next;
        if (!keep && ch->cap <= a->chunk * 16) {
            keep = ch;
            continue;
        }
        free(ch);
    }
    if (keep) {
        keep->next = NULL;
        keep->top = 0;
    }
    a->cur = keep;
    a->used = 0;
}

void liq_arena_free(liq_arena *a) {
    for (liq_chunk *ch = a->cur, *next; ch; ch = next) {
        next = ch->next;
        free(ch);
    }
    a->cur = NULL;
    a->used = 0;
}
