/* thread.h -- thread helpers. */
#ifndef BR_THREAD_H
#define BR_THREAD_H
#include <stdbool.h>

/* Lowers the calling thread's CPU priority (nice 10) and, when idle_io,
 * puts its disk I/O in the idle class, so background work (checkpoints)
 * yields the CPU and the disk to the threads that answer requests. The I/O
 * class counts with schedulers that honour it (mq-deadline, bfq); bfq may
 * starve idle I/O for as long as other I/O keeps coming, so only a thread
 * nobody ever waits for may use it. Best effort: failures are ignored.
 * Linux only. */
void thread_background(bool idle_io);
/* Names the calling thread (at most 15 bytes shown), for top -H and gdb. */
void thread_name(const char *name);

#endif
