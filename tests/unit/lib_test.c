/* lib_test.c -- unit tests for src/lib: buffers, CIDR, errors, secrets, lists. */
#include "test.h"
#include "lib/utf8.h"
#include "lib/buf.h"
#include "lib/cidr.h"
#include "lib/err.h"
#include "lib/metrics.h"
#include "lib/secret.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

TEST(buf_printf_grows_past_small_buffer) {
    buf_t b = BUF_INIT;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "%s-%d", big, 42);
    T_EQ_INT(b.len, 1002);
    T_EQ_STR(b.data + 999, "-42");
    buf_free(&b);
}

TEST(buf_json_str_escapes_controls_and_quotes) {
    buf_t b = BUF_INIT;
    const char in[] = "a\"b\\c\n\r\t\x01\x7f" "é";
    buf_json_str(&b, in, sizeof in - 1);
    T_EQ_STR(b.data, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\x7fé\""); /* DEL is text in JSON */
    buf_free(&b);
}

TEST(err_table_maps_codes) {
    T_EQ_INT(br_err_status(0), 200);
    T_EQ_INT(br_err_status(BR_EBADKEY), 401);
    T_EQ_INT(br_err_status(BR_EPERM), 403);
    T_EQ_INT(br_err_status(BR_ETOOBIG), 413);
    T_EQ_INT(br_err_status(BR_ERATE), 429);
    T_EQ_INT(br_err_status(-9999), 500); /* unknown -> internal */
    T_EQ_STR(br_err_message(BR_ENOTFOUND), "Not Found");
    T_EQ_STR(br_err_name(BR_EINVAL), "EINVAL");
}

static int in(const char *cidr, const char *ip) {
    cidr_t c;
    if (cidr_parse(cidr, &c) < 0) return -1;
    uint8_t a[16];
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, ip, &v4.sin_addr) == 1) cidr_from_sockaddr((struct sockaddr *)&v4, a);
    else if (inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1) cidr_from_sockaddr((struct sockaddr *)&v6, a);
    else return -2;
    return cidr_contains(&c, a);
}

TEST(cidr_ipv4_ranges_and_single_addresses) {
    T_EQ_INT(in("10.0.0.0/8", "10.200.3.4"), 1);
    T_EQ_INT(in("10.0.0.0/8", "11.0.0.1"), 0);
    T_EQ_INT(in("192.168.1.7", "192.168.1.7"), 1);
    T_EQ_INT(in("192.168.1.7", "192.168.1.8"), 0);
    T_EQ_INT(in("0.0.0.0/0", "8.8.8.8"), 1);
    T_EQ_INT(in("172.16.0.0/12", "172.31.255.255"), 1);
    T_EQ_INT(in("172.16.0.0/12", "172.32.0.0"), 0);
    T_EQ_INT(in("10.1.2.3/8", "10.9.9.9"), 1); /* host bits ignored */
}

TEST(cidr_ipv6_and_mapped_ipv4) {
    T_EQ_INT(in("::1", "::1"), 1);
    T_EQ_INT(in("::1", "::2"), 0);
    T_EQ_INT(in("2001:db8::/32", "2001:db8:ffff::1"), 1);
    T_EQ_INT(in("2001:db8::/32", "2001:db9::1"), 0);
    /* An IPv4 client seen on a dual-stack socket. */
    T_EQ_INT(in("127.0.0.0/8", "::ffff:127.0.0.1"), 1);
    T_EQ_INT(in("::1", "127.0.0.1"), 0);
}

TEST(cidr_rejects_garbage) {
    cidr_t c;
    const char *bad[] = {"", "10.0.0.0/33", "::/129", "1.2.3", "10.0.0.0/", "10.0.0.0/-1",
                         "10.0.0.0/8x", "host.example", "1.2.3.4/ 8"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cidr_parse(bad[i], &c) != BR_EINVAL) T_FAIL_("accepted '%s'", bad[i]);
}

TEST(cidr_list_parses_commas_and_spaces) {
    cidr_t *l;
    T_EQ_INT(cidr_parse_list("10.0.0.0/8, ::1 192.168.0.1", &l), 3);
    free(l);
    T_EQ_INT(cidr_parse_list("", &l), 0);
    T_TRUE(l == NULL);
    T_EQ_INT(cidr_parse_list("10.0.0.0/8,bogus", &l), BR_EINVAL);
    T_TRUE(l == NULL);
}

TEST(secret_key_is_uuid_v4_shaped_and_unique) {
    char a[SECRET_KEY_LEN + 1], b[SECRET_KEY_LEN + 1];
    secret_new_key(a);
    secret_new_key(b);
    T_EQ_INT(strlen(a), 36);
    T_TRUE(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    T_TRUE(a[14] == '4');
    T_TRUE(strchr("89ab", a[19]) != NULL);
    T_TRUE(strcmp(a, b) != 0);
}

TEST(secret_hash_is_sha256) {
    uint8_t h[SECRET_HASH_LEN];
    secret_hash("abc", 3, h);
    /* FIPS 180-2 test vector. */
    T_EQ_INT(h[0], 0xba);
    T_EQ_INT(h[1], 0x78);
    T_EQ_INT(h[31], 0xad);
}

TEST(str_item_walks_lists) {
    const char *p = " a,bb  c,,", *it;
    size_t n;
    it = str_item(&p, &n);
    T_TRUE(it && n == 1 && *it == 'a');
    it = str_item(&p, &n);
    T_TRUE(it && n == 2 && !strncmp(it, "bb", 2));
    it = str_item(&p, &n);
    T_TRUE(it && n == 1 && *it == 'c');
    T_TRUE(str_item(&p, &n) == NULL);
    T_TRUE(str_ieq("Bearer", 6, "bearer"));
    T_TRUE(!str_ieq("Bear", 4, "bearer"));
}

/* Prometheus' text format: cumulative buckets whose upper bound is
 * inclusive, +Inf = _count, the sum in seconds, whole numbers printed as
 * such. */
TEST(metrics_histogram_and_samples) {
    mhist hm = {0};
    mhist_add(&hm, 250);     /* on a bound: counted in it (le) */
    mhist_add(&hm, 251);
    mhist_add(&hm, -5);      /* a clock step: 0 */
    mhist_add_atomic(&hm, 20000000); /* past the last bound: +Inf only */
    buf_t b = BUF_INIT;
    metrics_head(&b, "x_seconds", "histogram", "h");
    metrics_hist(&b, "x_seconds", "a=\"1\"", &hm);
    T_TRUE(strstr(b.data, "# HELP x_seconds h\n# TYPE x_seconds histogram\n") == b.data);
    T_TRUE(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"0.00025\"} 2\n") != NULL);
    T_TRUE(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"0.0005\"} 3\n") != NULL);
    T_TRUE(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"10\"} 3\n") != NULL);
    T_TRUE(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"+Inf\"} 4\n") != NULL);
    T_TRUE(strstr(b.data, "x_seconds_sum{a=\"1\"} 20.000501\n") != NULL);
    T_TRUE(strstr(b.data, "x_seconds_count{a=\"1\"} 4\n") != NULL);
    buf_reset(&b);
    metrics_sample(&b, "n_total", "", 12345678901.0);
    metrics_sample(&b, "g", "", 0.5);
    buf_puts(&b, "l=\"");
    metrics_label(&b, "a\"b\\c\nd");
    buf_puts(&b, "\"\n");
    T_EQ_STR(b.data, "n_total 12345678901\ng 0.5\nl=\"a\\\"b\\\\c\\nd\"\n");
    buf_free(&b);
}

/* utf8_repair against the plain definition, a byte at a time: valid
 * sequences kept, each byte that starts no valid sequence a U+FFFD. */
static void repair_ref(buf_t *b, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len) buf_append(b, s + i, len), i += len;
        else buf_append(b, "\xEF\xBF\xBD", 3), i++;
    }
}

TEST(utf8_repair_keeps_valid_text_and_replaces_each_bad_byte) {
    static const char *const parts[] = {"a", "plain ascii text ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\xc3", "\x80", "\xed\xa0\x80", "\xf5", "\xff", "\xe2\x82", "\xc0\xaf"};
    uint64_t seed = 11;
    for (int t = 0; t < 20000; t++) {
        char s[256];
        size_t n = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        for (int k = (int)(seed >> 60); k >= 0; k--) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *p = parts[(seed >> 33) % (sizeof parts / sizeof *parts)];
            memcpy(s + n, p, strlen(p));
            n += strlen(p);
        }
        buf_t got = BUF_INIT, want = BUF_INIT;
        utf8_repair(&got, s, n);
        repair_ref(&want, s, n);
        if (got.len != want.len || memcmp(got.data, want.data, got.len)) T_FAIL_("input %d (%zu bytes) repaired differently", t, n);
        T_TRUE(utf8_valid(got.data, got.len, NULL));
        buf_free(&got);
        buf_free(&want);
    }
}
