/* fixture.c -- shared set-up for unit tests that use a store (fixture.h). */
#define _GNU_SOURCE
#include "fixture.h"
#include "api/api.h"
#include "lib/err.h"
#include "lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tmpdir(void) {
    char *d = strdup("/tmp/brasa-unit-XXXXXX");
    return mkdtemp(d);
}

void rmdir_r(char *d) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) printf("    could not remove %s\n", d);
    free(d);
}

int fixture_open(const char *dir, store_t **s, engine_t **e) {
    api_legacy_register();
    int rc = store_open(dir, s);
    if (rc < 0) return rc;
    if ((rc = engine_open(*s, e)) < 0) {
        store_close(*s);
        return rc;
    }
    if ((rc = store_start(*s)) < 0 || (rc = engine_start(*e)) < 0) fixture_close(*s, *e, false);
    return rc;
}

void fixture_close(store_t *s, engine_t *e, bool checkpoint) {
    engine_stop(e, checkpoint);
    store_stop(s);
    engine_free(e);
    store_close(s);
}

int fixture_track(engine_t *e, const char *json) {
    json_object *body = json_tokener_parse(json);
    int rc = api_track_exec(e, body, NULL);
    json_object_put(body);
    return rc;
}

int fixture_identity(engine_t *e, int kind, const char *json) {
    json_object *body = json_tokener_parse(json);
    identity_cmd id;
    char why[256];
    uint8_t outcome[IDENTITY_MAX];
    int rc = api_identity_parse(kind, body, &id, why, sizeof why);
    if (rc == 0) {
        eng_cmd c = {.kind = ENG_IDENTITY, .arg = &id, .outcome = outcome};
        rc = eng_exec(e, &c);
    }
    identity_cmd_free(&id);
    json_object_put(body);
    return rc;
}

/* Parses a cohort body (partner in "partner") into cmd; refs for a users call. */
static int parse_cohort(json_object *body, eng_kind kind, cohort_cmd *cmd, cohort_ref *refs) {
    char why[256];
    const char *partner = json_object_get_string(json_object_object_get(body, "partner"));
    return kind == ENG_COHORT_NAME ? api_cohort_parse_name(body, partner, cmd, why, sizeof why)
                                   : api_cohort_parse_users(body, partner, cmd, refs, why, sizeof why);
}

int fixture_cohort(engine_t *e, eng_kind kind, const char *json, cohort_result *out) {
    json_object *body = json_tokener_parse(json);
    cohort_cmd cmd;
    cohort_ref *refs = xmalloc(COHORT_MAX_IDS * sizeof *refs);
    int rc = parse_cohort(body, kind, &cmd, refs);
    if (rc == 0) {
        eng_cmd c = {.kind = kind, .arg = &cmd};
        rc = eng_exec(e, &c);
        if (out) *out = c.cohort;
    }
    free(refs);
    json_object_put(body);
    return rc;
}

/* ---- bare worlds --------------------------------------------------------- */

static void no_touch(void *a, uint32_t r) { (void)a, (void)r; }

fixture_world fixture_world_new(void) { return (fixture_world){.u = users_new(3), .n = names_new(), .c = cohorts_new()}; }

void fixture_world_free(fixture_world *w) {
    cohorts_free(w->c);
    users_free(w->u);
    names_free(w->n);
}

api_track_result fixture_world_track(fixture_world *w, int64_t now_ms, const char *json) {
    json_object *body = json_tokener_parse(json);
    track_cmd t;
    api_track_result r;
    char why[256];
    if (api_track_parse(body, &t, &r, why, sizeof why) == 0) {
        track_ctx tc = {w->u, w->n, now_ms, NULL, 1, no_touch, NULL, NULL, 0, 0};
        track_apply(&tc, &t);
        api_track_refusals(&t, &r);
    }
    track_cmd_free(&t);
    json_object_put(body);
    return r;
}

void fixture_world_identity(fixture_world *w, int64_t now_ms, int kind, const char *json) {
    fixture_world_identity_out(w, now_ms, kind, json, NULL);
}

int fixture_world_identity_out(fixture_world *w, int64_t now_ms, int kind, const char *json, uint8_t *outcome) {
    json_object *body = json_tokener_parse(json);
    identity_cmd id;
    char why[256];
    int rc = api_identity_parse(kind, body, &id, why, sizeof why);
    if (rc == 0) {
        identity_ctx ic = {w->u, w->n, now_ms, no_touch, NULL, w->outbox, w->event_base, 0};
        identity_apply(&ic, &id, outcome);
    }
    identity_cmd_free(&id);
    json_object_put(body);
    return rc;
}

int fixture_world_merge(fixture_world *w, int64_t now_ms, const char *json, const gcg_t *gcg, uint8_t *outcome) {
    json_object *body = json_tokener_parse(json);
    merge_cmd m;
    char why[400];
    int rc = api_merge_parse(body, gcg, &m, why, sizeof why);
    if (rc == 0) {
        identity_ctx ic = {w->u, w->n, now_ms, no_touch, NULL, w->outbox, w->event_base, 0};
        merge_apply(&ic, &m, outcome);
        merge_cmd_free(&m);
    }
    json_object_put(body);
    return rc;
}

int fixture_world_cohort(fixture_world *w, int64_t now_ms, eng_kind kind, const char *json, cohort_result *out) {
    json_object *body = json_tokener_parse(json);
    cohort_cmd cmd;
    cohort_ref *refs = xmalloc(COHORT_MAX_IDS * sizeof *refs);
    cohort_result r = {0};
    int rc = parse_cohort(body, kind, &cmd, refs);
    if (rc == 0 && kind == ENG_COHORT_NAME) cohort_apply_name(w->c, &cmd, now_ms, &r);
    else if (rc == 0) rc = cohort_apply_users(w->c, w->u, &cmd, now_ms, w->outbox, w->event_base, &r);
    cohorts_log_clear(w->c);
    if (out) *out = r;
    free(refs);
    json_object_put(body);
    return rc;
}
