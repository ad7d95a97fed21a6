/* engine_test.c -- unit tests for the engine: journal, checkpoint, trim,
 * replay (src/engine/engine.c). */
#define _GNU_SOURCE
#include "test.h"
#include "engine/engine.h"
#include "lib/err.h"

#include <stdlib.h>
#include <unistd.h>

static int journal_rows(store_t *s) {
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;
    if (store_open_reader(s, &db) < 0) return -1;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM journal", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int track(store_t *s, engine_t *e, const char *json) {
    eng_command c = {.eng = e, .kind = CMD_TRACK, .body = json_tokener_parse(json), .raw = json, .rawlen = strlen(json)};
    int rc = store_exec(s, engine_command_op, &c);
    json_object_put(c.body);
    eng_command_free(&c);
    return rc;
}

static int64_t counter(engine_t *e, const char *ext) {
    uint32_t row = users_by_external_id(engine_users(e), ext, strlen(ext));
    if (row == USERS_NONE) return -1;
    uint32_t id = names_find(engine_names(e), "n", 1);
    pfield f;
    profile_t *p = users_get(engine_users(e), row);
    if (!id || !profile_get(p->blob, pkey(id, PK_ATTR), &f)) return -2;
    return pval_get_int(f.p, f.len);
}

TEST(engine_checkpoint_trim_and_replay_keep_every_change) {
    char *d = strdup("/tmp/brasa-engine-XXXXXX");
    T_TRUE(mkdtemp(d) != NULL);
    store_t *s;
    engine_t *e;
    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), 0);
    for (int i = 0; i < 3; i++) T_EQ_INT(track(s, e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}}]}"), 0);
    T_EQ_INT(journal_rows(s), 3);
    eng_checkpoint ck = {e, true, 0};
    T_EQ_INT(store_exec(s, engine_checkpoint_op, &ck), 0);
    T_EQ_INT(ck.written, 1);
    T_EQ_INT(journal_rows(s), 3); /* dead rows stay until trimmed */
    eng_trim tr = {e, 0};
    T_EQ_INT(store_exec(s, engine_trim_op, &tr), 0);
    T_EQ_INT(tr.deleted, 3);
    T_EQ_INT(journal_rows(s), 0);
    /* New rows after an emptied table must still be replayed (their seq
     * must not restart at or below the checkpoint's). */
    for (int i = 0; i < 2; i++) T_EQ_INT(track(s, e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":{\"inc\":1}},{\"external_id\":\"b\",\"n\":5}]}"), 0);
    T_EQ_INT(counter(e, "a"), 5);
    T_EQ_INT(store_exec(s, engine_trim_op, &tr), 0);
    T_EQ_INT(tr.deleted, 0); /* nothing after the checkpoint is trimmed */
    engine_free(e); /* as after a crash: no checkpoint at the end */
    store_close(s);

    T_EQ_INT(store_open(d, &s), 0);
    T_EQ_INT(engine_open(s, &e), 0);
    T_EQ_INT(counter(e, "a"), 5);
    T_EQ_INT(counter(e, "b"), 5);
    T_EQ_INT(users_live(engine_users(e)), 2);
    engine_free(e);
    store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    T_EQ_INT(system(cmd), 0);
    free(d);
}
