/* files.c -- the storage-files sink: Currents events as files in a local
 * directory the operator syncs to object storage or mounts, laid out as
 * Braze's storage export lays out its keys (spec/currents.md §4):
 *
 *   <dir>/<prefix>/dataexport.<cluster>.Local.integration.<id>/
 *     event_type=<type>/date=<YYYY-MM-DD-HH>/
 *       dataexport.<cluster>.Local.integration.<id>+0+<offset>.avro
 *
 * date is the UTC hour the file was opened; offset the connector's count of
 * events written before it (kept across restarts in .offset at the top), so
 * names are unique and sort. One file per event type is open at a time:
 * Avro object containers (avro.c) or NDJSON.
 *
 * At least once: events are appended to "<name>.tmp", which readers must
 * skip; sync closes, fsyncs and renames every open file once one is due
 * (max_bytes, max_age_ms) and answers true when nothing accepted is left in
 * an open file, and only then may the runner advance its cursor. A batch is
 * written whole (one Avro block) or, when a write fails, cut back off the
 * file. A failure that could have lost accepted events (fsync, rename)
 * breaks the sink: it deletes the open files and refuses everything after,
 * so the cursor stays where it was; the runner opens a new sink and sends
 * again from there. */
#include "avro.h"
#include "internal.h"

#include "../lib/clock.h"
#include "../lib/file.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/secret.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One event type's file. */
typedef struct {
    char *type;
    cur_avro *avro;  /* its schema (avro format) */
    buf_t batch;     /* the batch being sent: encoded records, or lines */
    int nbatch;
    int fd;          /* the open file, or -1 */
    char *dir, *path; /* its directory, and its final path (the file is path + ".tmp") */
    int64_t opened_ms, size, events;
    int64_t size0;   /* the size before this batch, to cut back to */
    uint8_t sync[CUR_AVRO_SYNC];
} stream;

typedef struct {
    cur_sink base;
    char *root; /* <dir>/<prefix>/<stem> */
    char *stem; /* dataexport.<cluster>.Local.integration.<id> */
    cur_format format;
    int64_t max_bytes, max_age_ms;
    int64_t offset; /* events written, over the connector's life */
    stream *st;
    int nst;
    char broken[256]; /* why the sink refuses everything, or "" */
} files_sink;

static int fail(cur_result *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cur_result *r, int status, const char *fmt, ...) {
    r->status = status;
    r->retry_after_ms = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* mkdir -p, making each directory it creates durable in its parent. */
static int mkdirs(char *path) {
    for (char *p = path + 1;; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = '\0';
        int rc = mkdir(path, 0755);
        if (!rc) {
            char *slash = strrchr(path, '/');
            *slash = '\0';
            rc = file_sync(slash == path ? "/" : path);
            *slash = '/';
        } else if (errno == EEXIST) {
            struct stat sb;
            rc = stat(path, &sb) || !S_ISDIR(sb.st_mode) ? (errno = ENOTDIR, -1) : 0;
        }
        *p = c;
        if (rc || !c) return rc;
    }
}

static int pwrite_all(int fd, const char *p, size_t n, int64_t off) {
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w, n -= (size_t)w, off += w;
    }
    return 0;
}

/* Writes path with text, durably: through path.tmp and a rename. */
static int write_file(const char *dir, const char *name, const char *text) {
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int rc = pwrite_all(fd, text, strlen(text), 0) || fsync(fd) ? -1 : 0;
    int e = errno;
    if (close(fd) && !rc) rc = -1, e = errno;
    if (!rc && rename(tmp, path)) rc = -1, e = errno;
    if (!rc && file_sync(dir)) rc = -1, e = errno;
    if (rc) unlink(tmp);
    errno = e;
    return rc;
}

/* A name that is one path segment, neither hidden nor "..": event types,
 * the cluster, the connector id. */
static bool safe_name(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n && n <= 200 && *s != '.' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* ---- one file ------------------------------------------------------------ */

static char *tmp_of(const stream *st) {
    size_t n = strlen(st->path);
    char *t = xmalloc(n + 5);
    memcpy(t, st->path, n);
    memcpy(t + n, ".tmp", 5);
    return t;
}

/* Forgets st's file (closing it if open; the file left as it is). */
static void forget(stream *st) {
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
    free(st->dir);
    free(st->path);
    st->dir = st->path = NULL;
}

/* Deletes st's .tmp file and forgets it. */
static void discard(stream *st) {
    if (!st->path) return;
    char *tmp = tmp_of(st);
    unlink(tmp);
    free(tmp);
    forget(st);
}

/* Opens a new .tmp file for st (its Avro header written). */
static int open_file(files_sink *s, stream *st, cur_result *r) {
    int64_t now = clock_wall_ms();
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s/event_type=%s/date=%04d-%02d-%02d-%02d", s->root, st->type, tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour);
    st->dir = buf_take(&b);
    buf_printf(&b, "%s/%s+0+%010" PRId64 ".%s", st->dir, s->stem, s->offset, s->format == CUR_AVRO ? "avro" : "ndjson");
    st->path = buf_take(&b);
    char *tmp = tmp_of(st);
    int rc = mkdirs(st->dir);
    if (!rc) rc = st->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    st->size = st->events = 0;
    st->opened_ms = now;
    if (rc >= 0 && s->format == CUR_AVRO) {
        secret_random(st->sync, sizeof st->sync);
        cur_avro_header(st->avro, st->sync, &b);
        rc = pwrite_all(st->fd, b.data, b.len, 0);
        st->size = (int64_t)b.len;
        buf_free(&b);
    }
    if (rc < 0) {
        fail(r, 500, "%s: cannot create %s", strerror(errno), tmp);
        if (st->fd >= 0) unlink(tmp);
        forget(st);
    }
    free(tmp);
    return rc < 0 ? -1 : 0;
}

/* Makes the open files (all, or only `only`) final: fsync, close, the
 * offset saved, rename, the directories' fsync. Any failure breaks the sink:
 * the files are deleted and their events must come again. */
static int close_files(files_sink *s, stream *only, cur_result *r) {
    int done = 0;
    for (int i = 0; i < s->nst; i++) {
        stream *st = &s->st[i];
        if (!st->path || (only && st != only)) continue;
        int rc = fsync(st->fd), e = errno;
        if (close(st->fd) && !rc) rc = -1, e = errno;
        st->fd = -1; /* closed, to be renamed */
        done++;
        if (rc) {
            snprintf(s->broken, sizeof s->broken, "%s: cannot write %s.tmp", strerror(e), st->path);
            goto broken;
        }
    }
    if (!done) return 0;
    char text[32];
    snprintf(text, sizeof text, "%" PRId64 "\n", s->offset);
    if (write_file(s->root, ".offset", text)) {
        snprintf(s->broken, sizeof s->broken, "%s: cannot write %s/.offset", strerror(errno), s->root);
        goto broken;
    }
    for (int i = 0; i < s->nst; i++) {
        stream *st = &s->st[i];
        if (!st->path || st->fd >= 0) continue;
        char *tmp = tmp_of(st);
        int rc = rename(tmp, st->path);
        free(tmp);
        if (rc || file_sync(st->dir)) {
            snprintf(s->broken, sizeof s->broken, "%s: cannot rename %s.tmp", strerror(errno), st->path);
            goto broken;
        }
        forget(st);
    }
    return 0;
broken:
    for (int i = 0; i < s->nst; i++) discard(&s->st[i]);
    return fail(r, 500, "%s", s->broken);
}

/* ---- the sink ------------------------------------------------------------ */

static stream *stream_of(files_sink *s, const char *type) {
    for (int i = 0; i < s->nst; i++)
        if (!strcmp(s->st[i].type, type)) return &s->st[i];
    cur_avro *a = NULL;
    if (s->format == CUR_AVRO && !(a = cur_avro_new(type))) return NULL;
    s->st = xrealloc(s->st, sizeof *s->st * (size_t)(s->nst + 1));
    stream *st = &s->st[s->nst++];
    memset(st, 0, sizeof *st);
    st->type = xstrdup(type);
    st->avro = a;
    st->fd = -1;
    return st;
}

static void clear_batches(files_sink *s) {
    for (int i = 0; i < s->nst; i++) buf_reset(&s->st[i].batch), s->st[i].nbatch = 0;
}

/* Encodes ev into its stream's batch; -1 with why (status 400) when it
 * cannot go in a file. */
static int add(files_sink *s, const cur_event *ev, cur_result *r) {
    const char *id = ev->id ? ev->id : "(no id)";
    if (!safe_name(ev->type)) return fail(r, 400, "event %s: event_type %s cannot name a directory", id, ev->type ? ev->type : "(none)");
    stream *st = stream_of(s, ev->type);
    if (!st) return fail(r, 400, "event %s: no Avro schema for event type %s", id, ev->type);
    if (st->avro) {
        char why[200];
        if (cur_avro_encode(st->avro, ev->ev, &st->batch, why, sizeof why)) return fail(r, 400, "event %s: %s", id, why);
    } else {
        size_t n;
        const char *line = json_text(ev->ev, &n);
        buf_append(&st->batch, line, n);
        buf_append(&st->batch, "\n", 1);
    }
    st->nbatch++;
    return 0;
}

/* Cuts this batch back off every file it reached (a file it opened is
 * deleted); one that cannot be cut back breaks the sink. */
static void cut_back(files_sink *s) {
    for (int i = 0; i < s->nst; i++) {
        stream *st = &s->st[i];
        if (!st->path || !st->nbatch) continue;
        if (!st->events) {
            discard(st);
            continue;
        }
        if (ftruncate(st->fd, (off_t)st->size0)) {
            snprintf(s->broken, sizeof s->broken, "%s: cannot cut back %s.tmp", strerror(errno), st->path);
            for (int j = 0; j < s->nst; j++) discard(&s->st[j]);
            return;
        }
        st->size = st->size0;
    }
}

static int files_send(cur_sink *base, const cur_event *ev, int n, cur_result *r) {
    files_sink *s = (files_sink *)base;
    if (s->broken[0]) return fail(r, 500, "%s", s->broken);
    for (int i = 0; i < n; i++)
        if (add(s, &ev[i], r)) return clear_batches(s), -1;
    for (int i = 0; i < s->nst; i++) s->st[i].size0 = s->st[i].size;
    buf_t block = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < s->nst && !rc; i++) {
        stream *st = &s->st[i];
        if (!st->nbatch) continue;
        if ((st->path && st->size >= s->max_bytes && close_files(s, st, r)) || (!st->path && open_file(s, st, r))) {
            rc = -1;
            break;
        }
        st->size0 = st->size;
        const buf_t *out = &st->batch;
        if (st->avro) {
            buf_reset(&block);
            cur_avro_block(st->nbatch, st->batch.data, st->batch.len, st->sync, &block);
            out = &block;
        }
        if (pwrite_all(st->fd, out->data, out->len, st->size)) {
            rc = fail(r, 500, "%s: cannot write %s.tmp", strerror(errno), st->path);
            break;
        }
        st->size += (int64_t)out->len;
        s->offset += st->nbatch; /* not taken back if a later write fails: names never repeat */
    }
    buf_free(&block);
    if (rc) {
        cut_back(s);
        return clear_batches(s), -1;
    }
    for (int i = 0; i < s->nst; i++) s->st[i].events += s->st[i].nbatch;
    clear_batches(s);
    r->status = 200;
    return 0;
}

static int files_sync(cur_sink *base, int64_t now_ms, bool force, cur_result *r) {
    files_sink *s = (files_sink *)base;
    if (s->broken[0]) return fail(r, 500, "%s", s->broken);
    bool due = force, open = false;
    for (int i = 0; i < s->nst; i++) {
        const stream *st = &s->st[i];
        if (!st->path) continue;
        open = true;
        due = due || st->size >= s->max_bytes || now_ms - st->opened_ms >= s->max_age_ms;
    }
    if (!open) return 1;
    if (!due) return 0;
    return close_files(s, NULL, r) ? -1 : 1;
}

static void files_free(cur_sink *base) {
    files_sink *s = (files_sink *)base;
    for (int i = 0; i < s->nst; i++) {
        discard(&s->st[i]); /* not durable: its events come again */
        cur_avro_free(s->st[i].avro);
        buf_free(&s->st[i].batch);
        free(s->st[i].type);
    }
    free(s->st);
    free(s->root);
    free(s->stem);
    free(s);
}

static const cur_sink_ops files_ops = {files_send, files_sync, files_free, NULL, NULL}; /* no overlap: writes are local */

/* Deletes the .tmp files a crash left in root's event_type=/date= directories. */
static int remove_tmp(const char *root, int depth) {
    DIR *d = opendir(root);
    if (!d) return errno == ENOTDIR ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (depth < 2 && !strncmp(e->d_name, depth ? "date=" : "event_type=", depth ? 5 : 11))
            rc = remove_tmp(path, depth + 1);
        else if (depth == 2 && n > 4 && !strcmp(e->d_name + n - 4, ".tmp") && unlink(path))
            rc = -1;
    }
    closedir(d);
    return rc;
}

cur_sink *cur_files_open(const char *id, const cur_conf *c, char *err, size_t errlen) {
    if (!c->dir || c->dir[0] != '/') return snprintf(err, errlen, "dir must be an absolute path"), NULL;
    if (!safe_name(c->cluster)) return snprintf(err, errlen, "cluster must be letters, digits, '.', '_' or '-'"), NULL;
    if (!safe_name(id)) return snprintf(err, errlen, "bad connector id"), NULL;
    if (c->max_bytes <= 0 || c->max_age_ms <= 0) return snprintf(err, errlen, "max_bytes and max_age must be positive"), NULL;
    files_sink *s = xcalloc(1, sizeof *s);
    s->base.ops = &files_ops;
    s->format = c->format;
    s->max_bytes = c->max_bytes;
    s->max_age_ms = c->max_age_ms;
    buf_t b = BUF_INIT;
    buf_printf(&b, "dataexport.%s.Local.integration.%s", c->cluster, id);
    s->stem = buf_take(&b);
    buf_puts(&b, c->dir);
    if (c->prefix && *c->prefix) buf_printf(&b, "/%s", c->prefix);
    buf_printf(&b, "/%s", s->stem);
    s->root = buf_take(&b);
    if (strlen(s->root) > 3000) { /* the paths below stay well within PATH_MAX */
        snprintf(err, errlen, "dir and prefix are too long");
        goto fail;
    }
    if (mkdirs(s->root)) {
        snprintf(err, errlen, "%s: cannot create %s", strerror(errno), s->root);
        goto fail;
    }
    char path[4200], text[32] = "0\n";
    snprintf(path, sizeof path, "%s/.offset", s->root);
    FILE *f = fopen(path, "r");
    if (!f && errno != ENOENT) {
        snprintf(err, errlen, "%s: cannot read %s", strerror(errno), path);
        goto fail;
    }
    if (f) {
        char *end = NULL;
        if (!fgets(text, sizeof text, f) || (s->offset = strtoll(text, &end, 10)) < 0 || end == text || *end != '\n') {
            fclose(f);
            snprintf(err, errlen, "%s does not hold an event count", path);
            goto fail;
        }
        fclose(f);
    }
    /* Written back at once: the check that the directory takes files. */
    if (write_file(s->root, ".offset", text)) {
        snprintf(err, errlen, "%s: cannot write in %s", strerror(errno), s->root);
        goto fail;
    }
    if (remove_tmp(s->root, 0)) {
        snprintf(err, errlen, "%s: cannot remove the unfinished files in %s", strerror(errno), s->root);
        goto fail;
    }
    return &s->base;
fail:
    files_free(&s->base);
    return NULL;
}
