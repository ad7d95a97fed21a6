/* fixture.h -- what unit tests that run a real store share: a temporary
 * data directory, and commands run through the engine as serve runs them. */
#ifndef BR_TEST_FIXTURE_H
#define BR_TEST_FIXTURE_H
#include "engine/engine.h"

/* A new empty directory under /tmp (caller passes it to rmdir_r). */
char *tmpdir(void);
/* Removes d and everything under it, and frees d. */
void rmdir_r(char *d);
/* A store in dir with its engine loaded and the writer started, as serve
 * has them; returns 0 or the failing step's rc. fixture_close ends both. */
int fixture_open(const char *dir, store_t **s, engine_t **e);
void fixture_close(store_t *s, engine_t *e);
/* Runs a /users/track body as a journaled command; returns its rc. */
int fixture_track(store_t *s, engine_t *e, const char *json);

#endif
