/* journal.h -- SQL for the engine's durable log in brasa.db: the journal of
 * change records, the Currents outbox, interned names and the instance id
 * (sql/002_profiles.sql, sql/006_journal_format.sql), and the count of
 * events recorded by quarter hour (sql/022_event_counts.sql).
 *
 * What a record means is the engine's (engine/records.h); here a journal
 * row is (seq, at, format, kind, bytes). Every function takes the
 * connection to use and returns 0 or BR_ESTORE (BR_ENOTFOUND where said). */
#ifndef BR_STORE_JOURNAL_H
#define BR_STORE_JOURNAL_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

enum { STORE_JOURNAL_V1 = 1, STORE_JOURNAL_V2 = 2 };

/* Appends a row with the engine's seq (never reused: AUTOINCREMENT). */
int store_journal_append(sqlite3 *db, int64_t seq, int64_t at, int format, int kind, const void *p, size_t n);
/* Calls fn for every row after seq `after`, in order; stops at fn's first
 * error and returns it. The bytes are valid during the call only. */
typedef int (*store_journal_fn)(void *arg, int64_t seq, int64_t at, int format, int kind, const void *p, size_t n);
int store_journal_each(sqlite3 *db, int64_t after, store_journal_fn fn, void *arg);
/* The highest seq brasa.db ever gave out, trimmed rows included. */
int store_journal_top(sqlite3 *db, int64_t *top);
/* Deletes up to `limit` rows with seq <= upto; *deleted gets how many. */
int store_journal_trim(sqlite3 *db, int64_t upto, int limit, int *deleted);

/* One outbox row (Currents events, a JSON array) per journal seq. */
int store_outbox_put(sqlite3 *db, int64_t seq, int64_t at, const char *events, size_t n);

/* Custom events and purchases recorded: n more at `at` (ms), in its
 * quarter hour, in the transaction of their outbox row. Quarters older
 * than STORE_EVENT_COUNTS_DAYS go at the same time. */
#define STORE_EVENT_COUNTS_DAYS 8
int store_event_counts_add(sqlite3 *db, int64_t at, int64_t n);
/* The counts of [from, to) (s; multiples of 900) summed by `step` seconds
 * (a multiple of 900): out[i] gets the sum of [from + i*step, from +
 * (i+1)*step), 0 when nothing was recorded; out has (to - from) / step
 * entries. */
int store_event_counts_sum(sqlite3 *db, int64_t from, int64_t to, int64_t step, int64_t *out);

/* Interned names (core/names.h): ids are dense and never reused. */
int store_names_put(sqlite3 *db, uint32_t id, const char *s, size_t n);
int store_names_each(sqlite3 *db, int (*fn)(void *arg, uint32_t id, const char *s, size_t n), void *arg);

/* This store's random instance id (braze ids derive from it), made once. */
int store_instance_id(sqlite3 *db, uint32_t *id);

#endif
