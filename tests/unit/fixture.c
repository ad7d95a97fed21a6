/* fixture.c -- shared set-up for unit tests that use a store (fixture.h). */
#define _GNU_SOURCE
#include "fixture.h"

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
    int rc = store_open(dir, s);
    if (rc < 0) return rc;
    if ((rc = engine_open(*s, e)) < 0) {
        store_close(*s);
        return rc;
    }
    if ((rc = store_start(*s)) < 0) fixture_close(*s, *e);
    return rc;
}

void fixture_close(store_t *s, engine_t *e) {
    store_stop(s);
    engine_free(e);
    store_close(s);
}

int fixture_track(store_t *s, engine_t *e, const char *json) {
    eng_command c = {.eng = e, .kind = CMD_TRACK, .body = json_tokener_parse(json), .raw = json, .rawlen = strlen(json)};
    int rc = store_exec(s, engine_command_op, &c);
    json_object_put(c.body);
    eng_command_free(&c);
    return rc;
}
