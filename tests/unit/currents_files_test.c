/* currents_files_test.c -- the storage-files sink of Currents: the Avro
 * schemas, the layout, rotation by size and age, the .tmp files, refused
 * events and failed writes. Files are read back by
 * tests/e2e/currents_files_read.py with Apache's Python reader and with
 * avro-c's avrocat, which must agree. */
#include "currents/avro.h"
#include "currents/internal.h"
#include "fixture.h"
#include "lib/clock.h"
#include "test.h"

#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ID "65f0c0ffee0000000000beef"
#define STEM "dataexport.brasa-01.Local.integration." ID
#define MIN5 (5 * 60 * 1000)

static cur_conf conf(const char *dir, cur_format format) {
    return (cur_conf){.type = CUR_FILES, .dir = (char *)dir, .cluster = "brasa-01", .format = format,
                      .max_bytes = 64 << 20, .max_age_ms = MIN5};
}

/* The events of a batch, parsed from JSON texts. */
typedef struct {
    cur_event ev[8];
    int n;
} batch;

static batch make(const char *const *json, int n) {
    batch b = {.n = n};
    for (int i = 0; i < n; i++) {
        b.ev[i].ev = json_tokener_parse(json[i]);
        json_object *v;
        b.ev[i].type = json_object_object_get_ex(b.ev[i].ev, "event_type", &v) ? json_object_get_string(v) : NULL;
        b.ev[i].id = json_object_object_get_ex(b.ev[i].ev, "id", &v) ? json_object_get_string(v) : NULL;
    }
    return b;
}

static void drop(batch *b) {
    for (int i = 0; i < b->n; i++) json_object_put(b->ev[i].ev);
}

static int send_json(cur_sink *s, const char *const *json, int n, cur_result *r) {
    batch b = make(json, n);
    memset(r, 0, sizeof *r);
    int rc = s->ops->send(s, b.ev, b.n, r);
    drop(&b);
    return rc;
}

/* What currents_files_read.py finds under root (NULL when it failed). */
static json_object *read_back(const char *root) {
    char cmd[600], out[300];
    snprintf(out, sizeof out, "%s.json", root);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/e2e/currents_files_read.py '%s' > '%s'", root, out);
    json_object *doc = system(cmd) == 0 ? json_object_from_file(out) : NULL;
    unlink(out);
    return doc;
}

static json_object *at(json_object *o, const char *k) {
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

static const char *str_at(json_object *o, const char *k) { return json_object_get_string(at(o, k)); }

static const char *const custom =
    "{\"id\":\"e1\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"65f0000000000000000000a1\","
    "\"external_user_id\":\"ext-1\",\"app_id\":\"app\",\"time\":1767225600,\"name\":\"played\","
    "\"properties\":\"{\\\"level\\\":3,\\\"é\\\":\\\"ü\\\"}\",\"not_in_schema\":5}";
static const char *const purchase =
    "{\"id\":\"e2\",\"event_type\":\"users.behaviors.Purchase\",\"user_id\":\"65f0000000000000000000a1\","
    "\"time\":1767225601,\"product_id\":\"sku\",\"price\":9.99,\"currency\":\"EUR\",\"properties\":\"{}\"}";
static const char *const open_ev =
    "{\"id\":\"e3\",\"event_type\":\"users.messages.email.Open\",\"user_id\":\"65f0000000000000000000a2\","
    "\"time\":1767225602,\"email_address\":\"a@b.c\",\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\",\"is_amp\":false,"
    "\"machine_open\":null}";
static const char *const click =
    "{\"id\":\"e4\",\"event_type\":\"users.messages.email.Click\",\"user_id\":\"65f0000000000000000000a2\","
    "\"time\":1767225603,\"email_address\":\"a@b.c\",\"url\":\"https://x.io/\","
    "\"suspected_bot_click_reason\":[\"ua\",\"fast\"]}";
static const char *const cohort =
    "{\"id\":\"e5\",\"event_type\":\"brasa.cohorts.Change\",\"user_id\":\"65f0000000000000000000a3\","
    "\"time\":1767225604,\"cohort_id\":\"co1\",\"cohort_name\":\"VIP\",\"partner\":\"segment\",\"change\":\"added\"}";
static const char *const failure =
    "{\"id\":\"e6\",\"event_type\":\"users.messages.webhook.Failure\",\"user_id\":\"65f0000000000000000000a3\","
    "\"time\":1767225605,\"http_status_code\":503,\"is_terminal\":true,\"endpoint_url\":\"https://h.io/x\"}";

TEST(currents_avro_schemas) {
    /* every type brasa produces has a schema that libavro takes */
    for (const char *const *t = cur_event_types; *t; t++) {
        cur_avro *a = cur_avro_new(*t);
        if (!a) T_FAIL_("no schema for %s", *t);
        cur_avro_free(a);
    }
    T_TRUE(!cur_avro_new("users.messages.sms.Send"));
    T_TRUE(!cur_avro_new("nope"));
    cur_avro *a = cur_avro_new("users.UserDeleteRequest");
    T_EQ_STR(cur_avro_schema(a),
             "{\"type\":\"record\",\"name\":\"UserDeleteRequest\",\"namespace\":\"dataexport.Local.inner.users\","
             "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},{\"name\":\"user_id\",\"type\":\"string\"},"
             "{\"name\":\"time\",\"type\":\"int\"},{\"name\":\"app_group_id\",\"type\":[\"null\",\"string\"],"
             "\"default\":null}]}");
    cur_avro_free(a);
}

TEST(currents_avro_refuses) {
    cur_avro *a = cur_avro_new("users.behaviors.Purchase");
    buf_t out = BUF_INIT;
    char err[200];
    const struct {
        const char *json, *why;
    } bad[] = {
        {"{\"id\":\"x\",\"user_id\":\"u\",\"time\":1,\"price\":1,\"currency\":\"USD\",\"properties\":\"{}\"}",
         "users.behaviors.Purchase: required field product_id is missing"},
        {"{\"id\":\"x\",\"user_id\":\"u\",\"time\":1,\"product_id\":null,\"price\":1,\"currency\":\"USD\",\"properties\":\"{}\"}",
         "users.behaviors.Purchase: required field product_id is missing"},
        {"{\"id\":\"x\",\"user_id\":\"u\",\"time\":\"1\",\"product_id\":\"p\",\"price\":1,\"currency\":\"USD\",\"properties\":\"{}\"}",
         "users.behaviors.Purchase: field time is string, not int"},
        {"{\"id\":\"x\",\"user_id\":\"u\",\"time\":4294967296,\"product_id\":\"p\",\"price\":1,\"currency\":\"USD\",\"properties\":\"{}\"}",
         "users.behaviors.Purchase: field time is int, not int"},
        {"{\"id\":\"x\",\"user_id\":\"u\",\"time\":1,\"product_id\":\"p\",\"price\":\"1\",\"currency\":\"USD\",\"properties\":\"{}\"}",
         "users.behaviors.Purchase: field price is string, not float"},
        {"{\"id\":\"x\",\"user_id\":\"u\",\"time\":1,\"product_id\":\"p\",\"price\":1,\"currency\":\"USD\",\"properties\":{}}",
         "users.behaviors.Purchase: field properties is object, not string"},
        {"{\"id\":\"x\",\"user_id\":\"u\",\"time\":1,\"product_id\":\"p\",\"price\":1,\"currency\":\"USD\",\"properties\":\"{}\",\"ad_tracking_enabled\":1}",
         "users.behaviors.Purchase: field ad_tracking_enabled is int, not boolean"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_object *ev = json_tokener_parse(bad[i].json);
        T_EQ_INT(cur_avro_encode(a, ev, &out, err, sizeof err), -1);
        T_EQ_STR(err, bad[i].why);
        T_EQ_INT(out.len, 0);
        json_object_put(ev);
    }
    /* an integral price is a float; an unknown field is ignored */
    json_object *ev = json_tokener_parse("{\"id\":\"x\",\"user_id\":\"u\",\"time\":1,\"product_id\":\"p\",\"price\":2,"
                                         "\"currency\":\"USD\",\"properties\":\"{}\",\"quantity\":3}");
    T_EQ_INT(cur_avro_encode(a, ev, &out, err, sizeof err), 0);
    T_TRUE(out.len > 0);
    json_object_put(ev);
    cur_avro_free(a);
    a = cur_avro_new("users.messages.email.Click");
    ev = json_tokener_parse("{\"id\":\"x\",\"user_id\":\"u\",\"time\":1,\"email_address\":\"a@b.c\","
                            "\"suspected_bot_click_reason\":[\"a\",1]}");
    T_EQ_INT(cur_avro_encode(a, ev, &out, err, sizeof err), -1);
    T_EQ_STR(err, "users.messages.email.Click: field suspected_bot_click_reason is array, not an array of strings");
    json_object_put(ev);
    cur_avro_free(a);
    buf_free(&out);
}

TEST(currents_files_layout) {
    char *dir = tmpdir();
    cur_conf c = conf(dir, CUR_AVRO);
    c.prefix = "exports/brasa";
    char err[256] = "";
    cur_sink *s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    cur_result r;
    int64_t t0 = clock_wall_ms();
    const char *const b1[] = {custom, purchase, open_ev, custom};
    T_EQ_INT(send_json(s, b1, 4, &r), 0);
    T_EQ_INT(r.status, 200);
    const char *const b2[] = {click, cohort, failure};
    T_EQ_INT(send_json(s, b2, 3, &r), 0);
    /* not due yet: the events sit in .tmp files, hidden from readers */
    int64_t now = clock_wall_ms();
    T_EQ_INT(s->ops->sync(s, now, false, &r), 0);
    char root[400];
    snprintf(root, sizeof root, "%s/exports/brasa/" STEM, dir);
    json_object *doc = read_back(root);
    T_TRUE(doc);
    T_EQ_INT(json_object_array_length(at(doc, "files")), 0);
    T_EQ_INT(json_object_array_length(at(doc, "tmp")), 6);
    json_object_put(doc);
    /* due by age: every open file is closed */
    T_EQ_INT(s->ops->sync(s, now + MIN5, false, &r), 1);
    T_EQ_INT(s->ops->sync(s, now + MIN5, false, &r), 1); /* nothing open */
    doc = read_back(root);
    T_TRUE(doc);
    json_object *files = at(doc, "files");
    T_EQ_INT(json_object_array_length(files), 6);
    T_EQ_INT(json_object_array_length(at(doc, "tmp")), 0);
    T_EQ_INT(json_object_array_length(at(doc, "other")), 1); /* .offset */
    T_EQ_STR(json_object_get_string(json_object_array_get_idx(at(doc, "other"), 0)), ".offset");
    /* offsets: the count of events written before each file opened (a
     * batch's types are written in the order they first came) */
    char hours[2][20]; /* the UTC hour the files were opened: before or after an hour's turn */
    for (int k = 0; k < 2; k++) {
        time_t t = (time_t)((k ? now : t0) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(hours[k], sizeof hours[k], "%Y-%m-%d-%H", &tm);
    }
    const struct {
        const char *type;
        int offset, n;
    } want[] = {{"brasa.cohorts.Change", 5, 1},      {"users.behaviors.CustomEvent", 0, 2},
                {"users.behaviors.Purchase", 2, 1},  {"users.messages.email.Click", 4, 1},
                {"users.messages.email.Open", 3, 1}, {"users.messages.webhook.Failure", 6, 1}};
    for (int i = 0; i < 6; i++) {
        json_object *f = json_object_array_get_idx(files, (size_t)i);
        char path[2][300];
        for (int k = 0; k < 2; k++)
            snprintf(path[k], sizeof path[k], "event_type=%s/date=%s/" STEM "+0+%010d.avro", want[i].type, hours[k],
                     want[i].offset);
        T_EQ_STR(str_at(f, "path"), strcmp(str_at(f, "path"), path[1]) ? path[0] : path[1]);
        T_EQ_INT(json_object_array_length(at(f, "records")), want[i].n);
        const char *last = strrchr(want[i].type, '.');
        T_EQ_STR(str_at(at(f, "schema"), "name"), last + 1);
    }
    /* the records, as a reader sees them */
    json_object *ce = json_object_array_get_idx(files, 1);
    T_EQ_STR(str_at(at(ce, "schema"), "namespace"), "dataexport.Local.inner.users.behaviors");
    json_object *rec = json_object_array_get_idx(at(ce, "records"), 0);
    T_EQ_STR(json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN),
             "{\"id\":\"e1\",\"user_id\":\"65f0000000000000000000a1\",\"external_user_id\":\"ext-1\","
             "\"time\":1767225600,\"timezone\":null,\"app_group_id\":null,\"app_id\":\"app\",\"platform\":null,"
             "\"os_version\":null,\"device_model\":null,\"device_id\":null,\"name\":\"played\","
             "\"properties\":\"{\\\"level\\\":3,\\\"é\\\":\\\"ü\\\"}\",\"ad_id\":null,\"ad_id_type\":null,"
             "\"ad_tracking_enabled\":null}");
    rec = json_object_array_get_idx(at(json_object_array_get_idx(files, 2), "records"), 0);
    T_TRUE(json_object_get_double(at(rec, "price")) > 9.98 && json_object_get_double(at(rec, "price")) < 10);
    rec = json_object_array_get_idx(at(json_object_array_get_idx(files, 3), "records"), 0);
    T_EQ_STR(json_object_to_json_string_ext(at(rec, "suspected_bot_click_reason"), JSON_C_TO_STRING_PLAIN),
             "[\"ua\",\"fast\"]");
    rec = json_object_array_get_idx(at(json_object_array_get_idx(files, 4), "records"), 0);
    T_EQ_STR(str_at(rec, "campaign_id"), "c1");
    T_TRUE(json_object_get_type(at(rec, "is_amp")) == json_type_boolean && !json_object_get_boolean(at(rec, "is_amp")));
    rec = json_object_array_get_idx(at(json_object_array_get_idx(files, 0), "records"), 0);
    T_EQ_STR(str_at(rec, "change"), "added");
    T_EQ_STR(str_at(rec, "partner"), "segment");
    rec = json_object_array_get_idx(at(json_object_array_get_idx(files, 5), "records"), 0);
    T_EQ_INT(json_object_get_int(at(rec, "http_status_code")), 503);
    T_TRUE(json_object_get_boolean(at(rec, "is_terminal")));
    json_object_put(doc);
    s->ops->free(s);
    rmdir_r(dir);
}

TEST(currents_files_rotate_size) {
    char *dir = tmpdir();
    cur_conf c = conf(dir, CUR_AVRO);
    c.max_bytes = 1; /* every file is due once written to */
    char err[256] = "";
    cur_sink *s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    cur_result r;
    const char *const b[] = {custom, custom, custom};
    int64_t now = clock_wall_ms();
    /* the next batch for a full file starts a new one */
    T_EQ_INT(send_json(s, b, 2, &r), 0);
    T_EQ_INT(send_json(s, b, 1, &r), 0);
    /* and sync closes a full file however young */
    T_EQ_INT(send_json(s, b, 3, &r), 0);
    T_EQ_INT(send_json(s, b, 1, &r), 0);
    T_EQ_INT(s->ops->sync(s, now, false, &r), 1);
    char root[400];
    snprintf(root, sizeof root, "%s/" STEM, dir);
    json_object *doc = read_back(root);
    T_TRUE(doc);
    json_object *files = at(doc, "files");
    T_EQ_INT(json_object_array_length(files), 4);
    const int offsets[] = {0, 2, 3, 6}, counts[] = {2, 1, 3, 1};
    for (int i = 0; i < 4; i++) {
        json_object *f = json_object_array_get_idx(files, (size_t)i);
        char suffix[40];
        snprintf(suffix, sizeof suffix, "+0+%010d.avro", offsets[i]);
        const char *p = str_at(f, "path");
        T_TRUE(strlen(p) > strlen(suffix) && !strcmp(p + strlen(p) - strlen(suffix), suffix));
        T_EQ_INT(json_object_array_length(at(f, "records")), counts[i]);
    }
    json_object_put(doc);
    s->ops->free(s);
    rmdir_r(dir);
}

TEST(currents_files_tmp_and_offset) {
    char *dir = tmpdir();
    cur_conf c = conf(dir, CUR_AVRO);
    char err[256] = "", root[400], path[700];
    snprintf(root, sizeof root, "%s/" STEM, dir);
    cur_sink *s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    cur_result r;
    const char *const b[] = {custom, purchase, custom};
    T_EQ_INT(send_json(s, b, 3, &r), 0);
    T_EQ_INT(s->ops->sync(s, 0, true, &r), 1);
    T_EQ_INT(send_json(s, b, 1, &r), 0);
    /* a crash: the open file stays as .tmp, and so do others' */
    snprintf(path, sizeof path, "%s/event_type=users.behaviors.Purchase/date=2020-01-01-00", root);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && echo x > '%s/" STEM "+0+0000000009.avro.tmp' && cp -r '%s' '%s.crash'",
             path, path, root, root);
    T_EQ_INT(system(cmd), 0);
    s->ops->free(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mv '%s.crash' '%s'", root, root, root);
    T_EQ_INT(system(cmd), 0);
    json_object *doc = read_back(root);
    T_EQ_INT(json_object_array_length(at(doc, "tmp")), 2);
    json_object_put(doc);
    /* reopened: the .tmp files are gone, the finished ones stay, and the
     * count goes on from the events in finished files */
    s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    doc = read_back(root);
    T_EQ_INT(json_object_array_length(at(doc, "tmp")), 0);
    T_EQ_INT(json_object_array_length(at(doc, "files")), 2);
    json_object_put(doc);
    T_EQ_INT(send_json(s, b, 1, &r), 0);
    T_EQ_INT(s->ops->sync(s, 0, true, &r), 1);
    doc = read_back(root);
    json_object *files = at(doc, "files");
    T_EQ_INT(json_object_array_length(files), 3);
    const char *p = str_at(json_object_array_get_idx(files, 1), "path");
    T_TRUE(strstr(p, "event_type=users.behaviors.CustomEvent/") && strstr(p, "+0+0000000003.avro"));
    json_object_put(doc);
    /* free without sync (shutdown without a final sync): nothing half-done left */
    T_EQ_INT(send_json(s, b, 1, &r), 0);
    s->ops->free(s);
    doc = read_back(root);
    T_EQ_INT(json_object_array_length(at(doc, "tmp")), 0);
    T_EQ_INT(json_object_array_length(at(doc, "files")), 3);
    json_object_put(doc);
    rmdir_r(dir);
}

TEST(currents_files_refuses_events) {
    char *dir = tmpdir();
    cur_conf c = conf(dir, CUR_AVRO);
    char err[256] = "";
    cur_sink *s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    cur_result r;
    const char *const bad[] = {
        custom,
        "{\"id\":\"e9\",\"event_type\":\"users.messages.email.Open\",\"user_id\":\"u\",\"time\":1,\"email_address\":7}"};
    /* the whole batch is refused, the field named; nothing reaches a file */
    T_EQ_INT(send_json(s, bad, 2, &r), -1);
    T_EQ_INT(r.status, 400);
    T_EQ_STR(r.error, "event e9: users.messages.email.Open: field email_address is int, not string");
    T_EQ_INT(s->ops->sync(s, 0, false, &r), 1);
    const char *const missing[] = {"{\"id\":\"e8\",\"event_type\":\"brasa.cohorts.Change\",\"user_id\":\"u\",\"time\":1,"
                                   "\"cohort_id\":\"c\"}"};
    T_EQ_INT(send_json(s, missing, 1, &r), -1);
    T_EQ_INT(r.status, 400);
    T_EQ_STR(r.error, "event e8: brasa.cohorts.Change: required field change is missing");
    const char *const unknown[] = {"{\"id\":\"e7\",\"event_type\":\"users.messages.sms.Send\",\"user_id\":\"u\",\"time\":1}",
                                   "{\"id\":\"e6\",\"event_type\":\"../x\",\"user_id\":\"u\",\"time\":1}"};
    T_EQ_INT(send_json(s, unknown, 1, &r), -1);
    T_EQ_STR(r.error, "event e7: no Avro schema for event type users.messages.sms.Send");
    T_EQ_INT(send_json(s, unknown + 1, 1, &r), -1);
    T_EQ_STR(r.error, "event e6: event_type ../x cannot name a directory");
    /* the good one alone goes */
    T_EQ_INT(send_json(s, bad, 1, &r), 0);
    T_EQ_INT(s->ops->sync(s, 0, true, &r), 1);
    char root[400];
    snprintf(root, sizeof root, "%s/" STEM, dir);
    json_object *doc = read_back(root);
    T_EQ_INT(json_object_array_length(at(doc, "files")), 1);
    json_object_put(doc);
    s->ops->free(s);
    rmdir_r(dir);
}

TEST(currents_files_bad_dir) {
    char err[256] = "";
    cur_conf c = conf("relative/dir", CUR_AVRO);
    T_TRUE(!cur_files_open(ID, &c, err, sizeof err));
    T_EQ_STR(err, "dir must be an absolute path");
    char *dir = tmpdir();
    char file[300];
    snprintf(file, sizeof file, "%s/file", dir);
    FILE *f = fopen(file, "w");
    T_TRUE(f);
    fclose(f);
    c = conf(file, CUR_AVRO);
    T_TRUE(!cur_files_open(ID, &c, err, sizeof err));
    T_TRUE(strstr(err, "cannot create ") && strstr(err, "Not a directory"));
    c = conf("/proc/brasa-currents", CUR_AVRO);
    T_TRUE(!cur_files_open(ID, &c, err, sizeof err));
    T_TRUE(strstr(err, "cannot create /proc/brasa-currents/" STEM) != NULL);
    c = conf(dir, CUR_AVRO);
    c.cluster = "a/b";
    T_TRUE(!cur_files_open(ID, &c, err, sizeof err));
    T_EQ_STR(err, "cluster must be letters, digits, '.', '_' or '-'");
    /* a corrupt count is not silently restarted from 0 (names would repeat) */
    c = conf(dir, CUR_AVRO);
    cur_sink *s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    s->ops->free(s);
    char path[400];
    snprintf(path, sizeof path, "%s/" STEM "/.offset", dir);
    f = fopen(path, "w");
    fputs("12x\n", f);
    fclose(f);
    T_TRUE(!cur_files_open(ID, &c, err, sizeof err));
    T_TRUE(strstr(err, "/.offset does not hold an event count") != NULL);
    rmdir_r(dir);
}

TEST(currents_files_write_error) {
    /* a write that fails (here: past RLIMIT_FSIZE, as a full disk would) is
     * cut back off the file, and the batch goes once there is room */
    signal(SIGXFSZ, SIG_IGN);
    char *dir = tmpdir();
    cur_conf c = conf(dir, CUR_AVRO);
    char err[256] = "";
    cur_sink *s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    cur_result r;
    const char *const b[] = {custom, open_ev, custom, custom, custom, custom};
    T_EQ_INT(send_json(s, b, 2, &r), 0);
    char pattern[400];
    snprintf(pattern, sizeof pattern, "%s/" STEM "/event_type=users.behaviors.CustomEvent/date=*/*.tmp", dir);
    glob_t g;
    T_EQ_INT(glob(pattern, 0, NULL, &g), 0);
    T_EQ_INT(g.gl_pathc, 1);
    char found[400];
    snprintf(found, sizeof found, "%s", g.gl_pathv[0]);
    globfree(&g);
    struct stat st;
    T_EQ_INT(stat(found, &st), 0);
    off_t before = st.st_size;
    struct rlimit lim = {(rlim_t)before + 100, RLIM_INFINITY};
    T_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    T_EQ_INT(send_json(s, b + 1, 5, &r), -1); /* open_ev fits, the 4 CustomEvents do not */
    T_EQ_INT(r.status, 500);
    T_TRUE(strstr(r.error, "cannot write ") && strstr(r.error, "File too large"));
    T_EQ_INT(stat(found, &st), 0);
    T_EQ_INT(st.st_size, before);
    lim.rlim_cur = RLIM_INFINITY;
    T_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    T_EQ_INT(send_json(s, b + 1, 5, &r), 0);
    T_EQ_INT(s->ops->sync(s, 0, true, &r), 1);
    char root[400];
    snprintf(root, sizeof root, "%s/" STEM, dir);
    json_object *doc = read_back(root);
    json_object *files = at(doc, "files");
    T_EQ_INT(json_object_array_length(files), 2);
    T_EQ_INT(json_object_array_length(at(json_object_array_get_idx(files, 0), "records")), 5);
    T_EQ_INT(json_object_array_length(at(json_object_array_get_idx(files, 1), "records")), 2);
    json_object_put(doc);
    s->ops->free(s);
    rmdir_r(dir);
}

TEST(currents_files_ndjson) {
    char *dir = tmpdir();
    cur_conf c = conf(dir, CUR_NDJSON);
    char err[256] = "";
    cur_sink *s = cur_files_open(ID, &c, err, sizeof err);
    T_TRUE(s);
    cur_result r;
    /* any type with a safe name, each line the record as stored */
    const char *const b[] = {custom, click, "{\"id\":\"e7\",\"event_type\":\"users.messages.sms.Send\",\"x\":[1,{}]}", custom};
    T_EQ_INT(send_json(s, b, 4, &r), 0);
    T_EQ_INT(s->ops->sync(s, 0, true, &r), 1);
    char root[400];
    snprintf(root, sizeof root, "%s/" STEM, dir);
    json_object *doc = read_back(root);
    json_object *files = at(doc, "files");
    T_EQ_INT(json_object_array_length(files), 3);
    json_object *f = json_object_array_get_idx(files, 0);
    T_TRUE(strstr(str_at(f, "path"), "event_type=users.behaviors.CustomEvent/") &&
           strstr(str_at(f, "path"), STEM "+0+0000000000.ndjson"));
    T_EQ_INT(json_object_array_length(at(f, "records")), 2);
    json_object *want = json_tokener_parse(custom);
    T_TRUE(json_object_equal(json_object_array_get_idx(at(f, "records"), 1), want));
    json_object_put(want);
    f = json_object_array_get_idx(files, 2);
    T_TRUE(strstr(str_at(f, "path"), "event_type=users.messages.sms.Send/"));
    T_EQ_STR(json_object_to_json_string_ext(json_object_array_get_idx(at(f, "records"), 0), JSON_C_TO_STRING_PLAIN),
             "{\"id\":\"e7\",\"event_type\":\"users.messages.sms.Send\",\"x\":[1,{}]}");
    json_object_put(doc);
    s->ops->free(s);
    rmdir_r(dir);
}
