/* head_test.c -- RFC 9112 head checks (http/head.c) without a server. */
#include "test.h"
#include "http/head.h"
#include "lib/err.h"

#include <string.h>

#define F(n, v) {n, sizeof n - 1, v, sizeof v - 1}

static int check(const char *target, bool http10, const http_field *f, int n, char *why) {
    http_head h = {target, strlen(target), http10, f, n};
    return http_head_check(&h, why, 160);
}

TEST(head_accepts_ordinary_requests) {
    char why[160];
    http_field ok[] = {F("Host", "brasa.example:8080"), F("Content-Length", "12"), F("X-Tab", "a\tb \xc3\xa9")};
    T_EQ_INT(check("/users/track?x=%41", false, ok, 3, why), 0);
    http_field chunked[] = {F("Host", "[::1]"), F("Transfer-Encoding", " Chunked ")};
    T_EQ_INT(check("/users/track", false, chunked, 2, why), 0);
    http_field twice[] = {F("Host", "h"), F("Content-Length", "5"), F("content-length", " 5")};
    T_EQ_INT(check("/", false, twice, 3, why), 0);
    T_EQ_INT(check("/", true, NULL, 0, why), 0); /* HTTP/1.0 without Host */
}

TEST(head_refuses_what_could_be_framed_two_ways) {
    char why[160];
    http_field both[] = {F("Host", "h"), F("Content-Length", "5"), F("Transfer-Encoding", "chunked")};
    T_EQ_INT(check("/", false, both, 3, why), BR_EINVAL);
    T_EQ_STR(why, "both Content-Length and Transfer-Encoding");
    http_field two[] = {F("Host", "h"), F("Content-Length", "5"), F("Content-Length", "6")};
    T_EQ_INT(check("/", false, two, 3, why), BR_EINVAL);
    T_EQ_STR(why, "conflicting Content-Length headers");
    http_field gz[] = {F("Host", "h"), F("Transfer-Encoding", "gzip, chunked")};
    T_EQ_INT(check("/", false, gz, 2, why), BR_ETENCODING);
    http_field te2[] = {F("Host", "h"), F("Transfer-Encoding", "chunked"), F("Transfer-Encoding", "chunked")};
    T_EQ_INT(check("/", false, te2, 3, why), BR_ETENCODING);
    http_field te10[] = {F("Transfer-Encoding", "chunked")};
    T_EQ_INT(check("/", true, te10, 1, why), BR_EINVAL);
    T_EQ_STR(why, "Transfer-Encoding in an HTTP/1.0 request");
}

TEST(head_refuses_bad_names_values_targets_and_hosts) {
    char why[160];
    http_field sp[] = {F("Host", "h"), F("Transfer-Encoding ", "chunked")};
    T_EQ_INT(check("/", false, sp, 2, why), BR_EINVAL);
    http_field empty[] = {F("Host", "h"), F("", "x")};
    T_EQ_INT(check("/", false, empty, 2, why), BR_EINVAL);
    http_field cr[] = {F("Host", "h"), F("Authorization", "Bearer k\rjunk")};
    T_EQ_INT(check("/", false, cr, 2, why), BR_EINVAL);
    http_field del[] = {F("Host", "h"), F("X", "a\x7f")};
    T_EQ_INT(check("/", false, del, 2, why), BR_EINVAL);
    T_EQ_INT(check("/a b", true, NULL, 0, why), BR_EINVAL);
    T_EQ_INT(check("/a\x80", true, NULL, 0, why), BR_EINVAL);
    T_EQ_INT(check("/", false, NULL, 0, why), BR_EINVAL); /* HTTP/1.1 without Host */
    http_field hosts[] = {F("Host", "a"), F("host", "b")};
    T_EQ_INT(check("/", false, hosts, 2, why), BR_EINVAL);
    http_field badhost[] = {F("Host", "a/b")};
    T_EQ_INT(check("/", false, badhost, 1, why), BR_EINVAL);
    http_field nohost[] = {F("Host", "")};
    T_EQ_INT(check("/", false, nohost, 1, why), BR_EINVAL);
}
