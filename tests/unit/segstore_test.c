/* segstore_test.c -- segment ops on a real store and engine
 * (src/engine/segments.c): the daily size snapshot. */
#include "test.h"
#include "fixture.h"
#include "engine/segments.h"
#include "lib/clock.h"

static int create(engine_t *e, const char *json, char id[SEG_ID_LEN + 1]) {
    json_object *b = json_tokener_parse(json);
    segs_write w = {0};
    int rc = api_segment_parse(b, false, &w, w.why, sizeof w.why);
    if (rc == 0) rc = eng_exec_store(e, segs_write_op, &w);
    memcpy(id, w.new_id, SEG_ID_LEN + 1);
    json_object_put(b);
    json_object_put(w.result);
    return rc;
}

typedef struct {
    const char *id;
    bool has;
} has_arg;

static int has_op(sqlite3 *db, void *arg) {
    has_arg *h = arg;
    return store_segment_has_day(db, h->id, clock_wall_ms() / 86400000, &h->has);
}

TEST(segments_snapshot_sizes_each_segment_once_a_day_in_bounded_ops) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"a\",\"n\":1},{\"external_id\":\"b\",\"n\":2},"
                                 "{\"external_id\":\"c\",\"n\":3}]}"), 0);
    char ids[3][SEG_ID_LEN + 1];
    T_EQ_INT(create(e, "{\"name\":\"one\",\"definition\":{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"less_than\",\"value\":2}}", ids[0]), 0);
    T_EQ_INT(create(e, "{\"name\":\"two\",\"definition\":{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"between\",\"value\":[1,2]}}", ids[1]), 0);
    T_EQ_INT(create(e, "{\"name\":\"all\",\"definition\":{\"type\":\"external_id\",\"op\":\"exists\"}}", ids[2]), 0);
    /* What serve does each minute: ops until none is left. */
    segs_snapshot sn = {0, 0, true};
    int sized = 0, ops = 0;
    while (sn.more && ops < 10) {
        T_EQ_INT(eng_exec_read(e, segs_snapshot_read, &sn), 0);
        sized += sn.done;
        ops++;
    }
    T_EQ_INT(sized, 3);
    T_TRUE(!sn.more);
    for (int i = 0; i < 3; i++) {
        has_arg h = {ids[i], false};
        T_EQ_INT(eng_exec_store(e, has_op, &h), 0);
        T_TRUE(h.has);
    }
    /* The same day again: nothing to do. */
    sn = (segs_snapshot){0, 0, true};
    T_EQ_INT(eng_exec_read(e, segs_snapshot_read, &sn), 0);
    T_EQ_INT(sn.done, 0);
    T_TRUE(!sn.more);
    fixture_close(s, e, false);
    rmdir_r(d);
}
