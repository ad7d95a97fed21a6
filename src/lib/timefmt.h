/* timefmt.h -- the time strings Braze accepts, parsed without the C
 * library's time zone state (which is process-global and not thread-safe).
 *
 * Accepted (Braze, custom attributes and event/purchase "time"):
 *   2021-06-28                      midnight UTC
 *   2021-06-28T17:02:43             UTC when no zone is given
 *   2021-06-28T17:02:43.032Z        fraction of any length, Z or +hh:mm / +hhmm / +hh
 *   2021-06-28T17:02:43:032Z        milliseconds after a colon (yyyy-MM-dd'T'HH:mm:ss:SSSZ)
 *   2021-06-28 17:02:43             space instead of T
 *   06/28/2021                      MM/dd/yyyy
 *   12-1-2021                       M-d-yyyy (a "date-looking string")
 */
#ifndef BR_TIMEFMT_H
#define BR_TIMEFMT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) into ms since the epoch (UTC). Returns 0, or -1 if it is
 * not one of the accepted forms or not a real date. *year gets the year
 * (Braze keeps years outside 0..3000 as strings). */
int timefmt_parse(const char *s, size_t n, int64_t *ms, int *year);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t timefmt_days(int y, int m, int d);
/* Formats ms as "2021-06-28T17:02:43.032Z" into out (>= 25 bytes). */
void timefmt_iso(int64_t ms, char *out, size_t outlen);
/* Formats ms as Braze's created_at: "2020-07-10 15:00:00.000 UTC". */
void timefmt_braze(int64_t ms, char *out, size_t outlen);
/* Formats ms as an RFC 5322 date-time in UTC, the Date: of an email:
 * "Wed, 01 Jul 2026 09:00:00 +0000" into out (>= 32 bytes). */
void timefmt_rfc5322(int64_t ms, char *out, size_t outlen);
/* Formats a day number as "YYYY-MM-DD". */
void timefmt_date(int64_t days, char *out, size_t outlen);

#endif
