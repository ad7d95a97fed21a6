/* main.c -- the unit-test runner (see test.h). */
#include "test.h"
#include "../../src/lib/log.h"

static test_case *head, **tail = &head;
int test_failed;

void test_register(test_case *t) {
    /* Constructors run in link order; keep that order for the report. */
    *tail = t;
    tail = &t->next;
}

int main(int argc, char **argv) {
    log_set_level(LOG_ERROR);
    int passed = 0, failed = 0;
    for (test_case *t = head; t; t = t->next) {
        if (argc > 1 && !strstr(t->name, argv[1])) continue;
        test_failed = 0;
        t->fn();
        printf("%s %s\n", test_failed ? "FAIL" : "ok  ", t->name);
        if (test_failed) failed++;
        else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
