/* authfail_test.c -- failed-authentication throttling and log sampling
 * (http/authfail.c), with explicit times. */
#include "test.h"
#include "http/authfail.h"
#include "lib/err.h"

#include <string.h>

static void v4(uint8_t a[16], int last) {
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = 10, a[15] = (uint8_t)last;
}

TEST(authfail_parse_limits) {
    authfail_config c = {0, 60};
    T_EQ_INT(authfail_parse("20/90s", &c), 0);
    T_EQ_INT(c.limit, 20);
    T_EQ_INT(c.window_s, 90);
    T_EQ_INT(authfail_parse("5/2m", &c), 0);
    T_EQ_INT(c.window_s, 120);
    T_EQ_INT(authfail_parse("0", &c), 0);
    T_EQ_INT(c.limit, 0);
    T_EQ_INT(c.window_s, 120); /* kept */
    T_EQ_INT(authfail_parse("x", &c), BR_EINVAL);
    T_EQ_INT(authfail_parse("5/0s", &c), BR_EINVAL);
    T_EQ_INT(authfail_parse("5/10", &c), BR_EINVAL);
    T_EQ_INT(authfail_parse("5/10s/", &c), BR_EINVAL);
}

TEST(authfail_refuses_an_address_over_its_budget_until_its_window_ends) {
    authfail_t *a = authfail_new(&(authfail_config){3, 10});
    uint8_t x[16], y[16];
    v4(x, 1), v4(y, 2);
    unsigned ra = 0;
    int64_t t = 1000000;
    T_TRUE(!authfail_blocked(a, x, t, &ra));
    for (int i = 0; i < 3; i++) authfail_note(a, x, false, t + i);
    T_TRUE(authfail_blocked(a, x, t + 2000, &ra));
    T_EQ_INT(ra, 8);
    T_TRUE(!authfail_blocked(a, y, t + 2000, &ra)); /* another address */
    T_TRUE(authfail_blocked(a, x, t + 9999, &ra));
    T_EQ_INT(ra, 1);
    T_TRUE(!authfail_blocked(a, x, t + 10000, &ra)); /* the window ended */
    authfail_free(a);
}

TEST(authfail_counts_ipv6_by_its_64) {
    authfail_t *a = authfail_new(&(authfail_config){2, 60});
    uint8_t p[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1}, q[16], other[16];
    memcpy(q, p, 16);
    p[15] = 1, q[15] = 2;
    memcpy(other, p, 16);
    other[7] = 2; /* another /64 */
    unsigned ra;
    authfail_note(a, p, false, 0);
    authfail_note(a, q, false, 1);
    T_TRUE(authfail_blocked(a, p, 2, &ra));
    T_TRUE(authfail_blocked(a, q, 2, &ra));
    T_TRUE(!authfail_blocked(a, other, 2, &ra));
    authfail_free(a);
}

TEST(authfail_samples_log_lines_per_address_and_per_second) {
    authfail_t *a = authfail_new(&(authfail_config){0, 60});
    uint8_t x[16];
    v4(x, 1);
    int logged = 0;
    for (int i = 0; i < 50; i++) logged += authfail_note(a, x, false, 10);
    T_EQ_INT(logged, AUTHFAIL_LOG_FIRST);
    unsigned ra;
    T_TRUE(!authfail_blocked(a, x, 10, &ra)); /* limit 0: never refused */
    /* Many addresses within one second: at most AUTHFAIL_LOG_PER_SECOND lines. */
    logged = 0;
    for (int i = 0; i < 3 * AUTHFAIL_LOG_PER_SECOND; i++) {
        uint8_t y[16] = {0xfd, 0, 0, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
        logged += authfail_note(a, y, false, 5000);
    }
    T_EQ_INT(logged, AUTHFAIL_LOG_PER_SECOND);
    /* A new window logs again. */
    T_TRUE(authfail_note(a, x, false, 61000));
    authfail_free(a);
}
