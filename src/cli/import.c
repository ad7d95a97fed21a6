/* import.c -- `brasa import users FILE`: users from a CSV file (Braze's CSV
 * user import format) or NDJSON (one /users/track attributes object per
 * line), through the same parser and journal as /users/track.
 *
 * With no server on the data directory the rows are applied here, through
 * the engine; with one, they are sent to it, with a key made for the run
 * and revoked after (import_sink.c). Progress is kept in
 * <data dir>/imports/<file id>.json at each durable batch boundary, so an
 * interrupted import (Ctrl-C, a crash, a full disk) goes on from there
 * when the same command runs again; rows after that point may be applied
 * twice, which for attributes changes nothing. */
#include "cli.h"
#include "import.h"
#include "opts.h"
#include "../api/csv_users.h"
#include "../api/parse.h"
#include "../core/apikey.h"
#include "../lib/clock.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/file.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/timefmt.h"
#include "../lib/utf8.h"
#include "../store/keys.h"
#include "../store/store.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (4u << 20)
#define ROW_MAX (1u << 20)     /* a row (or NDJSON line) past this is refused unread */
#define SAVE_EVERY_MS 500      /* progress written at most this often */
#define SHOW_REJECTS 10        /* printed at the end; all go to the rejects file */

static const char usage[] =
    "usage: brasa import users FILE [--format csv|ndjson] [--rejects PATH] [--restart]\n"
    "\n"
    "Creates or updates users from FILE through the same checks as /users/track:\n"
    "CSV in Braze's user import format (a header row; an identifier column:\n"
    "external_id, braze_id, user_alias_name with user_alias_label, email or\n"
    "phone; default and custom attribute columns; blank cells leave a value as\n"
    "it is), or NDJSON of /users/track attributes objects, one per line.\n"
    "The rows go to the server running on --data-dir, or, with none, straight\n"
    "into its store. An interrupted import goes on where it stopped when run\n"
    "again (--restart: from the top). Rows refused are listed with their line\n"
    "numbers, on stderr and in the rejects file (FILE.rejects).";

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

/* ---- the file, line by line ---------------------------------------------- */

typedef struct {
    int fd;
    char *buf;
    size_t start, end;
    int64_t off; /* file offset of buf[start] */
    bool eof;
} reader;

/* The next physical line (with its '\n'), in p and n; a line longer than
 * ROW_MAX is consumed whole and returned with *p NULL. 0 at the end. */
static int next_line(reader *r, const char **p, size_t *n) {
    size_t skipped = 0;
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl || (r->eof && r->end > r->start)) {
            size_t len = nl ? (size_t)(nl + 1 - (r->buf + r->start)) : r->end - r->start;
            *p = skipped ? NULL : r->buf + r->start;
            *n = skipped + len;
            r->start += len;
            r->off += (int64_t)len;
            return 1;
        }
        if (r->eof) {
            if (!skipped) return 0;
            *p = NULL;
            *n = skipped;
            return 1;
        }
        if (r->end - r->start >= ROW_MAX) { /* too long: drop what we hold, keep looking */
            skipped += r->end - r->start;
            r->off += (int64_t)(r->end - r->start);
            r->start = r->end = 0;
        }
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        ssize_t got = read(r->fd, r->buf + r->end, READ_CHUNK - r->end);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) r->eof = true;
        r->end += (size_t)got;
    }
}

/* ---- the run ------------------------------------------------------------------- */

typedef struct {
    const char *file, *dir;
    bool csv;
    imp_sink *sink;
    FILE *rejects;
    const char *rejects_path;
    char state_path[PATH_MAX];
    struct stat st;
    /* where the file is */
    int64_t line;          /* the line being read */
    int64_t row_line;      /* the line the current row started on */
    size_t row_bytes;
    /* the CSV row being built */
    struct csv_parser cp;
    bool have_header, row_done;
    csvu_header header;
    bool typed;      /* rows parsed here (api/csv_users.h), not sent as JSON */
    buf_t text;      /* the row's fields, each NUL-terminated */
    size_t *offs;    /* where each starts in text */
    char **cells;    /* and pointers to them, once the row is complete */
    size_t *lens;    /* and their lengths */
    int ncells, capcells;
    /* batches, in file order */
    imp_batch *head, *tail, *cur;
    /* counts */
    int64_t rows, rejected, applied_offset, applied_line, resumed_rows;
    int64_t shown;
    char fatal[300];
    /* progress */
    int64_t t0, last_save, last_show, start_offset;
    bool tty;
} run;

/* Lists a refused row; it is counted when its batch is done (settle). */
static void reject(run *r, int64_t line, const char *why) {
    if (r->shown < SHOW_REJECTS) fprintf(stderr, "brasa: line %lld: %s\n", (long long)line, why);
    r->shown++;
    if (r->rejects) fprintf(r->rejects, "%lld\t%s\n", (long long)line, why);
}

static void save_state(run *r, bool force) {
    int64_t now = clock_mono_us() / 1000;
    if (!force && now - r->last_save < SAVE_EVERY_MS) return;
    r->last_save = now;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "file", json_object_new_string(r->file));
    json_object_object_add(o, "size", json_object_new_int64((int64_t)r->st.st_size));
    json_object_object_add(o, "mtime_ns", json_object_new_int64((int64_t)r->st.st_mtim.tv_sec * 1000000000 + r->st.st_mtim.tv_nsec));
    json_object_object_add(o, "offset", json_object_new_int64(r->applied_offset));
    json_object_object_add(o, "line", json_object_new_int64(r->applied_line));
    json_object_object_add(o, "rows", json_object_new_int64(r->rows));
    json_object_object_add(o, "rejected", json_object_new_int64(r->rejected));
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->state_path);
    if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) == 0) {
        if (r->rejects) fflush(r->rejects), fsync(fileno(r->rejects));
        file_sync(tmp);
        rename(tmp, r->state_path);
    }
    json_object_put(o);
}

static void show(run *r, bool last) {
    int64_t now = clock_mono_us() / 1000;
    if (!last && now - r->last_show < (r->tty ? 200 : 5000)) return;
    r->last_show = now;
    double secs = (double)(now - r->t0) / 1000.0, rate = secs > 0 ? (double)(r->rows - r->resumed_rows) / secs : 0;
    double done = r->st.st_size ? (double)r->applied_offset / (double)r->st.st_size : 1;
    double bps = secs > 0 ? (double)(r->applied_offset - r->start_offset) / secs : 0;
    double eta = bps > 0 ? (double)(r->st.st_size - r->applied_offset) / bps : 0;
    if (r->tty) {
        char bar[31];
        int fill = (int)(done * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r\033[K[%s] %3.0f%%  %lld rows  %.0f rows/s  ETA %.0f s", bar, done * 100,
                (long long)r->rows, rate, eta);
        if (last) fputc('\n', stderr);
    } else {
        fprintf(stderr, "import: %lld rows, %.0f%% of the file, %.0f rows/s, ETA %.0f s\n", (long long)r->rows,
                done * 100, rate, eta);
    }
}

/* Done batches at the head: their refusals, and the resume point past them. */
static void settle(run *r) {
    while (r->head && r->head->done) {
        imp_batch *b = r->head;
        imp_sink_release(r->sink, b);
        if (b->fatal[0] && !b->errors) {
            if (!r->fatal[0]) snprintf(r->fatal, sizeof r->fatal, "%s", b->fatal);
            return; /* stop here: the resume point stays before it */
        }
        int refused = 0;
        size_t ne = b->errors ? json_object_array_length(b->errors) : 0;
        for (size_t i = 0; i < ne; i++) {
            json_object *e = json_object_array_get_idx(b->errors, i), *v;
            int idx = json_object_object_get_ex(e, "index", &v) ? json_object_get_int(v) : -1;
            const char *type = json_object_object_get_ex(e, "type", &v) ? json_object_get_string(v) : "refused";
            if (idx < 0 || idx >= b->n) continue;
            reject(r, b->lines[idx], type);
            refused++;
        }
        r->rows += b->n - refused;
        r->rejected += refused + b->refused_here;
        r->applied_offset = b->end_offset;
        r->applied_line = b->end_line;
        r->head = b->next;
        if (!r->head) r->tail = NULL;
        json_object_put(b->errors);
        json_object_put(b->body);
        track_cmd_free(&b->cmd);
        free(b);
    }
}

static void flush_batch(run *r) {
    imp_batch *b = r->cur;
    if (!b) return;
    r->cur = NULL;
    if (r->tail) r->tail->next = b;
    else r->head = b;
    r->tail = b;
    imp_sink_send(r->sink, b);
    /* Once a batch, not once a line: what came back, and the progress. */
    imp_sink_wait(r->sink, INT_MAX);
    settle(r);
    save_state(r, false);
    show(r, false);
}

static imp_batch *batch_open(run *r) {
    if (!r->cur) {
        r->cur = xcalloc(1, sizeof *r->cur);
        if (r->typed) {
            r->cur->cmd.attrs = xcalloc(IMP_BATCH, sizeof *r->cur->cmd.attrs);
        } else {
            r->cur->body = json_object_new_object();
            json_object_object_add(r->cur->body, "attributes", json_object_new_array());
        }
    }
    return r->cur;
}

/* A row is complete, its object in the open batch (kept) or refused; the
 * batch is sent when full. end_offset is the byte after the row; a resume
 * starts on the line after it. */
static void row_done(run *r, bool kept, int64_t line, int64_t end_offset) {
    imp_batch *b = batch_open(r);
    if (kept) b->lines[b->n++] = line;
    else b->refused_here++;
    b->end_offset = end_offset;
    b->end_line = r->line + 1;
    if (b->n == IMP_BATCH) flush_batch(r);
}

static void add_object(run *r, json_object *o, int64_t line, int64_t end_offset) {
    if (o) json_object_array_add(json_object_object_get(batch_open(r)->body, "attributes"), o);
    row_done(r, o != NULL, line, end_offset);
}

static void cells_room(run *r, int n) {
    if (n <= r->capcells) return;
    while (r->capcells < n) r->capcells = r->capcells ? 2 * r->capcells : 16;
    r->offs = xrealloc(r->offs, (size_t)r->capcells * sizeof *r->offs);
    r->cells = xrealloc(r->cells, (size_t)r->capcells * sizeof *r->cells);
    r->lens = xrealloc(r->lens, (size_t)r->capcells * sizeof *r->lens);
}

static void on_field(void *s, size_t n, void *ud) {
    run *r = ud;
    cells_room(r, r->ncells + 1);
    r->offs[r->ncells++] = r->text.len;
    buf_append(&r->text, s, n);
    buf_append(&r->text, "", 1);
}

static void on_row(int term, void *ud) {
    (void)term;
    ((run *)ud)->row_done = true;
}

static void cells_clear(run *r) {
    r->text.len = 0;
    r->ncells = 0;
}

/* The row in cells[] and lens[], which ends with the current line. utf8:
 * all of its text is valid UTF-8 (the common case; else each field is
 * checked, to say which). */
static int take_row(run *r, bool utf8, int64_t end_offset, char *why, size_t whylen) {
    for (int i = 0; i < r->ncells; i++) {
        bool has_nul = strlen(r->cells[i]) != r->lens[i];
        if (!has_nul && (utf8 || utf8_valid(r->cells[i], r->lens[i], NULL))) continue;
        snprintf(why, whylen, "field %d %s", i + 1, has_nul ? "holds a NUL byte" : "is not valid UTF-8");
        if (!r->have_header) return -1;
        reject(r, r->row_line, why);
        add_object(r, NULL, 0, end_offset);
        cells_clear(r);
        return 0;
    }
    if (!r->have_header) {
        int rc = csvu_header_read(&r->header, r->cells, r->ncells, why, whylen);
        cells_clear(r);
        r->have_header = true;
        r->typed = rc == 0 && r->header.typed && imp_sink_typed(r->sink);
        return rc;
    }
    char rwhy[300];
    if (r->typed) {
        imp_batch *b = batch_open(r);
        track_attrs *a = &b->cmd.attrs[b->cmd.nattrs];
        bool kept = csvu_row_typed(&r->header, r->cells, r->lens, r->ncells, a, rwhy, sizeof rwhy) == 0;
        if (kept) a->index = b->n, b->cmd.nattrs++;
        else api_utf8_trim(rwhy), reject(r, r->row_line, rwhy);
        row_done(r, kept, r->row_line, end_offset);
    } else {
        json_object *o = csvu_row(&r->header, r->cells, r->ncells, rwhy, sizeof rwhy);
        if (!o) reject(r, r->row_line, rwhy);
        add_object(r, o, r->row_line, end_offset);
    }
    cells_clear(r);
    return 0;
}

/* The row libcsv just completed. */
static int csv_row(run *r, int64_t end_offset, char *why, size_t whylen) {
    r->row_done = false;
    for (int i = 0; i < r->ncells; i++) {
        r->cells[i] = r->text.data + r->offs[i];
        r->lens[i] = (i + 1 < r->ncells ? r->offs[i + 1] : r->text.len) - r->offs[i] - 1;
    }
    return take_row(r, utf8_valid(r->text.data, r->text.len, NULL), end_offset, why, whylen);
}

/* One physical line of the file. Returns -1 (why set) for a file that
 * cannot be imported at all: a bad header. */
static int feed_line(run *r, const char *p, size_t n, int64_t end_offset, char *why, size_t whylen) {
    if (!r->csv) {
        if (!p) {
            reject(r, r->line, "a line of more than 1 MiB");
            add_object(r, NULL, 0, end_offset);
            return 0;
        }
        size_t len = n;
        while (len && (p[len - 1] == '\n' || p[len - 1] == '\r')) len--;
        if (!len) return 0;
        json_tokener *tok = json_tokener_new();
        json_object *o = json_tokener_parse_ex(tok, p, (int)len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || err != json_tokener_success || used != len || !json_object_is_type(o, json_type_object)) {
            char w[200];
            const char *what = err == json_tokener_continue ? "the line ends inside it"
                               : err != json_tokener_success ? json_tokener_error_desc(err)
                                                             : NULL;
            snprintf(w, sizeof w, "not a JSON object%s%s", what ? ": " : "", what ? what : "");
            json_object_put(o);
            reject(r, r->line, w);
            add_object(r, NULL, 0, end_offset);
            return 0;
        }
        add_object(r, o, r->line, end_offset);
        return 0;
    }
    if (!p || r->row_bytes + n > ROW_MAX) {
        /* An unterminated quote eats the file: give the row up, start
         * again on the next line. */
        if (!r->have_header) return snprintf(why, whylen, "the header row is over 1 MiB"), -1;
        reject(r, r->row_line, "a row of more than 1 MiB (an unterminated quote?)");
        add_object(r, NULL, 0, end_offset);
        csv_free(&r->cp);
        csv_init(&r->cp, CSV_STRICT | CSV_STRICT_FINI);
        cells_clear(r);
        r->row_bytes = 0;
        r->row_line = r->line + 1;
        return 0;
    }
    if (end_offset == (int64_t)n && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3, n -= 3; /* a BOM */
    /* A plain line that is a whole row, as nearly all are: split where it
     * lies in the read buffer (ours, and done with after this line),
     * without libcsv's callback and copy per field. */
    int plain = r->have_header && !r->row_bytes ? csvu_plain_fields(p, n) : -1;
    if (plain > 0) {
        cells_room(r, plain);
        csvu_plain_split((char *)p, n, r->cells, r->lens);
        r->ncells = plain;
        if (take_row(r, utf8_valid(p, n, NULL), end_offset, why, whylen) < 0) return -1;
        r->row_line = r->line + 1;
        return 0;
    }
    r->row_bytes += n;
    if (csv_parse(&r->cp, p, n, on_field, on_row, r) != n) {
        if (!r->have_header) return snprintf(why, whylen, "the header row: %s", csv_strerror(csv_error(&r->cp))), -1;
        reject(r, r->row_line, "a quote inside an unquoted field, or text after a closing quote");
        add_object(r, NULL, 0, end_offset);
        csv_free(&r->cp);
        csv_init(&r->cp, CSV_STRICT | CSV_STRICT_FINI);
        cells_clear(r);
        r->row_done = false;
        r->row_bytes = 0;
        r->row_line = r->line + 1;
        return 0;
    }
    if (r->row_done) {
        if (csv_row(r, end_offset, why, whylen) < 0) return -1;
        r->row_bytes = 0;
        r->row_line = r->line + 1;
    }
    return 0;
}

static uint64_t fnv(const char *s, uint64_t h) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The progress file of this file (by path, size, time and inode): a
 * changed file is a new import. */
static void state_path_of(run *r, char *abs) {
    char id[128];
    snprintf(id, sizeof id, "|%lld|%lld.%ld|%llu", (long long)r->st.st_size, (long long)r->st.st_mtim.tv_sec,
             r->st.st_mtim.tv_nsec, (unsigned long long)r->st.st_ino);
    uint64_t h = fnv(id, fnv(abs, 14695981039346656037ULL));
    snprintf(r->state_path, sizeof r->state_path, "%s/imports/%016llx.json", r->dir, (unsigned long long)h);
}

static int load_state(run *r, int64_t *offset) {
    json_object *o = json_object_from_file(r->state_path), *v;
    if (!o) return 0;
    *offset = json_object_object_get_ex(o, "offset", &v) ? json_object_get_int64(v) : 0;
    r->applied_line = json_object_object_get_ex(o, "line", &v) ? json_object_get_int64(v) : 1;
    r->rows = r->resumed_rows = json_object_object_get_ex(o, "rows", &v) ? json_object_get_int64(v) : 0;
    r->rejected = json_object_object_get_ex(o, "rejected", &v) ? json_object_get_int64(v) : 0;
    r->shown = SHOW_REJECTS; /* those were shown by the first run */
    json_object_put(o);
    return *offset > 0;
}

/* The server running on dir: where it listens (serve writes it in its
 * lock file), and a key for this run. */
static imp_sink *server_sink(const char *dir, apikey_new *key, store_t **store, char *why, size_t whylen) {
    char path[PATH_MAX], url[256] = "";
    snprintf(path, sizeof path, "%s/brasa.lock", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(url, sizeof url, f)) url[0] = '\0';
        fclose(f);
    }
    url[strcspn(url, "\r\n")] = '\0';
    if (strncmp(url, "http://", 7)) {
        snprintf(why, whylen, "%s is in use by another brasa command: wait for it to end", dir);
        return NULL;
    }
    char name[64], *kwhy = NULL;
    snprintf(name, sizeof name, "brasa import %d", (int)getpid());
    if (store_open(dir, store) < 0 || apikey_prepare(key, name, "users.track", NULL, &kwhy) < 0 ||
        store_exec(*store, store_key_insert_op, key) < 0) {
        snprintf(why, whylen, "cannot make a key for the import%s%s", kwhy ? ": " : "", kwhy ? kwhy : "");
        free(kwhy);
        return NULL;
    }
    fprintf(stderr, "import: a server runs on %s: sending the rows to %s\n", dir, url);
    return imp_sink_http(url, key->key, 8, why, whylen);
}

static int import_users(const char *dir, const char *file, const char *format, const char *rejects_path,
                        bool restart) {
    run r = {.file = file, .dir = dir, .line = 1, .row_line = 1, .applied_line = 1};
    char why[512] = "", abs[PATH_MAX];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &r.st) < 0 || !realpath(file, abs)) {
        fprintf(stderr, "brasa: cannot read %s: %s\n", file, strerror(errno));
        if (fd >= 0) close(fd);
        return 1;
    }
    if (!S_ISREG(r.st.st_mode)) {
        fprintf(stderr, "brasa: %s is not a file\n", file);
        close(fd);
        return 1;
    }
    size_t fl = strlen(file);
    r.csv = format ? !strcmp(format, "csv")
                   : !(fl > 7 && !strcmp(file + fl - 7, ".ndjson")) && !(fl > 6 && !strcmp(file + fl - 6, ".jsonl"));
    char imports[PATH_MAX];
    snprintf(imports, sizeof imports, "%s/imports", dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "brasa: cannot make %s: %s\n", dir, strerror(errno));
        close(fd);
        return 1;
    }
    mkdir(imports, 0700);
    state_path_of(&r, abs);
    int64_t offset = 0;
    if (restart) unlink(r.state_path);
    else if (load_state(&r, &offset))
        fprintf(stderr, "import: resuming %s at line %lld (%lld rows imported before)\n", file,
                (long long)r.applied_line, (long long)r.rows);
    r.applied_offset = r.start_offset = offset;

    int lockfd = cli_lock_dir(dir);
    store_t *kstore = NULL;
    apikey_new key = {0};
    r.sink = lockfd >= 0 ? imp_sink_engine(dir, why, sizeof why)
                         : errno == EWOULDBLOCK ? server_sink(dir, &key, &kstore, why, sizeof why) : NULL;
    if (!r.sink) {
        fprintf(stderr, "brasa: %s\n", why[0] ? why : strerror(errno));
        if (lockfd >= 0) close(lockfd);
        if (kstore) store_close(kstore);
        apikey_new_free(&key);
        close(fd);
        return 1;
    }
    char rj[PATH_MAX];
    if (!rejects_path) snprintf(rj, sizeof rj, "%s.rejects", file), rejects_path = rj;
    r.rejects = fopen(rejects_path, offset ? "a" : "w");
    r.rejects_path = rejects_path;
    if (!r.rejects) fprintf(stderr, "brasa: cannot write %s (%s): rejected rows are only listed here\n", rejects_path, strerror(errno));
    csv_init(&r.cp, CSV_STRICT | CSV_STRICT_FINI);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    r.tty = isatty(STDERR_FILENO);
    r.t0 = r.last_save = r.last_show = clock_mono_us() / 1000;
    reader rd = {.fd = fd, .buf = xmalloc(READ_CHUNK)};
    int rc = 0;
    const char *p;
    size_t n;
    /* A resumed import goes where it stopped; a CSV reads its header
     * again first. */
    bool seek = offset > 0;
    for (;;) {
        if (seek && (!r.csv || r.have_header)) {
            seek = false;
            if (lseek(fd, offset, SEEK_SET) < 0) {
                rc = -1;
                break;
            }
            rd.start = rd.end = 0;
            rd.off = offset;
            rd.eof = false;
            r.line = r.row_line = r.applied_line;
        }
        if (interrupted || r.fatal[0] || (rc = next_line(&rd, &p, &n)) <= 0) break;
        if (feed_line(&r, p, n, rd.off, why, sizeof why) < 0) {
            fprintf(stderr, "brasa: %s: %s\n", file, why);
            rc = -2;
            break;
        }
        r.line++;
    }
    if (rc == -1) snprintf(r.fatal, sizeof r.fatal, "cannot read %s: %s", file, strerror(errno));
    if (rc == 0 && !interrupted && !r.fatal[0]) {
        if (r.csv && csv_fini(&r.cp, on_field, on_row, &r) != 0) {
            reject(&r, r.row_line, "the file ends inside a quoted field (is it cut short?)");
            add_object(&r, NULL, 0, rd.off);
            cells_clear(&r);
        } else if (r.csv && r.row_done && csv_row(&r, rd.off, why, sizeof why) < 0) {
            fprintf(stderr, "brasa: %s: %s\n", file, why);
            rc = -2;
        }
        if (r.csv && !r.have_header && rc == 0) {
            fprintf(stderr, "brasa: %s is empty: a CSV import needs a header row\n", file);
            rc = -2;
        }
    }
    flush_batch(&r);
    imp_sink_wait(r.sink, 0);
    settle(&r);
    for (imp_batch *b = r.head, *next; b; b = next) { /* after one that failed: to be sent again */
        next = b->next;
        imp_sink_release(r.sink, b);
        json_object_put(b->errors);
        json_object_put(b->body);
        track_cmd_free(&b->cmd);
        free(b);
    }
    imp_sink_close(r.sink);
    bool finished = rc == 0 && !interrupted && !r.fatal[0];
    if (r.tty || finished) show(&r, true);
    if (finished) unlink(r.state_path);
    else if (rc != -2) save_state(&r, true);
    if (r.rejects) fclose(r.rejects);
    if (kstore) { /* the run's key goes with it */
        store_exec(kstore, store_key_revoke_op, &key.id);
        store_close(kstore);
    }
    apikey_new_free(&key);
    if (lockfd >= 0) close(lockfd);
    csv_free(&r.cp);
    if (r.have_header) csvu_header_free(&r.header);
    buf_free(&r.text);
    free(r.offs);
    free(r.cells);
    free(r.lens);
    free(rd.buf);
    close(fd);
    if (r.rejected > SHOW_REJECTS && r.rejects)
        fprintf(stderr, "brasa: ... %lld rows refused in all: every one, with its line, in %s\n", (long long)r.rejected,
                rejects_path);
    if (rc == -2) return 1;
    double secs = (double)(clock_mono_us() / 1000 - r.t0) / 1000.0;
    if (!finished) {
        fprintf(stderr, "brasa: import %s at line %lld%s%s; run the same command again to go on from there\n",
                interrupted ? "interrupted" : "stopped", (long long)r.applied_line, r.fatal[0] ? ": " : "", r.fatal);
        return interrupted ? 130 : 1;
    }
    printf("imported %s: %lld users created or updated, %lld rows refused, in %.1f s (%.0f rows/s)\n", file,
           (long long)r.rows, (long long)r.rejected, secs, secs > 0 ? (double)(r.rows - r.resumed_rows) / secs : 0);
    return 0;
}

int cli_import(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"format", NULL, NULL, "csv or ndjson (default: by the file's name; .ndjson and .jsonl are NDJSON)", false, false, NULL},
        {"rejects", NULL, NULL, "where the refused rows' lines and reasons go (default: FILE.rejects)", false, false, NULL},
        {"restart", NULL, NULL, "ignore the progress of an earlier, interrupted run: from the top", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[2];
    int npos, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 2);
    if (rc >= 0) return rc;
    const char *format = opts_get(opts, "format");
    if (strcmp(pos[0], "users")) {
        fprintf(stderr, "brasa: unknown import command '%s' (brasa import users FILE)\n", pos[0]);
        rc = 2;
    } else if (npos < 2) {
        fprintf(stderr, "brasa: import users needs the FILE to import\n");
        rc = 2;
    } else if (format && strcmp(format, "csv") && strcmp(format, "ndjson")) {
        fprintf(stderr, "brasa: --format is csv or ndjson, not '%s'\n", format);
        rc = 2;
    } else {
        log_set_level(LOG_WARN);
        rc = import_users(opts_get(opts, "data-dir"), pos[1], format, opts_get(opts, "rejects"),
                          opts_get(opts, "restart") != NULL);
    }
    opts_free(opts);
    return rc;
}
