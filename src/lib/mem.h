/* mem.h -- allocation that never returns NULL.
 *
 * Out of memory is not an error brasa can answer meaningfully: like Redis,
 * it prints why and aborts, so callers never carry NULL checks for it.
 * Sizes that come from client input are bounded before they get here. */
#ifndef BR_MEM_H
#define BR_MEM_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Hands memory freed so far back to the system now (after start-up, whose
 * grown-and-replaced arrays the allocator would otherwise keep a while):
 * jemalloc's purge when the binary runs on it, else glibc's malloc_trim. */
void mem_trim(void);

#endif
