/* campaign_test.c -- campaign documents (src/send/campaign.c): what a
 * refused body leaves behind. camp_build borrows the body; a refusal must
 * drop exactly the references it took, or the caller's body is left with
 * a freed member (json-c is not instrumented, so ASan cannot see it: the
 * tests count references instead). */
#include "test.h"
#include "lib/err.h"
#include "lib/json.h"
#include "send/campaign.h"

#include <json-c/json.h>

/* Builds from body_json, expecting a refusal; returns whether the member
 * `field` of the body still has exactly the body's reference and ours. */
static bool member_intact(const char *body_json, const char *field, const char *want_why) {
    json_object *body = json_tokener_parse(body_json), *doc = NULL;
    json_object *member = json_object_get(json_get(body, field)); /* ours */
    char why[400] = "";
    int rc = camp_build(body, NULL, 0, &doc, why, sizeof why);
    bool ok = rc == BR_EINVAL && !doc && !strcmp(why, want_why);
    if (!ok) printf("    rc %d, why \"%s\"\n", rc, why);
    /* Ours is not the last reference: the body still holds one. */
    ok &= json_object_put(member) == 0;
    json_object_put(body);
    return ok;
}

TEST(camp_refused_conversion_event_keeps_body) {
    T_TRUE(member_intact("{\"name\":\"C\",\"kind\":\"api\",\"variations\":[{\"channel\":\"webhook\"}],"
                         "\"conversion_events\":[{\"type\":\"opens\"}]}",
                         "conversion_events",
                         "conversion_events[0].type must be performs_custom_event, makes_purchase or starts_session"));
    T_TRUE(member_intact("{\"name\":\"C\",\"kind\":\"api\",\"variations\":[{\"channel\":\"webhook\"}],"
                         "\"conversion_events\":[{\"type\":\"starts_session\",\"window_hours\":0}]}",
                         "conversion_events", "conversion_events[0].window_hours must be an integer from 1 to 720"));
}

TEST(camp_refused_fields_keep_body) {
    T_TRUE(member_intact("{\"name\":\"C\",\"kind\":\"api\",\"variations\":[{\"channel\":\"sms\"}]}", "variations",
                         "variations[0].channel must be \"webhook\" or \"email\""));
    T_TRUE(member_intact("{\"name\":\"C\",\"kind\":\"api\",\"tags\":[5],\"variations\":[{\"channel\":\"webhook\"}]}", "tags",
                         "'tags' must be an array of at most 50 strings of 1 to 255 bytes"));
    T_TRUE(member_intact("{\"name\":\"C\",\"kind\":\"api\",\"variations\":[{\"channel\":\"webhook\"}],\"draft\":\"no\"}", "variations",
                         "'draft' must be a boolean"));
}

TEST(camp_refused_transactional_keeps_body) {
    const char *v = "\"variations\":[{\"channel\":\"email\",\"content\":{\"app_id\":\"a\",\"from\":\"a@b.c\",\"body\":\"b\"}}]";
    char b[400];
    T_TRUE(member_intact("{\"name\":\"T\",\"kind\":\"api\",\"variations\":[{\"channel\":\"email\"}],"
                         "\"postback_url\":\"https://x.example/p\"}",
                         "postback_url", "'postback_url' is for transactional campaigns"));
    snprintf(b, sizeof b, "{\"name\":\"T\",\"kind\":\"transactional\",%s,\"postback_url\":\"ftp://x\"}", v);
    T_TRUE(member_intact(b, "postback_url", "'postback_url' must be an http:// or https:// URL of at most 2048 bytes"));
    snprintf(b, sizeof b, "{\"name\":\"T\",\"kind\":\"transactional\",%s,\"control_percent\":5}", v);
    T_TRUE(member_intact(b, "variations", "a transactional campaign has no control group (control_percent 0)"));
    T_TRUE(member_intact("{\"name\":\"T\",\"kind\":\"transactional\",\"variations\":[{\"channel\":\"email\"},{\"channel\":\"email\"}]}",
                         "variations", "a transactional campaign has exactly one variation"));
    T_TRUE(member_intact("{\"name\":\"T\",\"kind\":\"transactional\",\"variations\":[{\"channel\":\"webhook\"}]}", "variations",
                         "variations[0].channel: a transactional campaign sends email"));
}

TEST(camp_transactional_document) {
    json_object *body = json_tokener_parse("{\"name\":\"T\",\"kind\":\"transactional\",\"postback_url\":\"https://x.example/p\","
                                           "\"variations\":[{\"channel\":\"email\",\"content\":{\"app_id\":\"a\",\"from\":\"a@b.c\","
                                           "\"subject\":\"s\",\"body\":\"b\"}}]}"),
                *doc = NULL;
    char why[400] = "";
    T_EQ_INT(camp_build(body, NULL, 0, &doc, why, sizeof why), 0);
    T_TRUE(camp_is_transactional(doc));
    T_TRUE(!camp_is_triggered(doc));
    T_EQ_STR(json_object_get_string(json_get(doc, "postback_url")), "https://x.example/p");
    json_object_put(doc);
    json_object_put(body);
}
