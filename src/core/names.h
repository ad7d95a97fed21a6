/* names.h -- interned names: attribute, event, product and alias-label
 * strings become small integer ids.
 *
 * A profile stores "loyalty_tier" once per workspace, not once per user: its
 * fields carry the id. Ids are durable (table `names`) and never reused, so
 * a checkpointed profile means the same after a restart: the engine writes
 * each new name to the names table in the transaction of the batch that
 * made it (names_next() tells which are new). Owned by the engine thread;
 * no locking. */
#ifndef BR_NAMES_H
#define BR_NAMES_H
#include <stddef.h>
#include <stdint.h>

/* Ids below NAMES_FIRST are the standard profile fields (profile.h). */
#define NAMES_FIRST 64

typedef struct names names_t;

names_t *names_new(void);
void names_free(names_t *n);
/* Adds a stored name at start-up; ids must come in order from
 * NAMES_FIRST. Returns 0, or BR_ESTORE for one out of sequence. */
int names_load_one(names_t *n, uint32_t id, const char *s, size_t len);
/* Id of s[0..len), or 0 when unknown. */
uint32_t names_find(const names_t *n, const char *s, size_t len);
/* Id of s, creating it when new. */
uint32_t names_intern(names_t *n, const char *s, size_t len);
/* The id the next new name will get: names from a remembered value up to
 * this one are the new ones. */
uint32_t names_next(const names_t *n);
/* The string of an id (NUL-terminated), or NULL. */
const char *names_str(const names_t *n, uint32_t id, size_t *len);
size_t names_memory(const names_t *n);

#endif
