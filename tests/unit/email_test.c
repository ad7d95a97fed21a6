/* email_test.c -- the email channel's side of the dispatcher
 * (src/send/email.c): who can be emailed under each
 * recipient_subscription_state, and one message rendered from a Braze
 * email object (Liquid in every field, extras as X-SMTPAPI, a from that
 * renders to no address refused). */
#include "test.h"
#include "send/email.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static json_object *user(const char *json) { return json_tokener_parse(json); }

TEST(email_recipient_follows_the_subscription_rule) {
    json_object *none = user("{\"email\":\"a@x.org\"}"), *sub = user("{\"email\":\"a@x.org\",\"email_subscribe\":\"subscribed\"}"),
                *opt = user("{\"email\":\"a@x.org\",\"email_subscribe\":\"opted_in\"}"),
                *uns = user("{\"email\":\"a@x.org\",\"email_subscribe\":\"unsubscribed\"}"), *noaddr = user("{\"email\":\"\"}");
    /* subscribed (the default): anyone but the unsubscribed */
    T_EQ_STR(email_recipient(none, NULL), "a@x.org");
    T_EQ_STR(email_recipient(sub, "subscribed"), "a@x.org");
    T_EQ_STR(email_recipient(opt, NULL), "a@x.org");
    T_TRUE(email_recipient(uns, NULL) == NULL);
    /* opted_in: only them */
    T_TRUE(email_recipient(sub, "opted_in") == NULL);
    T_EQ_STR(email_recipient(opt, "opted_in"), "a@x.org");
    /* all: the unsubscribed too; nobody without an address */
    T_EQ_STR(email_recipient(uns, "all"), "a@x.org");
    T_TRUE(email_recipient(noaddr, "all") == NULL);
    json_object *all[] = {none, sub, opt, uns, noaddr};
    for (int i = 0; i < 5; i++) json_object_put(all[i]);
}

static int render(const char *msg_json, const char *user_json, email_out *out, liq_error *err) {
    json_object *m = json_tokener_parse(msg_json), *u = json_tokener_parse(user_json);
    email_src *s = email_src_new(m);
    liq_renderer *r = liq_renderer_new();
    liq_render_opts o = {.context = u, .now_ms = 1782896400000LL};
    int rc = email_render(s, r, &o, NULL, json_object_get_string(json_object_object_get(u, "email")), "d1-u1-email",
                          1782896400000LL, out, err);
    liq_renderer_free(r);
    email_src_free(s);
    json_object_put(m);
    json_object_put(u);
    return rc;
}

TEST(email_render_fills_every_field_and_refuses_a_bad_from) {
    email_out out;
    liq_error err;
    int rc = render("{\"from\":\"{{first_name}} <news@brand.example>\",\"subject\":\"Hi {{first_name}}\","
                    "\"reply_to\":\"NO_REPLY_TO\",\"body\":\"<p>{{first_name}}</p>\",\"extras\":{\"k\":\"{{v}}\"}}",
                    "{\"email\":\"ann@x.org\",\"first_name\":\"Ann\"}", &out, &err);
    T_EQ_INT(rc, 0);
    T_EQ_STR(out.mail_from, "news@brand.example");
    char *msg = strndup(out.data, out.len);
    T_TRUE(strstr(msg, "From: Ann <news@brand.example>\r\n") != NULL);
    T_TRUE(strstr(msg, "To: ann@x.org\r\n") != NULL);
    T_TRUE(strstr(msg, "Subject: Hi Ann\r\n") != NULL);
    T_TRUE(strstr(msg, "Reply-To:") == NULL); /* NO_REPLY_TO: none */
    T_TRUE(strstr(msg, "Message-ID: <d1-u1-email@brand.example>\r\n") != NULL);
    /* extras are data, not Liquid: passed as they are */
    T_TRUE(strstr(msg, "X-SMTPAPI: {\"unique_args\":{\"k\":\"{{v}}\"}}\r\n") != NULL);
    free(msg);
    free(out.data);
    free(out.mail_from);

    rc = render("{\"from\":\"{{first_name}}\",\"subject\":\"s\",\"body\":\"b\"}", "{\"email\":\"ann@x.org\",\"first_name\":\"Ann\"}",
                &out, &err);
    T_EQ_INT(rc, LIQ_ERENDER);
    T_EQ_STR(err.message, "the from rendered to 'Ann', not an address such as Brand <news@brand.com>");
    rc = render("{\"from\":\"a@b.org\",\"reply_to\":\"{{x}}nope\",\"subject\":\"s\",\"body\":\"b\"}", "{\"email\":\"ann@x.org\"}",
                &out, &err);
    T_EQ_INT(rc, LIQ_ERENDER);
    T_EQ_STR(err.message, "the reply_to rendered to 'nope', not an address such as Brand <news@brand.com>");
}

/* One email_src renders users in turn, its last built body reused when a
 * user's body is the same: every message must be the bytes a fresh
 * email_src (nothing reused) gives for that user, whether the body was
 * reused, differs, or comes back after another. */
TEST(email_render_reuses_a_body_only_when_it_is_the_same) {
    static const char *msg = "{\"from\":\"Shop <news@shop.example>\",\"subject\":\"Hi {{first_name}}\","
                             "\"preheader\":\"{{tier}} news\",\"body\":\"<p>Sale {{tier}}</p><p>Line . one</p>\"}";
    static const char *users[] = {
        "{\"email\":\"a@x.org\",\"first_name\":\"Ann\",\"tier\":\"gold\"}",
        "{\"email\":\"b@x.org\",\"first_name\":\"Bob\",\"tier\":\"gold\"}",
        "{\"email\":\"c@x.org\",\"first_name\":\"Cy\",\"tier\":\"silver\"}",
        "{\"email\":\"d@x.org\",\"first_name\":\"Di\",\"tier\":\"gold\"}",
    };
    json_object *m = json_tokener_parse(msg);
    email_src *s = email_src_new(m);
    liq_renderer *r = liq_renderer_new();
    for (int i = 0; i < 4; i++) {
        json_object *u = json_tokener_parse(users[i]);
        liq_render_opts o = {.context = u, .now_ms = 1782896400000LL};
        email_out got, want;
        liq_error err;
        const char *to = json_object_get_string(json_object_object_get(u, "email"));
        T_EQ_INT(email_render(s, r, &o, NULL, to, "d1-u1-email", 1782896400000LL, &got, &err), 0);
        T_EQ_INT(render(msg, users[i], &want, &err), 0);
        T_EQ_INT((long)got.len, (long)want.len);
        T_TRUE(got.len == want.len && !memcmp(got.data, want.data, got.len));
        char *txt = strndup(got.data, got.len);
        T_TRUE(strstr(txt, i == 2 ? "Sale silver" : "Sale gold") != NULL);
        free(txt);
        free(got.data), free(got.mail_from), free(want.data), free(want.mail_from);
        json_object_put(u);
    }
    liq_renderer_free(r);
    email_src_free(s);
    json_object_put(m);
}
