/* filters_date.c -- the date filter and Braze's time_zone filter.
 *
 * date follows Liquid: the input may be a time, "now"/"today", an epoch
 * number (or a string of digits) or a date string; anything else, or an
 * empty format, comes back unchanged. time_zone (Braze) moves a time into
 * an IANA zone so that date formats its local wall time there; an unknown
 * or empty zone (a user without ${time_zone}) leaves the input unchanged
 * rather than failing the message. */
#include "internal.h"

#include <string.h>

#define FILTER(name) \
    static int name(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, liq_val *out)

FILTER(f_date) {
    const char *fmt;
    size_t fl;
    int rc = liq_to_str(c, liq_arg(f, args, nargs, 0), &fmt, &fl);
    if (rc) return rc;
    liq_time t;
    if (fl == 0 || liq_to_time(c, in, &t) < 0) {
        *out = *in;
        return 0;
    }
    liq_sb sb;
    liq_sb_init(&sb, c, fl * 2 + 16);
    liq_strftime(&sb, fmt, fl, &t);
    return liq_sb_done(&sb, f->pos, out);
}

FILTER(f_time_zone) {
    const char *zn;
    size_t zl;
    int rc = liq_to_str(c, liq_arg(f, args, nargs, 0), &zn, &zl);
    if (rc) return rc;
    liq_time t;
    const liq_tz *z;
    if (zl == 0 || liq_to_time(c, in, &t) < 0 || !(z = liq_tz_get(zn, zl))) {
        *out = *in;
        return 0;
    }
    liq_time *nt = liq_alloc(c, sizeof *nt);
    if (!nt) return liq_oom(c, f->pos);
    *nt = t;
    liq_tz_at(z, t.sec, &nt->off, nt->abbr, &nt->utc);
    out->t = LV_TIME;
    out->u.tm = nt;
    return 0;
}

const liq_filter_def liq_filters_date[] = {
    {"date", f_date, 1, 1},
    {"time_zone", f_time_zone, 1, 1},
    {NULL, NULL, 0, 0},
};
