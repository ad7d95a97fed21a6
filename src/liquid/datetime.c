/* datetime.c -- calendar arithmetic, Ruby's strftime, and date parsing.
 *
 * Nothing here touches the C library's time zone state (localtime_r,
 * setenv("TZ")), which is process-global and not safe to change in a
 * threaded server: a time is an instant plus a UTC offset, broken down
 * with pure civil-calendar arithmetic. strftime follows Ruby's
 * Time#strftime (flags - _ 0 ^ #, widths, %L %N %s %:z ...; like Ruby's
 * Time, not Date, it has no %Q or %+, which print as written), English
 * names only. Parsing covers what people store dates as: ISO 8601,
 * "2021-06-03 17:13:41 UTC", RFC 2822, ctime, "June 3, 2021", dd/mm/yyyy;
 * a time without a zone is UTC (the server's local time in Braze). */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"January", "February", "March",     "April",   "May",      "June",
                                          "July",    "August",   "September", "October", "November", "December"};
static const char *const day_names[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
static int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t liq_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void liq_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void liq_breakdown(const liq_time *t, liq_tm *tm) {
    int64_t local = t->sec + t->off;
    int64_t days = floor_div(local, 86400), secs = local - days * 86400;
    liq_civil_from_days(days, &tm->year, &tm->mon, &tm->mday);
    tm->hour = (int)(secs / 3600);
    tm->min = (int)(secs / 60 % 60);
    tm->sec = (int)(secs % 60);
    tm->wday = (int)floor_mod(days + 4, 7);
    tm->yday = (int)(days - liq_days_from_civil(tm->year, 1, 1) + 1);
}

/* ------------------------------------------------------------- strftime */

static int iso_weeks(int64_t y) {
    int64_t p = floor_mod(y + floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400), 7);
    int64_t q = floor_mod((y - 1) + floor_div(y - 1, 4) - floor_div(y - 1, 100) + floor_div(y - 1, 400), 7);
    return 52 + (p == 4 || q == 3);
}

static void iso_week(const liq_tm *tm, int64_t *year, int *week) {
    int wd = (tm->wday + 6) % 7 + 1; /* Monday 1 .. Sunday 7 */
    int w = (tm->yday - wd + 10) / 7;
    *year = tm->year;
    if (w < 1) {
        *year = tm->year - 1;
        w = iso_weeks(*year);
    } else if (w > iso_weeks(tm->year)) {
        *year = tm->year + 1;
        w = 1;
    }
    *week = w;
}

typedef struct {
    char pad;     /* 0: the conversion's default */
    int width;    /* -1: default */
    bool upper, swap, nopad;
    int colons;
} spec;

static void emit_padded(liq_sb *sb, const spec *s, const char *p, size_t n, char defpad, int defwidth) {
    int width = s->width >= 0 ? s->width : defwidth;
    char pad = s->nopad ? 0 : s->pad ? s->pad : defpad;
    /* A sign stays in front of zero padding: -0001. */
    if (pad == '0' && n && p[0] == '-' && (int)n < width) {
        liq_sb_addc(sb, '-');
        for (int i = (int)n; i < width; i++) liq_sb_addc(sb, '0');
        liq_sb_add(sb, p + 1, n - 1);
        return;
    }
    if (pad)
        for (int i = (int)n; i < width; i++) liq_sb_addc(sb, pad);
    liq_sb_add(sb, p, n);
}

static void emit_num(liq_sb *sb, const spec *s, int64_t v, char defpad, int defwidth) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    emit_padded(sb, s, buf, (size_t)n, defpad, defwidth);
}

static void emit_str(liq_sb *sb, const spec *s, const char *p, size_t n, bool swap_lowers) {
    char buf[64];
    if (n > sizeof buf) n = sizeof buf;
    memcpy(buf, p, n);
    bool up = s->upper || (s->swap && !swap_lowers), down = s->swap && swap_lowers;
    for (size_t i = 0; i < n; i++) {
        if (up && buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 32);
        if (down && buf[i] >= 'A' && buf[i] <= 'Z') buf[i] = (char)(buf[i] + 32);
    }
    emit_padded(sb, s, buf, n, ' ', 0);
}

static void strftime_depth(liq_sb *sb, const char *fmt, size_t n, const liq_time *t, const liq_tm *tm, int depth);

static void emit_composite(liq_sb *sb, const spec *s, const char *sub, const liq_time *t, const liq_tm *tm,
                           int depth) {
    liq_sb tmp;
    liq_sb_init(&tmp, sb->c, 64);
    strftime_depth(&tmp, sub, strlen(sub), t, tm, depth + 1);
    if (tmp.fail) {
        sb->fail = true;
        return;
    }
    emit_str(sb, s, tmp.p, tmp.len, false);
}

static void emit_zone(liq_sb *sb, const spec *s, int32_t off) {
    char buf[16];
    int32_t a = off < 0 ? -off : off;
    int h = a / 3600, m = a / 60 % 60, sec = a % 60;
    char sign = off < 0 ? '-' : '+';
    int n;
    if (s->colons == 1) n = snprintf(buf, sizeof buf, "%c%02d:%02d", sign, h, m);
    else if (s->colons >= 2) n = snprintf(buf, sizeof buf, "%c%02d:%02d:%02d", sign, h, m, sec);
    else n = snprintf(buf, sizeof buf, "%c%02d%02d", sign, h, m);
    emit_padded(sb, s, buf, (size_t)n, '0', 0);
}

static void strftime_depth(liq_sb *sb, const char *fmt, size_t n, const liq_time *t, const liq_tm *tm, int depth) {
    for (size_t i = 0; i < n && !sb->fail; i++) {
        if (fmt[i] != '%' || i + 1 >= n) {
            liq_sb_addc(sb, fmt[i]);
            continue;
        }
        size_t start = i++;
        spec s = {.width = -1};
        for (; i < n; i++) {
            if (fmt[i] == '-') s.nopad = true;
            else if (fmt[i] == '_') s.pad = ' ', s.nopad = false;
            else if (fmt[i] == '0') s.pad = '0', s.nopad = false;
            else if (fmt[i] == '^') s.upper = true;
            else if (fmt[i] == '#') s.swap = true;
            else break;
        }
        if (i < n && fmt[i] >= '1' && fmt[i] <= '9') {
            s.width = 0;
            while (i < n && fmt[i] >= '0' && fmt[i] <= '9') {
                if (s.width < 1000) s.width = s.width * 10 + (fmt[i] - '0');
                i++;
            }
            if (s.width > 256) s.width = 256; /* bounded: Ruby would allocate any width */
        }
        while (i < n && fmt[i] == ':') s.colons++, i++;
        if (i >= n) {
            liq_sb_add(sb, fmt + start, n - start);
            break;
        }
        char conv = fmt[i];
        if (s.colons && conv != 'z') {
            liq_sb_add(sb, fmt + start, i - start + 1);
            continue;
        }
        int hour12 = tm->hour % 12 == 0 ? 12 : tm->hour % 12;
        switch (conv) {
        case 'Y': emit_num(sb, &s, tm->year, '0', tm->year < 0 ? 5 : 4); break;
        case 'C': emit_num(sb, &s, floor_div(tm->year, 100), '0', 2); break;
        case 'y': emit_num(sb, &s, floor_mod(tm->year, 100), '0', 2); break;
        case 'm': emit_num(sb, &s, tm->mon, '0', 2); break;
        case 'd': emit_num(sb, &s, tm->mday, '0', 2); break;
        case 'e': emit_num(sb, &s, tm->mday, ' ', 2); break;
        case 'j': emit_num(sb, &s, tm->yday, '0', 3); break;
        case 'H': emit_num(sb, &s, tm->hour, '0', 2); break;
        case 'k': emit_num(sb, &s, tm->hour, ' ', 2); break;
        case 'I': emit_num(sb, &s, hour12, '0', 2); break;
        case 'l': emit_num(sb, &s, hour12, ' ', 2); break;
        case 'M': emit_num(sb, &s, tm->min, '0', 2); break;
        case 'S': emit_num(sb, &s, tm->sec, '0', 2); break;
        case 'L':
        case 'N': {
            /* Fractional seconds: the width is the number of digits. */
            int digits = s.width > 0 ? s.width : conv == 'L' ? 3 : 9;
            char buf[300];
            char ns[10];
            snprintf(ns, sizeof ns, "%09d", (int)t->nsec);
            for (int k = 0; k < digits && k < (int)sizeof buf; k++) buf[k] = k < 9 ? ns[k] : '0';
            liq_sb_add(sb, buf, (size_t)(digits < (int)sizeof buf ? digits : (int)sizeof buf));
            break;
        }
        case 'u': emit_num(sb, &s, tm->wday == 0 ? 7 : tm->wday, '0', 1); break;
        case 'w': emit_num(sb, &s, tm->wday, '0', 1); break;
        case 'U': emit_num(sb, &s, (tm->yday - 1 + 7 - tm->wday) / 7, '0', 2); break;
        case 'W': emit_num(sb, &s, (tm->yday - 1 + 7 - (tm->wday + 6) % 7) / 7, '0', 2); break;
        case 'G':
        case 'g':
        case 'V': {
            int64_t y;
            int w;
            iso_week(tm, &y, &w);
            if (conv == 'G') emit_num(sb, &s, y, '0', 4);
            else if (conv == 'g') emit_num(sb, &s, floor_mod(y, 100), '0', 2);
            else emit_num(sb, &s, w, '0', 2);
            break;
        }
        case 's': emit_num(sb, &s, t->sec, '0', 1); break;
        case 'A': emit_str(sb, &s, day_names[tm->wday], strlen(day_names[tm->wday]), false); break;
        case 'a': emit_str(sb, &s, day_names[tm->wday], 3, false); break;
        case 'B': emit_str(sb, &s, month_names[tm->mon - 1], strlen(month_names[tm->mon - 1]), false); break;
        case 'b':
        case 'h': emit_str(sb, &s, month_names[tm->mon - 1], 3, false); break;
        case 'p': emit_str(sb, &s, tm->hour < 12 ? "AM" : "PM", 2, true); break;
        case 'P': emit_str(sb, &s, tm->hour < 12 ? "am" : "pm", 2, false); break;
        case 'Z': emit_str(sb, &s, t->utc ? "UTC" : t->abbr, t->utc ? 3 : strlen(t->abbr), true); break;
        case 'z': emit_zone(sb, &s, t->off); break;
        case 'n': liq_sb_addc(sb, '\n'); break;
        case 't': liq_sb_addc(sb, '\t'); break;
        case '%': liq_sb_addc(sb, '%'); break;
        case 'c': if (depth < 2) emit_composite(sb, &s, "%a %b %e %H:%M:%S %Y", t, tm, depth); break;
        case 'D':
        case 'x': if (depth < 2) emit_composite(sb, &s, "%m/%d/%y", t, tm, depth); break;
        case 'F': if (depth < 2) emit_composite(sb, &s, "%Y-%m-%d", t, tm, depth); break;
        case 'T':
        case 'X': if (depth < 2) emit_composite(sb, &s, "%H:%M:%S", t, tm, depth); break;
        case 'R': if (depth < 2) emit_composite(sb, &s, "%H:%M", t, tm, depth); break;
        case 'r': if (depth < 2) emit_composite(sb, &s, "%I:%M:%S %p", t, tm, depth); break;
        case 'v': if (depth < 2) emit_composite(sb, &s, "%e-%^b-%4Y", t, tm, depth); break;
        default: liq_sb_add(sb, fmt + start, i - start + 1); break;
        }
    }
}

void liq_strftime(liq_sb *sb, const char *fmt, size_t n, const liq_time *t) {
    liq_tm tm;
    liq_breakdown(t, &tm);
    strftime_depth(sb, fmt, n, t, &tm, 0);
}

/* -------------------------------------------------------------- parsing */

enum { TK_NUM, TK_WORD, TK_PUNCT };

typedef struct {
    uint8_t kind;
    char ch;          /* TK_PUNCT */
    int len;          /* digits or letters */
    int64_t v;        /* TK_NUM */
    const char *p;
} dtok;

static int month_of(const dtok *t) {
    if (t->kind != TK_WORD || t->len < 3) return 0;
    for (int m = 0; m < 12; m++) {
        size_t ml = strlen(month_names[m]);
        if ((size_t)t->len > ml) continue;
        if (t->len != 3 && !(m == 8 && t->len == 4) && (size_t)t->len != ml) continue;
        if (strncasecmp(t->p, month_names[m], (size_t)t->len) == 0) return m + 1;
    }
    return 0;
}

static bool is_weekday(const dtok *t) {
    if (t->kind != TK_WORD || t->len < 3) return false;
    for (int d = 0; d < 7; d++)
        if ((t->len == 3 || (size_t)t->len == strlen(day_names[d])) && strncasecmp(t->p, day_names[d], (size_t)t->len) == 0)
            return true;
    return false;
}

static bool word_is(const dtok *t, const char *w) {
    return t->kind == TK_WORD && (size_t)t->len == strlen(w) && strncasecmp(t->p, w, (size_t)t->len) == 0;
}

static const struct {
    const char *name;
    int32_t off;
} zones[] = {
    {"UTC", 0},       {"GMT", 0},           {"UT", 0},        {"Z", 0},         {"EST", -5 * 3600},
    {"EDT", -4 * 3600}, {"CST", -6 * 3600}, {"CDT", -5 * 3600}, {"MST", -7 * 3600}, {"MDT", -6 * 3600},
    {"PST", -8 * 3600}, {"PDT", -7 * 3600}, {"AKST", -9 * 3600}, {"AKDT", -8 * 3600}, {"HST", -10 * 3600},
    {"BST", 3600},    {"CET", 3600},        {"CEST", 7200},   {"EET", 7200},    {"EEST", 3 * 3600},
    {"WET", 0},       {"WEST", 3600},       {"IST", 19800},   {"JST", 9 * 3600}, {"AEST", 10 * 3600},
    {"AEDT", 11 * 3600},
};

int liq_parse_time(const char *s, size_t n, int64_t now_sec, liq_time *out) {
    dtok tk[40];
    int nt = 0;
    if (n > 128) return -1;
    for (size_t i = 0; i < n;) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            i++;
            continue;
        }
        if (nt == 40) return -1;
        dtok *t = &tk[nt++];
        t->p = s + i;
        if (ch >= '0' && ch <= '9') {
            t->kind = TK_NUM;
            t->v = 0;
            t->len = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (t->len < 18) t->v = t->v * 10 + (s[i] - '0');
                t->len++;
                i++;
            }
        } else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') {
            t->kind = TK_WORD;
            t->len = 0;
            while (i < n && (s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') t->len++, i++;
        } else if (strchr("-/.:,+", ch)) {
            t->kind = TK_PUNCT;
            t->ch = ch;
            t->len = 1;
            i++;
        } else {
            return -1;
        }
    }
    int i = 0;
    int64_t year = 0;
    int mon = 0, day = 0, hour = 0, min = 0, sec = 0;
    int32_t nsec = 0, off = 0;
    bool have_year = false, have_date = false, have_time = false, have_zone = false, utc = false;
    char abbr[15] = "UTC";
    if (i < nt && is_weekday(&tk[i])) {
        i++;
        if (i < nt && tk[i].kind == TK_PUNCT && tk[i].ch == ',') i++;
    }
#define NUM(k, maxlen) ((k) < nt && tk[k].kind == TK_NUM && tk[k].len <= (maxlen))
#define PUNCT(k, c) ((k) < nt && tk[k].kind == TK_PUNCT && tk[k].ch == (c))
    if (NUM(i, 4) && tk[i].len == 4 && i + 4 < nt && tk[i + 1].kind == TK_PUNCT && strchr("-/.", tk[i + 1].ch) &&
        NUM(i + 2, 2) && PUNCT(i + 3, tk[i + 1].ch) && NUM(i + 4, 2)) {
        year = tk[i].v, mon = (int)tk[i + 2].v, day = (int)tk[i + 4].v;
        have_year = have_date = true;
        i += 5;
    } else if (NUM(i, 2) && i + 4 < nt && tk[i + 1].kind == TK_PUNCT && strchr("-/.", tk[i + 1].ch) && NUM(i + 2, 2) &&
               PUNCT(i + 3, tk[i + 1].ch) && NUM(i + 4, 4) && tk[i + 4].len != 3 && tk[i + 4].len != 1) {
        if (tk[i + 4].len == 4) {
            day = (int)tk[i].v, mon = (int)tk[i + 2].v, year = tk[i + 4].v;
        } else {
            /* yy/mm/dd, years 00-49 are 20xx as Ruby's Date._parse does */
            year = tk[i].v + (tk[i].v < 50 ? 2000 : 1900), mon = (int)tk[i + 2].v, day = (int)tk[i + 4].v;
        }
        have_year = have_date = true;
        i += 5;
    } else if (i < nt && month_of(&tk[i])) {
        mon = month_of(&tk[i++]);
        if (PUNCT(i, '.')) i++;
        if (NUM(i, 2) && !PUNCT(i + 1, ':')) {
            day = (int)tk[i++].v;
            if (PUNCT(i, ',')) i++;
            if (NUM(i, 4) && tk[i].len == 4 && !PUNCT(i + 1, ':')) year = tk[i++].v, have_year = true;
        } else {
            day = 1;
        }
        have_date = true;
    } else if (NUM(i, 2) && i + 1 < nt && month_of(&tk[i + 1])) {
        day = (int)tk[i].v;
        mon = month_of(&tk[i + 1]);
        i += 2;
        if (PUNCT(i, '.')) i++;
        if (PUNCT(i, ',')) i++;
        if (NUM(i, 4) && tk[i].len == 4 && !PUNCT(i + 1, ':')) year = tk[i++].v, have_year = true;
        have_date = true;
    }
    while (i < nt) {
        dtok *t = &tk[i];
        if (t->kind == TK_PUNCT && t->ch == ',') {
            i++;
        } else if (word_is(t, "T") && have_date && !have_time) {
            i++;
        } else if (t->kind == TK_NUM && t->len <= 2 && PUNCT(i + 1, ':') && NUM(i + 2, 2) && !have_time) {
            hour = (int)t->v, min = (int)tk[i + 2].v;
            i += 3;
            if (PUNCT(i, ':') && NUM(i + 1, 2)) {
                sec = (int)tk[i + 1].v;
                i += 2;
                if ((PUNCT(i, '.') || PUNCT(i, ',')) && i + 1 < nt && tk[i + 1].kind == TK_NUM) {
                    const char *d = tk[i + 1].p;
                    for (int k = 0; k < 9; k++) nsec = nsec * 10 + (k < tk[i + 1].len ? d[k] - '0' : 0);
                    i += 2;
                }
            }
            have_time = true;
            if (i < nt && (word_is(&tk[i], "am") || word_is(&tk[i], "pm"))) {
                if (hour < 1 || hour > 12) return -1;
                hour = hour % 12 + (word_is(&tk[i], "pm") ? 12 : 0);
                i++;
            }
        } else if (t->kind == TK_NUM && t->len <= 2 && i + 1 < nt && (word_is(&tk[i + 1], "am") || word_is(&tk[i + 1], "pm")) &&
                   !have_time) {
            if (t->v < 1 || t->v > 12) return -1;
            hour = (int)(t->v % 12 + (word_is(&tk[i + 1], "pm") ? 12 : 0));
            have_time = true;
            i += 2;
        } else if (t->kind == TK_WORD && !have_zone && (have_time || have_date)) {
            size_t z;
            for (z = 0; z < sizeof zones / sizeof *zones; z++)
                if (word_is(t, zones[z].name)) break;
            if (z == sizeof zones / sizeof *zones) return -1;
            off = zones[z].off;
            /* Ruby's zone_utc?: UTC, Z and UT make a UTC time; GMT is a
             * zero offset like +0000 (see the end). */
            utc = off == 0 && (word_is(t, "UTC") || word_is(t, "Z") || word_is(t, "UT"));
            abbr[0] = '\0';
            have_zone = true;
            i++;
        } else if (t->kind == TK_PUNCT && (t->ch == '+' || t->ch == '-') && !have_zone && (have_time || have_date) &&
                   i + 1 < nt && tk[i + 1].kind == TK_NUM && (tk[i + 1].len == 2 || tk[i + 1].len == 4 || tk[i + 1].len == 1)) {
            int h, m = 0;
            if (tk[i + 1].len == 4) {
                h = (int)(tk[i + 1].v / 100), m = (int)(tk[i + 1].v % 100);
                i += 2;
            } else {
                h = (int)tk[i + 1].v;
                i += 2;
                if (PUNCT(i, ':') && NUM(i + 1, 2)) m = (int)tk[i + 1].v, i += 2;
            }
            if (h > 23 || m > 59) return -1;
            off = (h * 3600 + m * 60) * (t->ch == '-' ? -1 : 1);
            /* RFC 2822's -0000 and RFC 3339's -00:00 mean UTC (zone_utc?). */
            utc = off == 0 && t->ch == '-' && tk[i - 1].len != 1;
            abbr[0] = '\0';
            have_zone = true;
        } else if (t->kind == TK_NUM && t->len == 4 && !have_year && have_date) {
            year = t->v;
            have_year = true;
            i++;
        } else {
            return -1;
        }
    }
#undef NUM
#undef PUNCT
    if (!have_date && !have_time) return -1;
    int64_t now_days = floor_div(now_sec, 86400);
    if (!have_date) {
        liq_civil_from_days(now_days, &year, &mon, &day);
    } else if (!have_year) {
        int nm, nd;
        liq_civil_from_days(now_days, &year, &nm, &nd);
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 24 || min > 59 || sec > 60) return -1;
    if (year < -100000 || year > 100000) return -1;
    int64_t days = liq_days_from_civil(year, mon, day);
    out->sec = days * 86400 + hour * 3600 + min * 60 + sec - off;
    out->nsec = nsec;
    out->off = off;
    out->utc = utc;
    /* Ruby's Time.parse prefers the local zone when it has the parsed
     * offset: Braze's servers run in UTC, so a zero offset (+0000, GMT)
     * gives a local time named UTC (printed +0000 by to_s), and any other
     * offset a nameless fixed offset (%Z is empty). */
    snprintf(out->abbr, sizeof out->abbr, "%s", utc || off == 0 ? "UTC" : abbr);
    return 0;
}

int liq_to_time(liq_ctx *c, const liq_val *v, liq_time *out) {
    int64_t now = floor_div(c->now_ms, 1000);
    memset(out, 0, sizeof *out);
    /* Times without a zone are in the server's zone, which Braze runs in
     * UTC: printed "+0000", named "UTC". */
    memcpy(out->abbr, "UTC", 4);
    switch (v->t) {
    case LV_TIME: *out = *v->u.tm; return 0;
    case LV_INT:
        /* Beyond +-10^15 s (30 million years) is not a date anyone means. */
        if (v->u.i > 1000000000000000LL || v->u.i < -1000000000000000LL) return -1;
        out->sec = v->u.i;
        return 0;
    case LV_STR: {
        const char *p = v->u.s.p;
        size_t n = v->u.s.n;
        if (n == 0) return -1;
        if ((n == 3 && strncasecmp(p, "now", 3) == 0) || (n == 5 && strncasecmp(p, "today", 5) == 0)) {
            out->sec = now;
            out->nsec = (int32_t)(floor_mod(c->now_ms, 1000) * 1000000);
            return 0;
        }
        size_t k = 0;
        while (k < n && p[k] >= '0' && p[k] <= '9') k++;
        if (k == n) {
            if (n > 15) return -1;
            int64_t s = 0;
            for (size_t i = 0; i < n; i++) s = s * 10 + (p[i] - '0');
            out->sec = s;
            return 0;
        }
        return liq_parse_time(p, n, now, out);
    }
    default: return -1;
    }
}
