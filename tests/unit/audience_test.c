/* audience_test.c -- connected audiences (src/core/audience.c): the
 * segment definition each filter and comparison becomes, nesting and its
 * bounds, every refusal with its message, and compiled audiences
 * evaluated against profiles written by /users/track, both by the segment
 * evaluator over bare users and through the engine as the messaging
 * endpoints will run them. */
#define _GNU_SOURCE
#include "test.h"
#include "fixture.h"
#include "core/audience.h"
#include "core/columns.h"
#include "core/segment.h"
#include "engine/segments.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/timefmt.h"

#include <stdlib.h>

#define NOW 1700000000000LL /* 2023-11-14T22:13:20Z */
#define DAY 86400000LL

/* Compiles an audience; on success out gets the definition as JSON and
 * the definition must compile as a segment. Returns the rc (or 99 when the
 * definition does not compile). */
static int acompile(const char *json, char *out, size_t outlen, char *why, size_t whylen) {
    json_object *a = json_tokener_parse(json), *def = NULL;
    *why = 0;
    int rc = audience_compile(a, &def, why, whylen);
    json_object_put(a);
    if (rc) return rc;
    snprintf(out, outlen, "%s", json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN));
    seg_def *d = NULL;
    char swhy[400];
    if (seg_compile(def, NULL, NULL, NULL, &d, swhy, sizeof swhy) != 0) {
        printf("    %s\n    does not compile: %s\n", out, swhy);
        rc = 99;
    }
    seg_free(d);
    json_object_put(def);
    return rc;
}

/* 0 when the audience compiles to exactly want. */
static int becomes(const char *json, const char *want) {
    char out[4096], why[AUDIENCE_WHY_MAX];
    int rc = acompile(json, out, sizeof out, why, sizeof why);
    if (rc) {
        printf("    %s\n    refused (%d): %s\n", json, rc, why);
        return 1;
    }
    if (strcmp(out, want)) {
        printf("    %s\n    became %s\n    wanted %s\n", json, out, want);
        return 1;
    }
    return 0;
}

/* 0 when the audience is refused with BR_EINVAL and exactly message want. */
static int refused(const char *json, const char *want) {
    char out[4096], why[AUDIENCE_WHY_MAX];
    int rc = acompile(json, out, sizeof out, why, sizeof why);
    if (rc != BR_EINVAL) {
        printf("    %s\n    accepted as %s\n", json, out);
        return 1;
    }
    if (strcmp(why, want)) {
        printf("    %s\n    said   \"%s\"\n    wanted \"%s\"\n", json, why, want);
        return 1;
    }
    return 0;
}

#define CA(name, cmp, value) \
    "{\"custom_attribute\":{\"custom_attribute_name\":\"" name "\",\"comparison\":\"" cmp "\"" value "}}"
#define SEGF(name, op, value) "{\"type\":\"custom_attribute\",\"name\":\"" name "\",\"op\":\"" op "\"" value "}"

TEST(audience_custom_attribute_comparisons_become_segment_filters) {
    /* strings */
    T_EQ_INT(becomes(CA("tier", "equals", ",\"value\":\"gold\""), SEGF("tier", "equals", ",\"value\":\"gold\"")), 0);
    T_EQ_INT(becomes(CA("tier", "not_equal", ",\"value\":\"gold\""), SEGF("tier", "not_equals", ",\"value\":\"gold\"")), 0);
    T_EQ_INT(becomes(CA("tier", "matches_regex", ",\"value\":\"^go\""), SEGF("tier", "matches_regex", ",\"value\":\"^go\"")), 0);
    T_EQ_INT(becomes(CA("tier", "does_not_match_regex", ",\"value\":\"^go\""),
                     SEGF("tier", "does_not_match_regex", ",\"value\":\"^go\"")),
             0);
    T_EQ_INT(becomes(CA("tier", "exists", ""), SEGF("tier", "exists", "")), 0);
    T_EQ_INT(becomes(CA("tier", "does_not_exist", ""), SEGF("tier", "blank", "")), 0);
    /* a value where none is needed is not an error */
    T_EQ_INT(becomes(CA("tier", "exists", ",\"value\":null"), SEGF("tier", "exists", "")), 0);
    T_EQ_INT(becomes(CA("tier", "does_not_exist", ",\"value\":\"x\""), SEGF("tier", "blank", "")), 0);
    /* arrays */
    T_EQ_INT(becomes(CA("tags", "includes_value", ",\"value\":\"x\""), SEGF("tags", "includes_any", ",\"value\":[\"x\"]")), 0);
    T_EQ_INT(becomes(CA("tags", "includes_value", ",\"value\":7"), SEGF("tags", "includes_any", ",\"value\":[7]")), 0);
    T_EQ_INT(becomes(CA("tags", "does_not_include_value", ",\"value\":\"x\""),
                     SEGF("tags", "includes_none", ",\"value\":[\"x\"]")),
             0);
    T_EQ_INT(becomes(CA("tags", "does_not_include_value", ",\"value\":2.5"), SEGF("tags", "includes_none", ",\"value\":[2.5]")), 0);
    /* numbers */
    T_EQ_INT(becomes(CA("n", "equals", ",\"value\":3"), SEGF("n", "number_equals", ",\"value\":3")), 0);
    T_EQ_INT(becomes(CA("n", "equals", ",\"value\":3.25"), SEGF("n", "number_equals", ",\"value\":3.25")), 0);
    T_EQ_INT(becomes(CA("n", "not_equal", ",\"value\":3"), SEGF("n", "number_not_equals", ",\"value\":3")), 0);
    T_EQ_INT(becomes(CA("n", "greater_than", ",\"value\":3"), SEGF("n", "greater_than", ",\"value\":3")), 0);
    T_EQ_INT(becomes(CA("n", "greater_than_or_equal_to", ",\"value\":-3"), SEGF("n", "greater_than_or_equal_to", ",\"value\":-3")), 0);
    T_EQ_INT(becomes(CA("n", "less_than", ",\"value\":0.5"), SEGF("n", "less_than", ",\"value\":0.5")), 0);
    T_EQ_INT(becomes(CA("n", "less_than_or_equal_to", ",\"value\":9"), SEGF("n", "less_than_or_equal_to", ",\"value\":9")), 0);
    /* booleans */
    T_EQ_INT(becomes(CA("vip", "equals", ",\"value\":true"), SEGF("vip", "is_true", "")), 0);
    T_EQ_INT(becomes(CA("vip", "equals", ",\"value\":false"), SEGF("vip", "is_false", "")), 0);
    T_EQ_INT(becomes(CA("vip", "does_not_equal", ",\"value\":true"), SEGF("vip", "is_not_true", "")), 0);
    T_EQ_INT(becomes(CA("vip", "does_not_equal", ",\"value\":false"), SEGF("vip", "is_not_false", "")), 0);
    /* times */
    T_EQ_INT(becomes(CA("t", "less_than_x_days_ago", ",\"value\":7"), SEGF("t", "within_last_days", ",\"value\":7")), 0);
    T_EQ_INT(becomes(CA("t", "greater_than_x_days_ago", ",\"value\":0"), SEGF("t", "more_than_days_ago", ",\"value\":0")), 0);
    T_EQ_INT(becomes(CA("t", "less_than_x_days_in_the_future", ",\"value\":3.0"), SEGF("t", "within_next_days", ",\"value\":3")), 0);
    T_EQ_INT(becomes(CA("t", "greater_than_x_days_in_the_future", ",\"value\":30"),
                     SEGF("t", "more_than_days_from_now", ",\"value\":30")),
             0);
    T_EQ_INT(becomes(CA("t", "after", ",\"value\":\"2024-01-02T03:04:05Z\""), SEGF("t", "after", ",\"value\":\"2024-01-02T03:04:05Z\"")), 0);
    T_EQ_INT(becomes(CA("t", "before", ",\"value\":\"2024-01-02\""), SEGF("t", "before", ",\"value\":\"2024-01-02\"")), 0);
    /* names are kept as given (unicode, spaces) */
    T_EQ_INT(becomes(CA("Lieblings farbe é", "exists", ""), SEGF("Lieblings farbe é", "exists", "")), 0);
}

TEST(audience_other_filters_become_segment_filters) {
    T_EQ_INT(becomes("{\"push_subscription_status\":{\"comparison\":\"is\",\"value\":\"opted_in\"}}",
                     "{\"type\":\"push_subscription_status\",\"op\":\"equals\",\"value\":\"opted_in\"}"),
             0);
    T_EQ_INT(becomes("{\"push_subscription_status\":{\"comparison\":\"is_not\",\"value\":\"unsubscribed\"}}",
                     "{\"type\":\"push_subscription_status\",\"op\":\"not_equals\",\"value\":\"unsubscribed\"}"),
             0);
    T_EQ_INT(becomes("{\"email_subscription_status\":{\"comparison\":\"is\",\"value\":\"subscribed\"}}",
                     "{\"type\":\"email_subscription_status\",\"op\":\"equals\",\"value\":\"subscribed\"}"),
             0);
    T_EQ_INT(becomes("{\"email_subscription_status\":{\"comparison\":\"is_not\",\"value\":\"opted_in\"}}",
                     "{\"type\":\"email_subscription_status\",\"op\":\"not_equals\",\"value\":\"opted_in\"}"),
             0);
    T_EQ_INT(becomes("{\"last_used_app\":{\"comparison\":\"after\",\"value\":\"2023-06-01T00:00:00Z\"}}",
                     "{\"type\":\"last_used_app\",\"op\":\"after\",\"value\":\"2023-06-01T00:00:00Z\"}"),
             0);
    T_EQ_INT(becomes("{\"last_used_app\":{\"comparison\":\"before\",\"value\":\"2023-06-01\"}}",
                     "{\"type\":\"last_used_app\",\"op\":\"before\",\"value\":\"2023-06-01\"}"),
             0);
}

TEST(audience_groups_nest_within_bounds) {
    T_EQ_INT(becomes("{\"AND\":[" CA("a", "exists", "") ",{\"OR\":[" CA("b", "equals", ",\"value\":1") ","
                     "{\"last_used_app\":{\"comparison\":\"after\",\"value\":\"2023-06-01\"}}]}]}",
                     "{\"and\":[" SEGF("a", "exists", "") ",{\"or\":[" SEGF("b", "number_equals", ",\"value\":1") ","
                     "{\"type\":\"last_used_app\",\"op\":\"after\",\"value\":\"2023-06-01\"}]}]}"),
             0);
    /* A group of one. */
    T_EQ_INT(becomes("{\"OR\":[" CA("a", "exists", "") "]}", "{\"or\":[" SEGF("a", "exists", "") "]}"), 0);
    /* 10 levels of groups are fine, 11 are not. */
    buf_t b = BUF_INIT, want = BUF_INIT;
    for (int i = 0; i < 10; i++) buf_puts(&b, i % 2 ? "{\"OR\":[" : "{\"AND\":[");
    for (int i = 0; i < 10; i++) buf_puts(&want, i % 2 ? "{\"or\":[" : "{\"and\":[");
    buf_puts(&b, CA("a", "exists", ""));
    buf_puts(&want, SEGF("a", "exists", ""));
    for (int i = 0; i < 10; i++) buf_puts(&b, "]}"), buf_puts(&want, "]}");
    T_EQ_INT(becomes(b.data, want.data), 0);
    buf_reset(&b);
    for (int i = 0; i < 11; i++) buf_puts(&b, "{\"AND\":[");
    buf_puts(&b, CA("a", "exists", ""));
    for (int i = 0; i < 11; i++) buf_puts(&b, "]}");
    T_EQ_INT(refused(b.data, "audience.AND[0].AND[0].AND[0].AND[0].AND[0].AND[0].AND[0].AND[0].AND[0].AND[0]: "
                             "groups are nested more than 10 deep"),
             0);
    /* 100 filters are fine (spread over groups too), 101 are not. */
    buf_reset(&b);
    buf_puts(&b, "{\"OR\":[");
    for (int i = 0; i < 100; i++) buf_printf(&b, "%s" CA("a", "equals", ",\"value\":%d"), i ? "," : "", i);
    buf_puts(&b, "]}");
    char out[16384], why[AUDIENCE_WHY_MAX];
    T_EQ_INT(acompile(b.data, out, sizeof out, why, sizeof why), 0);
    buf_reset(&b);
    buf_puts(&b, "{\"AND\":[{\"OR\":[");
    for (int i = 0; i < 60; i++) buf_printf(&b, "%s" CA("a", "equals", ",\"value\":%d"), i ? "," : "", i);
    buf_puts(&b, "]},{\"OR\":[");
    for (int i = 0; i < 41; i++) buf_printf(&b, "%s" CA("a", "equals", ",\"value\":%d"), i ? "," : "", i);
    buf_puts(&b, "]}]}");
    T_EQ_INT(refused(b.data, "audience.AND[1].OR[40]: more than 100 filters"), 0);
    buf_free(&b);
    buf_free(&want);
}

#define KEYS "a filter (custom_attribute, push_subscription_status, email_subscription_status, last_used_app) or a group (AND, OR)"
#define CMPS                                                                                                      \
    "equals, not_equal, does_not_equal, matches_regex, does_not_match_regex, includes_value, "                   \
    "does_not_include_value, greater_than, greater_than_or_equal_to, less_than, less_than_or_equal_to, "         \
    "less_than_x_days_ago, greater_than_x_days_ago, less_than_x_days_in_the_future, "                           \
    "greater_than_x_days_in_the_future, after, before, exists, does_not_exist"

TEST(audience_shape_errors_name_the_field) {
    T_EQ_INT(refused("[]", "audience: must be an object: " KEYS), 0);
    T_EQ_INT(refused("\"gold\"", "audience: must be an object: " KEYS), 0);
    T_EQ_INT(refused("{}", "audience: must have exactly one key, " KEYS "; found 0"), 0);
    T_EQ_INT(refused("{\"AND\":[" CA("a", "exists", "") "],\"OR\":[" CA("a", "exists", "") "]}",
                     "audience: must have exactly one key, " KEYS "; found 2"),
             0);
    T_EQ_INT(refused("{\"and\":[" CA("a", "exists", "") "]}", "audience: unknown key 'and': expected " KEYS), 0);
    T_EQ_INT(refused("{\"segment_id\":\"x\"}", "audience: unknown key 'segment_id': expected " KEYS), 0);
    T_EQ_INT(refused("{\"AND\":[]}", "audience: 'AND' must be a non-empty array of filters and groups"), 0);
    T_EQ_INT(refused("{\"OR\":{\"a\":1}}", "audience: 'OR' must be a non-empty array of filters and groups"), 0);
    T_EQ_INT(refused("{\"AND\":[" CA("a", "exists", "") ",5]}", "audience.AND[1]: must be an object: " KEYS), 0);
    T_EQ_INT(refused("{\"OR\":[" CA("a", "exists", "") ",{\"AND\":[{\"custom_event\":{}}]}]}",
                     "audience.OR[1].AND[0]: unknown key 'custom_event': expected " KEYS),
             0);
    /* A NULL audience (no "audience" in the request) is not an object either. */
    json_object *def = NULL;
    char why[AUDIENCE_WHY_MAX];
    T_EQ_INT(audience_compile(NULL, &def, why, sizeof why), BR_EINVAL);
    T_EQ_STR(why, "audience: must be an object: " KEYS);
    T_TRUE(def == NULL);
    /* A short why buffer gets a truncated message, never an overflow. */
    char small[16];
    json_object *a = json_tokener_parse("{\"AND\":[]}");
    T_EQ_INT(audience_compile(a, &def, small, sizeof small), BR_EINVAL);
    T_EQ_STR(small, "audience: 'AND'");
    json_object_put(a);
}

TEST(audience_custom_attribute_errors_name_the_field) {
    T_EQ_INT(refused("{\"custom_attribute\":\"tier\"}",
                     "audience: custom_attribute must be an object with 'custom_attribute_name', 'comparison' and 'value'"),
             0);
    T_EQ_INT(refused("{\"custom_attribute\":{\"custom_attribute_name\":\"t\",\"comparison\":\"exists\",\"values\":1}}",
                     "audience: custom_attribute: unknown key 'values' (keys: custom_attribute_name, comparison, value)"),
             0);
    T_EQ_INT(refused("{\"custom_attribute\":{\"comparison\":\"exists\"}}",
                     "audience: custom_attribute: 'custom_attribute_name' must be a non-empty string"),
             0);
    T_EQ_INT(refused(CA("", "exists", ""), "audience: custom_attribute: 'custom_attribute_name' must be a non-empty string"), 0);
    T_EQ_INT(refused("{\"custom_attribute\":{\"custom_attribute_name\":5,\"comparison\":\"exists\"}}",
                     "audience: custom_attribute: 'custom_attribute_name' must be a non-empty string"),
             0);
    T_EQ_INT(refused(CA("$t", "exists", ""),
                     "audience: custom_attribute '$t': not a valid attribute name (1-255 characters, not starting with '$')"),
             0);
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = 0;
    char json[1024], want[1024];
    snprintf(json, sizeof json, CA("%s", "exists", ""), longname);
    snprintf(want, sizeof want,
             "audience: custom_attribute '%.64s...': not a valid attribute name (1-255 characters, not starting with '$')", longname);
    T_EQ_INT(refused(json, want), 0);
    /* Names in messages are cut between UTF-8 characters, not inside one. */
    buf_t nb = BUF_INIT, wb = BUF_INIT;
    buf_puts(&nb, "a");
    for (int i = 0; i < 150; i++) buf_puts(&nb, "é");
    buf_puts(&wb, "audience: custom_attribute 'a");
    for (int i = 0; i < 31; i++) buf_puts(&wb, "é");
    buf_puts(&wb, "...': not a valid attribute name (1-255 characters, not starting with '$')");
    snprintf(json, sizeof json, CA("%s", "exists", ""), nb.data);
    T_EQ_INT(refused(json, wb.data), 0);
    buf_reset(&nb);
    for (int i = 0; i < 40; i++) buf_puts(&nb, "ab");
    snprintf(json, sizeof json, "{\"custom_attribute\":{\"%s\":1}}", nb.data);
    snprintf(want, sizeof want, "audience: custom_attribute: unknown key '%.64s...' (keys: custom_attribute_name, comparison, value)", nb.data);
    T_EQ_INT(refused(json, want), 0);
    buf_free(&nb);
    buf_free(&wb);
    T_EQ_INT(refused(CA("email", "exists", ""),
                     "audience: custom_attribute 'email': 'email' is a standard attribute; a connected audience filters "
                     "custom attributes only (use a segment)"),
             0);
    T_EQ_INT(refused("{\"custom_attribute\":{\"custom_attribute_name\":\"tier\"}}",
                     "audience: custom_attribute 'tier': 'comparison' must be a string"),
             0);
    T_EQ_INT(refused("{\"custom_attribute\":{\"custom_attribute_name\":\"tier\",\"comparison\":[\"equals\"]}}",
                     "audience: custom_attribute 'tier': 'comparison' must be a string"),
             0);
    T_EQ_INT(refused(CA("tier", "equals\\u0000", ",\"value\":3"), "audience: custom_attribute 'tier': 'comparison' must be a string"), 0);
    T_EQ_INT(refused(CA("t\\u0000ier", "exists", ""),
                     "audience: custom_attribute 't': not a valid attribute name (1-255 characters, not starting with '$')"),
             0);
    T_EQ_INT(refused(CA("tier", "bigger", ",\"value\":3"), "audience: custom_attribute 'tier': comparison 'bigger' is not one of " CMPS), 0);
    T_EQ_INT(refused("{\"OR\":[" CA("a", "exists", "") "," CA("tier", "EQUALS", ",\"value\":3") "]}",
                     "audience.OR[1]: custom_attribute 'tier': comparison 'EQUALS' is not one of " CMPS),
             0);
    /* The longest message (deepest path, longest name and comparison) fits AUDIENCE_WHY_MAX. */
    buf_t deep = BUF_INIT;
    char cmp[301];
    memset(cmp, 'c', 300);
    cmp[300] = 0;
    longname[255] = 0;
    for (int i = 0; i < 10; i++) buf_puts(&deep, "{\"OR\":[" CA("a", "exists", "") ",");
    buf_printf(&deep, CA("%s", "%s", ""), longname, cmp);
    for (int i = 0; i < 10; i++) buf_puts(&deep, "]}");
    json_object *a = json_tokener_parse(deep.data), *def = NULL;
    char msg[AUDIENCE_WHY_MAX];
    T_EQ_INT(audience_compile(a, &def, msg, sizeof msg), BR_EINVAL);
    T_TRUE(strlen(msg) < sizeof msg - 1);
    T_TRUE(strstr(msg, "audience.OR[1].OR[1].OR[1].OR[1].OR[1].OR[1].OR[1].OR[1].OR[1].OR[1]: custom_attribute 'nnn") == msg);
    T_TRUE(strstr(msg, "': comparison 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc...' is not one of equals,"));
    T_TRUE(strstr(msg, ", exists, does_not_exist") && msg[strlen(msg) - 1] == 't');
    json_object_put(a);
    buf_free(&deep);
}

TEST(audience_custom_attribute_values_are_checked_by_comparison) {
#define NEEDS(cmp, value, words) \
    refused(CA("tier", cmp, value), "audience: custom_attribute 'tier': comparison '" cmp "' needs " words)
    /* missing */
    static const char *const with_value[] = {"equals", "not_equal", "does_not_equal", "matches_regex", "does_not_match_regex",
                                             "includes_value", "does_not_include_value", "greater_than",
                                             "greater_than_or_equal_to", "less_than", "less_than_or_equal_to",
                                             "less_than_x_days_ago", "greater_than_x_days_ago",
                                             "less_than_x_days_in_the_future", "greater_than_x_days_in_the_future",
                                             "after", "before"};
    for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++) {
        char json[300], want[300];
        snprintf(json, sizeof json, CA("tier", "%s", ""), with_value[i]);
        snprintf(want, sizeof want, "audience: custom_attribute 'tier': comparison '%s' needs a 'value'", with_value[i]);
        T_EQ_INT(refused(json, want), 0);
    }
    /* of the wrong type */
    T_EQ_INT(NEEDS("equals", ",\"value\":null", "a 'value'"), 0); /* null is no value */
    T_EQ_INT(NEEDS("equals", ",\"value\":[\"gold\"]", "a string, number or boolean 'value'"), 0);
    T_EQ_INT(NEEDS("equals", ",\"value\":{\"a\":1}", "a string, number or boolean 'value'"), 0);
    T_EQ_INT(NEEDS("not_equal", ",\"value\":true", "a string or number 'value' (for a boolean, use 'does_not_equal')"), 0);
    T_EQ_INT(NEEDS("not_equal", ",\"value\":null", "a 'value'"), 0);
    T_EQ_INT(NEEDS("does_not_equal", ",\"value\":\"gold\"", "a boolean 'value' (for a string or number, use 'not_equal')"), 0);
    T_EQ_INT(NEEDS("does_not_equal", ",\"value\":1", "a boolean 'value' (for a string or number, use 'not_equal')"), 0);
    T_EQ_INT(NEEDS("matches_regex", ",\"value\":5", "a string 'value' (the regex)"), 0);
    T_EQ_INT(NEEDS("does_not_match_regex", ",\"value\":true", "a string 'value' (the regex)"), 0);
    T_EQ_INT(NEEDS("matches_regex", ",\"value\":\"^a\\u0000\"", "a string 'value' (the regex)"), 0);
    T_EQ_INT(NEEDS("includes_value", ",\"value\":true", "a string or number 'value' (the array element)"), 0);
    T_EQ_INT(NEEDS("includes_value", ",\"value\":[\"a\"]", "a string or number 'value' (the array element)"), 0);
    T_EQ_INT(NEEDS("does_not_include_value", ",\"value\":{}", "a string or number 'value' (the array element)"), 0);
    T_EQ_INT(NEEDS("greater_than", ",\"value\":\"5\"", "a number 'value'"), 0);
    T_EQ_INT(NEEDS("greater_than_or_equal_to", ",\"value\":true", "a number 'value'"), 0);
    T_EQ_INT(NEEDS("less_than", ",\"value\":[1]", "a number 'value'"), 0);
    T_EQ_INT(NEEDS("less_than_or_equal_to", ",\"value\":null", "a 'value'"), 0);
#define DAYS_WORDS "a whole number of days from 0 to 1000000000 as 'value'"
    T_EQ_INT(NEEDS("less_than_x_days_ago", ",\"value\":\"7\"", DAYS_WORDS), 0);
    T_EQ_INT(NEEDS("greater_than_x_days_ago", ",\"value\":1.5", DAYS_WORDS), 0);
    T_EQ_INT(NEEDS("less_than_x_days_in_the_future", ",\"value\":-1", DAYS_WORDS), 0);
    T_EQ_INT(NEEDS("greater_than_x_days_in_the_future", ",\"value\":1e10", DAYS_WORDS), 0);
    T_EQ_INT(NEEDS("after", ",\"value\":\"yesterday\"", "an ISO-8601 time string as 'value'"), 0);
    T_EQ_INT(NEEDS("before", ",\"value\":1700000000", "an ISO-8601 time string as 'value'"), 0);
    T_EQ_INT(NEEDS("after", ",\"value\":\"2023-02-30\"", "an ISO-8601 time string as 'value'"), 0);
    /* regexes the engine refuses, with its reason */
    char out[512], why[AUDIENCE_WHY_MAX];
    T_EQ_INT(acompile(CA("tier", "matches_regex", ",\"value\":\"(a)\\\\1\""), out, sizeof out, why, sizeof why), BR_EINVAL);
    T_TRUE(strstr(why, "audience: custom_attribute 'tier': invalid regex: ") == why && strstr(why, "backreference"));
    T_EQ_INT(acompile(CA("tier", "does_not_match_regex", ",\"value\":\"(a{100}){100}\""), out, sizeof out, why, sizeof why), BR_EINVAL);
    T_TRUE(strstr(why, "audience: custom_attribute 'tier': invalid regex: ") == why && strstr(why, "too costly"));
#undef NEEDS
}

TEST(audience_other_filter_errors_name_the_field) {
    T_EQ_INT(refused("{\"push_subscription_status\":\"opted_in\"}",
                     "audience: push_subscription_status must be an object with 'comparison' and 'value'"),
             0);
    T_EQ_INT(refused("{\"email_subscription_status\":{\"comparison\":\"is\",\"value\":\"opted_in\",\"app\":1}}",
                     "audience: email_subscription_status: unknown key 'app' (keys: comparison, value)"),
             0);
    T_EQ_INT(refused("{\"push_subscription_status\":{\"value\":\"opted_in\"}}",
                     "audience: push_subscription_status: 'comparison' must be one of is, is_not"),
             0);
    T_EQ_INT(refused("{\"push_subscription_status\":{\"comparison\":\"equals\",\"value\":\"opted_in\"}}",
                     "audience: push_subscription_status: 'comparison' must be one of is, is_not"),
             0);
    T_EQ_INT(refused("{\"email_subscription_status\":{\"comparison\":\"is\"}}",
                     "audience: email_subscription_status: 'value' must be one of opted_in, subscribed, unsubscribed"),
             0);
    T_EQ_INT(refused("{\"email_subscription_status\":{\"comparison\":\"is_not\",\"value\":\"Subscribed\"}}",
                     "audience: email_subscription_status: 'value' must be one of opted_in, subscribed, unsubscribed"),
             0);
    T_EQ_INT(refused("{\"push_subscription_status\":{\"comparison\":\"is\",\"value\":\"opted_in\\u0000\"}}",
                     "audience: push_subscription_status: 'value' must be one of opted_in, subscribed, unsubscribed"),
             0);
    T_EQ_INT(refused("{\"push_subscription_status\":{\"comparison\":\"is\\u0000not\",\"value\":\"opted_in\"}}",
                     "audience: push_subscription_status: 'comparison' must be one of is, is_not"),
             0);
    T_EQ_INT(refused("{\"push_subscription_status\":{\"comparison\":\"is\",\"value\":1}}",
                     "audience: push_subscription_status: 'value' must be one of opted_in, subscribed, unsubscribed"),
             0);
    T_EQ_INT(refused("{\"last_used_app\":[]}", "audience: last_used_app must be an object with 'comparison' and 'value'"), 0);
    T_EQ_INT(refused("{\"last_used_app\":{\"comparison\":\"after\",\"value\":\"2023-01-01\",\"app_id\":\"x\"}}",
                     "audience: last_used_app: unknown key 'app_id' (keys: comparison, value)"),
             0);
    T_EQ_INT(refused("{\"last_used_app\":{\"comparison\":\"on\",\"value\":\"2023-01-01\"}}",
                     "audience: last_used_app: 'comparison' must be one of after, before"),
             0);
    T_EQ_INT(refused("{\"last_used_app\":{\"value\":\"2023-01-01\"}}", "audience: last_used_app: 'comparison' must be one of after, before"), 0);
    T_EQ_INT(refused("{\"last_used_app\":{\"comparison\":\"before\"}}", "audience: last_used_app: 'value' must be an ISO-8601 time string"), 0);
    T_EQ_INT(refused("{\"last_used_app\":{\"comparison\":\"before\",\"value\":\"last week\"}}",
                     "audience: last_used_app: 'value' must be an ISO-8601 time string"),
             0);
    T_EQ_INT(refused("{\"AND\":[{\"last_used_app\":{\"comparison\":\"before\",\"value\":30}}]}",
                     "audience.AND[0]: last_used_app: 'value' must be an ISO-8601 time string"),
             0);
}

/* ---- against profiles ---------------------------------------------------- */

static void iso(int64_t ms, char *out) { timefmt_iso(ms, out, 40); }

/* The users of the evaluation tests, written by /users/track at now:
 *   a: gold, 10, vip, tags [x y], nums [1 2], renew in 5 days, signed up 3 days ago,
 *      push opted in, email unsubscribed, last used the app a day ago
 *   b: silver, 3.5, not vip, tags [y], nums ["2"], renew in 40 days, signed up 100 days ago,
 *      push unsubscribed, last used 30 days ago
 *   c: every attribute of another type (tier 5, score "high", vip "true", tags "x",
 *      signup "soon"), email opted in
 *   d: no attributes at all (default statuses: subscribed)
 *   e: "Gold", 10.0, vip, tags [z], renewed 2 days ago, signs up in 10 days,
 *      push subscribed, last used 200 days ago */
static void track_users(int64_t now, char *buf, size_t len) {
    char t[8][40];
    iso(now + 5 * DAY, t[0]);
    iso(now - 3 * DAY, t[1]);
    iso(now - 1 * DAY, t[2]);
    iso(now + 40 * DAY, t[3]);
    iso(now - 100 * DAY, t[4]);
    iso(now - 30 * DAY, t[5]);
    iso(now - 2 * DAY, t[6]);
    iso(now + 10 * DAY, t[7]);
    char e_last[40];
    iso(now - 200 * DAY, e_last);
    snprintf(buf, len,
             "{\"attributes\":["
             "{\"external_id\":\"a\",\"tier\":\"gold\",\"score\":10,\"vip\":true,\"tags\":[\"x\",\"y\"],\"nums\":[1,2],"
             "\"renew\":\"%s\",\"signup\":\"%s\",\"push_subscribe\":\"opted_in\",\"email_subscribe\":\"unsubscribed\","
             "\"date_of_last_session\":\"%s\"},"
             "{\"external_id\":\"b\",\"tier\":\"silver\",\"score\":3.5,\"vip\":false,\"tags\":[\"y\"],\"nums\":[\"2\"],"
             "\"renew\":\"%s\",\"signup\":\"%s\",\"push_subscribe\":\"unsubscribed\",\"date_of_last_session\":\"%s\"},"
             "{\"external_id\":\"c\",\"tier\":5,\"score\":\"high\",\"vip\":\"true\",\"tags\":\"x\",\"signup\":\"soon\","
             "\"email_subscribe\":\"opted_in\"},"
             "{\"external_id\":\"d\"},"
             "{\"external_id\":\"e\",\"tier\":\"Gold\",\"score\":10.0,\"vip\":true,\"tags\":[\"z\"],\"renew\":\"%s\","
             "\"signup\":\"%s\",\"push_subscribe\":\"subscribed\",\"date_of_last_session\":\"%s\"}]}",
             t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], e_last);
}

/* The external ids of rows, sorted, comma-separated. */
static void ids_of(users_t *u, const bitmap_t *rows, char *out, size_t len) {
    char ids[64][32];
    int n = 0;
    for (uint32_t r = 0; r < users_rows(u) && n < 64; r++) {
        if (!bitmap_contains(rows, r)) continue;
        pfield f;
        profile_t *p = users_get(u, r);
        if (p->blob && profile_get(p->blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f))
            snprintf(ids[n++], sizeof ids[0], "%.*s", (int)f.len, (const char *)f.p);
    }
    qsort(ids, (size_t)n, sizeof ids[0], (int (*)(const void *, const void *))strcmp);
    *out = 0;
    for (int i = 0; i < n; i++) snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "", ids[i]);
}

typedef struct {
    const char *audience; /* %1$s..: times, see cases() */
    const char *want;     /* external ids */
} acase;

/* Times the cases use, relative to now: 0 now, 1 7 days ago, 2 50 days ago, 3 100 days ago. */
#define T_NOW "\"%1$s\""
#define T_7AGO "\"%2$s\""
#define T_50AGO "\"%3$s\""
#define T_100AGO "\"%4$s\""

static const acase cases[] = {
    /* strings; c's tier is a number, d has none, e's is "Gold" */
    {CA("tier", "equals", ",\"value\":\"gold\""), "a"},
    {CA("tier", "not_equal", ",\"value\":\"gold\""), "b,c,d,e"},
    {CA("tier", "matches_regex", ",\"value\":\"^gold$\""), "a,e"}, /* regexes ignore case */
    {CA("tier", "does_not_match_regex", ",\"value\":\"^gold$\""), "b,c,d"},
    {CA("tier", "matches_regex", ",\"value\":\"l\""), "a,b,e"},
    {CA("tier", "exists", ""), "a,b,c,e"},
    {CA("tier", "does_not_exist", ""), "d"},
    {CA("tier", "equals", ",\"value\":5"), "c"}, /* a number comparison: only c's number */
    {CA("tier", "not_equal", ",\"value\":5"), "a,b,d,e"},
    /* numbers; c's score is a string */
    {CA("score", "equals", ",\"value\":10"), "a,e"}, /* 10 and 10.0 */
    {CA("score", "equals", ",\"value\":\"high\""), "c"},
    {CA("score", "not_equal", ",\"value\":10"), "b,c,d"},
    {CA("score", "greater_than", ",\"value\":3.5"), "a,e"},
    {CA("score", "greater_than_or_equal_to", ",\"value\":3.5"), "a,b,e"},
    {CA("score", "less_than", ",\"value\":10"), "b"},
    {CA("score", "less_than_or_equal_to", ",\"value\":10"), "a,b,e"},
    {CA("score", "less_than_or_equal_to", ",\"value\":3"), ""},
    {CA("score", "exists", ""), "a,b,c,e"},
    /* booleans; c's vip is the string "true" */
    {CA("vip", "equals", ",\"value\":true"), "a,e"},
    {CA("vip", "equals", ",\"value\":false"), "b"},
    {CA("vip", "does_not_equal", ",\"value\":true"), "b,c,d"},
    {CA("vip", "does_not_equal", ",\"value\":false"), "a,c,d,e"},
    {CA("vip", "equals", ",\"value\":\"true\""), "c"},
    {CA("vip", "does_not_exist", ""), "d"},
    /* arrays; c's tags is a string */
    {CA("tags", "includes_value", ",\"value\":\"y\""), "a,b"},
    {CA("tags", "includes_value", ",\"value\":\"x\""), "a"},
    {CA("tags", "does_not_include_value", ",\"value\":\"y\""), "c,d,e"},
    {CA("tags", "exists", ""), "a,b,c,e"},
    {CA("nums", "includes_value", ",\"value\":2"), "a"},
    {CA("nums", "includes_value", ",\"value\":2.0"), "a"},
    {CA("nums", "includes_value", ",\"value\":\"2\""), "b"},
    {CA("nums", "does_not_include_value", ",\"value\":1"), "b,c,d,e"},
    /* times; c's signup is the string "soon" */
    {CA("renew", "less_than_x_days_in_the_future", ",\"value\":10"), "a"},
    {CA("renew", "less_than_x_days_in_the_future", ",\"value\":40"), "a,b"},
    {CA("renew", "greater_than_x_days_in_the_future", ",\"value\":10"), "b"},
    {CA("renew", "greater_than_x_days_in_the_future", ",\"value\":0"), "a,b"},
    {CA("renew", "less_than_x_days_ago", ",\"value\":7"), "e"},
    {CA("signup", "less_than_x_days_ago", ",\"value\":7"), "a"},
    {CA("signup", "greater_than_x_days_ago", ",\"value\":7"), "b"},
    {CA("signup", "greater_than_x_days_ago", ",\"value\":150"), ""},
    {CA("signup", "less_than_x_days_in_the_future", ",\"value\":30"), "e"},
    {CA("signup", "after", ",\"value\":" T_NOW), "e"},
    {CA("signup", "after", ",\"value\":" T_50AGO), "a,e"},
    {CA("signup", "before", ",\"value\":" T_50AGO), "b"},
    {CA("signup", "exists", ""), "a,b,c,e"},
    {CA("signup", "does_not_exist", ""), "d"},
    /* subscription statuses: no status is "subscribed" */
    {"{\"push_subscription_status\":{\"comparison\":\"is\",\"value\":\"opted_in\"}}", "a"},
    {"{\"push_subscription_status\":{\"comparison\":\"is\",\"value\":\"subscribed\"}}", "c,d,e"},
    {"{\"push_subscription_status\":{\"comparison\":\"is\",\"value\":\"unsubscribed\"}}", "b"},
    {"{\"push_subscription_status\":{\"comparison\":\"is_not\",\"value\":\"subscribed\"}}", "a,b"},
    {"{\"email_subscription_status\":{\"comparison\":\"is\",\"value\":\"subscribed\"}}", "b,d,e"},
    {"{\"email_subscription_status\":{\"comparison\":\"is\",\"value\":\"opted_in\"}}", "c"},
    {"{\"email_subscription_status\":{\"comparison\":\"is_not\",\"value\":\"unsubscribed\"}}", "b,c,d,e"},
    /* last used app: c and d never did */
    {"{\"last_used_app\":{\"comparison\":\"after\",\"value\":" T_7AGO "}}", "a"},
    {"{\"last_used_app\":{\"comparison\":\"before\",\"value\":" T_7AGO "}}", "b,e"},
    {"{\"last_used_app\":{\"comparison\":\"before\",\"value\":" T_100AGO "}}", "e"},
    {"{\"last_used_app\":{\"comparison\":\"after\",\"value\":" T_NOW "}}", ""},
    /* nesting */
    {"{\"AND\":[{\"OR\":[" CA("tier", "equals", ",\"value\":\"gold\"") "," CA("tier", "equals", ",\"value\":\"silver\"") "]},"
     "{\"push_subscription_status\":{\"comparison\":\"is_not\",\"value\":\"unsubscribed\"}}]}",
     "a"},
    {"{\"OR\":[{\"AND\":[" CA("score", "greater_than_or_equal_to", ",\"value\":3.5") "," CA("vip", "does_not_equal", ",\"value\":true") "]},"
     "{\"last_used_app\":{\"comparison\":\"before\",\"value\":" T_100AGO "}}]}",
     "b,e"},
    {"{\"AND\":[" CA("tier", "exists", "") ",{\"OR\":[{\"AND\":[" CA("tags", "includes_value", ",\"value\":\"y\"") ","
     "{\"email_subscription_status\":{\"comparison\":\"is\",\"value\":\"subscribed\"}}]}," CA("score", "equals", ",\"value\":\"high\"") "]}]}",
     "b,c"},
    {"{\"OR\":[" CA("nope", "exists", "") "]}", ""},
    {"{\"AND\":[" CA("nope", "does_not_exist", "") ",{\"OR\":[" CA("tier", "does_not_exist", "") "]}]}", "d"},
};

/* The case's audience with its times filled in for now. */
static void case_json(const acase *k, int64_t now, char *out, size_t len) {
    char t[4][40];
    iso(now, t[0]);
    iso(now - 7 * DAY, t[1]);
    iso(now - 50 * DAY, t[2]);
    iso(now - 100 * DAY, t[3]);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(out, len, k->audience, t[0], t[1], t[2], t[3]);
#pragma GCC diagnostic pop
}

static json_object *compiled(const char *json) {
    json_object *a = json_tokener_parse(json), *def = NULL;
    char why[AUDIENCE_WHY_MAX];
    if (!a || audience_compile(a, &def, why, sizeof why)) printf("    %s\n    refused: %s\n", json, why);
    json_object_put(a);
    return def;
}

TEST(audience_matches_profiles_as_braze_documents) {
    fixture_world w = fixture_world_new();
    char body[4096];
    track_users(NOW, body, sizeof body);
    api_track_result r = fixture_world_track(&w, NOW, body);
    T_EQ_INT(r.processed[0], 5);
    T_TRUE(r.errors == NULL);
    cols_t *cols = cols_new();
    cols_build(cols, w.u);
    seg_env env = {w.u, w.n, w.c, cols, NOW};
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[2048], why[400], got[256], ref[256];
        case_json(&cases[i], NOW, json, sizeof json);
        json_object *def = compiled(json);
        seg_def *d = NULL;
        if (!def || seg_compile(def, NULL, NULL, NULL, &d, why, sizeof why)) {
            bad++;
            json_object_put(def);
            continue;
        }
        bitmap_t *fast = seg_eval(d, &env), *slow = bitmap_new();
        for (uint32_t row = 0; row < users_rows(w.u); row++)
            if (seg_match_row(d, &env, row)) bitmap_add(slow, row);
        ids_of(w.u, fast, got, sizeof got);
        ids_of(w.u, slow, ref, sizeof ref);
        if (strcmp(got, cases[i].want) || strcmp(ref, cases[i].want)) {
            printf("    %s\n    evaluator {%s}, reference {%s}, want {%s}\n", json, got, ref, cases[i].want);
            bad++;
        }
        bitmap_free(fast);
        bitmap_free(slow);
        seg_free(d);
        json_object_put(def);
    }
    T_EQ_INT(bad, 0);
    cols_free(cols);
    fixture_world_free(&w);
}

/* ---- through the engine -------------------------------------------------- */

typedef struct {
    const bitmap_t *rows;
    char ids[256];
} ids_arg;

static int ids_read(engine_t *e, void *arg) {
    ids_arg *x = arg;
    ids_of(engine_users(e), x->rows, x->ids, sizeof x->ids);
    return 0;
}

/* What a messaging endpoint does with an audience: compile it, evaluate
 * the definition as an engine read (segs_eval_json_read), then and after
 * changes to the profiles. */
TEST(audience_evaluates_through_the_engine) {
    char *dir = tmpdir();
    store_t *s;
    engine_t *e;
    T_EQ_INT(fixture_open(dir, &s, &e), 0);
    int64_t now = clock_wall_ms();
    char body[4096];
    track_users(now, body, sizeof body);
    T_EQ_INT(fixture_track(e, body), 0);
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[2048];
        case_json(&cases[i], now, json, sizeof json);
        segs_eval_json x = {.def = compiled(json)};
        if (!x.def || eng_exec_read(e, segs_eval_json_read, &x) != 0) {
            printf("    %s\n    not evaluated: %s\n", json, x.why);
            bad++;
        } else {
            ids_arg ia = {x.rows, ""};
            eng_exec_read(e, ids_read, &ia);
            if (strcmp(ia.ids, cases[i].want)) {
                printf("    %s\n    got {%s}, want {%s}\n", json, ia.ids, cases[i].want);
                bad++;
            }
        }
        bitmap_free(x.rows);
        json_object_put(x.def);
    }
    T_EQ_INT(bad, 0);
    /* d opts in to push and uses the app; a is deleted: the next evaluation follows. */
    char last[40], t7[40];
    iso(now - DAY, last);
    iso(now - 7 * DAY, t7);
    snprintf(body, sizeof body,
             "{\"attributes\":[{\"external_id\":\"d\",\"push_subscribe\":\"opted_in\",\"date_of_last_session\":\"%s\"}]}", last);
    T_EQ_INT(fixture_track(e, body), 0);
    T_EQ_INT(fixture_identity(e, IDENTITY_DELETE, "{\"external_ids\":[\"a\"]}"), 0);
    char json[512];
    snprintf(json, sizeof json,
             "{\"AND\":[{\"push_subscription_status\":{\"comparison\":\"is\",\"value\":\"opted_in\"}},"
             "{\"last_used_app\":{\"comparison\":\"after\",\"value\":\"%s\"}}]}",
             t7);
    segs_eval_json x = {.def = compiled(json)};
    T_EQ_INT(eng_exec_read(e, segs_eval_json_read, &x), 0);
    ids_arg ia = {x.rows, ""};
    eng_exec_read(e, ids_read, &ia);
    T_EQ_STR(ia.ids, "d");
    bitmap_free(x.rows);
    json_object_put(x.def);
    fixture_close(s, e, false);
    rmdir_r(dir);
}
