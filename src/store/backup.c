/* backup.c -- consistent copies of brasa.db and profiles.db (see backup.h). */
#include "backup.h"
#include "checkpoint.h"
#include "journal.h"
#include "store.h"
#include "../lib/err.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAIR_TRIES 100

/* The sources are opened read-write without CREATE, only so that SQLite
 * can use their WAL index as any reader does; nothing is written. */
static int open_src(const char *path, sqlite3 **db, char *why, size_t whylen) {
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return BR_EIO;
    }
    sqlite3_busy_timeout(*db, 5000);
    return 0;
}

/* profiles.db's S: 0 with *found set, BR_ENOTFOUND-free (absence is a
 * state, not an error), or BR_ESTORE. */
static int seq_of(sqlite3 *pdb, bool *found, int64_t *seq) {
    int rc = store_ckpt_seq(pdb, seq);
    *found = rc == 0;
    if (rc == BR_ENOTFOUND) *seq = 0;
    return rc == BR_ENOTFOUND ? 0 : rc;
}

static int copy_db(sqlite3 *src, const char *to, char *why, size_t whylen) {
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        /* Reads inside src's open transaction: the snapshot taken above. */
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        if (b) {
            sqlite3_backup_step(b, -1);
            rc = sqlite3_backup_finish(b);
        } else {
            rc = sqlite3_errcode(dst);
        }
    }
    if (rc == SQLITE_OK && (rc = sqlite3_close(dst)) == SQLITE_OK) return 0;
    /* SQLite's "disk I/O error" says less than the errno behind it. */
    int err = dst ? sqlite3_system_errno(dst) : ENOMEM;
    snprintf(why, whylen, "cannot write %s: %s%s%s%s", to, dst ? sqlite3_errmsg(dst) : "out of memory",
             err ? " (" : "", err ? strerror(err) : "", err ? ")" : "");
    sqlite3_close(dst);
    return BR_EIO;
}

static int count_replay(sqlite3 *bdb, int64_t after, int64_t *n) {
    sqlite3_stmt *st = store_prep(bdb, "SELECT count(*) FROM journal WHERE seq > ?");
    if (!st) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, after);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : BR_ESTORE;
    *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Opens the read transactions on the pair (see backup.h); on success both
 * are open and *info is filled. */
static int pair_begin(sqlite3 *bdb, sqlite3 *pdb, sqlite3 *pdb2, store_pair_info *info, char *why, size_t whylen) {
    for (int i = 0; i < PAIR_TRIES; i++) {
        bool found = false, found2 = false;
        int64_t s2 = 0;
        sqlite3 *bad = NULL;
        if (pdb && (store_sql(pdb, "BEGIN") < 0 || seq_of(pdb, &found, &info->checkpoint_seq) < 0)) bad = pdb;
        else if (store_sql(bdb, "BEGIN") < 0 || store_journal_top(bdb, &info->journal_top) < 0) bad = bdb;
        else if (pdb && seq_of(pdb2, &found2, &s2) < 0) bad = pdb2;
        if (bad) {
            snprintf(why, whylen, "cannot read %s: %s", sqlite3_db_filename(bad, "main"), sqlite3_errmsg(bad));
            return BR_ESTORE;
        }
        if (!pdb || (found2 == found && s2 == info->checkpoint_seq)) {
            info->checkpointed = found;
            if (!found && store_old_ckpt_seq(bdb, &info->checkpoint_seq) == BR_ESTORE) return BR_ESTORE;
            return 0;
        }
        /* A checkpoint committed in between: its trim may show. Again. */
        store_sql(bdb, "COMMIT");
        store_sql(pdb, "COMMIT");
        usleep(1000);
    }
    snprintf(why, whylen, "profiles.db kept changing: no moment to copy the pair at after %d tries", PAIR_TRIES);
    return BR_ESTORE;
}

int store_backup(const char *dir, const char *brasa_to, const char *profiles_to, store_pair_info *info, char *why,
                 size_t whylen) {
    char bpath[4096], ppath[4096];
    snprintf(bpath, sizeof bpath, "%s/brasa.db", dir);
    snprintf(ppath, sizeof ppath, "%s/profiles.db", dir);
    memset(info, 0, sizeof *info);
    struct stat sb;
    if (stat(bpath, &sb) < 0) {
        snprintf(why, whylen, "%s holds no brasa data (%s: %s)", dir, bpath, strerror(errno));
        return errno == ENOENT ? BR_ENOTFOUND : BR_EIO;
    }
    info->has_profiles_db = stat(ppath, &sb) == 0;
    sqlite3 *bdb = NULL, *pdb = NULL, *pdb2 = NULL;
    int rc = open_src(bpath, &bdb, why, whylen);
    if (rc == 0 && info->has_profiles_db && (rc = open_src(ppath, &pdb, why, whylen)) == 0)
        rc = open_src(ppath, &pdb2, why, whylen);
    if (rc == 0) rc = pair_begin(bdb, pdb, pdb2, info, why, whylen);
    if (rc == 0 && info->checkpoint_seq > info->journal_top) {
        snprintf(why, whylen,
                 "profiles.db is at journal seq %lld but brasa.db only reached %lld: the two files are not "
                 "from the same moment",
                 (long long)info->checkpoint_seq, (long long)info->journal_top);
        rc = BR_ESTORE;
    }
    if (rc == 0 && count_replay(bdb, info->checkpoint_seq, &info->replay_rows) < 0) {
        snprintf(why, whylen, "cannot read the journal: %s", sqlite3_errmsg(bdb));
        rc = BR_ESTORE;
    }
    if (rc == 0 && brasa_to) {
        rc = copy_db(bdb, brasa_to, why, whylen);
        if (rc == 0 && pdb) rc = copy_db(pdb, profiles_to, why, whylen);
    }
    sqlite3_close(pdb2);
    sqlite3_close(pdb); /* ends its read transaction */
    sqlite3_close(bdb);
    return rc;
}

int store_integrity(const char *path, char *why, size_t whylen) {
    sqlite3 *db = NULL;
    if (open_src(path, &db, why, whylen) < 0) return BR_EIO;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(5)", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        /* Not a database at all ("file is not a database") lands here. */
        snprintf(why, whylen, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return BR_EIO;
    }
    size_t at = 0;
    bool ok = true;
    why[0] = '\0';
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && !strcmp(line, "ok")) continue;
        ok = false;
        if (at + 1 >= whylen) continue;
        int n = snprintf(why + at, whylen - at, "%s%s", at ? "; " : "", line ? line : "?");
        if (n > 0) at = at + (size_t)n < whylen ? at + (size_t)n : whylen - 1;
    }
    if (rc != SQLITE_DONE) {
        ok = false;
        snprintf(why, whylen, "%s: %s", path, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    for (char *c = why; *c; c++)
        if (*c == '\n') *c = ' '; /* its findings span lines; ours is one */
    return ok ? 0 : BR_ESTORE;
}
