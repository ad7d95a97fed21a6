/* thread.h -- thread helpers. */
#ifndef BR_THREAD_H
#define BR_THREAD_H

/* Lowers the calling thread's CPU priority (nice 10) and puts its disk I/O
 * in the idle class, so background work (checkpoints) yields the CPU and
 * the disk to the threads that answer requests. The I/O class counts with
 * schedulers that honour it (mq-deadline, bfq); mq-deadline still serves
 * idle I/O within its aging limit (10 s by default). Best effort: failures
 * are ignored. Linux only. */
void thread_background(void);

#endif
