/* logjson.c -- libFuzzer target for --log-format json (src/lib/logjson.c).
 *
 * Log messages carry client text (paths, names, upstream errors), so the
 * JSON line must hold whatever bytes a message has. Each input is a message
 * of at most LOG_LINE_MAX - 1 bytes, as log_msg hands it over (its first
 * byte, when odd, says the message was cut). Findings: a line longer than
 * LOG_LINE_MAX, not ending in its only newline, not UTF-8, or not one JSON
 * object that json-c parses strictly. */
#include "lib/json.h"
#include "lib/log.h"
#include "lib/logjson.h"
#include "lib/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *why, const char *line, size_t len) {
    fprintf(stderr, "logjson: %s: %.*s\n", why, (int)len, line);
    abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size == 0) return 0;
    bool cut = data[0] & 1;
    data++;
    size--;
    if (size > LOG_LINE_MAX - 1) size = LOG_LINE_MAX - 1;
    char line[LOG_LINE_MAX];
    size_t len = logjson_line(line, "2026-11-23T17:10:10.114Z", "info", (const char *)data, size, cut);
    if (len < 2 || len > LOG_LINE_MAX) fail("length", line, len < LOG_LINE_MAX ? len : LOG_LINE_MAX);
    if (line[len - 1] != '\n' || memchr(line, '\n', len - 1)) fail("not one line", line, len);
    if (!utf8_valid(line, len, NULL)) fail("not UTF-8", line, len);
    json_object *o = json_parse(line, len - 1);
    if (!o || !json_object_is_type(o, json_type_object)) fail("not a JSON object", line, len);
    json_object_put(o);
    return 0;
}
