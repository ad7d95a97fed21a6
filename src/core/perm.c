/* perm.c -- permission names and sets (see perm.h). */
#include "perm.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/str.h"

#include <string.h>

static const char *const names[PERM__COUNT] = {
#define XX(id, name) name,
    PERM_MAP(XX)
#undef XX
};

const char *perm_name(perm_id p) { return (unsigned)p < PERM__COUNT ? names[p] : "none"; }

int perm_lookup(const char *name, int len) {
    for (int i = 0; i < PERM__COUNT; i++)
        if ((int)strlen(names[i]) == len && memcmp(names[i], name, (size_t)len) == 0) return i;
    return -1;
}

static bool has(const perm_set *s, perm_id p) { return (unsigned)p < PERM__COUNT && (s->bits[p / 64] >> (p % 64)) & 1; }

bool perm_has(const perm_set *s, perm_id p) {
    return has(s, p) || (p == PERM_BRASA_MARKETING && has(s, PERM_BRASA_KEYS));
}

void perm_add(perm_set *s, perm_id p) { s->bits[p / 64] |= (uint64_t)1 << (p % 64); }

bool perm_is_admin(perm_id p) { return p == PERM_BRASA_KEYS || p == PERM_BRASA_METRICS || p == PERM_BRASA_MARKETING; }

void perm_all(perm_set *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < PERM__COUNT; i++)
        if (!perm_is_admin((perm_id)i)) perm_add(s, (perm_id)i);
}

int perm_parse(const char *list, perm_set *s, char **bad) {
    memset(s, 0, sizeof *s);
    *bad = NULL;
    const char *p;
    size_t len;
    while ((p = str_item(&list, &len))) {
        if (str_ieq(p, len, "all") || str_ieq(p, len, "*")) {
            perm_set all;
            perm_all(&all);
            for (size_t i = 0; i < sizeof s->bits / sizeof s->bits[0]; i++) s->bits[i] |= all.bits[i];
            continue;
        }
        int id = perm_lookup(p, (int)len);
        if (id < 0) {
            *bad = xstrndup(p, len);
            return BR_EINVAL;
        }
        perm_add(s, (perm_id)id);
    }
    return 0;
}

char *perm_format(const perm_set *s) {
    buf_t b = BUF_INIT;
    for (int i = 0; i < PERM__COUNT; i++) {
        if (!has(s, (perm_id)i)) continue;
        if (b.len) buf_append(&b, ",", 1);
        buf_puts(&b, names[i]);
    }
    return buf_take(&b);
}
