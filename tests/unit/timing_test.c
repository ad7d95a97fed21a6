/* timing_test.c -- local-time and optimal-time waves (src/send/timing.c)
 * and the engagement histogram they read (src/core/engage.c). Times are
 * fixed instants, zones real tzdata ones. */
#include "test.h"
#include "core/engage.h"
#include "lib/timefmt.h"
#include "send/timing.h"

#include <stdlib.h>

#define MIN 60000LL
#define HOUR 3600000LL

static int64_t at(const char *iso) {
    int64_t ms;
    int y;
    return timefmt_parse(iso, strlen(iso), &ms, &y) == 0 ? ms : -1;
}

static int64_t due(const timing *t, const char *ws, const char *zone, int hour) {
    timing_zones *z = timing_zones_new(t, ws);
    int64_t d = timing_due(z, zone, zone ? strlen(zone) : 0, hour);
    timing_zones_free(z);
    return d;
}

TEST(timing_local_reaches_each_zone_at_its_wall_clock) {
    timing t = {TIMING_LOCAL, at("2026-07-01T09:00:00Z"), 0};
    T_EQ_INT(timing_first(&t), at("2026-06-30T19:00:00Z")); /* UTC+14 */
    T_EQ_INT(timing_last(&t), at("2026-07-01T21:00:00Z"));  /* UTC-12 */
    T_EQ_INT(due(&t, NULL, "America/New_York", -1), at("2026-07-01T13:00:00Z")); /* EDT */
    T_EQ_INT(due(&t, NULL, "Asia/Kathmandu", -1), at("2026-07-01T03:15:00Z"));    /* +05:45 */
    T_EQ_INT(due(&t, NULL, "Pacific/Kiritimati", -1), timing_first(&t));
    /* no zone, or one that does not exist: the workspace's, else UTC */
    T_EQ_INT(due(&t, NULL, NULL, -1), at("2026-07-01T09:00:00Z"));
    T_EQ_INT(due(&t, "Europe/Paris", "Mars/Olympus", -1), at("2026-07-01T07:00:00Z"));
    T_EQ_INT(due(&t, "Europe/Paris", "../../etc/passwd", -1), at("2026-07-01T07:00:00Z"));
    /* winter: New York is UTC-5 */
    timing w = {TIMING_LOCAL, at("2026-01-15T09:00:00Z"), 0};
    T_EQ_INT(due(&w, NULL, "America/New_York", -1), at("2026-01-15T14:00:00Z"));
}

TEST(timing_local_time_skipped_by_dst_is_taken_after_the_change) {
    /* 2026-03-08 02:30 does not exist in New York (02:00 EST -> 03:00 EDT) */
    timing t = {TIMING_LOCAL, at("2026-03-08T02:30:00Z"), 0};
    T_EQ_INT(due(&t, NULL, "America/New_York", -1), at("2026-03-08T07:30:00Z") - 0); /* 03:30 EDT */
    /* 2026-11-01 01:30 happens twice: the first (EDT) */
    timing f = {TIMING_LOCAL, at("2026-11-01T01:30:00Z"), 0};
    T_EQ_INT(due(&f, NULL, "America/New_York", -1), at("2026-11-01T05:30:00Z"));
}

TEST(timing_waves_fall_on_the_grid_and_end) {
    timing t = {TIMING_LOCAL, at("2026-07-01T09:00:00Z"), 0};
    T_EQ_INT(timing_next(&t, at("2026-06-01T00:00:00Z")), timing_first(&t));
    T_EQ_INT(timing_next(&t, at("2026-07-01T08:50:00Z")), at("2026-07-01T09:00:00Z"));
    T_EQ_INT(timing_next(&t, at("2026-07-01T09:00:00Z")), at("2026-07-01T09:00:00Z"));
    T_EQ_INT(timing_next(&t, at("2026-07-01T21:00:00Z")), timing_last(&t));
    T_EQ_INT(timing_next(&t, at("2026-07-01T21:00:01Z")), -1);
    /* a time with seconds: every wave keeps them */
    timing s = {TIMING_LOCAL, at("2026-07-01T09:07:30Z"), 0};
    T_EQ_INT(due(&s, NULL, "Asia/Tokyo", -1), at("2026-07-01T00:07:30Z"));
    T_EQ_INT((due(&s, NULL, "Asia/Kolkata", -1) - timing_first(&s)) % TIMING_STEP_MS, 0);
}

TEST(timing_optimal_sends_on_the_users_date_at_their_hour) {
    timing t = {TIMING_OPTIMAL, at("2026-07-01T15:45:00Z"), 18};
    T_EQ_INT(timing_first(&t), at("2026-06-30T10:00:00Z"));
    T_EQ_INT(timing_last(&t), at("2026-07-02T12:00:00Z"));
    /* UTC user, most engaged at 07 UTC */
    T_EQ_INT(due(&t, NULL, "UTC", 7), at("2026-07-01T07:00:00Z"));
    /* Tokyo (UTC+9): their 1 July runs 30 June 15:00 to 1 July 15:00 UTC */
    T_EQ_INT(due(&t, NULL, "Asia/Tokyo", 7), at("2026-07-01T07:00:00Z"));
    T_EQ_INT(due(&t, NULL, "Asia/Tokyo", 20), at("2026-06-30T20:00:00Z"));
    /* Kolkata (UTC+5:30): their day starts at 18:30 UTC */
    T_EQ_INT(due(&t, NULL, "Asia/Kolkata", 18), at("2026-07-01T18:00:00Z"));
    T_EQ_INT(due(&t, NULL, "Asia/Kolkata", 19), at("2026-06-30T19:00:00Z"));
    /* no history: the fallback hour; none either: the time of day, locally */
    T_EQ_INT(due(&t, NULL, "UTC", -1), at("2026-07-01T18:00:00Z"));
    t.fallback_hour = -1;
    T_EQ_INT(due(&t, NULL, "America/New_York", -1), at("2026-07-01T19:45:00Z"));
}

TEST(engage_histogram_counts_decays_and_merges) {
    pedit e;
    pedit_open(&e, NULL);
    uint32_t h[24] = {0};
    T_EQ_INT(engage_best_hour(h, 1), -1);
    for (int i = 0; i < 2; i++) engage_add(&e, at("2026-07-01T07:10:00Z") + i * 86400000LL);
    uint8_t *blob = pedit_encode(&e);
    T_EQ_INT(engage_sum(blob, h), 2);
    T_EQ_INT(engage_best_hour(h, ENGAGE_MIN_WEIGHT), -1); /* too little history */
    T_EQ_INT(engage_best_hour(h, 1), 7);
    free(blob);
    /* 40 events at 21h then 5 at 07h: 21h's counter saturates and halves
     * everything (a 4-bit counter each), and 21h stays the most engaged */
    for (int i = 0; i < 40; i++) engage_add(&e, at("2026-07-02T21:00:00Z"));
    for (int i = 0; i < 5; i++) engage_add(&e, at("2026-07-03T07:00:00Z"));
    blob = pedit_encode(&e);
    memset(h, 0, sizeof h);
    T_TRUE(engage_sum(blob, h) > 0);
    T_TRUE(h[21] <= 15 && h[7] <= 15);
    T_EQ_INT(engage_best_hour(h, ENGAGE_MIN_WEIGHT), 21);
    free(blob);
    /* a new habit takes over: the old one decays as the new one fills */
    for (int i = 0; i < 20; i++) engage_add(&e, at("2026-07-04T07:00:00Z"));
    blob = pedit_encode(&e);
    memset(h, 0, sizeof h);
    engage_sum(blob, h);
    T_EQ_INT(engage_best_hour(h, ENGAGE_MIN_WEIGHT), 7);
    /* merging another user's history adds to it */
    pedit o;
    pedit_open(&o, NULL);
    for (int i = 0; i < 15; i++) engage_add(&o, at("2026-07-03T03:00:00Z"));
    uint8_t *ob = pedit_encode(&o);
    pfield f;
    T_TRUE(profile_get(ob, pkey(PF_ENGAGEMENT, PK_ATTR), &f));
    engage_merge(&e, &f);
    uint8_t *mb = pedit_encode(&e);
    uint32_t m[24] = {0};
    engage_sum(mb, m);
    T_TRUE(m[3] > 0);
    free(blob);
    free(ob);
    free(mb);
    pedit_close(&o);
    pedit_close(&e);
}
