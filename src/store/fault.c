/* fault.c -- the fault-injecting VFS shim (see fault.h). */
#include "fault.h"

#ifndef BR_FAULT_INJECTION
void store_fault_init(void) {}
bool store_fault_set(const char *spec) { return !spec || !*spec; }
unsigned store_fault_hits(void) { return 0; }
#else
#include "../lib/log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_READ, F_WRITE, F_SYNC };
#define MAX_RULES 8

typedef struct {
    int op;
    char file[64];
    unsigned nth, count;
    int err; /* SQLite result code to return */
    atomic_uint seen;
} rule;

static rule rules[MAX_RULES];
static atomic_int nrules;
static atomic_uint hits;
static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3_vfs *real_vfs;

typedef struct {
    sqlite3_file base;
    const char *path; /* SQLite keeps the name valid while the file is open */
    sqlite3_file real[]; /* the real VFS's file, real_vfs->szOsFile bytes */
} ffile;

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The error the rules give this operation, or SQLITE_OK. */
static int inject(ffile *f, int op) {
    int n = atomic_load(&nrules);
    for (int i = 0; i < n; i++) {
        rule *r = &rules[i];
        if (r->op != op || !f->path || !ends_with(f->path, r->file)) continue;
        unsigned k = atomic_fetch_add(&r->seen, 1) + 1;
        if (k >= r->nth && (!r->count || k < r->nth + r->count)) {
            atomic_fetch_add(&hits, 1);
            return r->err;
        }
    }
    return SQLITE_OK;
}

static int f_close(sqlite3_file *p) { return ((ffile *)p)->real->pMethods->xClose(((ffile *)p)->real); }
static int f_read(sqlite3_file *p, void *buf, int n, sqlite3_int64 off) {
    ffile *f = (ffile *)p;
    int rc = inject(f, F_READ);
    return rc ? rc : f->real->pMethods->xRead(f->real, buf, n, off);
}
static int f_write(sqlite3_file *p, const void *buf, int n, sqlite3_int64 off) {
    ffile *f = (ffile *)p;
    int rc = inject(f, F_WRITE);
    return rc ? rc : f->real->pMethods->xWrite(f->real, buf, n, off);
}
static int f_truncate(sqlite3_file *p, sqlite3_int64 size) {
    return ((ffile *)p)->real->pMethods->xTruncate(((ffile *)p)->real, size);
}
static int f_sync(sqlite3_file *p, int flags) {
    ffile *f = (ffile *)p;
    int rc = inject(f, F_SYNC);
    return rc ? rc : f->real->pMethods->xSync(f->real, flags);
}
static int f_size(sqlite3_file *p, sqlite3_int64 *size) {
    return ((ffile *)p)->real->pMethods->xFileSize(((ffile *)p)->real, size);
}
static int f_lock(sqlite3_file *p, int l) { return ((ffile *)p)->real->pMethods->xLock(((ffile *)p)->real, l); }
static int f_unlock(sqlite3_file *p, int l) { return ((ffile *)p)->real->pMethods->xUnlock(((ffile *)p)->real, l); }
static int f_check(sqlite3_file *p, int *out) {
    return ((ffile *)p)->real->pMethods->xCheckReservedLock(((ffile *)p)->real, out);
}
static int f_fcntl(sqlite3_file *p, int op, void *arg) {
    return ((ffile *)p)->real->pMethods->xFileControl(((ffile *)p)->real, op, arg);
}
static int f_sector(sqlite3_file *p) { return ((ffile *)p)->real->pMethods->xSectorSize(((ffile *)p)->real); }
static int f_dev(sqlite3_file *p) { return ((ffile *)p)->real->pMethods->xDeviceCharacteristics(((ffile *)p)->real); }
static int f_shmmap(sqlite3_file *p, int pg, int sz, int ext, void volatile **pp) {
    return ((ffile *)p)->real->pMethods->xShmMap(((ffile *)p)->real, pg, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *p, int off, int n, int flags) {
    return ((ffile *)p)->real->pMethods->xShmLock(((ffile *)p)->real, off, n, flags);
}
static void f_shmbarrier(sqlite3_file *p) { ((ffile *)p)->real->pMethods->xShmBarrier(((ffile *)p)->real); }
static int f_shmunmap(sqlite3_file *p, int del) {
    return ((ffile *)p)->real->pMethods->xShmUnmap(((ffile *)p)->real, del);
}

/* Version 2 methods: no memory-mapped I/O through the shim (mmap is off by
 * default in SQLite, and a mapped read would bypass the injection). */
static const sqlite3_io_methods f_methods = {
    2, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check, f_fcntl, f_sector, f_dev,
    f_shmmap, f_shmlock, f_shmbarrier, f_shmunmap, NULL, NULL,
};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *out) {
    (void)vfs;
    ffile *f = (ffile *)p;
    f->path = name;
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out);
    f->base.pMethods = rc == SQLITE_OK && f->real->pMethods ? &f_methods : NULL;
    return rc;
}

static int f_delete(sqlite3_vfs *v, const char *n, int sync) { (void)v; return real_vfs->xDelete(real_vfs, n, sync); }
static int f_access(sqlite3_vfs *v, const char *n, int fl, int *o) { (void)v; return real_vfs->xAccess(real_vfs, n, fl, o); }
static int f_full(sqlite3_vfs *v, const char *n, int len, char *o) { (void)v; return real_vfs->xFullPathname(real_vfs, n, len, o); }
static void *f_dlopen(sqlite3_vfs *v, const char *n) { (void)v; return real_vfs->xDlOpen(real_vfs, n); }
static void f_dlerror(sqlite3_vfs *v, int n, char *o) { (void)v; real_vfs->xDlError(real_vfs, n, o); }
static void (*f_dlsym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return real_vfs->xDlSym(real_vfs, h, s); }
static void f_dlclose(sqlite3_vfs *v, void *h) { (void)v; real_vfs->xDlClose(real_vfs, h); }
static int f_random(sqlite3_vfs *v, int n, char *o) { (void)v; return real_vfs->xRandomness(real_vfs, n, o); }
static int f_sleep(sqlite3_vfs *v, int us) { (void)v; return real_vfs->xSleep(real_vfs, us); }
static int f_time(sqlite3_vfs *v, double *t) { (void)v; return real_vfs->xCurrentTime(real_vfs, t); }
static int f_lasterr(sqlite3_vfs *v, int n, char *o) { (void)v; return real_vfs->xGetLastError(real_vfs, n, o); }
static int f_time64(sqlite3_vfs *v, sqlite3_int64 *t) { (void)v; return real_vfs->xCurrentTimeInt64(real_vfs, t); }

static sqlite3_vfs f_vfs = {
    2, 0, 0, NULL, "brasa-fault", NULL, f_open, f_delete, f_access, f_full, f_dlopen, f_dlerror, f_dlsym,
    f_dlclose, f_random, f_sleep, f_time, f_lasterr, f_time64, NULL, NULL, NULL,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool set_rules(const char *spec);

static void install(void) {
    real_vfs = sqlite3_vfs_find(NULL);
    f_vfs.szOsFile = (int)sizeof(ffile) + real_vfs->szOsFile;
    f_vfs.mxPathname = real_vfs->mxPathname;
    sqlite3_vfs_register(&f_vfs, 1);
    const char *spec = getenv("BRASA_FAULT");
    if (spec && *spec && !set_rules(spec)) log_error("fault: BRASA_FAULT '%s' does not parse", spec);
}

void store_fault_init(void) {
    if (getenv("BRASA_FAULT")) pthread_once(&once, install);
}

bool store_fault_set(const char *spec) {
    pthread_once(&once, install);
    return set_rules(spec);
}

static bool set_rules(const char *spec) {
    pthread_mutex_lock(&set_lock);
    atomic_store(&nrules, 0);
    int n = 0;
    bool ok = true;
    char *copy = strdup(spec ? spec : ""), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && ok; item = strtok_r(NULL, ",", &save)) {
        char op[8] = "", file[64] = "", err[8] = "io";
        unsigned nth = 0, count = 0;
        int got = sscanf(item, "%7[a-z]:%63[^:]:%u:%u:%7s", op, file, &nth, &count, err);
        rule *r = &rules[n];
        r->op = !strcmp(op, "read") ? F_READ : !strcmp(op, "write") ? F_WRITE : !strcmp(op, "sync") ? F_SYNC : -1;
        ok = got >= 3 && n < MAX_RULES && r->op >= 0 && nth >= 1 && (!strcmp(err, "io") || !strcmp(err, "full"));
        if (!ok) break;
        snprintf(r->file, sizeof r->file, "%s", file);
        r->nth = nth;
        r->count = count;
        r->err = !strcmp(err, "full") ? SQLITE_FULL
               : r->op == F_READ       ? SQLITE_IOERR_READ
               : r->op == F_WRITE      ? SQLITE_IOERR_WRITE
                                       : SQLITE_IOERR_FSYNC;
        atomic_store(&r->seen, 0);
        n++;
    }
    free(copy);
    if (ok) {
        atomic_store(&nrules, n);
        if (n) log_warn("fault: injecting storage faults: %s", spec);
    }
    pthread_mutex_unlock(&set_lock);
    return ok;
}

unsigned store_fault_hits(void) { return atomic_load(&hits); }
#endif
