/* log.c -- one-line stderr logging (see log.h).
 *
 * Each line is formatted whole and written with one write(2), so lines from
 * concurrent threads never interleave. */
#include "log.h"
#include "clock.h"
#include "logjson.h"
#include "timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile log_level current = LOG_INFO;
static volatile log_format format = LOG_TEXT;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(log_level l) { current = l; }
log_level log_get_level(void) { return current; }

int log_parse_level(const char *s) {
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

void log_set_format(log_format f) { format = f; }

int log_parse_format(const char *s) {
    return !strcmp(s, "text") ? LOG_TEXT : !strcmp(s, "json") ? LOG_JSON : -1;
}

void log_msg(log_level l, const char *fmt, ...) {
    if (l < current) return;
    char line[LOG_LINE_MAX];
    char ts[32];
    timefmt_iso(clock_wall_ms(), ts, sizeof ts);
    va_list ap;
    va_start(ap, fmt);
    size_t len;
    if (format == LOG_JSON) {
        char msg[LOG_LINE_MAX];
        int m = vsnprintf(msg, sizeof msg, fmt, ap);
        size_t n = m < 0 ? 0 : (size_t)m;
        len = logjson_line(line, ts, names[l], msg, n < sizeof msg ? n : sizeof msg - 1, n >= sizeof msg);
    } else {
        int n = snprintf(line, sizeof line, "%s %s ", ts, names[l]);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
        len = (size_t)n + (m < 0 ? 0 : (size_t)m);
        if (len > sizeof line - 2) len = sizeof line - 2;
        line[len++] = '\n';
    }
    va_end(ap);
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
