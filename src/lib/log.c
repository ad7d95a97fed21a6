/* log.c -- one-line stderr logging (see log.h).
 *
 * Each line is formatted whole and written with one write(2), so lines from
 * concurrent threads never interleave. */
#include "log.h"
#include "clock.h"
#include "timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile log_level current = LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(log_level l) { current = l; }
log_level log_get_level(void) { return current; }

int log_parse_level(const char *s) {
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

void log_msg(log_level l, const char *fmt, ...) {
    if (l < current) return;
    char line[2048];
    char ts[32];
    timefmt_iso(clock_wall_ms(), ts, sizeof ts);
    int n = snprintf(line, sizeof line, "%s %s ", ts, names[l]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
