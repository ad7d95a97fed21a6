/* main.c -- the unit-test runner (see test.h).
 *
 * Each test runs in a child process of its own with a time limit
 * (UNIT_TIMEOUT seconds, 120 by default): a test that crashes, aborts
 * under a sanitizer or hangs is named and reported, and the others still
 * run. Tests therefore share nothing through memory. */
#include "test.h"
#include "../../src/lib/log.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static test_case *head, **tail = &head;
int test_failed;

void test_register(test_case *t) {
    /* Constructors run in link order; keep that order for the report. */
    *tail = t;
    tail = &t->next;
}

/* Runs t in a child; returns 0 when it passed. */
static int run(test_case *t, unsigned timeout) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        alarm(timeout); /* SIGALRM ends a test that hangs */
        test_failed = 0;
        t->fn();
        fflush(stdout);
        _exit(test_failed ? 1 : 0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {}
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    int sig = WTERMSIG(st);
    printf("    %s %s (signal %d)\n", t->name, sig == SIGALRM ? "timed out" : "crashed", sig);
    return 1;
}

int main(int argc, char **argv) {
    log_set_level(LOG_ERROR);
    const char *to = getenv("UNIT_TIMEOUT");
    unsigned timeout = to && atoi(to) > 0 ? (unsigned)atoi(to) : 120;
    int passed = 0, failed = 0;
    for (test_case *t = head; t; t = t->next) {
        if (argc > 1 && !strstr(t->name, argv[1])) continue;
        int rc = run(t, timeout);
        printf("%s %s\n", rc ? "FAIL" : "ok  ", t->name);
        if (rc) failed++;
        else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
