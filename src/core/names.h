/* names.h -- interned names: attribute, event, product and alias-label
 * strings become small integer ids.
 *
 * A profile stores "loyalty_tier" once per workspace, not once per user: its
 * fields carry the id. Ids are durable (table `names`) and never reused, so
 * a checkpointed profile means the same after a restart. Owned by the
 * engine thread; no locking. */
#ifndef BR_NAMES_H
#define BR_NAMES_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Ids below NAMES_FIRST are the standard profile fields (profile.h). */
#define NAMES_FIRST 64

typedef struct names names_t;

names_t *names_new(void);
void names_free(names_t *n);
/* Loads every stored name. Returns 0 or BR_ESTORE. */
int names_load(names_t *n, sqlite3 *db);
/* Id of s[0..len), or 0 when unknown. */
uint32_t names_find(const names_t *n, const char *s, size_t len);
/* Id of s, creating it (and inserting it through db, unless db is NULL,
 * as on journal replay where it was stored with the entry). Returns 0 on a
 * storage failure. */
uint32_t names_intern(names_t *n, sqlite3 *db, const char *s, size_t len);
/* The string of an id (NUL-terminated), or NULL. */
const char *names_str(const names_t *n, uint32_t id, size_t *len);
size_t names_memory(const names_t *n);

#endif
