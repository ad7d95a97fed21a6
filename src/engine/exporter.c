/* exporter.c -- segment export jobs: evaluate, write in chunks, publish,
 * call back, expire (see exporter.h). */
#define _GNU_SOURCE
#include "exporter.h"
#include "segments.h"
#include "../core/gcg.h"
#include "../core/export.h"
#include "../store/messaging.h"
#include "../lib/archive.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/file.h"
#include "../lib/httpc.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"
#include "../store/exports.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CALLBACK_TIMEOUT_MS 5000
#define CALLBACK_ATTEMPTS 3 /* 1 s, then 2 s between them: a callback never holds the queue for long */

struct exporter {
    exporter_config cfg;
    char *dir; /* <data dir>/exports */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool kicked;
    atomic_bool stopping;
};

/* ---- commands ------------------------------------------------------------ */

typedef struct {
    store_export_job *job;
    bool found;
} next_arg;

/* An empty queue is not an error: the store would count one per second. */
static int next_op(sqlite3 *db, void *arg) {
    next_arg *n = arg;
    int rc = store_export_next(db, clock_wall_ms(), n->job);
    n->found = rc == 0;
    return rc == BR_ENOTFOUND ? 0 : rc;
}

/* One chunk: the user objects of rows[0..n), one line each. Rows deleted
 * since the evaluation are left out. */
typedef struct {
    const export_fields *fields;
    const uint32_t *rows;
    uint32_t n;
    buf_t *out;
    uint32_t users; /* out */
} chunk_arg;

json_object *exporter_user(engine_t *e, uint32_t row, const export_fields *f) {
    json_object *o = export_user(engine_users(e), engine_names(e), row, f);
    export_cohorts(o, engine_cohorts(e), row, f);
    uint8_t bz[12];
    users_braze_id(engine_users(e), row, bz);
    store_received_export(engine_reader(e), o, bz);
    return o;
}

static int chunk_read(engine_t *e, void *arg) {
    chunk_arg *c = arg;
    users_t *u = engine_users(e);
    c->users = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (users_get(u, c->rows[i])->flags & PROFILE_DELETED) continue;
        json_object *o = exporter_user(e, c->rows[i], c->fields);
        size_t len;
        const char *s = json_object_to_json_string_length(o, JSON_PLAIN, &len);
        buf_append(c->out, s, len);
        buf_append(c->out, "\n", 1);
        json_object_put(o);
        c->users++;
    }
    return 0;
}

typedef struct {
    int64_t id;
    bool ok;
    int64_t users;
    const char *error;
    const char *tmp, *final; /* ok: the complete file, and its name */
    int status;              /* callback_op */
} finish_arg;

/* The file takes its name in the op that marks the job done: whoever sees
 * the file and asks for another export of the segment finds it free (its
 * op runs after this one, on this thread). A crash before the commit
 * leaves the job running, and the rerun writes the file again. */
static int finish_op(sqlite3 *db, void *arg) {
    finish_arg *f = arg;
    if (f->ok && rename(f->tmp, f->final) < 0) {
        log_error("export: cannot rename %s: %s", f->tmp, strerror(errno));
        f->ok = false;
        f->error = "cannot move the export file into place";
    }
    return store_export_finish(db, f->id, f->ok, f->users, f->error, clock_wall_ms());
}

static int callback_op(sqlite3 *db, void *arg) {
    finish_arg *f = arg;
    return store_export_callback(db, f->id, f->status);
}

/* ---- files ----------------------------------------------------------------- */

static void path_of(const exporter_t *x, char out[PATH_MAX], const char *name, const char *suffix) {
    snprintf(out, PATH_MAX, "%s/%s%s", x->dir, name, suffix);
}

/* Removes a job's staging directory and partial files (a rerun, a failure,
 * a stop): everything named after its prefix but its final file, which
 * also catches the temporary libzip leaves when killed while writing. */
static void remove_staging(const exporter_t *x, const store_export_job *j) {
    char p[PATH_MAX], final[STORE_EXPORT_NAME_MAX];
    path_of(x, p, j->prefix, ".part");
    DIR *d = opendir(p);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
        rmdir(p);
    }
    store_export_file_name(j->prefix, j->format, final);
    size_t n = strlen(j->prefix);
    if (!(d = opendir(x->dir))) return;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, j->prefix, n) && strcmp(e->d_name, final)) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static int write_all(const char *path, const char *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return BR_EIO;
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            return BR_EIO;
        }
        data += w;
        len -= (size_t)w;
    }
    return close(fd) < 0 ? BR_EIO : 0;
}

/* Where a running job's lines go: zip members in a staging directory, or
 * one gzip stream. */
typedef struct {
    exporter_t *x;
    store_export_job *job;
    export_fields fields;
    uint32_t *rows, n; /* the chunk being collected */
    buf_t lines;
    gzFile gz;
    char **members; /* zip: staging paths, in order */
    uint32_t nmembers;
    int64_t users;
    int rc;
    bool complete;           /* tmp holds the whole file, on disk */
    char tmp[PATH_MAX], final[PATH_MAX];
    char why[400];
} run_t;

static int sink_open(run_t *r) {
    char p[PATH_MAX], name[STORE_EXPORT_NAME_MAX];
    if (r->job->format == STORE_EXPORT_ZIP) {
        path_of(r->x, p, r->job->prefix, ".part");
        return mkdir(p, 0700) < 0 ? BR_EIO : 0;
    }
    store_export_file_name(r->job->prefix, r->job->format, name);
    path_of(r->x, p, name, ".part");
    r->gz = gzopen(p, "wbe");
    return r->gz ? 0 : BR_EIO;
}

static int sink_write(run_t *r, const char *data, size_t len) {
    if (r->job->format == STORE_EXPORT_GZIP) return !len || gzwrite(r->gz, data, (unsigned)len) > 0 ? 0 : BR_EIO;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s.part/%s-%05u.json", r->x->dir, r->job->prefix, r->job->prefix, r->nmembers + 1);
    if (write_all(p, data, len) < 0) return BR_EIO;
    r->members = xrealloc(r->members, (r->nmembers + 1) * sizeof *r->members);
    r->members[r->nmembers++] = xstrdup(p);
    return 0;
}

/* Completes the file under its temporary name (r->tmp), synced. */
static int sink_close(run_t *r) {
    char name[STORE_EXPORT_NAME_MAX];
    store_export_file_name(r->job->prefix, r->job->format, name);
    path_of(r->x, r->tmp, name, ".part");
    path_of(r->x, r->final, name, "");
    if (r->job->format == STORE_EXPORT_GZIP) {
        int rc = gzclose(r->gz);
        r->gz = NULL;
        return rc == Z_OK ? (file_sync(r->tmp) < 0 ? BR_EIO : 0) : BR_EIO;
    }
    /* An empty segment still gets an archive, with one empty member. */
    if (!r->nmembers && sink_write(r, "", 0) < 0) return BR_EIO;
    const char **names = xmalloc(r->nmembers * sizeof *names);
    for (uint32_t i = 0; i < r->nmembers; i++) names[i] = strrchr(r->members[i], '/') + 1;
    int rc = archive_zip(r->tmp, (const char *const *)r->members, names, r->nmembers);
    free(names);
    return rc;
}

static void sink_free(run_t *r) {
    if (r->gz) gzclose(r->gz);
    for (uint32_t i = 0; i < r->nmembers; i++) free(r->members[i]);
    free(r->members);
    buf_free(&r->lines);
}

/* ---- a job ----------------------------------------------------------------- */

/* Builds the lines of the collected rows on the engine thread, writes
 * them here. */
static int flush_chunk(run_t *r) {
    buf_reset(&r->lines);
    chunk_arg c = {&r->fields, r->rows, r->n, &r->lines, 0};
    int rc = eng_exec_read(r->x->cfg.engine, chunk_read, &c);
    r->n = 0;
    if (rc < 0) {
        snprintf(r->why, sizeof r->why, "reading profiles failed: %s", br_err_message(rc));
        return rc;
    }
    r->users += c.users;
    if (!c.users) return 0; /* every row deleted since: no member for them */
    if ((rc = sink_write(r, r->lines.data, r->lines.len)) < 0)
        snprintf(r->why, sizeof r->why, "writing the export file failed: %s", strerror(errno));
    return rc;
}

static bool collect(uint32_t row, void *arg) {
    run_t *r = arg;
    r->rows[r->n++] = row;
    if (r->n == r->x->cfg.chunk) r->rc = flush_chunk(r);
    return r->rc == 0 && !atomic_load(&r->x->stopping);
}

/* Sleeps up to ms, or less when asked to stop. */
static void nap(exporter_t *x, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&x->lock);
    if (!atomic_load(&x->stopping) && !x->kicked) pthread_cond_timedwait(&x->wake, &x->lock, &ts);
    x->kicked = false;
    pthread_mutex_unlock(&x->lock);
}

/* POSTs the job's outcome to its callback_endpoint: a few tries, then it
 * is logged and left (the file is there whether or not anyone was told). */
static void call_back(exporter_t *x, const store_export_job *j, bool ok) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(ok));
    if (ok) json_object_object_add(o, "url", json_object_new_string(j->url));
    char *body = xstrdup(json_object_to_json_string_ext(o, JSON_PLAIN));
    json_object_put(o);
    int status = 0;
    for (int attempt = 1; attempt <= CALLBACK_ATTEMPTS; attempt++) {
        char err[256] = "";
        status = httpc_post_json(j->callback, body, CALLBACK_TIMEOUT_MS, err, sizeof err);
        if (status >= 200 && status < 300) break;
        if (status) snprintf(err, sizeof err, "answered HTTP %d", status);
        log_warn("export: %s callback attempt %d/%d failed: %s", j->prefix, attempt, CALLBACK_ATTEMPTS, err);
        if (attempt == CALLBACK_ATTEMPTS || atomic_load(&x->stopping)) break;
        nap(x, 1000 * attempt);
    }
    free(body);
    finish_arg f = {.id = j->id, .status = status};
    eng_exec_store(x->cfg.engine, callback_op, &f);
}

/* The rows of a job: its segment's, or the Global Control Group's as the
 * server is configured now (Braze: the group's members when the file is
 * made). */
static int job_rows(exporter_t *x, const store_export_job *j, bitmap_t **rows, char *why, size_t whylen) {
    int rc;
    if (strcmp(j->segment_id, EXPORTER_GCG_ID)) {
        segs_eval ev = {.id = j->segment_id, .keep_rows = true};
        if ((rc = eng_exec_read(x->cfg.engine, segs_eval_read, &ev)) < 0)
            snprintf(why, whylen, "evaluating the segment failed: %.300s", ev.why[0] ? ev.why : br_err_message(rc));
        *rows = ev.rows;
        return rc;
    }
    segs_eval_json ev = {.def = gcg_definition(x->cfg.gcg)};
    if (!ev.def) {
        snprintf(why, whylen, "this server has no Global Control Group (brasa serve --global-control-group PERCENT)");
        return BR_EINVAL;
    }
    if ((rc = eng_exec_read(x->cfg.engine, segs_eval_json_read, &ev)) < 0)
        snprintf(why, whylen, "evaluating the Global Control Group failed: %.300s", ev.why[0] ? ev.why : br_err_message(rc));
    json_object_put(ev.def);
    *rows = ev.rows;
    return rc;
}

static void run_job(exporter_t *x, store_export_job *j) {
    int64_t t0 = clock_mono_us();
    run_t r = {.x = x, .job = j};
    remove_staging(x, j); /* a rerun starts clean */
    json_object *fl = json_parse(j->fields, strlen(j->fields));
    bitmap_t *rows = NULL;
    if (!fl || export_fields_parse(fl, &r.fields, r.why, sizeof r.why) < 0) {
        if (!r.why[0]) snprintf(r.why, sizeof r.why, "stored fields_to_export do not parse");
        r.rc = BR_EINVAL;
    } else if ((r.rc = job_rows(x, j, &rows, r.why, sizeof r.why)) < 0) {
        /* r.why says why */
    } else if ((mkdir(x->dir, 0700) < 0 && errno != EEXIST) || (r.rc = sink_open(&r)) < 0) {
        r.rc = BR_EIO;
        snprintf(r.why, sizeof r.why, "cannot create the export file in %s: %s", x->dir, strerror(errno));
    } else {
        r.rows = xmalloc(x->cfg.chunk * sizeof *r.rows);
        bitmap_iterate(rows, collect, &r);
        if (r.rc == 0 && r.n && !atomic_load(&x->stopping)) r.rc = flush_chunk(&r);
        if (r.rc == 0 && !atomic_load(&x->stopping)) {
            if ((r.rc = sink_close(&r)) < 0) snprintf(r.why, sizeof r.why, "writing the export file failed: %s", strerror(errno));
            r.complete = r.rc == 0;
        }
    }
    json_object_put(fl);
    bitmap_free(rows);
    free(r.rows);
    sink_free(&r);
    if (r.rc == 0 && !r.complete) {
        remove_staging(x, j);
        log_info("export: %s stopped; it runs again at the next start", j->prefix);
        return; /* left 'running' on purpose */
    }
    finish_arg f = {.id = j->id, .ok = r.rc == 0, .users = r.users, .error = r.rc ? r.why : NULL, .tmp = r.tmp, .final = r.final};
    if (eng_exec_store(x->cfg.engine, finish_op, &f) < 0) log_error("export: %s: cannot record its end", j->prefix);
    if (f.ok) file_sync(x->dir); /* the rename itself */
    remove_staging(x, j);
    r.rc = f.ok ? 0 : r.rc ? r.rc : BR_EIO;
    if (r.rc && !r.why[0]) snprintf(r.why, sizeof r.why, "%s", f.error);
    if (r.rc == 0)
        log_info("export: %s segment=%s users=%lld ms=%lld", j->prefix, j->segment_id, (long long)r.users,
                 (long long)(clock_mono_us() - t0) / 1000);
    else log_warn("export: %s segment=%s failed: %s", j->prefix, j->segment_id, r.why);
    if (j->callback) call_back(x, j, r.rc == 0);
}

/* Deletes export files older than the TTL (by their modification time:
 * when they were completed). */
static void expire(exporter_t *x) {
    if (!x->cfg.ttl_hours) return;
    time_t cutoff = time(NULL) - (time_t)x->cfg.ttl_hours * 3600;
    DIR *d = opendir(x->dir);
    if (!d) return;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)))
        if (store_export_name_parse(e->d_name) >= 0 && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_mtime < cutoff && unlinkat(dirfd(d), e->d_name, 0) == 0)
            log_info("export: %s expired and was deleted", e->d_name);
    closedir(d);
}

static void *exporter_main(void *arg) {
    thread_name("brasa-export");
    exporter_t *x = arg;
    while (!atomic_load(&x->stopping)) {
        expire(x);
        store_export_job j;
        next_arg na = {&j, false};
        int rc = eng_exec_store(x->cfg.engine, next_op, &na);
        if (rc == 0 && na.found) {
            run_job(x, &j);
            store_export_job_free(&j);
            continue;
        }
        if (rc < 0) log_error("export: cannot read the queue: %s", br_err_message(rc));
        nap(x, 1000);
    }
    return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

int exporter_start(const exporter_config *cfg, exporter_t **out) {
    exporter_t *x = xcalloc(1, sizeof *x);
    x->cfg = *cfg;
    if (!x->cfg.chunk) x->cfg.chunk = EXPORTER_CHUNK;
    /* The directory is made by the first job: a store that never exported
     * has none. */
    const char *dir = store_dir(engine_store(cfg->engine));
    x->dir = xmalloc(strlen(dir) + sizeof "/" STORE_EXPORTS_DIR);
    sprintf(x->dir, "%s/%s", dir, STORE_EXPORTS_DIR);
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->wake, NULL);
    if (pthread_create(&x->thread, NULL, exporter_main, x) != 0) {
        log_error("export: cannot start the exporter thread");
        pthread_mutex_destroy(&x->lock);
        pthread_cond_destroy(&x->wake);
        free(x->dir);
        free(x);
        return BR_EINTERNAL;
    }
    *out = x;
    return 0;
}

void exporter_kick(exporter_t *x) {
    if (!x) return;
    pthread_mutex_lock(&x->lock);
    x->kicked = true;
    pthread_cond_signal(&x->wake);
    pthread_mutex_unlock(&x->lock);
}

void exporter_free(exporter_t *x) {
    if (!x) return;
    pthread_mutex_lock(&x->lock);
    atomic_store(&x->stopping, true);
    pthread_cond_signal(&x->wake);
    pthread_mutex_unlock(&x->lock);
    pthread_join(x->thread, NULL);
    pthread_mutex_destroy(&x->lock);
    pthread_cond_destroy(&x->wake);
    free(x->dir);
    free(x);
}
