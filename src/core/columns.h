/* columns.h -- the profiles' segmentable fields as columns, for the
 * segment evaluator.
 *
 * Answering "tier = gold" by decoding 10 million profile blobs takes
 * seconds; the evaluator instead reads typed arrays indexed by row number,
 * kept here and updated incrementally:
 *
 *   attribute column (one per custom attribute, and for the standard
 *   fields segments filter on): per row the value's type (PT_*, 0 absent),
 *   numbers as one-byte codes while the column has few distinct ones
 *   (cols_nums below), else, and times (ms), in num[]: four-byte integers
 *   while every value is one after a decimal scale of at most 10^4 (prices,
 *   scores), doubles otherwise (cols_num reads either), strings as codes into a
 *   dictionary of the column's distinct values (so contains/regex run once
 *   per distinct value; the strings back to back in one pool, and per row
 *   a code one, two or four bytes wide, as wide as the dictionary needs).
 *   A column whose values are nearly all distinct (codes, ids: more than
 *   COLS_DICT_MAX of them, and more than one per two rows) gains nothing
 *   from a dictionary: it becomes "open", keeping per row a 32-bit hash of
 *   its string instead (equality compares hashes, then the profile's
 *   value; other string tests read the profile). While a column has at most COLS_VALUE_BITMAPS
 *   distinct strings, a bitmap of rows per string, and likewise per number
 *   (cols_nums): equality, ranges and "in" are then unions of bitmaps, not
 *   scans. Identifier fields (external_id, email, phone)
 *   keep the type only: presence.
 *
 *   event column (one per custom event name and purchased product, plus
 *   COLS_ANY_PURCHASE for all products together): per row the offset of
 *   its record in a pool, 0 for a user who never performed it (most users,
 *   for most events: they cost those 4 bytes alone); a record is the total
 *   count, first and last time in seconds, and the days of the summary's
 *   window (profile.h) packed day << 16 | count, 12 bytes and none for the
 *   usual single day (COLS_ONE_DAY). Records are appended in
 *   row order and compacted in row order, so a pass over every row reads
 *   the pool in order too.
 *
 *   window counts: "performed E at least N times in the last D days" is
 *   the most common event filter and the costliest to scan (a row's days
 *   are a second cache miss). The first time (E, D) is asked for, each
 *   row's count over the window is computed into a 2-byte array, kept
 *   current by cols_update and recomputed when the day changes; the
 *   COLS_MAX_WINDOWS most recently asked for are kept.
 *
 * The hook: the engine calls cols_update(row) each time a command changed a
 * row (its touch callback, after users_commit/users_delete), and
 * cols_build() once after start-up's load and replay. Nothing else writes
 * here. Owned by the engine thread; no locking. */
#ifndef BR_COLUMNS_H
#define BR_COLUMNS_H
#include "../lib/bitmap.h"
#include "profile.h"
#include "users.h"
#include <stdbool.h>
#include <stdint.h>

#define COLS_VALUE_BITMAPS 256 /* distinct strings (numbers) kept as per-value bitmaps */
#define COLS_DICT_MAX 65536    /* distinct strings a dictionary holds whatever the rows */
#define COLS_MAX_WINDOWS 16    /* (event, days) window counts kept */
#define COLS_ANY_PURCHASE 2u   /* pkey(0, PK_PURCHASE): every product */
#define COLS_DAY(e) ((e) >> 16)
#define COLS_DAY_COUNT(e) ((e) & 0xffffu)

typedef struct {
    uint32_t id;         /* name id */
    bool presence_only;  /* identifier fields: type[] only */
    uint8_t *type;       /* per row: PT_* of the value, 0 = absent */
    void *num;           /* PT_TIME (ms), and PT_INT / PT_DBL without a code in nums: int32_t r standing
                          * for r / 10^num_scale, or double once num_dbl; NULL until needed */
    bool num_dbl;
    uint8_t num_scale;
    void *code;          /* PT_STR: dictionary code, 1-based (cols_code); NULL until one is seen */
    uint8_t code_width;  /* bytes per code: 1, 2 or 4 */
    /* dictionary: code - 1 -> string (cols_str) */
    char *pool;          /* varint(len) bytes, back to back */
    size_t npool, cappool;
    uint32_t *offs;      /* code - 1 -> offset in pool */
    uint32_t nstr, capstr;
    uint32_t *slots; /* open addressing: code, 0 = empty */
    uint32_t nslots;
    bool open;       /* no dictionary: hash[] instead (see above) */
    uint32_t *hash;  /* open: per PT_STR row, cols_str_hash of its value */
    bitmap_t **by_code; /* [code]: rows with that value; NULL once nstr > COLS_VALUE_BITMAPS */
    struct cols_nums *nums; /* NULL until a number is seen, or once there were too many */
    bool many_nums;
} cols_attr;

/* A column's distinct numbers (PT_INT, PT_DBL) while there are at most
 * COLS_NUM_VALUES: code k (1-based) stands for val[k - 1], the k-th
 * smallest, with rows by[k - 1]. A range is then a union of bitmaps, a
 * one-byte lookup per candidate row, or, codes being in value order, one
 * range of codes compared 16 rows at a time over the whole column. A new
 * value renumbers the codes above it: at most COLS_NUM_VALUES passes over
 * the column in its life. */
#define COLS_NUM_VALUES 255
typedef struct cols_nums {
    double val[COLS_NUM_VALUES]; /* ascending */
    bitmap_t *by[COLS_NUM_VALUES];
    uint32_t n;
    uint8_t *code; /* per row: its number's code, 0 = none */
    uint32_t top;  /* rows at and above this have no code yet */
} cols_nums;

typedef struct {
    uint32_t count_nd; /* the total count (cols_ev_count) | day entries that follow << 24 */
    uint32_t first_s, last_s;
    uint32_t day[];    /* days ascending */
} cols_evrec;
/* A count at this saturates: the profile's summary has the exact one. */
#define COLS_COUNT_MAX 0xffffffu
/* In place of the number of entries: one day, last_s's, holding the whole
 * count (the usual record: an event seen on one day), no entry stored. */
#define COLS_ONE_DAY 0xffu

static inline uint32_t cols_ev_count(const cols_evrec *w) { return w->count_nd & COLS_COUNT_MAX; }
/* Day entries stored after the record. */
static inline uint32_t cols_ev_ndays(const cols_evrec *w) {
    return w->count_nd >> 24 == COLS_ONE_DAY ? 0 : w->count_nd >> 24;
}

typedef struct {
    uint32_t key;        /* pkey(name, PK_EVENT or PK_PURCHASE), or COLS_ANY_PURCHASE */
    uint32_t *at;        /* per row: offset of its record in pool, 0 = none */
    uint32_t *pool;      /* records; pool[0] is unused, so offset 0 means none */
    size_t npool, cappool, garbage;
} cols_event;

/* A row's record, or NULL when it never performed the event. */
static inline const cols_evrec *cols_ev_rec(const cols_event *e, uint32_t row) {
    return e->at[row] ? (const cols_evrec *)(e->pool + e->at[row]) : NULL;
}

typedef struct cols cols_t;
typedef struct cols_window cols_window;

cols_t *cols_new(void);
void cols_free(cols_t *c);
/* Indexes every row of u (start-up, after load and replay). */
void cols_build(cols_t *c, users_t *u);
/* Re-reads one row (the engine's hook after a command changed it). */
void cols_update(cols_t *c, users_t *u, uint32_t row);

/* Rows indexed so far (row numbers are below this). */
uint32_t cols_rows(const cols_t *c);
/* Live (not deleted) rows. */
const bitmap_t *cols_live(const cols_t *c);
/* The column of an attribute name id, or NULL when no row ever had it. */
const cols_attr *cols_attr_get(const cols_t *c, uint32_t id);
/* Code of a string in a column's dictionary, or 0 when no row has it. */
uint32_t cols_str_code(const cols_attr *a, const char *s, size_t n);
/* The hash an open column keeps of a string. */
uint32_t cols_str_hash(const char *s, size_t n);
/* The string of a code (1-based) and its length. */
const char *cols_str(const cols_attr *a, uint32_t code, size_t *len);
/* A row's number (PT_INT, PT_DBL, PT_TIME in ms). */
static inline double cols_num(const cols_attr *a, uint32_t row) {
    if (a->nums && a->nums->code[row]) return a->nums->val[a->nums->code[row] - 1];
    if (a->num_dbl) return ((const double *)a->num)[row];
    static const double scale[] = {1, 10, 100, 1000, 10000};
    int32_t r = ((const int32_t *)a->num)[row];
    return a->num_scale ? (double)r / scale[a->num_scale] : (double)r;
}
/* A row's string code (0: none). */
static inline uint32_t cols_code(const cols_attr *a, uint32_t row) {
    switch (a->code_width) {
    case 1: return ((const uint8_t *)a->code)[row];
    case 2: return ((const uint16_t *)a->code)[row];
    default: return ((const uint32_t *)a->code)[row];
    }
}
/* The column of an event / product key, or NULL. */
const cols_event *cols_event_get(const cols_t *c, uint32_t key);
/* The first day of a window of `days` days ending with `today` (days since
 * the epoch); days == 0 is all time. */
uint32_t cols_window_from(uint32_t today, uint32_t days);
/* A row's count of an event over days [from, today]. */
uint64_t cols_event_in_window(const cols_event *e, uint32_t row, uint32_t from, uint32_t today);
/* Every row's count of event `key` in the `days` days ending with today,
 * saturating at 65,535 (read exact counts with cols_event_in_window above
 * that); valid until the next cols_* call. Builds it the first time. */
const uint16_t *cols_window_counts(cols_t *c, uint32_t key, uint32_t days, uint32_t today);
/* Resident bytes (arrays, dictionaries, bitmaps). */
size_t cols_memory(const cols_t *c);

/* Whether the standard field id is indexed (and as presence only). */
bool cols_std_indexed(uint32_t id, bool *presence_only);

#endif
