/* backup.c -- `brasa backup`, `brasa restore` and `brasa check`: a data
 * directory into one file while its server runs, that file back into a
 * new directory, and the checks a restore makes, on their own.
 *
 * A backup is a zip: backup.json (what it is, the journal position it is
 * at), brasa.db and profiles.db as of one moment (store/backup.h),
 * tracking.key, and with --with-exports the finished segment exports.
 * Nothing is ever half-done: backup builds beside its target and the zip
 * appears whole or not at all; restore extracts beside the directory,
 * checks everything (SQLite's integrity check, the pair's journal
 * position, a full load as `brasa serve` would do it) and only then
 * renames the result into place. */
#include "cli.h"
#include "opts.h"
#include "../api/api.h"
#include "../engine/engine.h"
#include "../lib/archive.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/file.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../store/backup.h"
#include "../store/store.h"
#include "../version.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST "backup.json"
#define FORMAT 1
#define MAX_FILES 4096

typedef struct {
    char *paths[MAX_FILES], *names[MAX_FILES];
    size_t n;
} filelist;

static void add(filelist *l, const char *path, const char *name) {
    if (l->n == MAX_FILES) return;
    l->paths[l->n] = strdup(path);
    l->names[l->n++] = strdup(name);
}

static void filelist_free(filelist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->paths[i]), free(l->names[i]);
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static char *dirname_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/* ---- brasa backup ------------------------------------------------------- */

static const char backup_usage[] =
    "usage: brasa backup --data-dir DIR --to FILE [--with-exports]\n"
    "\n"
    "Writes a consistent backup of the data directory to FILE (a zip), while\n"
    "the server runs and writes: brasa.db and profiles.db at one journal\n"
    "position, and the email tracking key; segment exports only with\n"
    "--with-exports. FILE must not exist; it appears whole or not at all.\n"
    "Restore it with `brasa restore`.";

/* The finished exports: regular files directly in <dir>/exports (a job
 * works in NAME.part/ and renames; .tmp files are being written). */
static void add_exports(filelist *l, const char *dir) {
    char ex[PATH_MAX];
    snprintf(ex, sizeof ex, "%s/exports", dir);
    DIR *d = opendir(ex);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || (n > 4 && !strcmp(e->d_name + n - 4, ".tmp"))) continue;
        char p[PATH_MAX + 256], name[300];
        snprintf(p, sizeof p, "%s/%s", ex, e->d_name);
        struct stat sb;
        if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) continue;
        snprintf(name, sizeof name, "exports/%s", e->d_name);
        add(l, p, name);
    }
    if (d) closedir(d);
}

static int write_manifest(const char *path, const store_pair_info *in, const filelist *l) {
    json_object *o = json_object_new_object();
    char now[32];
    timefmt_iso(clock_wall_ms(), now, sizeof now);
    json_object_object_add(o, "brasa_backup", json_object_new_int(FORMAT));
    json_object_object_add(o, "version", json_object_new_string(BRASA_VERSION));
    json_object_object_add(o, "created_at", json_object_new_string(now));
    json_object_object_add(o, "checkpoint_seq", json_object_new_int64(in->checkpoint_seq));
    json_object_object_add(o, "journal_top", json_object_new_int64(in->journal_top));
    json_object_object_add(o, "replay_rows", json_object_new_int64(in->replay_rows));
    json_object *files = json_object_new_array();
    for (size_t i = 0; i < l->n; i++) json_object_array_add(files, json_object_new_string(l->names[i]));
    json_object_object_add(o, "files", files);
    int rc = json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY) < 0 ? -1 : 0;
    json_object_put(o);
    return rc;
}

static int do_backup(const char *dir, const char *to, bool with_exports) {
    if (exists(to)) {
        fprintf(stderr, "brasa: %s exists: remove it or choose another name\n", to);
        return 1;
    }
    char stage[PATH_MAX], bdb[PATH_MAX + 16], pdb[PATH_MAX + 16], key[PATH_MAX], man[PATH_MAX + 16];
    snprintf(stage, sizeof stage, "%s.partial.%d", to, (int)getpid());
    if (mkdir(stage, 0700) < 0) {
        char *parent = dirname_of(to);
        fprintf(stderr, "brasa: cannot write in %s: %s\n", parent, strerror(errno));
        free(parent);
        return 1;
    }
    snprintf(bdb, sizeof bdb, "%s/brasa.db", stage);
    snprintf(pdb, sizeof pdb, "%s/profiles.db", stage);
    snprintf(man, sizeof man, "%s/" MANIFEST, stage);
    store_pair_info info;
    char why[1024];
    filelist l = {0};
    int rc = store_backup(dir, bdb, pdb, &info, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        goto out;
    }
    add(&l, man, MANIFEST);
    add(&l, bdb, "brasa.db");
    if (info.has_profiles_db) add(&l, pdb, "profiles.db");
    /* The key that signs tracking links: without it, links in emails
     * already sent would stop working after a restore. It never changes,
     * so it is read from the directory itself. */
    snprintf(key, sizeof key, "%s/tracking.key", dir);
    if (exists(key)) add(&l, key, "tracking.key");
    if (with_exports) add_exports(&l, dir);
    if (l.n == MAX_FILES) {
        fprintf(stderr, "brasa: more than %d exports: back up without --with-exports\n", MAX_FILES - 4);
        rc = BR_EINVAL;
        goto out;
    }
    if (write_manifest(man, &info, &l) < 0) {
        fprintf(stderr, "brasa: cannot write %s: %s\n", man, strerror(errno));
        rc = BR_EIO;
        goto out;
    }
    if ((rc = archive_zip(to, (const char *const *)l.paths, (const char *const *)l.names, l.n)) == 0) {
        char *parent = dirname_of(to);
        if (file_sync(parent) < 0) {
            fprintf(stderr, "brasa: cannot sync %s: %s\n", to, strerror(errno));
            unlink(to);
            rc = BR_EIO;
        }
        free(parent);
    }
out:
    cli_rm_rf(stage);
    if (rc == 0) {
        struct stat sb;
        stat(to, &sb);
        printf("backup of %s written to %s (%lld bytes, %zu files): journal seq %lld, %lld rows to replay at start\n",
               dir, to, (long long)sb.st_size, l.n - 1, (long long)info.journal_top, (long long)info.replay_rows);
    } else {
        fprintf(stderr, "brasa: backup failed; nothing was written to %s\n", to);
    }
    filelist_free(&l);
    return rc == 0 ? 0 : 1;
}

int cli_backup(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {"to", NULL, NULL, "the backup file to write (a zip; must not exist)", false, false, NULL},
        {"with-exports", NULL, NULL, "include the finished segment exports", true, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[1];
    int npos, rc = opts_parse(argc, argv, opts, backup_usage, pos, &npos, 0);
    if (rc) {
        opts_free(opts);
        return rc == 1 ? 0 : 2;
    }
    log_set_level(LOG_WARN);
    /* Past a file size limit, a write fails (EFBIG) and is reported like
     * a full disk, instead of the signal killing us before the clean-up. */
    signal(SIGXFSZ, SIG_IGN);
    const char *to = opts_get(opts, "to");
    if (!to || !*to) {
        fprintf(stderr, "brasa: backup needs --to FILE\n");
        rc = 2;
    } else {
        rc = do_backup(opts_get(opts, "data-dir"), to, opts_get(opts, "with-exports") != NULL);
    }
    opts_free(opts);
    return rc;
}

/* ---- checks: shared by restore and check --------------------------------- */

/* The checks a restore makes: each database's integrity, the pair's
 * journal position, and, unless skip_load, a load as a start does it.
 * Prints a line per check; returns how many failed. */
static int check_dir(const char *dir, store_pair_info *info, bool skip_load) {
    char why[1024], path[PATH_MAX];
    int bad = 0;
    const char *dbs[] = {"brasa.db", "profiles.db"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, dbs[i]);
        if (i == 1 && !exists(path)) continue; /* made at the first start */
        if (store_integrity(path, why, sizeof why) < 0) {
            printf("%s: %s\n", dbs[i], why);
            bad++;
        } else {
            printf("%s: ok\n", dbs[i]);
        }
    }
    if (bad) return bad;
    if (store_backup(dir, NULL, NULL, info, why, sizeof why) < 0) {
        printf("journal: %s\n", why);
        return 1;
    }
    printf("journal: %s at seq %lld, journal to %lld: %lld rows to replay at start\n",
           info->checkpointed ? "profiles.db" : "no checkpoint yet, brasa.db", (long long)info->checkpoint_seq,
           (long long)info->journal_top, (long long)info->replay_rows);
    if (skip_load) return 0;
    store_t *store = NULL;
    engine_t *eng = NULL;
    api_legacy_register();
    int rc = store_open(dir, &store);
    if (rc == 0) rc = engine_open(store, &eng);
    if (rc == 0) {
        eng_stats s = engine_stats(eng);
        printf("load: ok: %u profiles\n", s.live);
    } else {
        printf("load: failed (the log above says why): a server would not start on this directory\n");
        bad++;
    }
    engine_free(eng);
    store_close(store);
    return bad;
}

/* ---- brasa restore ------------------------------------------------------ */

static const char restore_usage[] =
    "usage: brasa restore --data-dir DIR FILE\n"
    "\n"
    "Restores the backup FILE (from `brasa backup`) into DIR, which must not\n"
    "exist or be empty, and which no server may be using. The backup is\n"
    "extracted beside DIR and checked as `brasa check` does (the databases'\n"
    "integrity, their journal position, a load as the server makes it)\n"
    "before it is moved into place: DIR is whole, or untouched.";

static bool dir_empty(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d))) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

/* backup.json: what the backup says it is. */
static int read_manifest(const char *stage, int64_t *seq, int64_t *top, char *why, size_t whylen) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/" MANIFEST, stage);
    json_object *o = json_object_from_file(path), *v;
    int rc = 0;
    if (!o || !json_object_is_type(o, json_type_object)) {
        snprintf(why, whylen, "it has no " MANIFEST);
        rc = -1;
    } else if (!json_object_object_get_ex(o, "brasa_backup", &v) || json_object_get_int(v) != FORMAT) {
        snprintf(why, whylen, MANIFEST " is not of a brasa backup of format %d", FORMAT);
        rc = -1;
    } else {
        *seq = json_object_object_get_ex(o, "checkpoint_seq", &v) ? json_object_get_int64(v) : -1;
        *top = json_object_object_get_ex(o, "journal_top", &v) ? json_object_get_int64(v) : -1;
        json_object *files;
        size_t n = json_object_object_get_ex(o, "files", &files) && json_object_is_type(files, json_type_array)
                       ? json_object_array_length(files)
                       : 0;
        if (!n) snprintf(why, whylen, MANIFEST " lists no files"), rc = -1;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(files, i));
            char p[PATH_MAX + 300];
            snprintf(p, sizeof p, "%s/%s", stage, name ? name : "");
            if (!name || !exists(p)) {
                snprintf(why, whylen, "%s is listed in " MANIFEST " but missing", name ? name : "a file");
                rc = -1;
            }
        }
    }
    json_object_put(o);
    unlink(path); /* not part of a data directory */
    return rc;
}

static int do_restore(const char *from, const char *dir) {
    if (!exists(from)) {
        fprintf(stderr, "brasa: cannot read %s: %s\n", from, strerror(errno));
        return 1;
    }
    if (exists(dir)) {
        int fd = cli_lock_dir(dir);
        if (fd < 0 && errno == EWOULDBLOCK) {
            fprintf(stderr, "brasa: %s is in use by brasa serve: restore into a new directory\n", dir);
            return 1;
        }
        if (fd >= 0) {
            close(fd);
            char lock[PATH_MAX];
            snprintf(lock, sizeof lock, "%s/brasa.lock", dir);
            unlink(lock); /* made by cli_lock_dir, or left by a stopped server */
        }
        if (!dir_empty(dir)) {
            fprintf(stderr, "brasa: %s is not empty: restore into a new directory, or move it away first\n", dir);
            return 1;
        }
    }
    char stage[PATH_MAX], why[1024];
    snprintf(stage, sizeof stage, "%s.restore.%d", dir, (int)getpid());
    if (mkdir(stage, 0700) < 0) {
        char *parent = dirname_of(dir);
        fprintf(stderr, "brasa: cannot write in %s: %s\n", parent, strerror(errno));
        free(parent);
        return 1;
    }
    int64_t seq = -1, top = -1;
    store_pair_info info;
    int rc = archive_unzip(from, stage);
    if (rc == BR_EINVAL) fprintf(stderr, "brasa: %s is not a brasa backup, or is damaged (see above)\n", from);
    else if (rc < 0) fprintf(stderr, "brasa: cannot restore %s (see above)\n", from);
    else if (read_manifest(stage, &seq, &top, why, sizeof why) < 0) {
        fprintf(stderr, "brasa: %s is not a brasa backup: %s\n", from, why);
        rc = BR_EINVAL;
    } else if (check_dir(stage, &info, false) > 0) {
        fprintf(stderr, "brasa: %s is damaged: the checks above failed\n", from);
        rc = BR_EINVAL;
    } else if (info.journal_top != top || info.checkpoint_seq != seq) {
        fprintf(stderr, "brasa: %s is damaged: " MANIFEST " says journal seq %lld, the databases %lld\n", from,
                (long long)top, (long long)info.journal_top);
        rc = BR_EINVAL;
    }
    if (rc == 0) {
        char *parent = dirname_of(dir);
        if (file_sync(stage) < 0 || (exists(dir) && rmdir(dir) < 0) || rename(stage, dir) < 0 ||
            file_sync(parent) < 0) {
            fprintf(stderr, "brasa: cannot move the restored data to %s: %s\n", dir, strerror(errno));
            rc = BR_EIO;
        }
        free(parent);
    }
    if (rc < 0) {
        cli_rm_rf(stage);
        fprintf(stderr, "brasa: restore failed; %s was not changed\n", dir);
        return 1;
    }
    printf("restored %s into %s: journal seq %lld\n", from, dir, (long long)top);
    return 0;
}

int cli_restore(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[1];
    int npos, rc = opts_parse(argc, argv, opts, restore_usage, pos, &npos, 1);
    if (rc || npos != 1) {
        if (!rc) fprintf(stderr, "brasa: restore needs the backup FILE\n");
        opts_free(opts);
        return rc == 1 ? 0 : 2;
    }
    log_set_level(LOG_WARN);
    rc = do_restore(pos[0], opts_get(opts, "data-dir"));
    opts_free(opts);
    return rc;
}

/* ---- brasa check -------------------------------------------------------- */

static const char check_usage[] =
    "usage: brasa check --data-dir DIR\n"
    "\n"
    "Verifies a data directory: SQLite's integrity check of brasa.db and\n"
    "profiles.db, that profiles.db's journal position is one brasa.db has\n"
    "reached, and, when no server runs on it, a load as the server makes it\n"
    "at start (every profile and journal row decoded and applied; like a\n"
    "start, it folds the journal into profiles.db). Exit status 0 when all\n"
    "is well, 1 when a check failed.";

int cli_check(int argc, char **argv) {
    cli_opt opts[] = {
        CLI_DATA_DIR_OPT,
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[1];
    int npos, rc = opts_parse(argc, argv, opts, check_usage, pos, &npos, 0);
    if (rc) {
        opts_free(opts);
        return rc == 1 ? 0 : 2;
    }
    log_set_level(LOG_WARN);
    const char *dir = opts_get(opts, "data-dir");
    char bdb[PATH_MAX];
    snprintf(bdb, sizeof bdb, "%s/brasa.db", dir);
    store_pair_info info;
    if (!exists(bdb)) {
        fprintf(stderr, "brasa: %s holds no brasa data (no brasa.db)\n", dir);
        rc = 1;
    } else {
        int fd = cli_lock_dir(dir);
        bool live = fd < 0;
        int bad = check_dir(dir, &info, live);
        if (live && !bad) printf("load: skipped: a server is running on %s (its start made this check)\n", dir);
        if (fd >= 0) close(fd);
        printf("%s\n", bad ? "check failed" : "check passed");
        rc = bad ? 1 : 0;
    }
    opts_free(opts);
    return rc;
}
