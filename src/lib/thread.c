/* thread.c -- thread helpers (see thread.h). */
#define _GNU_SOURCE
#include "thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IOPRIO_WHO_PROCESS 1 /* with a thread id: that thread */
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

void thread_background(bool idle_io) {
    pid_t tid = gettid();
    (void)setpriority(PRIO_PROCESS, (id_t)tid, 10);
    if (idle_io) (void)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
}

void thread_name(const char *name) { (void)pthread_setname_np(pthread_self(), name); }
