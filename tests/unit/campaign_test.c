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
