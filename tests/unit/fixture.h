/* fixture.h -- what unit tests that run a real store share: a temporary
 * data directory, and commands run through the engine as serve runs them
 * (parsed by api/ from JSON, applied by the engine thread, durable when
 * answered). */
#ifndef BR_TEST_FIXTURE_H
#define BR_TEST_FIXTURE_H
#include "api/parse.h"
#include "engine/engine.h"

/* A new empty directory under /tmp (caller passes it to rmdir_r). */
char *tmpdir(void);
/* Removes d and everything under it, and frees d. */
void rmdir_r(char *d);
/* A store in dir with its engine loaded, the writer and the engine thread
 * started, as serve has them; returns 0 or the failing step's rc.
 * fixture_close ends both (no final checkpoint: as after a crash, unless
 * checkpoint). */
int fixture_open(const char *dir, store_t **s, engine_t **e);
void fixture_close(store_t *s, engine_t *e, bool checkpoint);
/* Runs a /users/track body through the engine; returns its rc. */
int fixture_track(engine_t *e, const char *json);
/* Runs an identity body (kind: IDENTITY_*) or a cohort body (kind:
 * ENG_COHORT_NAME / ENG_COHORT_USERS, with "partner" in the body). */
int fixture_identity(engine_t *e, int kind, const char *json);
int fixture_cohort(engine_t *e, eng_kind kind, const char *json, cohort_result *out);

/* The same commands applied directly to bare users/names/cohorts (no store,
 * no engine): for core tests. */
typedef struct {
    users_t *u;
    names_t *n;
    cohorts_t *c;
    buf_t *outbox;       /* identity, merge and cohort commands' Currents events; NULL: none */
    uint64_t event_base; /* their ids' */
} fixture_world;
fixture_world fixture_world_new(void);
void fixture_world_free(fixture_world *w);
/* Returns what the parser decided (the caller puts .errors). */
api_track_result fixture_world_track(fixture_world *w, int64_t now_ms, const char *json);
void fixture_world_identity(fixture_world *w, int64_t now_ms, int kind, const char *json);
/* The same, with each item's outcome (IDO_*) in outcome; returns the
 * parser's rc. */
int fixture_world_identity_out(fixture_world *w, int64_t now_ms, int kind, const char *json, uint8_t *outcome);
/* A /users/merge body, with the Global Control Group gcg (NULL: none);
 * outcome gets each pair's; returns the parser's rc. */
int fixture_world_merge(fixture_world *w, int64_t now_ms, const char *json, const gcg_t *gcg, uint8_t *outcome);
/* Returns the cohort command's rc; *out its result. */
int fixture_world_cohort(fixture_world *w, int64_t now_ms, eng_kind kind, const char *json, cohort_result *out);

/* got (a json_object) equals w (parsed from the text want), or the test
 * fails showing both; w is consumed. */
#define T_JSON_AS(got, w, want)                                                                              \
    do {                                                                                                     \
        json_object *w_ = (w);                                                                               \
        if (!w_) T_FAIL_("bad expected JSON: %s", want);                                                     \
        bool eq_ = json_object_equal((got), w_);                                                             \
        json_object_put(w_);                                                                                 \
        if (!eq_)                                                                                            \
            T_FAIL_("%s:\n      got  %s\n      want %s", #got,                                               \
                    (got) ? json_object_to_json_string_ext((got), JSON_C_TO_STRING_PLAIN) : "(null)", want); \
    } while (0)

#endif
