/* http_test.c -- unit tests for the router, permissions and rate limits. */
#include "test.h"
#include "core/perm.h"
#include "http/http.h"
#include "http/reqstats.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

static int h(http_req *r) {
    (void)r;
    return 0;
}

static const http_route routes[] = {
    {"POST", "/users/track", PERM_USERS_TRACK, RL_USERS_TRACK, h, 0},
    {"GET", "/segments/list", PERM_SEGMENTS_LIST, RL_DEFAULT, h, 0},
    {"POST", "/partners/{partner}/cohorts", PERM_NONE, RL_DEFAULT, h, 0},
    {"POST", "/partners/{partner}/cohorts/users", PERM_NONE, RL_DEFAULT, h, 0},
    {"GET", "/admin/keys", PERM_BRASA_KEYS, RL_DEFAULT, h, 0},
    {"POST", "/admin/keys", PERM_BRASA_KEYS, RL_DEFAULT, h, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
static const http_route *const tables[] = {routes, NULL};

static const http_route *m(const char *method, const char *path, http_params *p, int *err, char *allow) {
    return http_route_match(tables, method, path, p, err, allow, 64);
}

TEST(router_matches_fixed_paths) {
    http_params p;
    int err;
    char allow[64];
    const http_route *r = m("POST", "/users/track", &p, &err, allow);
    T_TRUE(r == &routes[0]);
    T_TRUE(m("POST", "/users/track/", &p, &err, allow) == &routes[0]);
    T_TRUE(m("POST", "/users/trackx", &p, &err, allow) == NULL);
    T_EQ_INT(err, BR_ENOTFOUND);
    T_TRUE(m("POST", "/users", &p, &err, allow) == NULL);
    T_TRUE(m("POST", "/", &p, &err, allow) == NULL);
    T_TRUE(m("POST", "", &p, &err, allow) == NULL);
}

TEST(router_captures_params) {
    http_params p;
    int err;
    char allow[64];
    const http_route *r = m("POST", "/partners/heap/cohorts/users", &p, &err, allow);
    T_TRUE(r == &routes[3]);
    T_EQ_INT(p.n, 1);
    T_EQ_STR(p.p[0].value, "heap");
    T_EQ_INT(p.p[0].name_len, 7);
    T_TRUE(m("POST", "/partners//cohorts", &p, &err, allow) == NULL); /* empty segment */
}

TEST(router_reports_wrong_method_with_allow) {
    http_params p;
    int err;
    char allow[64];
    T_TRUE(m("DELETE", "/admin/keys", &p, &err, allow) == NULL);
    T_EQ_INT(err, BR_EMETHOD);
    T_EQ_STR(allow, "GET, HEAD, POST");
    T_TRUE(m("GET", "/users/track", &p, &err, allow) == NULL);
    T_EQ_STR(allow, "POST");
}

TEST(router_answers_head_with_get_routes_and_matches_raw_paths) {
    http_params p;
    int err;
    char allow[64];
    T_TRUE(m("HEAD", "/admin/keys", &p, &err, allow) == &routes[4]);
    T_TRUE(m("HEAD", "/users/track", &p, &err, allow) == NULL);
    T_EQ_INT(err, BR_EMETHOD);
    T_EQ_STR(allow, "POST");
    /* Percent-encoded spellings are other paths. */
    T_TRUE(m("POST", "/users%2ftrack", &p, &err, allow) == NULL);
    T_EQ_INT(err, BR_ENOTFOUND);
    T_TRUE(m("POST", "/%75sers/track", &p, &err, allow) == NULL);
    T_TRUE(m("POST", "/partners/heap%2fcohorts", &p, &err, allow) == NULL);
}

TEST(perm_parse_and_format_round_trip) {
    perm_set s;
    char *bad;
    T_EQ_INT(perm_parse("users.track, segments.list", &s, &bad), 0);
    T_TRUE(perm_has(&s, PERM_USERS_TRACK));
    T_TRUE(perm_has(&s, PERM_SEGMENTS_LIST));
    T_TRUE(!perm_has(&s, PERM_USERS_DELETE));
    T_TRUE(!perm_has(&s, PERM_NONE));
    char *f = perm_format(&s);
    T_EQ_STR(f, "users.track,segments.list");
    free(f);
    T_EQ_INT(perm_parse("users.track,users.fly", &s, &bad), BR_EINVAL);
    T_EQ_STR(bad, "users.fly");
    free(bad);
    /* "all" is every Braze permission; the admin one only when named. */
    T_EQ_INT(perm_parse("all", &s, &bad), 0);
    T_TRUE(!perm_has(&s, PERM_BRASA_KEYS) && perm_has(&s, PERM_SSO_SAML_LOGIN) && perm_has(&s, PERM_USERS_TRACK));
    T_EQ_INT(perm_parse("brasa.keys, all", &s, &bad), 0);
    T_TRUE(perm_has(&s, PERM_BRASA_KEYS) && perm_has(&s, PERM_SSO_SAML_LOGIN));
    T_EQ_INT(perm_lookup("messages.schedule.create", 24), PERM_MESSAGES_SCHEDULE_CREATE);
}

TEST(ratelimit_counts_per_key_and_window) {
    rl_config c;
    rl_defaults(&c);
    T_EQ_INT(c.limit[RL_USERS_TRACK], 3000);
    T_EQ_INT(c.window[RL_USERS_TRACK], 3);
    char *why;
    T_EQ_INT(rl_parse(&c, "users.track=2/10s", &why), 0);
    rl_t *r = rl_new(&c);
    rl_state st;
    int64_t t = 1000000; /* a multiple of 10 */
    T_EQ_INT(rl_take(r, 1, RL_USERS_TRACK, t, &st), 0);
    T_EQ_INT(st.remaining, 1);
    T_EQ_INT(st.reset, t + 10);
    T_EQ_INT(rl_take(r, 1, RL_USERS_TRACK, t + 9, &st), 0);
    T_EQ_INT(st.remaining, 0);
    T_EQ_INT(rl_take(r, 1, RL_USERS_TRACK, t + 9, &st), BR_ERATE);
    T_EQ_INT(rl_take(r, 2, RL_USERS_TRACK, t + 9, &st), 0); /* another key */
    T_EQ_INT(rl_take(r, 1, RL_DEFAULT, t + 9, &st), 0);     /* another group */
    T_EQ_INT(rl_take(r, 1, RL_USERS_TRACK, t + 10, &st), 0); /* next window */
    T_EQ_INT(st.remaining, 1);
    rl_free(r);
}

TEST(ratelimit_table_grows_with_many_keys) {
    rl_config c;
    rl_defaults(&c);
    rl_t *r = rl_new(&c);
    rl_state st;
    for (int k = 1; k <= 5000; k++) T_EQ_INT(rl_take(r, k, RL_DEFAULT, 0, &st), 0);
    for (int k = 1; k <= 5000; k++) {
        T_EQ_INT(rl_take(r, k, RL_DEFAULT, 0, &st), 0);
        T_EQ_INT(st.remaining, 250000 - 2);
    }
    rl_free(r);
}

TEST(ratelimit_zero_disables_and_specs_validate) {
    rl_config c;
    rl_defaults(&c);
    char *why;
    T_EQ_INT(rl_parse(&c, "default=0,users.export.ids=10/1m", &why), 0);
    T_EQ_INT(c.window[RL_USERS_EXPORT_IDS], 60);
    T_EQ_INT(rl_parse(&c, "default=5/h", &why), 0);
    T_EQ_INT(c.window[RL_DEFAULT], 3600);
    rl_t *r = rl_new(&(rl_config){.limit = {0}, .window = {1}});
    rl_state st;
    for (int i = 0; i < 10; i++) T_EQ_INT(rl_take(r, 1, RL_DEFAULT, 5, &st), 0);
    T_EQ_INT(st.limit, 0);
    rl_free(r);
    const char *bad[] = {"nosuch=1", "default", "default=x", "default=-1", "default=1/0s",
                         "default=1/3w", "default=1/40d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (rl_parse(&c, bad[i], &why) != BR_EINVAL) T_FAIL_("accepted '%s'", bad[i]);
        free(why);
    }
}

static int noop(http_req *r) {
    (void)r;
    return 0;
}

/* Requests by route and status: each route keeps REQSTATS_CODES statuses
 * apart and counts more as "other"; an unmatched request has its own
 * series; a route nobody asked for has no latency series. */
TEST(reqstats_counts_by_route_and_status) {
    static const http_route t1[] = {{"GET", "/a", PERM_NONE, RL_DEFAULT, noop, 0}, {"POST", "/b/{id}", PERM_NONE, RL_DEFAULT, noop, 0},
                                    {NULL, NULL, 0, 0, NULL, 0}};
    const http_route *const tabs[] = {t1, NULL};
    reqstats *s = reqstats_new(tabs);
    reqstats_note(s, &t1[0], 200, 100);
    reqstats_note(s, &t1[0], 200, 3000);
    reqstats_note(s, &t1[0], 404, 10);
    for (int c = 0; c < REQSTATS_CODES + 3; c++) reqstats_note(s, NULL, 400 + c, 1);
    buf_t b = BUF_INIT;
    reqstats_write(s, &b);
    T_TRUE(strstr(b.data, "brasa_http_requests_total{method=\"GET\",route=\"/a\",code=\"200\"} 2\n") != NULL);
    T_TRUE(strstr(b.data, "brasa_http_requests_total{method=\"GET\",route=\"/a\",code=\"404\"} 1\n") != NULL);
    T_TRUE(strstr(b.data, "brasa_http_requests_total{method=\"\",route=\"(unmatched)\",code=\"415\"} 1\n") != NULL);
    T_TRUE(strstr(b.data, "brasa_http_requests_total{method=\"\",route=\"(unmatched)\",code=\"other\"} 3\n") != NULL);
    T_TRUE(strstr(b.data, "brasa_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 3\n") != NULL);
    T_TRUE(strstr(b.data, "brasa_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.0025\"} 2\n") != NULL);
    T_TRUE(strstr(b.data, "route=\"/b/{id}\"") == NULL);
    buf_free(&b);
    reqstats_free(s);
}
