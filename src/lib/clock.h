/* clock.h -- the two clocks brasa reads.
 *
 * Wall time (milliseconds since the Unix epoch) is what is stored and shown;
 * monotonic time is what durations and rate-limit arithmetic use, so a clock
 * step does not make a request take negative time. */
#ifndef BR_CLOCK_H
#define BR_CLOCK_H
#include <stddef.h>
#include <stdint.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_us(void);

#endif
