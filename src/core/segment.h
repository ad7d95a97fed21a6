/* segment.h -- segment definitions: check, compile, evaluate, describe.
 *
 * A definition is JSON (docs/segments.md): a tree of {"and": [...]} and
 * {"or": [...]} groups over filters such as
 *   {"type": "custom_attribute", "name": "tier", "op": "equals", "value": "gold"}
 *   {"type": "custom_event", "name": "added_to_cart", "op": "count_ge", "value": 3, "days": 30}
 *   {"type": "cohort", "partner": "heap", "cohort_id": "c1", "op": "includes"}
 *   {"type": "segment", "id": "<uuid>", "op": "in"}
 * seg_compile() checks every filter (type, operator, operand types,
 * regexes, referenced segments and cycles among them) and builds a tree;
 * it needs no profiles, so the CLI can check a definition offline.
 *
 * seg_eval() answers with a bitmap of live rows, reading the columns
 * (core/columns.h), cohort bitmaps and the profiles' summaries; filters
 * that narrow cheaply (bitmaps) run first and the rest only test the rows
 * still in; a scan of many rows is split over the CPUs. seg_match_row() is the reference: it decides one row from its
 * profile blob alone, with no columns; tests check both agree.
 *
 * Engine thread only (it reads the working set). */
#ifndef BR_SEGMENT_H
#define BR_SEGMENT_H
#include "../lib/bitmap.h"
#include "cohort.h"
#include "columns.h"
#include "names.h"
#include "users.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define SEG_MAX_FILTERS 200  /* filters in one definition, nested segments included */
#define SEG_MAX_DEPTH 16     /* nesting of groups and segments */
#define SEG_MAX_VALUES 1000  /* strings in one "in" list */

typedef struct seg_def seg_def;

/* Looks up a segment a definition refers to: its definition (a new
 * reference the compiler puts) and name (malloc'd; may stay NULL). Returns
 * 0, or BR_ENOTFOUND for an unknown or archived id, or another BR_E*. */
typedef int (*seg_resolve_fn)(void *arg, const char *id, json_object **def, char **name);

/* Compiles def. self: the id of the segment being defined (NULL for a new
 * one), so a definition that reaches itself is refused. Returns 0, or
 * BR_EINVAL with a message naming the filter (why), or the resolver's
 * storage error. */
int seg_compile(json_object *def, const char *self, seg_resolve_fn resolve, void *arg, seg_def **out, char *why,
                size_t whylen);
void seg_free(seg_def *d);

/* What a definition is evaluated against. */
typedef struct {
    users_t *users;
    names_t *names;
    cohorts_t *cohorts;
    cols_t *cols;
    int64_t now_ms;
} seg_env;

/* The live rows in the segment (caller frees). */
bitmap_t *seg_eval(const seg_def *d, const seg_env *env);
/* Scans of many rows run on up to `threads` threads (0: one per CPU, the
 * default), each taking at least min_rows rows (0: the default, 65,536). Set once, before any
 * evaluation (tests and benchmarks). */
void seg_set_parallel(unsigned threads, size_t min_rows);
/* Reference evaluator: whether row is in the segment, from its profile. */
bool seg_match_row(const seg_def *d, const seg_env *env, uint32_t row);

/* Why a user is in a segment or not, filter by filter. The top-level
 * filters of d are the members of its root group, or the root alone when
 * it is one filter: seg_top_count() of them. seg_top_match() says whether
 * row passes filter i, by the reference evaluator's rules (a deleted row
 * passes none); seg_top_describe() gives filter i in words, as
 * seg_describe() writes it (caller frees). i in [0, seg_top_count()). */
int seg_top_count(const seg_def *d);
bool seg_top_match(const seg_def *d, const seg_env *env, uint32_t row, int i);
char *seg_top_describe(const seg_def *d, int i);

/* The definition in words, e.g. `custom attribute "tier" equals "gold"
 * AND (country equals "US" OR ...)` (caller frees). */
char *seg_describe(const seg_def *d);

#endif
