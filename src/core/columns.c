/* columns.c -- per-field columns over profile rows (see columns.h). */
#include "columns.h"
#include "names.h"
#include "../lib/hash.h"
#include "../lib/mem.h"
#include "../lib/varint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cols {
    uint32_t rows, cap;     /* rows indexed; capacity of every per-row array */
    bitmap_t *live;
    cols_attr **attr;       /* by name id */
    uint32_t nattr;         /* slots in attr[] */
    uint32_t *attr_seen;    /* stamp of the last update that saw the column */
    cols_event **ev;        /* by key */
    uint32_t nev;
    uint32_t *ev_seen;
    uint32_t stamp;
    cols_window *win[COLS_MAX_WINDOWS]; /* window counts asked for lately */
    uint32_t nwin;
    uint64_t win_clock;
};

/* "count in the last D days" of one event for every row, as of one day. */
struct cols_window {
    uint32_t key, days, today;
    uint64_t used;  /* win_clock when last asked for */
    uint16_t *cnt;  /* per row, saturating */
};

bool cols_std_indexed(uint32_t id, bool *presence_only) {
    switch (id) {
    case PF_EXTERNAL_ID:
    case PF_EMAIL:
    case PF_PHONE: *presence_only = true; return true;
    case PF_COUNTRY:
    case PF_LANGUAGE:
    case PF_TIME_ZONE:
    case PF_EMAIL_SUBSCRIBE:
    case PF_PUSH_SUBSCRIBE:
    case PF_GENDER:
    case PF_HOME_CITY:
    case PF_DOB:
    case PF_LAST_SESSION: /* last_used_app */
    case PF_TOTAL_REVENUE: *presence_only = false; return true;
    }
    return false;
}

cols_t *cols_new(void) {
    cols_t *c = xcalloc(1, sizeof *c);
    c->live = bitmap_new();
    return c;
}

static void nums_free(cols_attr *a) {
    if (!a->nums) return;
    for (uint32_t i = 0; i < a->nums->n; i++) bitmap_free(a->nums->by[i]);
    free(a->nums->code);
    free(a->nums);
    a->nums = NULL;
}

/* Frees a string column's dictionary: codes, strings, slots and bitmaps. */
static void dict_free(cols_attr *a) {
    free(a->code);
    free(a->pool);
    free(a->offs);
    free(a->slots);
    if (a->by_code)
        for (uint32_t i = 0; i <= a->nstr; i++) bitmap_free(a->by_code[i]);
    free(a->by_code);
    a->code = a->pool = NULL;
    a->offs = a->slots = NULL;
    a->by_code = NULL;
    a->npool = a->cappool = 0;
    a->nstr = a->capstr = a->nslots = 0;
}

static void attr_free(cols_attr *a) {
    if (!a) return;
    free(a->type);
    free(a->num);
    free(a->hash);
    dict_free(a);
    nums_free(a);
    free(a);
}

static void ev_free(cols_event *e) {
    if (!e) return;
    free(e->at);
    free(e->pool);
    free(e);
}

void cols_free(cols_t *c) {
    if (!c) return;
    for (uint32_t i = 0; i < c->nattr; i++) attr_free(c->attr[i]);
    for (uint32_t i = 0; i < c->nev; i++) ev_free(c->ev[i]);
    free(c->attr);
    free(c->attr_seen);
    free(c->ev);
    free(c->ev_seen);
    for (uint32_t i = 0; i < c->nwin; i++) {
        free(c->win[i]->cnt);
        free(c->win[i]);
    }
    bitmap_free(c->live);
    free(c);
}

uint32_t cols_rows(const cols_t *c) { return c->rows; }
const bitmap_t *cols_live(const cols_t *c) { return c->live; }
const cols_attr *cols_attr_get(const cols_t *c, uint32_t id) { return id < c->nattr ? c->attr[id] : NULL; }
const cols_event *cols_event_get(const cols_t *c, uint32_t key) { return key < c->nev ? c->ev[key] : NULL; }

/* ---- growth -------------------------------------------------------------- */

static void *grow(void *p, size_t elem, uint32_t old, uint32_t cap) {
    if (!p) return NULL;
    p = xrealloc(p, elem * cap);
    memset((char *)p + elem * old, 0, elem * (cap - old));
    return p;
}

static void attr_grow(cols_attr *a, uint32_t old, uint32_t cap) {
    a->type = grow(a->type, 1, old, cap);
    a->num = grow(a->num, a->num_dbl ? sizeof(double) : sizeof(int32_t), old, cap);
    a->code = grow(a->code, a->code_width, old, cap);
    a->hash = grow(a->hash, sizeof *a->hash, old, cap);
    if (a->nums) a->nums->code = grow(a->nums->code, 1, old, cap);
}

static void ev_grow(cols_event *e, uint32_t old, uint32_t cap) { e->at = grow(e->at, sizeof *e->at, old, cap); }

static void ensure_rows(cols_t *c, uint32_t n) {
    if (n > c->rows) c->rows = n;
    if (n <= c->cap) return;
    uint32_t old = c->cap, cap = old ? old : 1024;
    while (cap < n) cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    for (uint32_t i = 0; i < c->nattr; i++)
        if (c->attr[i]) attr_grow(c->attr[i], old, cap);
    for (uint32_t i = 0; i < c->nev; i++)
        if (c->ev[i]) ev_grow(c->ev[i], old, cap);
    for (uint32_t i = 0; i < c->nwin; i++) c->win[i]->cnt = grow(c->win[i]->cnt, 2, old, cap);
    c->cap = cap;
}

static cols_attr *attr_col(cols_t *c, uint32_t id, bool presence_only) {
    if (id >= c->nattr) {
        uint32_t n = c->nattr ? c->nattr : 64;
        while (n <= id) n *= 2;
        c->attr = grow(c->attr ? c->attr : xcalloc(1, sizeof *c->attr), sizeof *c->attr, c->nattr ? c->nattr : 1, n);
        c->attr_seen = grow(c->attr_seen ? c->attr_seen : xcalloc(1, 4), 4, c->nattr ? c->nattr : 1, n);
        c->nattr = n;
    }
    if (!c->attr[id]) {
        cols_attr *a = xcalloc(1, sizeof *a);
        a->id = id;
        a->presence_only = presence_only;
        a->type = xcalloc(c->cap ? c->cap : 1, 1);
        if (!presence_only) {
            a->by_code = xcalloc(1, sizeof *a->by_code);
        }
        c->attr[id] = a;
    }
    return c->attr[id];
}

static cols_event *ev_col(cols_t *c, uint32_t key) {
    if (key >= c->nev) {
        uint32_t n = c->nev ? c->nev : 256;
        while (n <= key) n *= 2;
        c->ev = grow(c->ev ? c->ev : xcalloc(1, sizeof *c->ev), sizeof *c->ev, c->nev ? c->nev : 1, n);
        c->ev_seen = grow(c->ev_seen ? c->ev_seen : xcalloc(1, 4), 4, c->nev ? c->nev : 1, n);
        c->nev = n;
    }
    if (!c->ev[key]) {
        cols_event *e = xcalloc(1, sizeof *e);
        e->key = key;
        e->at = xcalloc(c->cap ? c->cap : 1, sizeof *e->at);
        e->cappool = 64;
        e->pool = xcalloc(e->cappool, sizeof *e->pool);
        e->npool = 1; /* offset 0 means none */
        c->ev[key] = e;
    }
    return c->ev[key];
}

/* ---- dictionary ---------------------------------------------------------- */

static uint64_t str_hash(const char *s, size_t n) { return hash_bytes(s, n); }

uint32_t cols_str_hash(const char *s, size_t n) { return (uint32_t)(hash_bytes(s, n) >> 32); }

const char *cols_str(const cols_attr *a, uint32_t code, size_t *len) {
    const uint8_t *p = (const uint8_t *)a->pool + a->offs[code - 1];
    uint64_t n = 0;
    varint_get(&p, p + VARINT_MAX, &n);
    *len = (size_t)n;
    return (const char *)p;
}

uint32_t cols_str_code(const cols_attr *a, const char *s, size_t n) {
    if (!a || !a->nslots) return 0;
    uint32_t mask = a->nslots - 1;
    for (uint32_t i = (uint32_t)str_hash(s, n) & mask;; i = (i + 1) & mask) {
        uint32_t code = a->slots[i];
        if (!code) return 0;
        size_t len;
        const char *t = cols_str(a, code, &len);
        if (len == n && memcmp(t, s, n) == 0) return code;
    }
}

static void slot_put(cols_attr *a, uint32_t code) {
    uint32_t mask = a->nslots - 1;
    size_t len;
    const char *s = cols_str(a, code, &len);
    uint32_t i = (uint32_t)str_hash(s, len) & mask;
    while (a->slots[i]) i = (i + 1) & mask;
    a->slots[i] = code;
}

/* Turns a column whose values are nearly all distinct into an open one:
 * each row's hash instead of the dictionary, its codes and bitmaps. */
static void open_column(cols_t *c, cols_attr *a) {
    a->hash = xcalloc(c->cap ? c->cap : 1, sizeof *a->hash);
    for (uint32_t r = 0; r < c->rows; r++)
        if (a->type[r] == PT_STR) {
            size_t len;
            const char *s = cols_str(a, cols_code(a, r), &len);
            a->hash[r] = cols_str_hash(s, len);
        }
    dict_free(a);
    a->open = true;
}

/* Widens the per-row codes when the dictionary outgrows them. */
static void code_widen(cols_attr *a, uint32_t cap, uint8_t width) {
    void *wide = xcalloc(cap ? cap : 1, width);
    for (uint32_t r = 0; r < cap; r++) {
        uint32_t v = cols_code(a, r);
        if (width == 2) ((uint16_t *)wide)[r] = (uint16_t)v;
        else ((uint32_t *)wide)[r] = v;
    }
    free(a->code);
    a->code = wide;
    a->code_width = width;
}

static void code_put(cols_attr *a, uint32_t row, uint32_t v) {
    switch (a->code_width) {
    case 1: ((uint8_t *)a->code)[row] = (uint8_t)v; break;
    case 2: ((uint16_t *)a->code)[row] = (uint16_t)v; break;
    default: ((uint32_t *)a->code)[row] = v;
    }
}

static uint32_t intern(cols_t *c, cols_attr *a, const char *s, size_t n) {
    uint32_t code = cols_str_code(a, s, n);
    if (code) return code;
    if (a->nstr == a->capstr) {
        a->capstr = a->capstr ? a->capstr * 2 : 16;
        a->offs = xrealloc(a->offs, a->capstr * sizeof *a->offs);
    }
    if (a->npool + VARINT_MAX + n > a->cappool) {
        a->cappool = (a->npool + VARINT_MAX + n) * 2;
        a->pool = xrealloc(a->pool, a->cappool);
    }
    a->offs[a->nstr] = (uint32_t)a->npool;
    a->npool += varint_put((uint8_t *)a->pool + a->npool, n);
    memcpy(a->pool + a->npool, s, n);
    a->npool += n;
    code = ++a->nstr;
    if (code > 0xff && a->code_width == 1) code_widen(a, c->cap, 2);
    if (code > 0xffff && a->code_width == 2) code_widen(a, c->cap, 4);
    if ((uint64_t)a->nstr * 2 > a->nslots) {
        free(a->slots);
        a->nslots = a->nslots ? a->nslots * 2 : 32;
        a->slots = xcalloc(a->nslots, sizeof *a->slots);
        for (uint32_t k = 1; k <= a->nstr; k++) slot_put(a, k);
    } else slot_put(a, code);
    if (a->by_code) {
        if (a->nstr > COLS_VALUE_BITMAPS) {
            /* Too many distinct values for a bitmap each: scans of code[] instead. */
            for (uint32_t k = 0; k < a->nstr; k++) bitmap_free(a->by_code[k]);
            free(a->by_code);
            a->by_code = NULL;
        } else {
            a->by_code = xrealloc(a->by_code, (a->nstr + 1) * sizeof *a->by_code);
            a->by_code[code] = bitmap_new();
        }
    }
    return code;
}

/* ---- numbers' bitmaps ---------------------------------------------------- */

/* Position in val[] of the first value >= v. */
static uint32_t num_find(const cols_nums *m, double v) {
    uint32_t lo = 0, hi = m->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (m->val[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void num_put(cols_t *c, cols_attr *a, uint32_t row, double v);

/* Keeps v as row's code; false when the column has (now) too many
 * distinct numbers for codes: they are then in num[]. */
static bool num_add(cols_t *c, cols_attr *a, uint32_t row, double v) {
    if (a->many_nums) return false;
    if (!a->nums) {
        a->nums = xcalloc(1, sizeof *a->nums);
        a->nums->code = xcalloc(c->cap, 1);
    }
    cols_nums *m = a->nums;
    uint32_t i = num_find(m, v);
    if (i == m->n || m->val[i] != v) {
        if (m->n == COLS_NUM_VALUES || isnan(v)) {
            /* Too many distinct numbers (or an unordered one): every row's
             * number moves to num[], for scans. */
            a->many_nums = true;
            cols_nums *old = a->nums;
            a->nums = NULL;
            for (uint32_t r = 0; r < old->top; r++)
                if (old->code[r]) num_put(c, a, r, old->val[old->code[r] - 1]);
            a->nums = old;
            nums_free(a);
            return false;
        }
        memmove(m->val + i + 1, m->val + i, (m->n - i) * sizeof *m->val);
        memmove(m->by + i + 1, m->by + i, (m->n - i) * sizeof *m->by);
        m->val[i] = v;
        m->by[i] = bitmap_new();
        m->n++;
        /* Codes above the new one move up (a loop the compiler vectorises). */
        if (i + 1 < m->n)
            for (uint32_t r = 0; r < m->top; r++) m->code[r] += m->code[r] > i;
    }
    m->code[row] = (uint8_t)(i + 1);
    if (row >= m->top) m->top = row + 1;
    bitmap_add(m->by[i], row);
    return true;
}

/* A value whose last row left keeps its code and (empty) bitmap: values
 * come and go, and an empty set costs a few bytes. */
static void num_remove(cols_attr *a, uint32_t row) {
    cols_nums *m = a->nums;
    if (!m || !m->code[row]) return;
    bitmap_remove(m->by[m->code[row] - 1], row);
    m->code[row] = 0;
}

/* ---- per-row values ------------------------------------------------------ */

static void attr_clear(cols_attr *a, uint32_t row) {
    uint8_t t = a->type[row];
    if (t == PT_STR && a->by_code && a->code) bitmap_remove(a->by_code[cols_code(a, row)], row);
    else if (t == PT_INT || t == PT_DBL) num_remove(a, row);
    a->type[row] = 0;
}

/* ---- numbers in num[] ---------------------------------------------------- */

static const double pow10s[] = {1, 10, 100, 1000, 10000};
#define NUM_SCALE_MAX 4

/* The smallest decimal scale k at which v is an int32 r with r / 10^k == v
 * exactly (so r gives v back), or -1. */
static int num_scale_of(double v) {
    if (v == 0 && signbit(v)) return -1;
    for (int k = 0; k <= NUM_SCALE_MAX; k++) {
        double s = v * pow10s[k];
        if (!(s >= INT32_MIN && s <= INT32_MAX)) return -1; /* NaN too */
        double r = (double)(int64_t)(s < 0 ? s - 0.5 : s + 0.5);
        if ((k ? r / pow10s[k] : r) == v) return k;
    }
    return -1;
}

/* num[] at decimal scale k (> num_scale) if every row's value fits, else
 * as doubles (k < 0). */
static void num_widen(cols_t *c, cols_attr *a, int k) {
    int32_t *old = a->num;
    if (k > 0) {
        int64_t f = (int64_t)pow10s[k - a->num_scale];
        bool fits = true;
        for (uint32_t r = 0; r < c->rows && fits; r++) fits = old[r] * f >= INT32_MIN && old[r] * f <= INT32_MAX;
        if (fits) {
            for (uint32_t r = 0; r < c->rows; r++) old[r] = (int32_t)(old[r] * f);
            a->num_scale = (uint8_t)k;
            return;
        }
    }
    double *wide = xcalloc(c->cap ? c->cap : 1, sizeof *wide);
    for (uint32_t r = 0; r < c->rows; r++) wide[r] = old[r] / pow10s[a->num_scale];
    free(old);
    a->num = wide;
    a->num_dbl = true;
}

/* Stores a row's number in num[]. */
static void num_put(cols_t *c, cols_attr *a, uint32_t row, double v) {
    int k = num_scale_of(v);
    if (!a->num) {
        a->num_dbl = k < 0;
        a->num_scale = k < 0 ? 0 : (uint8_t)k;
        a->num = xcalloc(c->cap ? c->cap : 1, a->num_dbl ? sizeof(double) : sizeof(int32_t));
    } else if (!a->num_dbl) {
        /* A finer scale, no scale at all, or too big at the column's scale. */
        double x = v * pow10s[a->num_scale];
        if (k < 0 || k > a->num_scale || !(x >= INT32_MIN && x <= INT32_MAX)) num_widen(c, a, k > a->num_scale ? k : -1);
    }
    if (a->num_dbl) ((double *)a->num)[row] = v;
    else {
        double x = v * pow10s[a->num_scale];
        ((int32_t *)a->num)[row] = (int32_t)(x < 0 ? x - 0.5 : x + 0.5);
    }
}

static void attr_set(cols_t *c, cols_attr *a, uint32_t row, const pfield *f) {
    attr_clear(a, row);
    a->type[row] = f->type;
    if (a->presence_only) return;
    if (f->type == PT_STR && a->open) {
        a->hash[row] = cols_str_hash((const char *)f->p, f->len);
    } else if (f->type == PT_STR) {
        if (!a->code) {
            a->code_width = 1;
            a->code = xcalloc(c->cap, 1);
        }
        uint32_t code = intern(c, a, (const char *)f->p, f->len);
        code_put(a, row, code);
        if (a->by_code) bitmap_add(a->by_code[code], row);
        if (a->nstr > COLS_DICT_MAX && a->nstr > c->rows / 2) open_column(c, a);
    } else if (f->type == PT_INT || f->type == PT_TIME || f->type == PT_DBL) {
        double v = f->type == PT_DBL ? pval_get_dbl(f->p) : (double)pval_get_int(f->p, f->len);
        if (f->type == PT_TIME || !num_add(c, a, row, v)) num_put(c, a, row, v);
    }
}

#define EV_REC_WORDS 3 /* a record's words before its days */

static uint32_t rec_words(const cols_event *e, uint32_t at) {
    return EV_REC_WORDS + cols_ev_ndays((const cols_evrec *)(e->pool + at));
}

/* Rewrites the pool with the live records only, in row order. */
static void ev_compact(cols_event *e, uint32_t rows) {
    size_t cap = e->npool - e->garbage;
    uint32_t *pool = xmalloc(cap * sizeof *pool);
    size_t n = 1;
    pool[0] = 0;
    for (uint32_t r = 0; r < rows; r++) {
        if (!e->at[r]) continue;
        uint32_t len = rec_words(e, e->at[r]);
        memcpy(pool + n, e->pool + e->at[r], len * sizeof *pool);
        e->at[r] = (uint32_t)n;
        n += len;
    }
    free(e->pool);
    e->pool = pool;
    e->npool = n;
    e->cappool = cap;
    e->garbage = 0;
}

static uint32_t day_entry(uint32_t day, uint32_t count) {
    return (day > 0xffff ? 0xffffu : day) << 16 | (count > 0xffff ? 0xffffu : count);
}

static void ev_clear(cols_event *e, uint32_t row) {
    if (e->at[row]) e->garbage += rec_words(e, e->at[row]);
    e->at[row] = 0;
}

static uint32_t secs(int64_t ms) { return ms <= 0 ? 0 : ms / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ms / 1000); }

static void ev_set(cols_t *c, cols_event *e, uint32_t row, const psummary *s) {
    uint32_t count = s->count > COLS_COUNT_MAX ? COLS_COUNT_MAX : (uint32_t)s->count, last_s = secs(s->last_ms);
    bool one = s->ndays == 1 && count < COLS_COUNT_MAX && s->days[0].day == last_s / 86400 && s->days[0].count == count;
    uint32_t nd = one ? 0 : s->ndays, need = EV_REC_WORDS + nd, at = e->at[row];
    if (at && rec_words(e, at) >= need) {
        e->garbage += rec_words(e, at) - need; /* shrinks in place */
    } else {
        ev_clear(e, row);
        if (e->npool + need > e->cappool) {
            e->cappool = (e->npool + need) * 3 / 2;
            e->pool = xrealloc(e->pool, e->cappool * sizeof *e->pool);
        }
        at = e->at[row] = (uint32_t)e->npool;
        e->npool += need;
    }
    cols_evrec *w = (cols_evrec *)(e->pool + at);
    w->count_nd = count | (one ? COLS_ONE_DAY : nd) << 24;
    w->first_s = secs(s->first_ms);
    w->last_s = last_s;
    for (uint32_t i = 0; i < nd; i++) w->day[i] = day_entry(s->days[i].day, s->days[i].count);
    if (e->garbage > (1u << 20) && e->garbage * 2 > e->npool) ev_compact(e, c->rows);
}

/* ---- windows ------------------------------------------------------------- */

uint32_t cols_window_from(uint32_t today, uint32_t days) {
    return days && today + 1 >= days ? today + 1 - days : 0;
}

uint64_t cols_event_in_window(const cols_event *e, uint32_t row, uint32_t from, uint32_t today) {
    const cols_evrec *w = cols_ev_rec(e, row);
    if (w && w->count_nd >> 24 == COLS_ONE_DAY) {
        uint32_t day = w->last_s / 86400;
        return day >= from && day <= today ? cols_ev_count(w) : 0;
    }
    uint64_t n = 0;
    for (uint32_t i = w ? cols_ev_ndays(w) : 0; i >= 1; i--) {
        uint32_t day = COLS_DAY(w->day[i - 1]);
        if (day < from) break;
        if (day <= today) n += COLS_DAY_COUNT(w->day[i - 1]);
    }
    return n;
}

static void win_fill(const cols_t *c, cols_window *w, uint32_t row) {
    const cols_event *e = w->key < c->nev ? c->ev[w->key] : NULL;
    uint64_t n = e ? cols_event_in_window(e, row, cols_window_from(w->today, w->days), w->today) : 0;
    w->cnt[row] = n > 0xffff ? 0xffff : (uint16_t)n;
}

const uint16_t *cols_window_counts(cols_t *c, uint32_t key, uint32_t days, uint32_t today) {
    cols_window *w = NULL;
    for (uint32_t i = 0; i < c->nwin; i++)
        if (c->win[i]->key == key && c->win[i]->days == days) w = c->win[i];
    if (!w) {
        if (c->nwin < COLS_MAX_WINDOWS) {
            w = c->win[c->nwin++] = xcalloc(1, sizeof *w);
            w->cnt = xcalloc(c->cap ? c->cap : 1, 2);
        } else { /* the least recently asked for makes room */
            w = c->win[0];
            for (uint32_t i = 1; i < c->nwin; i++)
                if (c->win[i]->used < w->used) w = c->win[i];
        }
        w->key = key;
        w->days = days;
        w->today = UINT32_MAX; /* filled below */
    }
    w->used = ++c->win_clock;
    if (w->today != today) { /* new, or a day has passed: recount every row */
        w->today = today;
        for (uint32_t r = 0; r < c->rows; r++) win_fill(c, w, r);
    }
    return w->cnt;
}

/* Adds one product's summary into the all-products one. */
static void merge_any(psummary *agg, const psummary *s) {
    if (!agg->count || (s->first_ms && s->first_ms < agg->first_ms)) agg->first_ms = s->first_ms;
    if (s->last_ms > agg->last_ms) agg->last_ms = s->last_ms;
    agg->count += s->count;
    for (uint32_t i = 0; i < s->ndays; i++) {
        uint32_t k = 0;
        while (k < agg->ndays && agg->days[k].day != s->days[i].day) k++;
        if (k == agg->ndays) {
            if (agg->ndays == sizeof agg->days / sizeof *agg->days) continue;
            agg->days[agg->ndays].day = s->days[i].day;
            agg->days[agg->ndays++].count = 0;
        }
        agg->days[k].count += s->days[i].count;
    }
}

static int day_cmp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void cols_update(cols_t *c, users_t *u, uint32_t row) {
    ensure_rows(c, row + 1);
    profile_t *p = users_get(u, row);
    uint32_t stamp = ++c->stamp;
    bool live = p && !(p->flags & PROFILE_DELETED);
    if (live) bitmap_add(c->live, row);
    else bitmap_remove(c->live, row);
    psummary s, any = {0};
    bool purchases = false;
    if (live && p->blob) {
        piter it;
        pfield f;
        piter_init(&it, p->blob);
        while (piter_next(&it, &f)) {
            uint32_t id = f.key >> 2, kind = f.key & 3;
            if (kind == PK_ATTR) {
                bool pres = false;
                if (id < NAMES_FIRST && !cols_std_indexed(id, &pres)) continue;
                cols_attr *a = attr_col(c, id, pres);
                attr_set(c, a, row, &f);
                c->attr_seen[id] = stamp;
            } else if ((kind == PK_EVENT || kind == PK_PURCHASE) && f.type == PT_SUMMARY) {
                psummary_decode(f.p, f.len, kind == PK_PURCHASE, &s);
                cols_event *e = ev_col(c, f.key);
                ev_set(c, e, row, &s);
                c->ev_seen[f.key] = stamp;
                if (kind == PK_PURCHASE) {
                    merge_any(&any, &s);
                    purchases = true;
                }
            }
        }
    }
    if (purchases) {
        qsort(any.days, any.ndays, sizeof *any.days, day_cmp);
        cols_event *e = ev_col(c, COLS_ANY_PURCHASE);
        ev_set(c, e, row, &any);
        c->ev_seen[COLS_ANY_PURCHASE] = stamp;
    }
    /* Columns this row no longer has a value in. */
    for (uint32_t i = 0; i < c->nattr; i++)
        if (c->attr[i] && c->attr_seen[i] != stamp && c->attr[i]->type[row]) attr_clear(c->attr[i], row);
    for (uint32_t i = 0; i < c->nev; i++)
        if (c->ev[i] && c->ev_seen[i] != stamp && c->ev[i]->at[row]) ev_clear(c->ev[i], row);
    for (uint32_t i = 0; i < c->nwin; i++) win_fill(c, c->win[i], row);
}

void cols_build(cols_t *c, users_t *u) {
    uint32_t n = users_rows(u);
    ensure_rows(c, n);
    for (uint32_t r = 0; r < n; r++) cols_update(c, u, r);
    /* The pools grew by half each time: give back what they did not use. */
    for (uint32_t i = 0; i < c->nev; i++) {
        cols_event *e = c->ev[i];
        if (!e || e->cappool == e->npool) continue;
        e->pool = xrealloc(e->pool, e->npool * sizeof *e->pool);
        e->cappool = e->npool;
    }
}

size_t cols_memory(const cols_t *c) {
    size_t m = sizeof *c + bitmap_memory(c->live) + (size_t)c->nattr * 12 + (size_t)c->nev * 12;
    for (uint32_t i = 0; i < c->nattr; i++) {
        const cols_attr *a = c->attr[i];
        if (!a) continue;
        m += sizeof *a + c->cap + (a->num ? (size_t)c->cap * (a->num_dbl ? 8 : 4) : 0) +
             (a->code ? (size_t)c->cap * a->code_width : 0) + (a->hash ? (size_t)c->cap * 4 : 0);
        m += (size_t)a->capstr * 4 + a->cappool + (size_t)a->nslots * 4;
        if (a->by_code)
            for (uint32_t k = 1; k <= a->nstr; k++) m += bitmap_memory(a->by_code[k]);
        if (a->nums) {
            m += sizeof *a->nums + c->cap;
            for (uint32_t k = 0; k < a->nums->n; k++) m += bitmap_memory(a->nums->by[k]);
        }
    }
    for (uint32_t i = 0; i < c->nev; i++) {
        const cols_event *e = c->ev[i];
        if (e) m += sizeof *e + (size_t)c->cap * sizeof *e->at + e->cappool * sizeof *e->pool;
    }
    for (uint32_t i = 0; i < c->nwin; i++) m += sizeof *c->win[i] + (size_t)c->cap * 2;
    return m;
}
