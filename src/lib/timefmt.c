/* timefmt.c -- Braze time strings <-> ms since the epoch (see timefmt.h). */
#include "timefmt.h"

#include <stdio.h>

int64_t timefmt_days(int y, int m, int d) {
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static bool valid_date(int y, int m, int d) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return false;
    return d <= mdays[m - 1] + (m == 2 && leap(y));
}

/* Reads exactly `digits` digits (or between min and max when min < max). */
static bool num(const char **p, const char *end, int min, int max, int *out) {
    int v = 0, k = 0;
    while (*p < end && k < max && **p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    *out = v;
    return k >= min;
}

static bool lit(const char **p, const char *end, char c) {
    if (*p < end && **p == c) {
        (*p)++;
        return true;
    }
    return false;
}

/* hh:mm:ss with optional fraction (".fff" or ":fff") and zone. */
static bool clock_part(const char **p, const char *end, int64_t *ms) {
    int hh, mi, ss = 0, frac = 0;
    if (!num(p, end, 2, 2, &hh) || !lit(p, end, ':') || !num(p, end, 2, 2, &mi)) return false;
    if (lit(p, end, ':')) {
        if (!num(p, end, 2, 2, &ss)) return false;
        if (*p < end && (**p == '.' || **p == ':')) {
            (*p)++;
            int digits = 0, v = 0;
            while (*p < end && **p >= '0' && **p <= '9') {
                if (digits < 3) v = v * 10 + (**p - '0');
                digits++;
                (*p)++;
            }
            if (!digits) return false;
            for (int k = digits; k < 3; k++) v *= 10;
            frac = v;
        }
    }
    if (hh > 23 || mi > 59 || ss > 60) return false;
    int64_t off = 0;
    if (lit(p, end, 'Z') || lit(p, end, 'z')) {
    } else if (*p < end && (**p == '+' || **p == '-')) {
        int sign = **p == '-' ? -1 : 1, oh, om = 0;
        (*p)++;
        if (!num(p, end, 2, 2, &oh)) return false;
        if (lit(p, end, ':')) {
            if (!num(p, end, 2, 2, &om)) return false;
        } else if (*p < end && **p >= '0' && **p <= '9' && !num(p, end, 2, 2, &om)) {
            return false;
        }
        if (oh > 23 || om > 59) return false;
        off = sign * ((int64_t)oh * 3600 + om * 60) * 1000;
    } else if (lit(p, end, ' ')) {
        /* "2020-01-01 10:00:00 UTC" */
        if (end - *p == 3 && (*p)[0] == 'U' && (*p)[1] == 'T' && (*p)[2] == 'C') *p += 3;
        else return false;
    }
    *ms = (((int64_t)hh * 60 + mi) * 60 + ss) * 1000 + frac - off;
    return true;
}

int timefmt_parse(const char *s, size_t n, int64_t *ms, int *year) {
    const char *p = s, *end = s + n;
    int y, m, d;
    int64_t t = 0;
    if (n >= 10 && s[4] == '-') { /* yyyy-MM-dd[...] */
        if (!num(&p, end, 4, 4, &y) || !lit(&p, end, '-') || !num(&p, end, 2, 2, &m) ||
            !lit(&p, end, '-') || !num(&p, end, 2, 2, &d))
            return -1;
        if (p < end) {
            if (*p != 'T' && *p != 't' && *p != ' ') return -1;
            p++;
            if (!clock_part(&p, end, &t)) return -1;
        }
    } else { /* MM/dd/yyyy or M-d-yyyy */
        char sep;
        if (!num(&p, end, 1, 2, &m) || p >= end || (*p != '/' && *p != '-')) return -1;
        sep = *p++;
        if (!num(&p, end, 1, 2, &d) || !lit(&p, end, sep) || !num(&p, end, 4, 4, &y)) return -1;
    }
    if (p != end || !valid_date(y, m, d)) return -1;
    *year = y;
    *ms = timefmt_days(y, m, d) * 86400000 + t;
    return 0;
}

/* The day of ms, rounded down (so times before 1970 fall on their day). */
static int64_t day_of(int64_t ms) { return ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000); }

static void split(int64_t ms, int *y, int *mo, int *d, int *h, int *mi, int *s, int *msec) {
    int64_t days = day_of(ms);
    int64_t rem = ms - days * 86400000;
    civil(days, y, mo, d);
    *h = (int)(rem / 3600000);
    *mi = (int)(rem / 60000 % 60);
    *s = (int)(rem / 1000 % 60);
    *msec = (int)(rem % 1000);
}

void timefmt_iso(int64_t ms, char *out, size_t outlen) {
    int y, mo, d, h, mi, s, msec;
    split(ms, &y, &mo, &d, &h, &mi, &s, &msec);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, s, msec);
}

void timefmt_braze(int64_t ms, char *out, size_t outlen) {
    int y, mo, d, h, mi, s, msec;
    split(ms, &y, &mo, &d, &h, &mi, &s, &msec);
    snprintf(out, outlen, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", y, mo, d, h, mi, s, msec);
}

void timefmt_rfc5322(int64_t ms, char *out, size_t outlen) {
    static const char *const wday[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}; /* from 1970-01-01 */
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int y, mo, d, h, mi, s, msec;
    split(ms, &y, &mo, &d, &h, &mi, &s, &msec);
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", wday[(day_of(ms) % 7 + 7) % 7], d, mon[mo - 1], y, h, mi, s);
}

void timefmt_date(int64_t days, char *out, size_t outlen) {
    int y, m, d;
    civil(days, &y, &m, &d);
    snprintf(out, outlen, "%04d-%02d-%02d", y, m, d);
}
