/* exports_test.c -- unit tests for segment exports: file names, the job
 * table, zip building, callback URLs, and the exporter run in-process
 * (src/store/exports.c, src/lib/archive.c, src/lib/httpc.c,
 * src/engine/exporter.c). */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "engine/exporter.h"
#include "engine/segments.h"
#include "lib/archive.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "store/exports.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

TEST(exports_names_are_exactly_prefix_and_extension) {
    char prefix[STORE_EXPORT_PREFIX_MAX], name[STORE_EXPORT_NAME_MAX];
    int64_t now = 1556044807123LL;
    store_export_new_prefix(prefix, now);
    T_EQ_INT(strlen(prefix), 36 + 1 + 10);
    T_EQ_STR(prefix + 37, "1556044807");
    store_export_file_name(prefix, STORE_EXPORT_ZIP, name);
    T_EQ_INT(store_export_name_parse(name), STORE_EXPORT_ZIP);
    store_export_file_name(prefix, STORE_EXPORT_GZIP, name);
    T_EQ_INT(store_export_name_parse(name), STORE_EXPORT_GZIP);
    T_TRUE(strstr(name, ".json.gz") != NULL);

    const char *good = "d9696570-dfb7-45ae-baa2-25e302e2da27-1556044807";
    char b[200];
    const char *bad_suffixes[] = {"", ".ZIP", ".gz", ".json", ".zip.part", ".part", ".json.gz.part", ".zip/", ".zip/x",
                                  ".zip\n", "/../brasa.db", "0.zip.", ".zip.zip"};
    for (size_t i = 0; i < sizeof bad_suffixes / sizeof *bad_suffixes; i++) {
        snprintf(b, sizeof b, "%s%s", good, bad_suffixes[i]);
        if (store_export_name_parse(b) != -1) T_FAIL_("accepted \"%s\"", b);
    }
    const char *bad[] = {"", ".", "..", "../brasa.db", "brasa.db", "x.zip", "/etc/passwd",
                         "D9696570-dfb7-45ae-baa2-25e302e2da27-1556044807.zip",  /* upper case */
                         "d9696570-dfb7-45ae-baa2-25e302e2da2-1556044807.zip",   /* short uuid */
                         "d9696570_dfb7-45ae-baa2-25e302e2da27-1556044807.zip",  /* not a dash */
                         "d9696570-dfb7-45ae-baa2-25e302e2da27-.zip",            /* no seconds */
                         "d9696570-dfb7-45ae-baa2-25e302e2da27-15560448x7.zip",
                         "d9696570-dfb7-45ae-baa2-25e302e2da27-12345678901234567890.zip", /* 20 digits */
                         "d9696570-dfb7-45ae-baa2-25e302e2da27_1556044807.zip",
                         "xd9696570-dfb7-45ae-baa2-25e302e2da27-1556044807.zip",
                         "d9696570-dfb7-45ae-baa2-25e302e2da27-1556044807.zip.part"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (store_export_name_parse(bad[i]) != -1) T_FAIL_("accepted \"%s\"", bad[i]);
    snprintf(b, sizeof b, "%s.zip", good);
    T_EQ_INT(store_export_name_parse(b), STORE_EXPORT_ZIP);
}

static void job(store_export_job *j, const char *seg, int format) {
    memset(j, 0, sizeof *j);
    store_export_new_prefix(j->prefix, clock_wall_ms());
    snprintf(j->segment_id, sizeof j->segment_id, "%s", seg);
    j->format = format;
    j->fields = strdup("[\"external_id\"]");
    j->url = strdup("http://h/exports/x");
    j->created_at = clock_wall_ms();
}

static char *state_of(sqlite3 *db, const char *prefix) {
    char *s = NULL;
    return store_export_state(db, prefix, &s) == 0 ? s : strdup("?");
}

TEST(exports_queue_one_per_segment_oldest_first_and_rerun_running) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    sqlite3 *db = store_db_for_tests(s);
    store_export_job a, b, c, dd, n;
    char busy[STORE_EXPORT_PREFIX_MAX] = "";
    job(&a, "seg1", STORE_EXPORT_ZIP);
    job(&b, "seg1", STORE_EXPORT_GZIP);
    job(&c, "seg2", STORE_EXPORT_GZIP);
    T_EQ_INT(store_export_insert(db, &a, busy), 0);
    T_EQ_INT(store_export_insert(db, &b, busy), BR_EEXPORTBUSY); /* a is queued */
    T_EQ_STR(busy, a.prefix);
    T_EQ_INT(store_export_insert(db, &c, NULL), 0);
    char *st = state_of(db, a.prefix);
    T_EQ_STR(st, "queued");
    free(st);

    T_EQ_INT(store_export_next(db, 5, &n), 0);
    T_EQ_STR(n.prefix, a.prefix);
    T_EQ_INT(n.format, STORE_EXPORT_ZIP);
    T_EQ_STR(n.fields, "[\"external_id\"]");
    T_TRUE(n.callback == NULL);
    store_export_job_free(&n);
    st = state_of(db, a.prefix);
    T_EQ_STR(st, "running");
    free(st);
    T_EQ_INT(store_export_insert(db, &b, busy), BR_EEXPORTBUSY); /* running counts too */
    /* A row left running (a crash) is taken again, before newer ones. */
    T_EQ_INT(store_export_next(db, 6, &n), 0);
    T_EQ_STR(n.prefix, a.prefix);
    store_export_job_free(&n);

    T_EQ_INT(store_export_finish(db, a.id, true, 42, NULL, 7), 0);
    T_EQ_INT(store_export_insert(db, &b, busy), 0); /* seg1 is free again */
    T_EQ_INT(store_export_next(db, 8, &n), 0);
    T_EQ_STR(n.prefix, c.prefix);
    T_EQ_INT(n.format, STORE_EXPORT_GZIP);
    store_export_job_free(&n);
    T_EQ_INT(store_export_finish(db, c.id, false, 0, "disk full", 9), 0);
    T_EQ_INT(store_export_callback(db, c.id, 0), 0);
    st = state_of(db, c.prefix);
    T_EQ_STR(st, "failed");
    free(st);
    T_EQ_INT(store_export_next(db, 10, &n), 0);
    T_EQ_STR(n.prefix, b.prefix);
    store_export_job_free(&n);
    T_EQ_INT(store_export_finish(db, b.id, true, 0, NULL, 11), 0);
    T_EQ_INT(store_export_next(db, 12, &n), BR_ENOTFOUND);
    job(&dd, "seg2", STORE_EXPORT_ZIP);
    T_EQ_INT(store_export_insert(db, &dd, busy), 0); /* after a failure too */
    store_export_job_free(&a);
    store_export_job_free(&b);
    store_export_job_free(&c);
    store_export_job_free(&dd);
    store_close(s);
    rmdir_r(d);
}

/* The text of member i of the zip at path ("" when empty; NULL on error). */
static char *zip_member(const char *path, zip_int64_t i, char *name, size_t namelen) {
    int err;
    zip_t *z = zip_open(path, ZIP_RDONLY, &err);
    if (!z) return NULL;
    zip_stat_t st;
    char *out = NULL;
    if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) == 0) {
        snprintf(name, namelen, "%s", st.name);
        zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
        out = calloc(1, st.size + 1);
        if (!f || zip_fread(f, out, st.size) != (zip_int64_t)st.size) {
            free(out);
            out = NULL;
        }
        if (f) zip_fclose(f);
    }
    zip_discard(z);
    return out;
}

static zip_int64_t zip_count(const char *path) {
    int err;
    zip_t *z = zip_open(path, ZIP_RDONLY, &err);
    if (!z) return -1;
    zip_int64_t n = zip_get_num_entries(z, 0);
    zip_discard(z);
    return n;
}

TEST(exports_archive_zip_holds_the_files_under_their_names) {
    char *d = tmpdir();
    char a[256], b[256], z[256], name[64];
    snprintf(a, sizeof a, "%s/a.json", d);
    snprintf(b, sizeof b, "%s/b.json", d);
    snprintf(z, sizeof z, "%s/out.zip", d);
    FILE *f = fopen(a, "w");
    fputs("{\"x\":1}\n", f);
    fclose(f);
    f = fopen(b, "w");
    fclose(f); /* an empty member */
    const char *files[] = {a, b}, *names[] = {"one.json", "two.json"};
    T_EQ_INT(archive_zip(z, files, names, 2), 0);
    T_EQ_INT(zip_count(z), 2);
    char *t = zip_member(z, 0, name, sizeof name);
    T_EQ_STR(t, "{\"x\":1}\n");
    free(t);
    T_EQ_STR(name, "one.json");
    t = zip_member(z, 1, name, sizeof name);
    T_EQ_STR(t, "");
    free(t);
    T_EQ_STR(name, "two.json");
    const char *missing[] = {"/nonexistent/x"};
    T_EQ_INT(archive_zip(z, missing, names, 1), BR_EIO);
    rmdir_r(d);
}

TEST(exports_callback_urls_are_http_or_https_with_a_host) {
    T_TRUE(httpc_url_valid("http://example.com/hook"));
    T_TRUE(httpc_url_valid("https://example.com:8443/a/b?c=d"));
    T_TRUE(httpc_url_valid("HTTPS://127.0.0.1:9/x"));
    T_TRUE(httpc_url_valid("http://[::1]:8080/"));
    const char *bad[] = {"", "example.com/hook", "ftp://example.com/x", "file:///etc/passwd", "http://",
                         "http:///path", "http://exa mple.com/", "http://example.com/\n", "javascript:alert(1)",
                         "gopher://h/", "//example.com/x", "http:example.com"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (httpc_url_valid(bad[i])) T_FAIL_("accepted \"%s\"", bad[i]);
    T_TRUE(!httpc_url_valid(NULL));
}

/* ---- the exporter, in-process -------------------------------------------- */

typedef struct {
    store_export_job *j;
} insert_arg;

static int insert_op(sqlite3 *db, void *arg) { return store_export_insert(db, ((insert_arg *)arg)->j, NULL); }

/* Waits (up to 10 s) until the job with prefix is done or failed. */
static char *wait_end(store_t *s, const char *prefix) {
    sqlite3 *db;
    char *st = NULL;
    if (store_open_reader(s, &db) < 0) return strdup("?");
    for (int i = 0; i < 1000; i++) {
        free(st);
        st = state_of(db, prefix);
        if (!strcmp(st, "done") || !strcmp(st, "failed")) break;
        usleep(10000);
    }
    sqlite3_close(db);
    return st;
}

TEST(exporter_writes_chunks_gzip_and_expires_old_files) {
    char *d = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(d, &s, &e), 0);
    T_EQ_INT(fixture_track(e, "{\"attributes\":[{\"external_id\":\"u1\",\"t\":\"g\"},{\"external_id\":\"u2\",\"t\":\"g\"},"
                         "{\"external_id\":\"u3\",\"t\":\"g\"},{\"external_id\":\"u4\",\"t\":\"s\"},"
                         "{\"external_id\":\"u5\",\"t\":\"g\"},{\"external_id\":\"u6\",\"t\":\"g\"}]}"), 0);
    json_object *body = json_tokener_parse("{\"name\":\"g\",\"definition\":{\"type\":\"custom_attribute\","
                                           "\"name\":\"t\",\"op\":\"equals\",\"value\":\"g\"}}");
    segs_write w = {0};
    T_EQ_INT(api_segment_parse(body, false, &w, w.why, sizeof w.why), 0);
    T_EQ_INT(eng_exec_store(e, segs_write_op, &w), 0);
    json_object_put(body);
    json_object_put(w.result);

    exporter_t *x;
    exporter_config cfg = {.engine = e, .ttl_hours = 1, .chunk = 2};
    T_EQ_INT(exporter_start(&cfg, &x), 0);
    store_export_job zj, gj;
    job(&zj, w.new_id, STORE_EXPORT_ZIP);
    insert_arg ia = {&zj};
    int rc1 = eng_exec_store(e, insert_op, &ia);
    exporter_kick(x);
    char *st1 = wait_end(s, zj.prefix);
    job(&gj, w.new_id, STORE_EXPORT_GZIP);
    ia.j = &gj;
    int rc2 = eng_exec_store(e, insert_op, &ia);
    exporter_kick(x);
    char *st2 = wait_end(s, gj.prefix);

    /* The zip: 5 users in chunks of 2 = 3 members, in row order. */
    char zpath[512], gpath[512], name[STORE_EXPORT_NAME_MAX], member[128], want[128];
    store_export_file_name(zj.prefix, STORE_EXPORT_ZIP, name);
    snprintf(zpath, sizeof zpath, "%s/exports/%s", d, name);
    zip_int64_t members = zip_count(zpath);
    char *m[3];
    for (int i = 0; i < 3; i++) m[i] = zip_member(zpath, i, member, sizeof member);
    snprintf(want, sizeof want, "%s-00003.json", zj.prefix);
    bool last_name_ok = !strcmp(member, want);
    /* The gzip: one stream of all 5. */
    store_export_file_name(gj.prefix, STORE_EXPORT_GZIP, name);
    snprintf(gpath, sizeof gpath, "%s/exports/%s", d, name);
    char gz[512] = "";
    gzFile g = gzopen(gpath, "rb");
    int glen = g ? gzread(g, gz, sizeof gz - 1) : -1;
    if (g) gzclose(g);

    /* Expiry: a file older than the TTL goes at the next sweep. */
    struct timeval old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    utimes(zpath, old);
    bool expired = false;
    for (int i = 0; i < 300 && !expired; i++) {
        exporter_kick(x);
        usleep(10000);
        expired = access(zpath, F_OK) != 0;
    }
    bool gz_kept = access(gpath, F_OK) == 0;

    exporter_free(x);
    fixture_close(s, e, false);

    T_EQ_INT(rc1, 0);
    T_EQ_INT(rc2, 0);
    T_EQ_STR(st1, "done");
    T_EQ_STR(st2, "done");
    T_EQ_INT(members, 3);
    T_EQ_STR(m[0], "{\"external_id\":\"u1\"}\n{\"external_id\":\"u2\"}\n");
    T_EQ_STR(m[1], "{\"external_id\":\"u3\"}\n{\"external_id\":\"u5\"}\n");
    T_EQ_STR(m[2], "{\"external_id\":\"u6\"}\n");
    T_TRUE(last_name_ok);
    T_EQ_INT(glen, 5 * 21);
    T_EQ_STR(gz, "{\"external_id\":\"u1\"}\n{\"external_id\":\"u2\"}\n{\"external_id\":\"u3\"}\n"
                 "{\"external_id\":\"u5\"}\n{\"external_id\":\"u6\"}\n");
    T_TRUE(expired);
    T_TRUE(gz_kept);
    for (int i = 0; i < 3; i++) free(m[i]);
    free(st1);
    free(st2);
    store_export_job_free(&zj);
    store_export_job_free(&gj);
    rmdir_r(d);
}
