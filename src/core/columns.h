/* columns.h -- the profiles' segmentable fields as columns, for the
 * segment evaluator.
 *
 * Answering "tier = gold" by decoding 10 million profile blobs takes
 * seconds; the evaluator instead reads typed arrays indexed by row number,
 * kept here and updated incrementally:
 *
 *   attribute column (one per custom attribute, and for the standard
 *   fields segments filter on): per row the value's type (PT_*, 0 absent),
 *   numbers and times as doubles (ms for times), strings as codes into a
 *   dictionary of the column's distinct values (so contains/regex run once
 *   per distinct value), and while a column has at most
 *   COLS_VALUE_BITMAPS distinct strings, a bitmap of rows per value (an
 *   equality filter is then a bitmap, not a scan). Identifier fields
 *   (external_id, email, phone) keep the type only: presence.
 *
 *   event column (one per custom event name and purchased product, plus
 *   COLS_ANY_PURCHASE for all products together): per row the total
 *   count, first and last time (seconds) and the per-day counts of the
 *   summary's window (profile.h), packed as day << 16 | count in a pool.
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

#define COLS_VALUE_BITMAPS 256 /* distinct strings kept as per-value bitmaps */
#define COLS_ANY_PURCHASE 2u   /* pkey(0, PK_PURCHASE): every product */
#define COLS_DAY(e) ((e) >> 16)
#define COLS_DAY_COUNT(e) ((e) & 0xffffu)

typedef struct {
    uint32_t id;         /* name id */
    bool presence_only;  /* identifier fields: type[] only */
    uint8_t *type;       /* per row: PT_* of the value, 0 = absent */
    double *num;         /* PT_INT / PT_DBL / PT_TIME (ms); NULL until one is seen */
    uint32_t *code;      /* PT_STR: dictionary code, 1-based; NULL until one is seen */
    /* dictionary: code - 1 -> string */
    char **strs;
    uint32_t *lens;
    uint32_t nstr, capstr;
    uint32_t *slots; /* open addressing: code, 0 = empty */
    uint32_t nslots;
    bitmap_t **by_code; /* [code]: rows with that value; NULL once nstr > COLS_VALUE_BITMAPS */
} cols_attr;

typedef struct {
    uint32_t key;        /* pkey(name, PK_EVENT or PK_PURCHASE), or COLS_ANY_PURCHASE */
    uint32_t *count;     /* per row, total (saturating) */
    uint32_t *first_s, *last_s;
    uint32_t *doff;      /* per row: offset of its day entries in pool */
    uint8_t *dlen;       /* per row: how many */
    uint32_t *pool;
    size_t npool, cappool, garbage;
} cols_event;

typedef struct cols cols_t;

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
/* The column of an event / product key, or NULL. */
const cols_event *cols_event_get(const cols_t *c, uint32_t key);
/* Resident bytes (arrays, dictionaries, bitmaps). */
size_t cols_memory(const cols_t *c);

/* Whether the standard field id is indexed (and as presence only). */
bool cols_std_indexed(uint32_t id, bool *presence_only);

#endif
