/* segment_test.c -- the linear-time regex engine (src/lib/relin.c), the
 * segment columns (src/core/columns.c) and segment definitions
 * (src/core/segment.c): checks of bad definitions, and a randomised
 * property test that the fast evaluator and the brute-force reference
 * agree on random profiles, random definitions and random changes. */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "core/cohort.h"
#include "core/columns.h"
#include "core/names.h"
#include "core/segment.h"
#include "core/users.h"
#include "lib/err.h"
#include "lib/relin.h"
#include "lib/varint.h"

#include <stdlib.h>

#define NOW 1700000000000LL
#define DAY 86400000LL

/* ---- regex --------------------------------------------------------------- */

static int rmatch(const char *pat, const char *s) {
    char why[200];
    relin_t *re = relin_compile(pat, why, sizeof why);
    if (!re) return -1;
    int m = relin_match(re, s, strlen(s));
    relin_free(re);
    return m;
}

TEST(relin_matches_like_ere) {
    T_EQ_INT(rmatch("gold", "is GOLD tier"), 1); /* search, any case */
    T_EQ_INT(rmatch("^gold$", "gold"), 1);
    T_EQ_INT(rmatch("^gold$", "golden"), 0);
    T_EQ_INT(rmatch("^(foo|bar)+baz$", "foobarfoobaz"), 1);
    T_EQ_INT(rmatch("^(foo|bar)+baz$", "foobaz!"), 0);
    T_EQ_INT(rmatch("^[a-c]{2,3}$", "abc"), 1);
    T_EQ_INT(rmatch("^[a-c]{2,3}$", "abca"), 0);
    T_EQ_INT(rmatch("^[^0-9]+$", "abc"), 1);
    T_EQ_INT(rmatch("^[^0-9]+$", "ab1"), 0);
    T_EQ_INT(rmatch("\\d{3}-\\d{4}", "call 555-1234"), 1);
    T_EQ_INT(rmatch("a.c", "abc"), 1);
    T_EQ_INT(rmatch("a\\.c", "abc"), 0);
    T_EQ_INT(rmatch("colou?r", "color"), 1);
    T_EQ_INT(rmatch("^$", ""), 1);
    T_EQ_INT(rmatch("(a*)*b", "aaab"), 1);
    T_EQ_INT(rmatch("x*", ""), 1);
    T_EQ_INT(rmatch("@example\\.com$", "ann@example.com"), 1);
    T_EQ_INT(rmatch("[[:alpha:]", "x"), 0); /* '[' ':' 'a'... a class, then nothing: no match of "x" */
}

TEST(relin_refuses_what_it_cannot_bound) {
    T_EQ_INT(rmatch("(a)\\1", "aa"), -1);    /* backreference */
    T_EQ_INT(rmatch("(?=a)", "a"), -1);      /* lookahead */
    T_EQ_INT(rmatch("(abc", "a"), -1);
    T_EQ_INT(rmatch("abc)", "a"), -1);
    T_EQ_INT(rmatch("[abc", "a"), -1);
    T_EQ_INT(rmatch("*a", "a"), -1);
    T_EQ_INT(rmatch("[z-a]", "a"), -1);
    T_EQ_INT(rmatch("a{3,2}", "a"), -1);
    T_EQ_INT(rmatch("a{1000}", "a"), -1);
    T_EQ_INT(rmatch("((a{100}){100}){100}", "a"), -1); /* would expand to a million states */
    T_EQ_INT(rmatch("\\q", "q"), -1);
}

TEST(relin_catastrophic_patterns_stay_linear) {
    /* (a+)+$ and (a|aa)*c take exponential time in a backtracking engine
     * on "aaaa...b"; here they are a bounded number of steps per byte. */
    char s[256];
    memset(s, 'a', 254);
    s[254] = 'b';
    s[255] = 0;
    for (int i = 0; i < 100; i++) { /* backtracking: 2^254 steps, far past the test's timeout */
        T_EQ_INT(rmatch("(a+)+$", s), 0);
        T_EQ_INT(rmatch("^(a|aa)*c$", s), 0);
        T_EQ_INT(rmatch("(x+x+)+y", s), 0);
    }
}

/* ---- a small world ------------------------------------------------------- */

typedef struct {
    users_t *u;
    names_t *n;
    cohorts_t *c;
    cols_t *cols;
    uint32_t nrows;
} world;

static uint32_t rnd_state = 12345;
static uint32_t rnd(uint32_t n) {
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) % n;
}

static const char *const tiers[] = {"gold", "silver", "bronze", "Gold", "platinum"};
static const char *const tagv[] = {"a", "b", "c", "d"};
static const char *const subv[] = {"opted_in", "subscribed", "unsubscribed"};

static uint32_t nid(world *w, const char *s) { return names_intern(w->n, s, strlen(s)); }

static void put_int(pedit *e, uint32_t key, uint8_t type, int64_t v) {
    uint8_t b[16];
    size_t n = pval_int(b, v);
    pedit_set(e, key, type, b, n);
}

static void put_summary(world *w, pedit *e, uint32_t key, bool purchase) {
    psummary s;
    memset(&s, 0, sizeof s);
    int k = (int)rnd(6);
    for (int i = 0; i < k; i++)
        psummary_add(&s, NOW - (int64_t)rnd(120) * DAY - rnd(86400000), 1 + rnd(3), purchase ? rnd(100) : 0, NOW);
    (void)w;
    if (!s.count) return;
    buf_t b = BUF_INIT;
    psummary_encode(&s, purchase, &b);
    pedit_set(e, key, PT_SUMMARY, b.data, b.len);
    buf_free(&b);
}

/* Gives row a random profile (or deletes it, sometimes). */
static void randomise(world *w, uint32_t row, bool may_delete) {
    profile_t *p = users_get(w->u, row);
    if (may_delete && rnd(20) == 0) {
        users_delete(w->u, row);
        cohorts_forget_row(w->c, row);
        cols_update(w->cols, w->u, row);
        return;
    }
    if (p->flags & PROFILE_DELETED) return;
    pedit e;
    pedit_open(&e, p->blob);
    char s[64];
    snprintf(s, sizeof s, "u%u", row);
    pedit_set(&e, pkey(PF_EXTERNAL_ID, PK_ATTR), PT_STR, s, strlen(s));
    if (rnd(4)) {
        const char *t = tiers[rnd(5)];
        pedit_set(&e, pkey(nid(w, "tier"), PK_ATTR), PT_STR, t, strlen(t));
    } else pedit_del(&e, pkey(nid(w, "tier"), PK_ATTR));
    if (rnd(3)) {
        snprintf(s, sizeof s, "name%u", rnd(400)); /* > COLS_VALUE_BITMAPS distinct */
        pedit_set(&e, pkey(nid(w, "nick"), PK_ATTR), PT_STR, s, strlen(s));
    }
    uint32_t r = rnd(6);
    if (r < 3) put_int(&e, pkey(nid(w, "age"), PK_ATTR), PT_INT, (int64_t)rnd(80));
    else if (r == 3) {
        double d = rnd(8000) / 100.0;
        pedit_set(&e, pkey(nid(w, "age"), PK_ATTR), PT_DBL, &d, 8);
    } else if (r == 4) pedit_set(&e, pkey(nid(w, "age"), PK_ATTR), PT_STR, "old", 3); /* a type clash */
    else pedit_del(&e, pkey(nid(w, "age"), PK_ATTR));
    /* Few distinct numbers (value bitmaps), now and then a string. */
    r = rnd(8);
    if (r < 5) put_int(&e, pkey(nid(w, "level"), PK_ATTR), PT_INT, (int64_t)rnd(12));
    else if (r == 5) {
        double d = rnd(4) + 0.5;
        pedit_set(&e, pkey(nid(w, "level"), PK_ATTR), PT_DBL, &d, 8);
    } else if (r == 6) pedit_set(&e, pkey(nid(w, "level"), PK_ATTR), PT_STR, "max", 3);
    else pedit_del(&e, pkey(nid(w, "level"), PK_ATTR));
    r = rnd(3);
    if (r < 2) pedit_set(&e, pkey(nid(w, "vip"), PK_ATTR), r ? PT_TRUE : PT_FALSE, "", 0);
    else pedit_del(&e, pkey(nid(w, "vip"), PK_ATTR));
    /* Times in the past and to come (days ago and days from now). */
    if (rnd(2)) put_int(&e, pkey(nid(w, "signup"), PK_ATTR), PT_TIME, NOW + ((int64_t)rnd(400) - 200) * DAY + rnd(1000));
    else pedit_del(&e, pkey(nid(w, "signup"), PK_ATTR));
    if (rnd(3)) put_int(&e, pkey(PF_LAST_SESSION, PK_ATTR), PT_TIME, NOW - (int64_t)rnd(60) * DAY - rnd(86400000));
    else pedit_del(&e, pkey(PF_LAST_SESSION, PK_ATTR));
    /* Subscription states, or none (Braze's default: subscribed). */
    for (uint32_t f = PF_EMAIL_SUBSCRIBE; f <= PF_PUSH_SUBSCRIBE; f++) {
        r = rnd(4);
        if (r < 3) pedit_set(&e, pkey(f, PK_ATTR), PT_STR, subv[r], strlen(subv[r]));
        else pedit_del(&e, pkey(f, PK_ATTR));
    }
    if (rnd(2)) {
        uint8_t arr[64];
        size_t n = 0;
        int k = (int)rnd(4);
        for (int i = 0; i < k; i++) {
            if (rnd(3) == 0) { /* numbers too: 1..3, as integers or doubles */
                int64_t v = 1 + rnd(3);
                if (rnd(2)) {
                    uint8_t b[16];
                    size_t bl = pval_int(b, v);
                    arr[n++] = PT_INT;
                    n += varint_put(arr + n, bl);
                    memcpy(arr + n, b, bl);
                    n += bl;
                } else {
                    double d = (double)v;
                    arr[n++] = PT_DBL;
                    n += varint_put(arr + n, 8);
                    memcpy(arr + n, &d, 8);
                    n += 8;
                }
                continue;
            }
            const char *t = tagv[rnd(4)];
            arr[n++] = PT_STR;
            n += varint_put(arr + n, strlen(t));
            memcpy(arr + n, t, strlen(t));
            n += strlen(t);
        }
        pedit_set(&e, pkey(nid(w, "tags"), PK_ATTR), PT_ARR, arr, n);
    } else pedit_del(&e, pkey(nid(w, "tags"), PK_ATTR));
    if (rnd(2)) pedit_set(&e, pkey(PF_COUNTRY, PK_ATTR), PT_STR, rnd(2) ? "US" : "FR", 2);
    if (rnd(2)) pedit_set(&e, pkey(PF_EMAIL, PK_ATTR), PT_STR, "x@y.io", 6);
    else pedit_del(&e, pkey(PF_EMAIL, PK_ATTR));
    if (rnd(2)) {
        double rev = rnd(1000) / 10.0;
        pedit_set(&e, pkey(PF_TOTAL_REVENUE, PK_ATTR), PT_DBL, &rev, 8);
    }
    static const char *const evs[] = {"cart", "view"}, *const prods[] = {"p1", "p2"};
    for (int i = 0; i < 2; i++) {
        pedit_del(&e, pkey(nid(w, evs[i]), PK_EVENT));
        put_summary(w, &e, pkey(nid(w, evs[i]), PK_EVENT), false);
        pedit_del(&e, pkey(nid(w, prods[i]), PK_PURCHASE));
        if (rnd(2)) put_summary(w, &e, pkey(nid(w, prods[i]), PK_PURCHASE), true);
    }
    users_commit(w->u, row, &e, (uint32_t)(NOW / 1000));
    pedit_close(&e);
    cols_update(w->cols, w->u, row); /* the engine's hook */
}

static void run_cohort(world *w, int kind, const char *json) {
    fixture_world fw = {.u = w->u, .n = w->n, .c = w->c};
    fixture_world_cohort(&fw, NOW, kind, json, NULL);
}

/* An empty world (no rows). */
static void world_empty(world *w) {
    memset(w, 0, sizeof *w);
    w->u = users_new(7);
    w->n = names_new();
    w->c = cohorts_new();
    w->cols = cols_new();
}

static void world_init(world *w, uint32_t rows) {
    world_empty(w);
    w->nrows = rows;
    for (uint32_t i = 0; i < rows; i++) {
        uint32_t row = users_create(w->u, (uint32_t)(NOW / 1000) - rnd(400) * 86400);
        randomise(w, row, false);
    }
    run_cohort(w, ENG_COHORT_NAME, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"name\":\"C1\",\"created_at\":\"2023-01-01T00:00:00Z\"}");
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"partner\":\"heap\",\"cohort_id\":\"c1\",\"cohort_changes\":[{\"user_ids\":[");
    for (uint32_t i = 0; i < rows; i += 3) buf_printf(&b, "%s\"u%u\"", i ? "," : "", i);
    buf_puts(&b, "]}]}");
    run_cohort(w, ENG_COHORT_USERS, b.data);
    buf_free(&b);
}

static void world_free(world *w) {
    cols_free(w->cols);
    cohorts_free(w->c);
    names_free(w->n);
    users_free(w->u);
}

/* Nested segments for the tests: "s1" and "s2" (s2 refers to s1), and a
 * cycle "ca" -> "cb" -> "ca". */
static int resolve(void *arg, const char *id, json_object **def, char **name) {
    (void)arg;
    const char *j = NULL;
    if (!strcmp(id, "s1")) j = "{\"type\":\"custom_attribute\",\"name\":\"vip\",\"op\":\"is_true\"}";
    else if (!strcmp(id, "s2")) j = "{\"or\":[{\"type\":\"segment\",\"id\":\"s1\",\"op\":\"in\"},{\"type\":\"country\",\"op\":\"equals\",\"value\":\"FR\"}]}";
    else if (!strcmp(id, "ca")) j = "{\"type\":\"segment\",\"id\":\"cb\",\"op\":\"in\"}";
    else if (!strcmp(id, "cb")) j = "{\"and\":[{\"type\":\"external_id\",\"op\":\"exists\"},{\"type\":\"segment\",\"id\":\"ca\",\"op\":\"not_in\"}]}";
    else if (!strcmp(id, "fail")) return BR_ESTORE;
    if (!j) return BR_ENOTFOUND;
    *def = json_tokener_parse(j);
    *name = strdup(id);
    return 0;
}

static int compile(const char *json, seg_def **d, char *why, size_t n) {
    json_object *j = json_tokener_parse(json);
    int rc = seg_compile(j, NULL, resolve, NULL, d, why, n);
    json_object_put(j);
    return rc;
}

static int bad_def(const char *json, const char *needle) {
    seg_def *d = NULL;
    char why[400] = "";
    int rc = compile(json, &d, why, sizeof why);
    seg_free(d);
    if (rc == 0) return 1;
    if (needle && !strstr(why, needle)) {
        printf("    message \"%s\" lacks \"%s\"\n", why, needle);
        return 2;
    }
    return 0;
}

TEST(segment_definition_errors_name_the_problem) {
    T_EQ_INT(bad_def("[]", "must be a JSON object"), 0);
    T_EQ_INT(bad_def("{\"type\":\"shoe_size\",\"op\":\"exists\"}", "unknown filter type 'shoe_size'"), 0);
    T_EQ_INT(bad_def("{\"and\":[{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"eq\",\"value\":\"x\"}]}",
                     "and[0]: 'eq' is not an operator of custom_attribute filters"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"between\",\"value\":\"1-5\"}",
                     "'value' of 'between' must be an array [low, high]"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"between\",\"value\":[5,1]}", "low <= high"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"equals\",\"value\":5}", "must be a string"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"op\":\"exists\"}", "non-empty string 'name'"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"matches_regex\",\"value\":\"(a)\\\\1\"}",
                     "invalid regex: backreferences"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"matches_regex\",\"value\":\"(a{100}){100}\"}",
                     "too costly"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_event\",\"name\":\"e\",\"op\":\"count_ge\",\"value\":3,\"days\":91}", "1 to 90"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_event\",\"name\":\"e\",\"op\":\"performed\",\"days\":3}", "count_* operators only"), 0);
    T_EQ_INT(bad_def("{\"type\":\"email\",\"op\":\"equals\",\"value\":\"x\"}", "not an operator of email filters"), 0);
    T_EQ_INT(bad_def("{\"type\":\"cohort\",\"partner\":\"heap\",\"op\":\"includes\"}", "'partner' and 'cohort_id'"), 0);
    T_EQ_INT(bad_def("{\"type\":\"segment\",\"id\":\"nope\",\"op\":\"in\"}", "unknown segment id 'nope'"), 0);
    T_EQ_INT(bad_def("{\"type\":\"segment\",\"id\":\"ca\",\"op\":\"in\"}", "cycle"), 0);
    T_EQ_INT(bad_def("{\"or\":[]}", "non-empty array"), 0);
    T_EQ_INT(bad_def("{\"and\":[{\"type\":\"country\",\"op\":\"exists\"}],\"x\":1}", "one key"), 0);
    T_EQ_INT(bad_def("{\"type\":\"random_bucket\",\"op\":\"less_than\",\"value\":20000}", "0 to 9999"), 0);
    T_EQ_INT(bad_def("{\"type\":\"created_at\",\"op\":\"before\",\"value\":\"yesterday\"}", "ISO-8601"), 0);
    /* The operators connected audiences need (core/audience.c). */
    T_EQ_INT(bad_def("{\"type\":\"push_subscription_status\",\"op\":\"equals\",\"value\":\"yes\"}",
                     "push_subscription_status values are 'opted_in', 'subscribed' and 'unsubscribed'"), 0);
    T_EQ_INT(bad_def("{\"type\":\"email_subscription_status\",\"op\":\"in\",\"value\":[\"opted_in\",\"x\"]}",
                     "email_subscription_status values are"), 0);
    T_EQ_INT(bad_def("{\"type\":\"email_subscription_status\",\"op\":\"equals\",\"value\":\"opted_in\\u0000\"}",
                     "email_subscription_status values are"), 0);
    T_EQ_INT(bad_def("{\"type\":\"email_subscription_status\",\"op\":\"exists\"}",
                     "'exists' is not an operator of email_subscription_status filters"), 0);
    T_EQ_INT(bad_def("{\"type\":\"push_subscription_status\",\"op\":\"matches_regex\",\"value\":\"in\"}",
                     "not an operator of push_subscription_status"), 0);
    T_EQ_INT(bad_def("{\"type\":\"last_used_app\",\"op\":\"equals\",\"value\":\"x\"}",
                     "'equals' is not an operator of last_used_app filters"), 0);
    T_EQ_INT(bad_def("{\"type\":\"last_used_app\",\"op\":\"after\",\"value\":5}", "ISO-8601"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"within_next_days\",\"value\":1.5}",
                     "'value' of 'within_next_days' must be a non-negative integer number of days"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"more_than_days_from_now\",\"value\":-1}",
                     "non-negative integer number of days"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"greater_than_or_equal_to\",\"value\":\"3\"}",
                     "'value' of 'greater_than_or_equal_to' must be a number"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"includes_any\",\"value\":[\"x\",true]}",
                     "must be a non-empty array of strings and numbers"), 0);
    T_EQ_INT(bad_def("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"in\",\"value\":[\"x\",1]}",
                     "must be a non-empty array of strings"), 0);
    T_EQ_INT(bad_def("{\"type\":\"country\",\"op\":\"is_not_true\"}", "not an operator of country filters"), 0);
    seg_def *d = NULL;
    char why[200];
    T_EQ_INT(compile("{\"type\":\"segment\",\"id\":\"fail\",\"op\":\"in\"}", &d, why, sizeof why), BR_ESTORE);
    /* A segment referring to itself by its own id. */
    json_object *j = json_tokener_parse("{\"type\":\"segment\",\"id\":\"me\",\"op\":\"in\"}");
    T_EQ_INT(seg_compile(j, "me", resolve, NULL, &d, why, sizeof why), BR_EINVAL);
    json_object_put(j);
    T_EQ_INT(bad_def("{\"and\":[{\"type\":\"segment\",\"id\":\"s2\",\"op\":\"in\"},{\"type\":\"custom_event\",\"name\":\"e\",\"op\":\"count_ge\",\"value\":3,\"days\":30}]}", NULL), 1);
}

static int describes_as(const char *json, const char *words) {
    seg_def *d;
    char why[400];
    if (compile(json, &d, why, sizeof why) != 0) {
        printf("    does not compile: %s\n", why);
        return -1;
    }
    char *s = seg_describe(d);
    int rc = strcmp(s, words) != 0;
    if (rc) printf("    \"%s\"\n    != \"%s\"\n", s, words);
    free(s);
    seg_free(d);
    return rc;
}

TEST(segment_describe_new_operators) {
    T_EQ_INT(describes_as("{\"type\":\"push_subscription_status\",\"op\":\"not_equals\",\"value\":\"opted_in\"}",
                          "push_subscription_status does not equal \"opted_in\""), 0);
    T_EQ_INT(describes_as("{\"type\":\"last_used_app\",\"op\":\"before\",\"value\":\"2024-01-02\"}",
                          "last_used_app is before 2024-01-02T00:00:00.000Z"), 0);
    T_EQ_INT(describes_as("{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"greater_than_or_equal_to\",\"value\":2.5}",
                          "custom attribute \"n\" >= 2.5"), 0);
    T_EQ_INT(describes_as("{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"less_than_or_equal_to\",\"value\":2}",
                          "custom attribute \"n\" <= 2"), 0);
    T_EQ_INT(describes_as("{\"type\":\"custom_attribute\",\"name\":\"b\",\"op\":\"is_not_true\"}",
                          "custom attribute \"b\" is not true"), 0);
    T_EQ_INT(describes_as("{\"type\":\"custom_attribute\",\"name\":\"t\",\"op\":\"within_next_days\",\"value\":3}",
                          "custom attribute \"t\" is within the next 3 days"), 0);
    T_EQ_INT(describes_as("{\"type\":\"custom_attribute\",\"name\":\"t\",\"op\":\"more_than_days_from_now\",\"value\":1}",
                          "custom attribute \"t\" is more than 1 day from now"), 0);
    T_EQ_INT(describes_as("{\"type\":\"custom_attribute\",\"name\":\"a\",\"op\":\"includes_any\",\"value\":[\"x\",3,\"y\",0.5]}",
                          "custom attribute \"a\" includes any of [\"x\", \"y\", 3, 0.5]"), 0);
}

TEST(segment_describe_reads_as_words) {
    seg_def *d;
    char why[200];
    T_EQ_INT(compile("{\"and\":[{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"equals\",\"value\":\"gold\"},"
                     "{\"or\":[{\"type\":\"country\",\"op\":\"in\",\"value\":[\"US\",\"FR\"]},"
                     "{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_ge\",\"value\":3,\"days\":30}]},"
                     "{\"type\":\"cohort\",\"partner\":\"heap\",\"cohort_id\":\"c1\",\"op\":\"excludes\"}]}",
                     &d, why, sizeof why),
             0);
    char *s = seg_describe(d);
    T_EQ_STR(s, "custom attribute \"tier\" equals \"gold\" AND (country is any of [\"US\", \"FR\"] OR custom event "
                "\"cart\" performed at least 3 times in the last 30 days) AND is not in heap cohort \"c1\"");
    free(s);
    seg_free(d);
}

/* ---- property test ------------------------------------------------------- */

static void random_leaf(buf_t *b) {
    static const char *const leaves[] = {
        "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"equals\",\"value\":\"%s\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"not_equals\",\"value\":\"%s\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"in\",\"value\":[\"%s\",\"bronze\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"matches_regex\",\"value\":\"^%s\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"nick\",\"op\":\"equals\",\"value\":\"name1%d\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"nick\",\"op\":\"contains\",\"value\":\"e3%d\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"nick\",\"op\":\"not_in\",\"value\":[\"name1%d\",\"name2\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"age\",\"op\":\"between\",\"value\":[%d,60]}",
        "{\"type\":\"custom_attribute\",\"name\":\"age\",\"op\":\"greater_than\",\"value\":%d.5}",
        "{\"type\":\"custom_attribute\",\"name\":\"age\",\"op\":\"number_not_equals\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"age\",\"op\":\"%s\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"level\",\"op\":\"between\",\"value\":[%d,12.5]}",
        "{\"type\":\"custom_attribute\",\"name\":\"level\",\"op\":\"less_than\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"level\",\"op\":\"number_equals\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"level\",\"op\":\"number_not_equals\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"vip\",\"op\":\"%s\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"signup\",\"op\":\"within_last_days\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"signup\",\"op\":\"more_than_days_ago\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"signup\",\"op\":\"before\",\"value\":\"2023-09-%02dT00:00:00Z\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_any\",\"value\":[\"%s\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_all\",\"value\":[\"a\",\"%s\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_none\",\"value\":[\"%s\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"size_greater_than\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_any\",\"value\":[%d]}",
        "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_all\",\"value\":[\"a\",%d.0]}",
        "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_none\",\"value\":[%d,\"b\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"age\",\"op\":\"greater_than_or_equal_to\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"level\",\"op\":\"less_than_or_equal_to\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"level\",\"op\":\"greater_than_or_equal_to\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"signup\",\"op\":\"within_next_days\",\"value\":%d}",
        "{\"type\":\"custom_attribute\",\"name\":\"signup\",\"op\":\"more_than_days_from_now\",\"value\":%d}",
        "{\"type\":\"push_subscription_status\",\"op\":\"equals\",\"value\":\"%s\"}",
        "{\"type\":\"push_subscription_status\",\"op\":\"not_equals\",\"value\":\"%s\"}",
        "{\"type\":\"email_subscription_status\",\"op\":\"in\",\"value\":[\"%s\",\"opted_in\"]}",
        "{\"type\":\"email_subscription_status\",\"op\":\"not_in\",\"value\":[\"%s\"]}",
        "{\"type\":\"last_used_app\",\"op\":\"after\",\"value\":\"2023-10-%02dT00:00:00Z\"}",
        "{\"type\":\"last_used_app\",\"op\":\"within_last_days\",\"value\":%d}",
        "{\"type\":\"last_used_app\",\"op\":\"%s\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"missing\",\"op\":\"%s\"}",
        "{\"type\":\"country\",\"op\":\"equals\",\"value\":\"%s\"}",
        "{\"type\":\"email\",\"op\":\"%s\"}",
        "{\"type\":\"external_id\",\"op\":\"%s\"}",
        "{\"type\":\"total_revenue\",\"op\":\"less_than\",\"value\":%d}",
        "{\"type\":\"created_at\",\"op\":\"within_last_days\",\"value\":%d}",
        "{\"type\":\"random_bucket\",\"op\":\"between\",\"value\":[%d,5000]}",
        "{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"%s\"}",
        "{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_ge\",\"value\":%d,\"days\":30}",
        "{\"type\":\"custom_event\",\"name\":\"view\",\"op\":\"count_lt\",\"value\":%d,\"days\":7}",
        "{\"type\":\"custom_event\",\"name\":\"view\",\"op\":\"count_eq\",\"value\":%d}",
        "{\"type\":\"custom_event\",\"name\":\"view\",\"op\":\"last_after\",\"value\":\"2023-10-%02dT00:00:00Z\"}",
        "{\"type\":\"custom_event\",\"name\":\"nope\",\"op\":\"%s\"}",
        "{\"type\":\"purchase\",\"op\":\"count_gt\",\"value\":%d,\"days\":60}",
        "{\"type\":\"purchase\",\"product\":\"p2\",\"op\":\"first_before\",\"value\":\"2023-09-%02dT00:00:00Z\"}",
        "{\"type\":\"purchase\",\"op\":\"%s\"}",
        "{\"type\":\"cohort\",\"partner\":\"heap\",\"cohort_id\":\"c1\",\"op\":\"%s\"}",
        "{\"type\":\"cohort\",\"partner\":\"heap\",\"cohort_id\":\"none\",\"op\":\"%s\"}",
        "{\"type\":\"segment\",\"id\":\"s2\",\"op\":\"%s\"}",
    };
    int i = (int)rnd(sizeof leaves / sizeof *leaves);
    const char *f = leaves[i];
    char tmp[400];
    if (strstr(f, "%s")) {
        const char *arg;
        if (strstr(f, "tier") || strstr(f, "country")) arg = strstr(f, "country") ? (rnd(2) ? "US" : "FR") : tiers[rnd(5)];
        else if (strstr(f, "tags")) arg = tagv[rnd(4)];
        else if (strstr(f, "subscription_status")) arg = subv[rnd(3)];
        else if (strstr(f, "vip")) {
            static const char *const bops[] = {"is_true", "is_false", "is_not_true", "is_not_false"};
            arg = bops[rnd(4)];
        } else if (strstr(f, "cohort")) arg = rnd(2) ? "includes" : "excludes";
        else if (strstr(f, "segment")) arg = rnd(2) ? "in" : "not_in";
        else if (strstr(f, "custom_event") || strstr(f, "purchase")) arg = rnd(2) ? "performed" : "never_performed";
        else arg = rnd(2) ? "exists" : "blank";
        snprintf(tmp, sizeof tmp, f, arg);
    } else {
        int v = (int)rnd(strstr(f, "random") ? 5000 : strstr(f, "days") || strstr(f, "created") ? 100 : strstr(f, "level") ? 13
                                                     : strstr(f, "tags") ? 4 : 30);
        if (strstr(f, "%02d")) v = 1 + (int)rnd(28);
        if (strstr(f, "count")) v = (int)rnd(8);
        snprintf(tmp, sizeof tmp, f, v);
    }
    buf_puts(b, tmp);
}

static void random_def(buf_t *b, int depth) {
    if (depth >= 3 || rnd(3) == 0) {
        random_leaf(b);
        return;
    }
    buf_puts(b, rnd(2) ? "{\"and\":[" : "{\"or\":[");
    int k = 1 + (int)rnd(4);
    for (int i = 0; i < k; i++) {
        if (i) buf_puts(b, ",");
        random_def(b, depth + 1);
    }
    buf_puts(b, "]}");
}

static int check_agree(world *w, int defs) {
    seg_env env = {w->u, w->n, w->c, w->cols, NOW};
    int mixed = 0; /* definitions that split the users (neither none nor all) */
    for (int i = 0; i < defs; i++) {
        buf_t b = BUF_INIT;
        random_def(&b, 0);
        seg_def *d;
        char why[400];
        if (compile(b.data, &d, why, sizeof why) != 0) {
            printf("    does not compile: %s\n    %s\n", why, b.data);
            buf_free(&b);
            return -1;
        }
        bitmap_t *fast = seg_eval(d, &env);
        uint64_t ref = 0;
        for (uint32_t r = 0; r < users_rows(w->u); r++) {
            bool m = seg_match_row(d, &env, r);
            ref += m;
            if (m != bitmap_contains(fast, r)) {
                printf("    row %u: reference %d, evaluator %d\n    %s\n", r, m, !m, b.data);
                bitmap_free(fast);
                seg_free(d);
                buf_free(&b);
                return -1;
            }
        }
        if (ref != bitmap_cardinality(fast)) return -1;
        mixed += ref > 0 && ref < users_live(w->u);
        bitmap_free(fast);
        seg_free(d);
        buf_free(&b);
    }
    /* The random definitions must mostly be informative, or agreeing
     * proves little. */
    if (mixed * 2 < defs) {
        printf("    only %d of %d definitions split the users\n", mixed, defs);
        return -1;
    }
    return 0;
}

TEST(segment_evaluator_matches_reference_on_random_data) {
    world w;
    rnd_state = 42;
    seg_set_parallel(3, 100); /* scans of 3,000 rows take the threaded path */
    world_init(&w, 3000);
    T_EQ_INT(check_agree(&w, 300), 0);
    /* Change and delete rows: the columns follow through the hook. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) randomise(&w, rnd(w.nrows), true);
        T_EQ_INT(check_agree(&w, 100), 0);
    }
    /* And a fresh build from the same profiles agrees too (start-up). */
    cols_free(w.cols);
    w.cols = cols_new();
    cols_build(w.cols, w.u);
    T_EQ_INT(check_agree(&w, 100), 0);
    seg_set_parallel(0, 0);
    world_free(&w);
}

TEST(segment_counts_known_cases) {
    world w;
    rnd_state = 7;
    world_init(&w, 200);
    seg_env env = {w.u, w.n, w.c, w.cols, NOW};
    seg_def *d;
    char why[200];
    /* Cohort c1 holds every third user. */
    T_EQ_INT(compile("{\"type\":\"cohort\",\"partner\":\"heap\",\"cohort_id\":\"c1\",\"op\":\"includes\"}", &d, why, sizeof why), 0);
    bitmap_t *b = seg_eval(d, &env);
    T_EQ_INT(bitmap_cardinality(b), 67);
    bitmap_free(b);
    seg_free(d);
    /* Everyone has an external id; nobody an unknown attribute. */
    T_EQ_INT(compile("{\"and\":[{\"type\":\"external_id\",\"op\":\"exists\"},{\"type\":\"custom_attribute\",\"name\":\"zzz\",\"op\":\"blank\"}]}", &d, why, sizeof why), 0);
    b = seg_eval(d, &env);
    T_EQ_INT(bitmap_cardinality(b), 200);
    bitmap_free(b);
    seg_free(d);
    /* A deleted user is in no segment. */
    users_delete(w.u, 0);
    cohorts_forget_row(w.c, 0);
    cols_update(w.cols, w.u, 0);
    T_EQ_INT(compile("{\"type\":\"external_id\",\"op\":\"blank\"}", &d, why, sizeof why), 0);
    b = seg_eval(d, &env);
    T_EQ_INT(bitmap_cardinality(b), 0);
    bitmap_free(b);
    seg_free(d);
    world_free(&w);
}

/* The reason per filter (the Users page): each top-level filter decided
 * for one row, in words; the row is in the segment exactly when its root
 * group's rule over those answers says so, as the evaluator decides. */
static int explain_agrees(world *w, const char *json, int want_count) {
    seg_env env = {w->u, w->n, w->c, w->cols, NOW};
    seg_def *d;
    char why[400];
    if (compile(json, &d, why, sizeof why) != 0) return -1;
    int n = seg_top_count(d), bad = 0;
    bool is_or = strncmp(json, "{\"or\"", 5) == 0;
    bitmap_t *fast = seg_eval(d, &env);
    for (uint32_t r = 0; r < users_rows(w->u) && !bad; r++) {
        bool all = true, any = false;
        for (int i = 0; i < n; i++) {
            bool m = seg_top_match(d, &env, r, i);
            all = all && m;
            any = any || m;
        }
        if ((is_or ? any : all) != bitmap_contains(fast, r)) bad = printf("    row %u: %s\n", r, json);
    }
    bitmap_free(fast);
    seg_free(d);
    return bad ? -1 : n == want_count ? 0 : -2;
}

TEST(segment_top_filters_explain_membership) {
    world w;
    rnd_state = 11;
    world_init(&w, 300);
    users_delete(w.u, 3); /* in cohort c1 before: in nothing now */
    cohorts_forget_row(w.c, 3);
    cols_update(w.cols, w.u, 3);
    T_EQ_INT(explain_agrees(&w, "{\"and\":[{\"type\":\"cohort\",\"partner\":\"heap\",\"cohort_id\":\"c1\",\"op\":\"includes\"},"
                                "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"equals\",\"value\":\"gold\"},"
                                "{\"or\":[{\"type\":\"country\",\"op\":\"equals\",\"value\":\"US\"},"
                                "{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_ge\",\"value\":2}]}]}", 3), 0);
    T_EQ_INT(explain_agrees(&w, "{\"or\":[{\"type\":\"custom_attribute\",\"name\":\"vip\",\"op\":\"is_true\"},"
                                "{\"type\":\"segment\",\"id\":\"s2\",\"op\":\"not_in\"}]}", 2), 0);
    T_EQ_INT(explain_agrees(&w, "{\"type\":\"custom_attribute\",\"name\":\"age\",\"op\":\"greater_than\",\"value\":30}", 1), 0);
    /* Words per filter, a nested group without its parentheses. */
    seg_def *d;
    char why[200];
    T_EQ_INT(compile("{\"and\":[{\"type\":\"cohort\",\"partner\":\"heap\",\"cohort_id\":\"c1\",\"op\":\"includes\"},"
                     "{\"or\":[{\"type\":\"country\",\"op\":\"equals\",\"value\":\"US\"},"
                     "{\"type\":\"country\",\"op\":\"equals\",\"value\":\"FR\"}]}]}", &d, why, sizeof why), 0);
    char *s = seg_top_describe(d, 0);
    T_EQ_STR(s, "is in heap cohort \"c1\"");
    free(s);
    s = seg_top_describe(d, 1);
    T_EQ_STR(s, "country equals \"US\" OR country equals \"FR\"");
    free(s);
    /* Row 0 is in c1 (every third user), row 3 was deleted, row 1 never was. */
    seg_env env = {w.u, w.n, w.c, w.cols, NOW};
    T_TRUE(seg_top_match(d, &env, 0, 0));
    T_TRUE(!seg_top_match(d, &env, 1, 0));
    T_TRUE(!seg_top_match(d, &env, 3, 0));
    seg_free(d);
    world_free(&w);
}

/* A column of nearly distinct strings (order ids, codes) outgrows its
 * dictionary and turns open: every string test must still agree with the
 * reference, before and after rows change. */
static void put_code(world *w, uint32_t row, uint32_t v) {
    profile_t *p = users_get(w->u, row);
    pedit e;
    pedit_open(&e, p->blob);
    char s[32];
    int n = v % 10 == 0 ? snprintf(s, sizeof s, "shared%u", v % 3) : snprintf(s, sizeof s, "code-%u", v);
    if (v % 17 == 0) put_int(&e, pkey(nid(w, "code"), PK_ATTR), PT_INT, v);
    else pedit_set(&e, pkey(nid(w, "code"), PK_ATTR), PT_STR, s, (size_t)n);
    users_commit(w->u, row, &e, (uint32_t)(NOW / 1000));
    pedit_close(&e);
    cols_update(w->cols, w->u, row);
}

/* Whether the evaluator and the reference agree on each definition, and
 * each selects someone. */
static int defs_agree(world *w, const char *const *defs, size_t ndefs) {
    seg_env env = {w->u, w->n, w->c, w->cols, NOW};
    for (size_t i = 0; i < ndefs; i++) {
        seg_def *d;
        char why[400];
        if (compile(defs[i], &d, why, sizeof why) != 0) {
            printf("    %s: %s\n", defs[i], why);
            return -1;
        }
        bitmap_t *fast = seg_eval(d, &env);
        uint64_t ref = 0;
        int bad = 0;
        for (uint32_t r = 0; r < users_rows(w->u); r++) {
            bool m = seg_match_row(d, &env, r);
            ref += m;
            if (m != bitmap_contains(fast, r) && !bad++) printf("    row %u disagrees: %s\n", r, defs[i]);
        }
        if (!bad && (ref == 0 || ref != bitmap_cardinality(fast))) {
            printf("    %llu matches: %s\n", (unsigned long long)ref, defs[i]);
            bad = 1;
        }
        bitmap_free(fast);
        seg_free(d);
        if (bad) return -1;
    }
    return 0;
}

static int open_agree(world *w) {
    static const char *const defs[] = {
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"equals\",\"value\":\"code-12345\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"equals\",\"value\":\"shared1\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"not_equals\",\"value\":\"shared2\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"in\",\"value\":[\"code-7\",\"shared0\",\"nope\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"not_in\",\"value\":[\"code-1\",\"shared0\"]}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"contains\",\"value\":\"-99\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"matches_regex\",\"value\":\"^code-1[0-9]$\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"does_not_match_regex\",\"value\":\"7$\"}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"greater_than\",\"value\":70000}",
        "{\"type\":\"custom_attribute\",\"name\":\"code\",\"op\":\"exists\"}",
    };
    return defs_agree(w, defs, sizeof defs / sizeof *defs);
}

TEST(segment_open_string_columns_agree) {
    world w;
    world_empty(&w);
    uint32_t rows = COLS_DICT_MAX + 20000;
    for (uint32_t i = 0; i < rows; i++) put_code(&w, users_create(w.u, (uint32_t)(NOW / 1000)), i);
    const cols_attr *a = cols_attr_get(w.cols, nid(&w, "code"));
    T_TRUE(a && a->open);
    T_EQ_INT(open_agree(&w), 0);
    /* Values change and rows go: the hashes follow. */
    for (uint32_t i = 0; i < 5000; i++) put_code(&w, (i * 7919) % rows, i * 3 + 1);
    for (uint32_t i = 0; i < 500; i++) {
        users_delete(w.u, i * 101);
        cols_update(w.cols, w.u, i * 101);
    }
    T_EQ_INT(open_agree(&w), 0);
    /* A fresh build turns open as it goes too. */
    cols_free(w.cols);
    w.cols = cols_new();
    cols_build(w.cols, w.u);
    a = cols_attr_get(w.cols, nid(&w, "code"));
    T_TRUE(a && a->open);
    T_EQ_INT(open_agree(&w), 0);
    world_free(&w);
}

/* Number codes stay in value order however values arrive (a range is one
 * range of codes, scanned 16 rows at a time), and ranges over all rows
 * agree with the reference while values come late, in the middle, and
 * rows change. */
static void put_num(world *w, uint32_t row, int v) {
    profile_t *p = users_get(w->u, row);
    pedit e;
    pedit_open(&e, p->blob);
    put_int(&e, pkey(nid(w, "n"), PK_ATTR), PT_INT, v);
    users_commit(w->u, row, &e, (uint32_t)(NOW / 1000));
    pedit_close(&e);
    cols_update(w->cols, w->u, row);
}

static int nums_in_order(world *w) {
    const cols_attr *a = cols_attr_get(w->cols, nid(w, "n"));
    if (!a || !a->nums) return -1;
    for (uint32_t k = 1; k < a->nums->n; k++)
        if (!(a->nums->val[k - 1] < a->nums->val[k])) return -1;
    for (uint32_t r = 0; r < cols_rows(w->cols); r++) { /* each row's code stands for its profile's value */
        pfield f;
        if (!profile_get(users_get(w->u, r)->blob, pkey(nid(w, "n"), PK_ATTR), &f)) return -1;
        if (!a->nums->code[r] || a->nums->val[a->nums->code[r] - 1] != (double)pval_get_int(f.p, f.len)) return -1;
    }
    return 0;
}

TEST(segment_number_codes_follow_value_order) {
    world w;
    world_empty(&w);
    seg_set_parallel(2, 100);
    for (uint32_t i = 0; i < 20000; i++) put_num(&w, users_create(w.u, (uint32_t)(NOW / 1000)), (int)(i * 7 % 60));
    for (uint32_t i = 0; i < 3000; i++) put_num(&w, i * 5, i % 2 ? 100 + (int)(i % 40) : -(int)(i % 40) - 1);
    for (uint32_t i = 0; i < 6000; i++) put_num(&w, i * 3 + 1, 30 * (int)(i % 3) + 1000);
    T_EQ_INT(nums_in_order(&w), 0);
    static const char *const defs[] = {
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"between\",\"value\":[10,40]}",
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"greater_than\",\"value\":-5}",
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"less_than\",\"value\":120}",
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"number_not_equals\",\"value\":1030}",
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"number_equals\",\"value\":1060}",
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"number_not_equals\",\"value\":7}",
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"between\",\"value\":[-100,1100]}",
    };
    T_EQ_INT(defs_agree(&w, defs, sizeof defs / sizeof *defs), 0);
    /* Past 255 values the numbers leave their codes: hundredths kept as
     * integers, then a whole number too big at that scale (doubles). */
    for (uint32_t i = 0; i < 400; i++) {
        double d = 100 + i * 0.25;
        profile_t *p = users_get(w.u, i * 41);
        pedit e;
        pedit_open(&e, p->blob);
        pedit_set(&e, pkey(nid(&w, "n"), PK_ATTR), PT_DBL, &d, 8);
        users_commit(w.u, i * 41, &e, (uint32_t)(NOW / 1000));
        pedit_close(&e);
        cols_update(w.cols, w.u, i * 41);
    }
    const cols_attr *a = cols_attr_get(w.cols, nid(&w, "n"));
    T_TRUE(a && !a->nums && !a->num_dbl && a->num_scale == 2);
    T_EQ_INT(defs_agree(&w, defs, sizeof defs / sizeof *defs), 0);
    put_num(&w, 7, 30000000);
    T_TRUE(a->num_dbl);
    static const char *const more[] = {
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"greater_than\",\"value\":29999999}",
        "{\"type\":\"custom_attribute\",\"name\":\"n\",\"op\":\"between\",\"value\":[100.25,150]}",
    };
    T_EQ_INT(defs_agree(&w, defs, sizeof defs / sizeof *defs), 0);
    T_EQ_INT(defs_agree(&w, more, sizeof more / sizeof *more), 0);
    seg_set_parallel(0, 0);
    world_free(&w);
}

/* A count past what a column record holds (24 bits) is read from the
 * profile, exactly; and a one-day record gives its count to windows. */
TEST(segment_event_counts_past_the_column_saturate_to_the_profile) {
    world w;
    world_empty(&w);
    uint64_t counts[] = {10, 16777214, 16777215, 16777221, 3};
    for (int i = 0; i < 5; i++) {
        uint32_t row = users_create(w.u, (uint32_t)(NOW / 1000));
        pedit e;
        pedit_open(&e, NULL);
        psummary ps;
        memset(&ps, 0, sizeof ps);
        psummary_add(&ps, NOW - (int64_t)(i == 4 ? 40 : 2) * DAY, counts[i], 0, NOW);
        buf_t b = BUF_INIT;
        psummary_encode(&ps, false, &b);
        pedit_set(&e, pkey(nid(&w, "cart"), PK_EVENT), PT_SUMMARY, b.data, b.len);
        buf_free(&b);
        users_commit(w.u, row, &e, (uint32_t)(NOW / 1000));
        pedit_close(&e);
        cols_update(w.cols, w.u, row);
    }
    static const struct {
        const char *def;
        uint64_t want;
    } cases[] = {
        {"{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_gt\",\"value\":16777215}", 1},
        {"{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_eq\",\"value\":16777215}", 1},
        {"{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_ge\",\"value\":16777214}", 3},
        {"{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_lt\",\"value\":11}", 2},
        {"{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_ge\",\"value\":5,\"days\":30}", 4},
        {"{\"type\":\"custom_event\",\"name\":\"cart\",\"op\":\"count_eq\",\"value\":3,\"days\":60}", 1},
    };
    seg_env env = {w.u, w.n, w.c, w.cols, NOW};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        seg_def *d;
        char why[400];
        T_EQ_INT(compile(cases[i].def, &d, why, sizeof why), 0);
        bitmap_t *fast = seg_eval(d, &env);
        uint64_t ref = 0;
        for (uint32_t r = 0; r < users_rows(w.u); r++) ref += seg_match_row(d, &env, r);
        if (bitmap_cardinality(fast) != cases[i].want || ref != cases[i].want)
            printf("    %s: evaluator %llu, reference %llu\n", cases[i].def, (unsigned long long)bitmap_cardinality(fast),
                   (unsigned long long)ref);
        T_EQ_INT(bitmap_cardinality(fast), cases[i].want);
        T_EQ_INT(ref, cases[i].want);
        bitmap_free(fast);
        seg_free(d);
    }
    world_free(&w);
}

/* How many users a definition selects (both evaluators agreeing: -2 if not). */
static int count_of(fixture_world *fw, cols_t *cols, const char *json) {
    seg_env env = {fw->u, fw->n, fw->c, cols, NOW};
    seg_def *d;
    char why[400];
    if (compile(json, &d, why, sizeof why) != 0) {
        printf("    does not compile: %s\n", why);
        return -1;
    }
    bitmap_t *b = seg_eval(d, &env);
    int n = (int)bitmap_cardinality(b), ref = 0;
    for (uint32_t r = 0; r < users_rows(fw->u); r++) ref += seg_match_row(d, &env, r);
    bitmap_free(b);
    seg_free(d);
    return n == ref ? n : -2;
}

/* includes_all checks every value of its list: it used to check only the
 * first 64, so a 65th value the array lacks was ignored. Lists hold
 * numbers too, matching number elements of either type. */
TEST(segment_includes_all_checks_every_value) {
    fixture_world fw = fixture_world_new();
    json_object_put(fixture_world_track(&fw, NOW, "{\"attributes\":[{\"external_id\":\"u\",\"tags\":[\"a\",\"b\",2]}]}").errors);
    cols_t *cols = cols_new();
    cols_build(cols, fw.u);
    buf_t b = BUF_INIT;
    for (int last = 0; last < 3; last++) {
        buf_reset(&b);
        buf_puts(&b, "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_all\",\"value\":[");
        for (int i = 0; i < 64; i++) buf_puts(&b, "\"a\",");
        buf_puts(&b, last == 0 ? "\"zz\"]}" : last == 1 ? "\"b\"]}" : "2.0]}");
        T_EQ_INT(count_of(&fw, cols, b.data), last == 0 ? 0 : 1);
    }
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_all\",\"value\":[\"b\",2,3]}"), 0);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_none\",\"value\":[\"c\",2]}"), 0);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_any\",\"value\":[\"2\"]}"), 0);
    buf_free(&b);
    cols_free(cols);
    fixture_world_free(&fw);
}

/* A JSON string may hold NUL bytes: operands are kept whole, with their
 * length (they used to be copied up to the first NUL but compared over
 * their JSON length, reading past the copy). */
TEST(segment_strings_with_nul_bytes_compare_whole) {
    fixture_world fw = fixture_world_new();
    json_object_put(fixture_world_track(&fw, NOW,
                                        "{\"attributes\":[{\"external_id\":\"u\",\"tier\":\"a\\u0000bcdefgh\",\"tags\":[\"a\\u0000bcdefgh\"]},"
                                        "{\"external_id\":\"v\",\"tier\":\"a\\u0000bcdefgX\",\"tags\":[\"a\"]}]}")
                        .errors);
    cols_t *cols = cols_new();
    cols_build(cols, fw.u);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"equals\",\"value\":\"a\\u0000bcdefgh\"}"), 1);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"in\",\"value\":[\"a\\u0000bcdefgX\"]}"), 1);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"equals\",\"value\":\"a\"}"), 0);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tier\",\"op\":\"contains\",\"value\":\"\\u0000bcdefg\"}"), 2);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_any\",\"value\":[\"a\\u0000bcdefgh\"]}"), 1);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"custom_attribute\",\"name\":\"tags\",\"op\":\"includes_all\",\"value\":[\"a\"]}"), 1);
    cols_free(cols);
    fixture_world_free(&fw);
}

/* subscription_group: the group's key is found as a whole key of the
 * stored object, not inside another key or a value; a user with no state
 * matches neither value. */
TEST(segment_subscription_group_filter) {
    fixture_world fw = fixture_world_new();
    json_object_put(fixture_world_track(&fw, NOW, "{\"attributes\":["
        "{\"external_id\":\"a\",\"subscription_groups\":[{\"subscription_group_id\":\"g1\",\"subscription_state\":\"subscribed\"}]},"
        "{\"external_id\":\"b\",\"subscription_groups\":[{\"subscription_group_id\":\"xg1\",\"subscription_state\":\"subscribed\"},"
        "{\"subscription_group_id\":\"g1\",\"subscription_state\":\"unsubscribed\"}]},"
        "{\"external_id\":\"c\",\"subscription_groups\":[{\"subscription_group_id\":\"a/\\\"g1\",\"subscription_state\":\"subscribed\"}]},"
        "{\"external_id\":\"d\"}]}").errors);
    cols_t *cols = cols_new();
    cols_build(cols, fw.u);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"subscription_group\",\"group_id\":\"g1\",\"op\":\"equals\",\"value\":\"subscribed\"}"), 1);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"subscription_group\",\"group_id\":\"g1\",\"op\":\"equals\",\"value\":\"unsubscribed\"}"), 1);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"subscription_group\",\"group_id\":\"g1\",\"op\":\"not_equals\",\"value\":\"subscribed\"}"), 3);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"subscription_group\",\"group_id\":\"a/\\\"g1\",\"op\":\"in\",\"value\":[\"subscribed\"]}"), 1);
    T_EQ_INT(count_of(&fw, cols, "{\"type\":\"subscription_group\",\"group_id\":\"nope\",\"op\":\"in\",\"value\":[\"subscribed\",\"unsubscribed\"]}"), 0);
    T_EQ_INT(bad_def("{\"type\":\"subscription_group\",\"op\":\"equals\",\"value\":\"subscribed\"}", "needs a string 'group_id'"), 0);
    T_EQ_INT(bad_def("{\"type\":\"subscription_group\",\"group_id\":\"g\",\"op\":\"equals\",\"value\":\"opted_in\"}",
                     "values are 'subscribed' and 'unsubscribed'"), 0);
    cols_free(cols);
    fixture_world_free(&fw);
}
