/* log.h -- one-line logs on stderr.
 *
 * Every line starts with an ISO-8601 timestamp and a level, then key=value
 * pairs, so `grep` and log shippers can read them without a parser; or,
 * with LOG_JSON, the same line as one JSON object (logjson.h). Either way
 * a line is at most LOG_LINE_MAX bytes and goes out in one write(2).
 * Secrets never reach a log line: callers log key names, not keys. */
#ifndef BR_LOG_H
#define BR_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;
typedef enum { LOG_TEXT, LOG_JSON } log_format;

#define LOG_LINE_MAX 2048

void log_set_level(log_level l);
log_level log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int log_parse_level(const char *s);
void log_set_format(log_format f);
/* Parses "text" or "json"; returns -1 if unknown. */
int log_parse_format(const char *s);
void log_msg(log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
