/* clock.c -- wall and monotonic clocks (see clock.h). */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <stdio.h>
#include <time.h>

#ifdef BR_FAULT_INJECTION
#include <pthread.h>
#include <stdlib.h>
/* Test builds only: BRASA_TEST_CLOCK_SKEW_MS moves wall time, so that a
 * test can stand just before a time of day it cannot wait for (a
 * scheduler wave on the hour). Nothing else should read the wall clock. */
static int64_t skew;
static pthread_once_t skew_once = PTHREAD_ONCE_INIT;
static void skew_read(void) {
    const char *s = getenv("BRASA_TEST_CLOCK_SKEW_MS");
    skew = s ? strtoll(s, NULL, 10) : 0;
}
static int64_t skew_ms(void) {
    pthread_once(&skew_once, skew_read);
    return skew;
}
#else
static int64_t skew_ms(void) { return 0; }
#endif

int64_t clock_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + skew_ms();
}

int64_t clock_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

