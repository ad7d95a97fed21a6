/* test.h -- brasa's unit-test runner: one binary, every test named.
 *
 * TEST(name) { ... } registers a test at load time; the runner (main.c)
 * runs them all (each in a process of its own, with a time limit), or
 * those whose name contains argv[1]. A failed check
 * prints file:line and both sides, and ends that test. The last line is
 * "N passed, N failed", which CI reads. */
#ifndef BR_TEST_H
#define BR_TEST_H
#include <stdio.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
    struct test_case *next;
} test_case;

void test_register(test_case *t);
/* Set by a failing check; the runner resets it per test. */
extern int test_failed;

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    static test_case test_case_##name = {#name, test_##name, NULL};             \
    __attribute__((constructor)) static void test_reg_##name(void) {            \
        test_register(&test_case_##name);                                       \
    }                                                                           \
    static void test_##name(void)

#define T_FAIL_(fmt, ...)                                                       \
    do {                                                                        \
        printf("    %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);        \
        test_failed = 1;                                                        \
        return;                                                                 \
    } while (0)

#define T_TRUE(c)                                                               \
    do {                                                                        \
        if (!(c)) T_FAIL_("expected true: %s", #c);                             \
    } while (0)

#define T_EQ_INT(a, b)                                                          \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ != b_) T_FAIL_("%s == %s: got %lld, want %lld", #a, #b, a_, b_); \
    } while (0)

#define T_EQ_STR(a, b)                                                          \
    do {                                                                        \
        const char *a_ = (a), *b_ = (b);                                        \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                  \
            T_FAIL_("%s == %s: got \"%s\", want \"%s\"", #a, #b,                \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
    } while (0)

#endif
