/* tz.c -- IANA time zones read from the system's TZif files, thread-safely.
 *
 * The time_zone filter needs "America/Los_Angeles" at a given instant.
 * localtime_r with setenv("TZ") would change process-global state under
 * other threads, so we parse /usr/share/zoneinfo (or $TZDIR) ourselves:
 * the 64-bit transition table of a TZif v2+ file, and its POSIX TZ footer
 * rule (e.g. "PST8PDT,M3.2.0,M11.1.0") for instants after the table.
 * Parsed zones are cached for the life of the process behind a mutex; they
 * are immutable once published, so lookups need no lock. Names are
 * checked before any file is opened ("../" and absolute paths are
 * refused). Also understood: "UTC"/"GMT" and fixed offsets like "+05:30". */
#include "internal.h"
#include "../lib/mem.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int32_t off;
    bool dst;
    char abbr[15];
} tz_type;

typedef struct {
    char kind;      /* 'J' (1-365, no Feb 29), 'D' (0-365), 'M' (month.week.day) */
    int a, b, c;    /* J/D: day; M: month, week, weekday */
    int32_t time;   /* seconds after local midnight */
} tz_rule_date;

struct liq_tz {
    char name[64];
    int ntrans;
    int64_t *trans;
    uint8_t *idx;
    int ntypes;
    tz_type *types;
    bool has_rule, rule_dst;
    tz_type std, dst;
    tz_rule_date start, end;
};

#define CACHE_MAX 2048 /* more than the zone files of tzdata */
#define MISSES_MAX 512

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[64];
    liq_tz *z; /* NULL: known to be missing */
} cache[CACHE_MAX];
static int ncache, nmisses;

/* --------------------------------------------------------- POSIX TZ rules */

static const char *posix_name(const char *p, char *out) {
    size_t n = 0;
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (n < 14) out[n++] = *p;
            p++;
        }
        if (*p != '>') return NULL;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            if (n < 14) out[n++] = *p;
            p++;
        }
        if (n < 3) return NULL;
    }
    out[n] = '\0';
    return p;
}

/* [+-]hh[:mm[:ss]] -> seconds; sign as written. */
static const char *posix_hms(const char *p, int32_t *out) {
    int sign = 1;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9') return NULL;
    int32_t v[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (k > 0) {
            if (*p != ':') break;
            p++;
        }
        int d = 0;
        while (*p >= '0' && *p <= '9' && d < 3) v[k] = v[k] * 10 + (*p++ - '0'), d++;
        if (!d) return NULL;
    }
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *posix_date(const char *p, tz_rule_date *d) {
    d->time = 7200;
    if (*p == 'M') {
        d->kind = 'M';
        p++;
        int *f[3] = {&d->a, &d->b, &d->c};
        for (int k = 0; k < 3; k++) {
            if (k > 0 && *p++ != '.') return NULL;
            if (*p < '0' || *p > '9') return NULL;
            *f[k] = 0;
            while (*p >= '0' && *p <= '9') *f[k] = *f[k] * 10 + (*p++ - '0');
        }
        if (d->a < 1 || d->a > 12 || d->b < 1 || d->b > 5 || d->c > 6) return NULL;
    } else {
        d->kind = *p == 'J' ? 'J' : 'D';
        if (*p == 'J') p++;
        if (*p < '0' || *p > '9') return NULL;
        d->a = 0;
        while (*p >= '0' && *p <= '9') d->a = d->a * 10 + (*p++ - '0');
        if (d->a > 365) return NULL;
    }
    if (*p == '/') {
        p = posix_hms(p + 1, &d->time);
        if (!p) return NULL;
    }
    return p;
}

static bool parse_posix(liq_tz *z, const char *s) {
    int32_t o;
    s = posix_name(s, z->std.abbr);
    if (!s || !(s = posix_hms(s, &o))) return false;
    z->std.off = -o;
    z->has_rule = true;
    if (!*s) return true;
    if (!(s = posix_name(s, z->dst.abbr))) return false;
    z->dst.off = z->std.off + 3600;
    z->dst.dst = true;
    if (*s && *s != ',') {
        if (!(s = posix_hms(s, &o))) return false;
        z->dst.off = -o;
    }
    if (*s != ',') {
        /* No rule given: POSIX's default is the US rule. */
        z->start = (tz_rule_date){'M', 3, 2, 0, 7200};
        z->end = (tz_rule_date){'M', 11, 1, 0, 7200};
    } else if (!(s = posix_date(s + 1, &z->start)) || *s != ',' || !(s = posix_date(s + 1, &z->end)) || *s) {
        return false;
    }
    z->rule_dst = true;
    return true;
}

static int days_in_month(int64_t y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Seconds since the epoch of local midnight of the rule's day in year y. */
static int64_t rule_day(const tz_rule_date *d, int64_t y) {
    int64_t jan1 = liq_days_from_civil(y, 1, 1);
    if (d->kind == 'J') {
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return (jan1 + d->a - 1 + (leap && d->a >= 60)) * 86400;
    }
    if (d->kind == 'D') return (jan1 + d->a) * 86400;
    int64_t first = liq_days_from_civil(y, d->a, 1);
    int wd = (int)(((first + 4) % 7 + 7) % 7);
    int day = 1 + (d->c - wd + 7) % 7 + (d->b - 1) * 7;
    while (day > days_in_month(y, d->a)) day -= 7;
    return (first + day - 1) * 86400;
}

static const tz_type *rule_at(const liq_tz *z, int64_t t) {
    if (!z->rule_dst) return &z->std;
    liq_time lt = {.sec = t, .off = z->std.off};
    liq_tm tm;
    liq_breakdown(&lt, &tm);
    int64_t start = rule_day(&z->start, tm.year) + z->start.time - z->std.off;
    int64_t end = rule_day(&z->end, tm.year) + z->end.time - z->dst.off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? &z->dst : &z->std;
}

/* ------------------------------------------------------------------ TZif */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

static bool parse_tzif(liq_tz *z, const unsigned char *d, size_t n) {
    if (n < 44 || memcmp(d, "TZif", 4) != 0) return false;
    int version = d[4] ? d[4] - '0' : 1;
    size_t off = 0;
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        if (off + 44 > n || memcmp(d + off, "TZif", 4) != 0) return false;
        uint32_t isut = be32(d + off + 20), isstd = be32(d + off + 24), leapc = be32(d + off + 28),
                 timec = be32(d + off + 32), typec = be32(d + off + 36), charc = be32(d + off + 40);
        if (timec > 100000 || typec == 0 || typec > 256 || charc > 4096 || leapc > 10000 || isut > 256 || isstd > 256)
            return false;
        size_t body = (size_t)timec * (size_t)tsize + timec + (size_t)typec * 6 + charc +
                      (size_t)leapc * (size_t)(tsize + 4) + isstd + isut;
        off += 44;
        if (off + body > n) return false;
        if (pass == 0 && version >= 2) {
            off += body;
            tsize = 8;
            continue;
        }
        const unsigned char *p = d + off;
        z->ntrans = (int)timec;
        z->trans = xmalloc((timec ? timec : 1) * sizeof *z->trans);
        z->idx = xmalloc(timec ? timec : 1);
        for (uint32_t i = 0; i < timec; i++) z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
        p += (size_t)timec * (size_t)tsize;
        for (uint32_t i = 0; i < timec; i++) {
            z->idx[i] = p[i];
            if (p[i] >= typec) return false;
        }
        p += timec;
        const unsigned char *tp = p, *chars = p + typec * 6;
        z->ntypes = (int)typec;
        z->types = xcalloc(typec, sizeof *z->types);
        for (uint32_t i = 0; i < typec; i++) {
            z->types[i].off = (int32_t)be32(tp + i * 6);
            z->types[i].dst = tp[i * 6 + 4] != 0;
            uint8_t ai = tp[i * 6 + 5];
            if (ai < charc) {
                size_t k = 0;
                while (ai + k < charc && chars[ai + k] && k < sizeof z->types[i].abbr - 1) {
                    z->types[i].abbr[k] = (char)chars[ai + k];
                    k++;
                }
            }
        }
        off += body;
        break;
    }
    /* The footer: "\n<POSIX TZ string>\n". */
    if (version >= 2 && off < n && d[off] == '\n') {
        const unsigned char *e = memchr(d + off + 1, '\n', n - off - 1);
        if (e && (size_t)(e - d - off - 1) < 128) {
            char rule[128];
            size_t rl = (size_t)(e - d - off - 1);
            memcpy(rule, d + off + 1, rl);
            rule[rl] = '\0';
            if (rl && !parse_posix(z, rule)) z->has_rule = false;
        }
    }
    return true;
}

static void tz_free(liq_tz *z) {
    if (!z) return;
    free(z->trans);
    free(z->idx);
    free(z->types);
    free(z);
}

static bool valid_name(const char *s, size_t n) {
    if (n == 0 || n >= 64 || s[0] == '/' || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '+' || ch == '/'))
            return false;
        if (ch == '/' && i + 1 < n && s[i + 1] == '.') return false;
    }
    return true;
}

static liq_tz *load_file(const char *name) {
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    liq_tz *z = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size <= (1 << 20)) {
        unsigned char *d = xmalloc((size_t)st.st_size);
        ssize_t got = 0;
        while (got < st.st_size) {
            ssize_t r = read(fd, d + got, (size_t)(st.st_size - got));
            if (r <= 0) break;
            got += r;
        }
        if (got == st.st_size) {
            z = xcalloc(1, sizeof *z);
            if (!parse_tzif(z, d, (size_t)got)) {
                tz_free(z);
                z = NULL;
            }
        }
        free(d);
    }
    close(fd);
    return z;
}

/* "+05:30", "-0800", "+5": a fixed offset. */
static liq_tz *fixed_zone(const char *s, size_t n) {
    if (n < 2 || (s[0] != '+' && s[0] != '-')) return NULL;
    int digits[4], nd = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == ':' && i == 3) continue;
        if (s[i] < '0' || s[i] > '9' || nd == 4) return NULL;
        digits[nd++] = s[i] - '0';
    }
    int h, m = 0;
    if (nd == 1) h = digits[0];
    else if (nd == 2) h = digits[0] * 10 + digits[1];
    else if (nd == 4) h = digits[0] * 10 + digits[1], m = digits[2] * 10 + digits[3];
    else return NULL;
    if (h > 18 || m > 59) return NULL;
    liq_tz *z = xcalloc(1, sizeof *z);
    z->has_rule = true;
    z->std.off = (h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1);
    return z;
}

const liq_tz *liq_tz_get(const char *name, size_t len) {
    bool offset = len > 1 && len < 8 && (name[0] == '+' || name[0] == '-');
    if (!offset && !valid_name(name, len)) return NULL;
    char key[64];
    memcpy(key, name, len);
    key[len] = '\0';
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < ncache; i++) {
        if (strcmp(cache[i].name, key) == 0) {
            liq_tz *z = cache[i].z;
            pthread_mutex_unlock(&cache_mu);
            return z;
        }
    }
    liq_tz *z;
    if (!strcmp(key, "UTC") || !strcmp(key, "GMT") || !strcmp(key, "Etc/UTC") || !strcmp(key, "Z")) {
        z = xcalloc(1, sizeof *z);
        z->has_rule = true;
        memcpy(z->std.abbr, "UTC", 4);
    } else if (offset) {
        z = fixed_zone(key, len);
    } else {
        z = load_file(key);
    }
    if (z) snprintf(z->name, sizeof z->name, "%s", key);
    /* Misses are cached too (while there is room) so that a bad
     * ${time_zone} does not cost a file open per recipient. */
    if (ncache < CACHE_MAX && (z || nmisses < MISSES_MAX)) {
        memcpy(cache[ncache].name, key, len + 1);
        cache[ncache].z = z;
        ncache++;
        nmisses += !z;
    } else if (z) {
        /* Cannot happen with tzdata's ~1,800 names: refuse rather than
         * hand out a zone nobody owns. */
        tz_free(z);
        z = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
    return z;
}

void liq_tz_at(const liq_tz *z, int64_t t, int32_t *off, char abbr[15], bool *utc) {
    const tz_type *ty;
    if (z->ntrans == 0 || t < z->trans[0]) {
        ty = z->ntrans == 0 && z->has_rule ? rule_at(z, t) : &z->types[0];
    } else if (t >= z->trans[z->ntrans - 1] && z->has_rule) {
        ty = rule_at(z, t);
    } else {
        int lo = 0, hi = z->ntrans - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (z->trans[mid] <= t) lo = mid;
            else hi = mid - 1;
        }
        ty = &z->types[z->idx[lo]];
    }
    *off = ty->off;
    memcpy(abbr, ty->abbr, 15);
    *utc = ty->off == 0 && (!strcmp(ty->abbr, "UTC") || !strcmp(ty->abbr, "UCT"));
}
