/* log_test.c -- unit tests for --log-format json: log messages turned into
 * one JSON object a line (src/lib/logjson.c). Every line is parsed back
 * strictly, checked to be UTF-8, one line, and at most LOG_LINE_MAX. */
#include "test.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/logjson.h"
#include "lib/utf8.h"

#include <stdlib.h>

/* The line for msg[0..n) parsed back, or NULL (with why printed) when it is
 * not one valid JSON line. */
static json_object *conv_n(const char *msg, size_t n, bool cut) {
    static char line[LOG_LINE_MAX + 64];
    memset(line, 'Z', sizeof line);
    size_t len = logjson_line(line, "2026-11-23T17:10:10.114Z", "info", msg, n, cut);
    if (len > LOG_LINE_MAX || len < 2 || line[len - 1] != '\n' || memchr(line, '\n', len - 1) ||
        line[LOG_LINE_MAX] != 'Z') {
        printf("    not one line of at most %d bytes (%zu): %.*s\n", LOG_LINE_MAX, len, (int)len, line);
        return NULL;
    }
    if (!utf8_valid(line, len, NULL)) {
        printf("    not UTF-8: %.*s\n", (int)len, line);
        return NULL;
    }
    json_object *o = json_parse(line, len - 1);
    if (!o || !json_object_is_type(o, json_type_object)) {
        printf("    not a JSON object: %.*s\n", (int)len, line);
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *conv(const char *msg) { return conv_n(msg, strlen(msg), false); }

static const char *sget(json_object *o, const char *k) {
    json_object *v = json_get(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool is_int(json_object *o, const char *k, long long want) {
    json_object *v = json_get(o, k);
    return v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) == want;
}

TEST(logjson_plain_text_has_module_and_msg) {
    json_object *o = conv("store: cannot open brasa.db (disk full)");
    T_TRUE(o);
    T_EQ_STR(sget(o, "time"), "2026-11-23T17:10:10.114Z");
    T_EQ_STR(sget(o, "level"), "info");
    T_EQ_STR(sget(o, "module"), "store");
    T_EQ_STR(sget(o, "msg"), "cannot open brasa.db (disk full)");
    T_EQ_INT(json_object_object_length(o), 4);
    json_object_put(o);
}

TEST(logjson_without_a_module_has_no_module_field) {
    const char *msgs[] = {"postback to http://x/?a=b failed (timeout)", "dispatch 42: recording failed",
                          "Store: capital", "", "  "};
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        json_object *o = conv(msgs[i]);
        T_TRUE(o);
        T_TRUE(!json_get(o, "module"));
        json_object_put(o);
    }
    json_object *o = conv("dispatch 42: recording failed");
    T_EQ_STR(sget(o, "msg"), "dispatch 42: recording failed");
    json_object_put(o);
    o = conv("serve:");
    T_EQ_STR(sget(o, "module"), "serve");
    T_EQ_STR(sget(o, "msg"), "");
    json_object_put(o);
}

TEST(logjson_pairs_become_fields) {
    json_object *o = conv("serve: ready pid=12 port=8080 threads=2");
    T_TRUE(o);
    T_EQ_STR(sget(o, "module"), "serve");
    T_EQ_STR(sget(o, "msg"), "ready");
    T_TRUE(is_int(o, "pid", 12));
    T_TRUE(is_int(o, "port", 8080));
    T_TRUE(is_int(o, "threads", 2));
    json_object_put(o);

    o = conv("http method=POST path=/admin/keys status=201 us=1813 key=\"bootstrap\" ip=127.0.0.1");
    T_TRUE(o);
    T_EQ_STR(sget(o, "module"), "http");
    T_EQ_STR(sget(o, "msg"), "");
    T_EQ_STR(sget(o, "method"), "POST");
    T_EQ_STR(sget(o, "path"), "/admin/keys");
    T_TRUE(is_int(o, "status", 201));
    T_TRUE(is_int(o, "us", 1813));
    T_EQ_STR(sget(o, "key"), "bootstrap");
    T_EQ_STR(sget(o, "ip"), "127.0.0.1");
    T_EQ_INT(json_object_object_length(o), 10);
    json_object_put(o);
}

TEST(logjson_free_text_around_pairs_is_msg) {
    json_object *o = conv("http: ip=203.0.113.7 refused for up to 30 s after 50 failed authentications");
    T_TRUE(o);
    T_EQ_STR(sget(o, "msg"), "refused for up to 30 s after 50 failed authentications");
    T_EQ_STR(sget(o, "ip"), "203.0.113.7");
    json_object_put(o);
    /* Free text keeps its spacing; one space where a pair was. */
    o = conv("x: a b=1 c  d e=2   f g=3");
    T_EQ_STR(sget(o, "msg"), "a c  d f");
    T_TRUE(is_int(o, "b", 1) && is_int(o, "e", 2) && is_int(o, "g", 3));
    json_object_put(o);
    /* Not keys: a URL's query, an option, a word with '=' inside. */
    o = conv("x: GET http://h/?a=b --foo=bar 1=2 =x");
    T_EQ_STR(sget(o, "msg"), "GET http://h/?a=b --foo=bar 1=2 =x");
    T_EQ_INT(json_object_object_length(o), 4);
    json_object_put(o);
}

TEST(logjson_quoted_values) {
    json_object *o = conv("x: name=\"a b \\\"c\\\" \\\\ d\" n=1 e=\"\" t=\"x\\y\"");
    T_TRUE(o);
    T_EQ_STR(sget(o, "name"), "a b \"c\" \\ d");
    T_EQ_STR(sget(o, "e"), "");
    T_EQ_STR(sget(o, "t"), "x\\y"); /* a backslash before anything else is itself */
    T_TRUE(is_int(o, "n", 1));
    T_EQ_STR(sget(o, "msg"), "");
    json_object_put(o);
    /* A quote logged without escaping: the closing one is before a space. */
    o = conv("http key=\"a\"b\" ip=1.2.3.4");
    T_EQ_STR(sget(o, "key"), "a\"b");
    T_EQ_STR(sget(o, "ip"), "1.2.3.4");
    json_object_put(o);
    /* No closing quote: to the end. */
    o = conv("x: k=\"open to the end");
    T_EQ_STR(sget(o, "k"), "open to the end");
    json_object_put(o);
}

TEST(logjson_only_plain_integers_are_numbers) {
    json_object *o = conv("x: a=007 b=-5 c=1.5 d=1234567890123456 e=\"42\" f= g=- h=0 i=123456789012345 j=1e3");
    T_TRUE(o);
    T_EQ_STR(sget(o, "a"), "007");
    T_TRUE(is_int(o, "b", -5));
    T_EQ_STR(sget(o, "c"), "1.5");
    T_EQ_STR(sget(o, "d"), "1234567890123456"); /* 16 digits: not exact in a double */
    T_EQ_STR(sget(o, "e"), "42");
    T_EQ_STR(sget(o, "f"), "");
    T_EQ_STR(sget(o, "g"), "-");
    T_TRUE(is_int(o, "h", 0));
    T_TRUE(is_int(o, "i", 123456789012345LL));
    T_EQ_STR(sget(o, "j"), "1e3");
    json_object_put(o);
}

TEST(logjson_clashing_and_repeated_keys_stay_in_msg) {
    json_object *o = conv("serve: msg=hi level=9 pid=1 time=x pid=2 module=m truncated=1 Pid=3");
    T_TRUE(o);
    T_EQ_STR(sget(o, "msg"), "msg=hi level=9 time=x pid=2 module=m truncated=1");
    T_EQ_STR(sget(o, "level"), "info");
    T_EQ_STR(sget(o, "module"), "serve");
    T_TRUE(is_int(o, "pid", 1));
    T_TRUE(is_int(o, "Pid", 3));
    T_TRUE(!json_get(o, "truncated"));
    json_object_put(o);
    /* A refused quoted pair stays whole, spaces and all. */
    o = conv("x: k=1 k=\"a  b\" c");
    T_EQ_STR(sget(o, "msg"), "k=\"a  b\" c");
    json_object_put(o);
}

TEST(logjson_past_64_pairs_the_rest_stay_in_msg) {
    char msg[1024];
    size_t n = 0;
    for (int i = 0; i < 70; i++) n += (size_t)snprintf(msg + n, sizeof msg - n, "k%d=%d ", i, i);
    json_object *o = conv_n(msg, n, false);
    T_TRUE(o);
    T_TRUE(is_int(o, "k63", 63));
    T_TRUE(!json_get(o, "k64"));
    T_EQ_STR(sget(o, "msg"), "k64=64 k65=65 k66=66 k67=67 k68=68 k69=69");
    json_object_put(o);
}

TEST(logjson_escapes_control_characters) {
    const char msg[] = "engine: a\nb\x01" "c\td\r k=\x02v\x7f q=\"\n\" z=\0end";
    json_object *o = conv_n(msg, sizeof msg - 1, false);
    T_TRUE(o);
    T_EQ_STR(sget(o, "msg"), "a\nb\x01" "c\td\r");
    T_EQ_STR(sget(o, "k"), "\x02v\x7f");
    T_EQ_STR(sget(o, "q"), "\n");
    size_t zn;
    const char *z = json_str(o, "z", &zn);
    T_TRUE(z && zn == 4 && !memcmp(z, "\0end", 4));
    json_object_put(o);
}

TEST(logjson_replaces_invalid_utf8) {
    /* A stray continuation, a cut sequence, a surrogate, an overlong '/'. */
    const char msg[] = "x: \xff\xc3 \xc3\xa9 \xed\xa0\x80 k=\xc3 q=\"\xc0\xaf\" ok=\xe2\x82\xac";
    json_object *o = conv_n(msg, sizeof msg - 1, false);
    T_TRUE(o);
    T_EQ_STR(sget(o, "msg"), "\xef\xbf\xbd\xef\xbf\xbd \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    T_EQ_STR(sget(o, "k"), "\xef\xbf\xbd");
    T_EQ_STR(sget(o, "q"), "\xef\xbf\xbd\xef\xbf\xbd");
    T_EQ_STR(sget(o, "ok"), "\xe2\x82\xac");
    json_object_put(o);
}

TEST(logjson_a_cut_message_is_marked) {
    json_object *o = conv_n("x: a k=1", 8, true);
    T_TRUE(o);
    T_TRUE(json_object_get_boolean(json_get(o, "truncated")));
    T_TRUE(is_int(o, "k", 1));
    json_object_put(o);
    o = conv("x: a k=1");
    T_TRUE(!json_get(o, "truncated"));
    json_object_put(o);
}

/* Messages of every length near the limit, in free text or in a value,
 * made of what grows when escaped (controls: 6 bytes each), multi-byte
 * characters and invalid bytes: each cut line must still parse. */
TEST(logjson_long_lines_are_cut_into_valid_json) {
    static const char *fills[] = {"a", "\x01", "\xc3\xa9", "\xe2\x82\xac", "\xff", "\"", "\\", "a\x01\xc3\xa9"};
    static const char *heads[] = {"x: ", "x: k=", "x: k=\"", "x: a=1 b=22 text ", "x: k=\"v\" z="};
    char msg[LOG_LINE_MAX];
    int cases = 0;
    for (size_t h = 0; h < sizeof heads / sizeof *heads; h++)
        for (size_t f = 0; f < sizeof fills / sizeof *fills; f++)
            for (size_t n = 300; n < sizeof msg; n += 7) {
                size_t hn = strlen(heads[h]), fn = strlen(fills[f]);
                memcpy(msg, heads[h], hn);
                for (size_t i = hn; i < n; i++) msg[i] = fills[f][(i - hn) % fn];
                json_object *o = conv_n(msg, n, false);
                if (!o) T_FAIL_("head %zu fill %zu length %zu", h, f, n);
                json_object *t = json_get(o, "truncated");
                /* The long part is cut, or the line is whole and unmarked. */
                if (t && !json_object_get_boolean(t)) T_FAIL_("truncated is not true: %zu %zu %zu", h, f, n);
                json_object_put(o);
                cases++;
            }
    /* 2,000 bytes of controls are 12,000 escaped: that one is cut. */
    memset(msg, '\x01', 2000);
    json_object *o = conv_n(msg, 2000, false);
    T_TRUE(o);
    T_TRUE(json_object_get_boolean(json_get(o, "truncated")));
    json_object_put(o);
    T_TRUE(cases > 1000);
}

TEST(logjson_a_pair_that_does_not_fit_is_left_out_whole) {
    /* msg fills the line; the number after it cannot be half written. */
    char msg[LOG_LINE_MAX];
    memcpy(msg, "x: ", 3);
    for (size_t len = 1940; len < 2030; len++) {
        memset(msg + 3, 'a', len);
        memcpy(msg + 3 + len, " n=123456", 9);
        json_object *o = conv_n(msg, 3 + len + 9, false);
        T_TRUE(o);
        json_object *n = json_get(o, "n");
        T_TRUE(!n || is_int(o, "n", 123456));
        T_TRUE(n || json_object_get_boolean(json_get(o, "truncated")));
        json_object_put(o);
    }
}

TEST(log_parse_format_names) {
    T_EQ_INT(log_parse_format("text"), LOG_TEXT);
    T_EQ_INT(log_parse_format("json"), LOG_JSON);
    T_EQ_INT(log_parse_format("JSON"), -1);
    T_EQ_INT(log_parse_format("xml"), -1);
    T_EQ_INT(log_parse_format(""), -1);
}
