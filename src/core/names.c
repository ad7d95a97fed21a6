/* names.c -- interned names (see names.h): a string array indexed by id and
 * an open-addressing hash from string to id. */
#include "names.h"
#include "../lib/err.h"
#include "../lib/hash.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *s;
    uint32_t len;
} name_t;

struct names {
    name_t *v; /* v[id - NAMES_FIRST] */
    uint32_t n, cap;
    uint32_t *slots; /* id or 0 */
    uint32_t nslots; /* power of two */
};

names_t *names_new(void) {
    names_t *n = xcalloc(1, sizeof *n);
    n->nslots = 1024;
    n->slots = xcalloc(n->nslots, sizeof *n->slots);
    return n;
}

void names_free(names_t *n) {
    if (!n) return;
    for (uint32_t i = 0; i < n->n; i++) free(n->v[i].s);
    free(n->v);
    free(n->slots);
    free(n);
}

static uint32_t *slot_for(const names_t *n, const char *s, size_t len) {
    uint32_t mask = n->nslots - 1;
    for (uint32_t i = (uint32_t)hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t id = n->slots[i];
        if (!id) return &n->slots[i];
        const name_t *e = &n->v[id - NAMES_FIRST];
        if (e->len == len && memcmp(e->s, s, len) == 0) return &n->slots[i];
    }
}

static void grow(names_t *n) {
    uint32_t *old = n->slots, oldn = n->nslots;
    n->nslots *= 2;
    n->slots = xcalloc(n->nslots, sizeof *n->slots);
    for (uint32_t i = 0; i < oldn; i++)
        if (old[i]) {
            const name_t *e = &n->v[old[i] - NAMES_FIRST];
            *slot_for(n, e->s, e->len) = old[i];
        }
    free(old);
}

/* Adds s with id in memory (id must be the next one). */
static void add(names_t *n, uint32_t id, const char *s, size_t len) {
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 256;
        n->v = xrealloc(n->v, n->cap * sizeof *n->v);
    }
    n->v[n->n++] = (name_t){xstrndup(s, len), (uint32_t)len};
    if ((n->n + 1) * 4 > n->nslots * 3) grow(n);
    *slot_for(n, s, len) = id;
}

int names_load_one(names_t *n, uint32_t id, const char *s, size_t len) {
    if (id != NAMES_FIRST + n->n || names_find(n, s, len)) {
        log_error("names: id %u out of sequence or repeated", id);
        return BR_ESTORE;
    }
    add(n, id, s, len);
    return 0;
}

uint32_t names_find(const names_t *n, const char *s, size_t len) { return *slot_for(n, s, len); }

uint32_t names_intern(names_t *n, const char *s, size_t len) {
    uint32_t id = names_find(n, s, len);
    if (id) return id;
    id = names_next(n);
    add(n, id, s, len);
    return id;
}

uint32_t names_next(const names_t *n) { return NAMES_FIRST + n->n; }

const char *names_str(const names_t *n, uint32_t id, size_t *len) {
    if (id < NAMES_FIRST || id - NAMES_FIRST >= n->n) return NULL;
    const name_t *e = &n->v[id - NAMES_FIRST];
    if (len) *len = e->len;
    return e->s;
}

size_t names_memory(const names_t *n) {
    size_t m = sizeof *n + n->cap * sizeof *n->v + n->nslots * sizeof *n->slots;
    for (uint32_t i = 0; i < n->n; i++) m += n->v[i].len + 1;
    return m;
}
