/* timing.h -- when each user is due in a local-time or optimal-time send.
 *
 * A schedule with in_local_time reaches each user when its wall-clock
 * time comes in the user's time zone (their time_zone attribute, else the
 * workspace's zone); one with at_optimal_time reaches each user on its
 * date, in their zone, at the UTC hour they engage most (core/engage.h),
 * else at the fallback hour. Either is sent in waves: the scheduler fires
 * the schedule once per TIMING_STEP_MS, from the first instant any zone
 * can be due (UTC+14) to the last (UTC-12), and each wave goes to the
 * users whose due instant, rounded up to the wave grid, is that wave.
 * Every real UTC offset is a multiple of 15 minutes, so local-time users
 * get their message at their time to the second. */
#ifndef BR_SEND_TIMING_H
#define BR_SEND_TIMING_H
#include <stddef.h>
#include <stdint.h>

#define TIMING_STEP_MS (15 * 60 * 1000LL)

enum { TIMING_UTC, TIMING_LOCAL, TIMING_OPTIMAL };

typedef struct {
    int mode;
    int64_t time_ms;   /* the schedule's time; LOCAL, OPTIMAL: its wall clock read as UTC */
    int fallback_hour; /* OPTIMAL, users without history: a UTC hour, or -1 for time's local time of day */
} timing;

/* The first and last waves a schedule can have. */
int64_t timing_first(const timing *t);
int64_t timing_last(const timing *t);
/* The first wave at or after now, or -1 when every zone's time has passed. */
int64_t timing_next(const timing *t, int64_t now_ms);

/* Due waves of users, by zone, for one wave: zones are looked up once. */
typedef struct timing_zones timing_zones;
/* workspace: the zone of users without a valid one (NULL or "": UTC). */
timing_zones *timing_zones_new(const timing *t, const char *workspace);
void timing_zones_free(timing_zones *z);
/* The wave at which a user with this time_zone attribute (zone may be NULL)
 * is due; OPTIMAL: hour is their UTC hour, -1 without history. */
int64_t timing_due(timing_zones *z, const char *zone, size_t zl, int hour);

#endif
