/* logjson.h -- a log message as one JSON object (--log-format json).
 *
 * Messages are written for people and grep ("serve: ready pid=1 port=8080",
 * "http method=GET path=/ status=200"); log shippers want fields. This turns
 * the one into the other without changing a single caller:
 *
 *   module  a first word of [a-z0-9_-] followed by ':' or directly by a
 *           pair ("http method=..."); absent when the message has none.
 *   pairs   every word key=value or key="quoted value" (key: a letter or
 *           '_', then letters, digits, '_', '.', '-') becomes a field. A
 *           quoted value is a string (\" and \\ read as " and \); its
 *           closing quote is the first one before a space or the end, and
 *           without one it runs to the end. A bare value is a JSON number
 *           when it is a plain integer of at most 15 digits (exact in a
 *           double, as Elasticsearch and JavaScript read numbers), else a
 *           string.
 *   msg     the rest of the text, pairs taken out (free text around them
 *           is joined by one space); "" when the message is all pairs.
 *   clashes a pair named time, level, module, msg or truncated, a key
 *           already seen, or a pair past the 64th stays in msg as written:
 *           no field is ever written twice, nothing is dropped.
 *
 * The result is always valid JSON: control characters are escaped, each
 * invalid UTF-8 byte becomes U+FFFD, and a line longer than LOG_LINE_MAX
 * is cut between characters, closed, and marked "truncated":true (as is a
 * message cut before it got here). */
#ifndef BR_LOGJSON_H
#define BR_LOGJSON_H
#include "log.h"
#include <stdbool.h>
#include <stddef.h>

/* Writes {"time":ts,"level":level,...} and '\n' into out[LOG_LINE_MAX] for
 * the message msg[0..n) (cut: it was already cut short); returns the length
 * written, newline included. ts and level are plain ASCII. */
size_t logjson_line(char *out, const char *ts, const char *level, const char *msg, size_t n, bool cut);

#endif
