/* limits_test.c -- per-user list limits (core/limits.h) through every way a
 * list grows, and push token imports (core/track.c). */
#include "test.h"
#include "fixture.h"
#include "core/export.h"
#include "core/limits.h"
#include "lib/buf.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL

typedef fixture_world world;

static json_object *export_of(world *w, const char *ext) {
    export_fields f = {0};
    uint32_t row = users_by_external_id(w->u, ext, strlen(ext));
    return row == USERS_NONE ? NULL : export_user(w->u, w->n, row, &f);
}

static size_t list_len(json_object *user, const char *key) {
    json_object *v;
    return json_object_object_get_ex(user, key, &v) ? json_object_array_length(v) : 0;
}

/* push_tokens of n tokens "<prefix>0".. with devices "<dprefix>0".. */
static void tokens(buf_t *b, const char *prefix, const char *dprefix, int from, int n) {
    buf_puts(b, "\"push_tokens\":[");
    for (int i = from; i < from + n; i++)
        buf_printf(b, "%s{\"app_id\":\"app\",\"token\":\"%s%d\",\"device_id\":\"%s%d\"}", i > from ? "," : "", prefix, i,
                   dprefix, i);
    buf_puts(b, "]");
}

static const char *error_type(const api_track_result *r, size_t i) {
    json_object *e = json_object_array_get_idx(r->errors, i), *t;
    return json_object_object_get_ex(e, "type", &t) ? json_object_get_string(t) : "(none)";
}

TEST(limits_push_tokens_and_devices_refuse_the_whole_object) {
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",");
    tokens(&b, "t", "d", 0, LIMIT_PUSH_TOKENS);
    buf_puts(&b, "}]}");
    api_track_result r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 1);
    T_TRUE(r.errors == NULL);
    /* One more token: the object is refused whole, the other one applies. */
    buf_reset(&b);
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"v\",\"ok\":1},{\"external_id\":\"u\",\"x\":1,");
    tokens(&b, "t", "d", LIMIT_PUSH_TOKENS, 1);
    buf_puts(&b, "}]}");
    r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 1);
    T_EQ_INT(json_object_array_length(r.errors), 1);
    T_EQ_STR(json_object_to_json_string_ext(r.errors, JSON_C_TO_STRING_PLAIN),
             "[{\"type\":\"the user would have more than 100 push tokens (the limit per user)\",\"input_array\":\"attributes\",\"index\":1}]");
    json_object_put(r.errors);
    json_object *x = export_of(&w, "u");
    T_EQ_INT(list_len(x, "push_tokens"), 100);
    T_EQ_INT(list_len(x, "devices"), 100);
    json_object *ca, *v;
    json_object_object_get_ex(x, "custom_attributes", &ca);
    T_TRUE(!json_object_object_get_ex(ca, "x", &v)); /* nothing of it */
    json_object_put(x);
    x = export_of(&w, "v");
    T_TRUE(x != NULL);
    json_object_put(x);
    /* A token it has, on a new device: no new token, but a 101st device. */
    r = fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"u\",\"push_tokens\":[{\"app_id\":\"app\",\"token\":\"t0\",\"device_id\":\"new\"}]}]}");
    T_EQ_INT(r.processed[0], 0);
    T_EQ_STR(error_type(&r, 0), "the user would have more than 100 devices (the limit per user)");
    json_object_put(r.errors);
    /* A token it has, on its device: nothing grows, accepted. */
    r = fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"u\",\"push_tokens\":[{\"app_id\":\"app\",\"token\":\"t0\",\"device_id\":\"d0\"}]}]}");
    T_EQ_INT(r.processed[0], 1);
    T_TRUE(r.errors == NULL);
    /* Nobody is created by a refused object either. */
    buf_reset(&b);
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"fresh\",");
    tokens(&b, "f", "fd", 0, LIMIT_PUSH_TOKENS + 1);
    buf_puts(&b, "}]}");
    r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 0);
    T_EQ_STR(error_type(&r, 0), "'push_tokens' has 101 tokens; a user holds at most 100");
    json_object_put(r.errors);
    T_EQ_INT(users_by_external_id(w.u, "fresh", 5), USERS_NONE);
    buf_free(&b);
    fixture_world_free(&w);
}

TEST(limits_objects_over_100kb_are_refused_not_dropped) {
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    char pad[251];
    memset(pad, 'p', 250); /* nested strings are at most 255 characters */
    pad[250] = '\0';
    /* 250 items of ~270 bytes, then 150 more: over 100 KB together. */
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"pets\":[");
    for (int i = 0; i < 250; i++) buf_printf(&b, "%s{\"id\":%d,\"pad\":\"%s\"}", i ? "," : "", i, pad);
    buf_puts(&b, "]}]}");
    api_track_result r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 1);
    T_TRUE(r.errors == NULL);
    buf_reset(&b);
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"n\":1,\"pets\":{\"$add\":[");
    for (int i = 250; i < 400; i++) buf_printf(&b, "%s{\"id\":%d,\"pad\":\"%s\"}", i > 250 ? "," : "", i, pad);
    buf_puts(&b, "]}}]}");
    r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 0);
    T_EQ_STR(error_type(&r, 0), "'pets' would be larger than 100 KB");
    json_object_put(r.errors);
    json_object *x = export_of(&w, "u"), *ca, *pets, *v;
    json_object_object_get_ex(x, "custom_attributes", &ca);
    json_object_object_get_ex(ca, "pets", &pets);
    T_EQ_INT(json_object_array_length(pets), 250);
    T_TRUE(!json_object_object_get_ex(ca, "n", &v));
    json_object_put(x);
    /* Braze's order: $add, then $remove (which can drop what was just
     * added), then $update. */
    r = fixture_world_track(&w, NOW,
                            "{\"attributes\":[{\"external_id\":\"u\",\"_merge_objects\":true,\"pets\":{"
                            "\"$add\":[{\"id\":500,\"pad\":\"x\"},{\"id\":501,\"pad\":\"y\"}],"
                            "\"$remove\":[{\"$identifier_key\":\"id\",\"$identifier_value\":500},{\"$identifier_key\":\"id\",\"$identifier_value\":0}],"
                            "\"$update\":[{\"$identifier_key\":\"id\",\"$identifier_value\":501,\"$new_object\":{\"pad\":\"z\"}}]}}]}");
    T_EQ_INT(r.processed[0], 1);
    x = export_of(&w, "u");
    json_object_object_get_ex(x, "custom_attributes", &ca);
    json_object_object_get_ex(ca, "pets", &pets);
    T_EQ_INT(json_object_array_length(pets), 250); /* 250 - id 0 + id 501 */
    json_object *last = json_object_array_get_idx(pets, 249);
    T_EQ_STR(json_object_to_json_string_ext(last, JSON_C_TO_STRING_PLAIN), "{\"id\":501,\"pad\":\"z\"}");
    json_object_put(x);
    /* Nested objects that grow past it by a merge: likewise. */
    buf_reset(&b);
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"o\":{\"a\":1");
    for (int i = 0; i < 300; i++) buf_printf(&b, ",\"k%d\":\"%s\"", i, pad);
    buf_puts(&b, "}}]}");
    r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 1);
    T_TRUE(r.errors == NULL);
    buf_reset(&b);
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"_merge_objects\":true,\"o\":{\"b\":1");
    for (int i = 0; i < 100; i++) buf_printf(&b, ",\"m%d\":\"%s\"", i, pad);
    buf_puts(&b, "}}]}");
    r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 0);
    T_EQ_STR(error_type(&r, 0), "'o' would be larger than 100 KB");
    json_object_put(r.errors);
    /* Replacing it (no merge) with a value of its own size is fine. */
    r = fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"u\",\"o\":{\"small\":true}}]}");
    T_EQ_INT(r.processed[0], 1);
    buf_free(&b);
    fixture_world_free(&w);
}

TEST(limits_aliases_and_deprecated_ids) {
    world w = fixture_world_new();
    fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"u0\"}]}");
    uint32_t row = users_by_external_id(w.u, "u0", 2);
    buf_t b = BUF_INIT;
    uint8_t out[IDENTITY_MAX];
    for (int part = 0; part < 2; part++) {
        buf_reset(&b);
        buf_puts(&b, "{\"user_aliases\":[");
        for (int i = 0; i < 50; i++)
            buf_printf(&b, "%s{\"external_id\":\"u0\",\"alias_name\":\"n\",\"alias_label\":\"l%d\"}", i ? "," : "", part * 50 + i);
        buf_puts(&b, "]}");
        T_EQ_INT(fixture_world_identity_out(&w, NOW, IDENTITY_ALIAS_NEW, b.data, out), 0);
        for (int i = 0; i < 50; i++) T_EQ_INT(out[i], IDO_OK);
    }
    T_EQ_INT(fixture_world_identity_out(&w, NOW, IDENTITY_ALIAS_NEW,
                                        "{\"user_aliases\":[{\"external_id\":\"u0\",\"alias_name\":\"n\",\"alias_label\":\"more\"},"
                                        "{\"alias_name\":\"solo\",\"alias_label\":\"more\"}]}",
                                        out),
             0);
    T_EQ_INT(out[0], IDO_OVER_ALIASES);
    T_EQ_INT(out[1], IDO_OK); /* an alias-only user of its own is fine */
    T_EQ_INT(users_by_alias(w.u, "more", 4, "n", 1), USERS_NONE);
    T_TRUE(users_by_alias(w.u, "more", 4, "solo", 4) != USERS_NONE);
    T_EQ_INT(users_by_alias(w.u, "l99", 3, "n", 1), row);
    /* Renames: the 101st deprecated id is refused, the id stays. */
    char body[256];
    for (int i = 0; i < LIMIT_OLD_IDS; i++) {
        snprintf(body, sizeof body, "{\"external_id_renames\":[{\"current_external_id\":\"u%d\",\"new_external_id\":\"u%d\"}]}", i, i + 1);
        fixture_world_identity_out(&w, NOW, IDENTITY_RENAME, body, out);
        T_EQ_INT(out[0], IDO_OK);
    }
    fixture_world_identity_out(&w, NOW, IDENTITY_RENAME,
                               "{\"external_id_renames\":[{\"current_external_id\":\"u100\",\"new_external_id\":\"u101\"}]}", out);
    T_EQ_INT(out[0], IDO_OVER_OLD_IDS);
    T_EQ_INT(users_by_external_id(w.u, "u100", 4), row);
    T_EQ_INT(users_by_external_id(w.u, "u101", 4), USERS_NONE);
    T_EQ_INT(users_by_external_id(w.u, "u0", 2), row); /* every deprecated id still finds it */
    /* Removing one makes room again. */
    fixture_world_identity_out(&w, NOW, IDENTITY_REMOVE, "{\"external_ids\":[\"u0\"]}", out);
    T_EQ_INT(out[0], IDO_OK);
    fixture_world_identity_out(&w, NOW, IDENTITY_RENAME,
                               "{\"external_id_renames\":[{\"current_external_id\":\"u100\",\"new_external_id\":\"u101\"}]}", out);
    T_EQ_INT(out[0], IDO_OK);
    buf_free(&b);
    fixture_world_free(&w);
}

TEST(limits_merge_refuses_and_changes_nothing) {
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"keep\",\"k\":1,");
    tokens(&b, "k", "kd", 0, 60);
    buf_puts(&b, "},{\"external_id\":\"old\",\"o\":1,");
    tokens(&b, "o", "od", 0, 60);
    buf_puts(&b, "}]}");
    api_track_result r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 2);
    uint8_t out[1];
    T_EQ_INT(fixture_world_merge(&w, NOW, "{\"merge_updates\":[{\"identifier_to_merge\":{\"external_id\":\"old\"},"
                                          "\"identifier_to_keep\":{\"external_id\":\"keep\"}}]}",
                                 NULL, out),
             0);
    T_EQ_INT(out[0], IDO_OVER_TOKENS); /* 120 tokens (and devices): the tokens are named first */
    T_TRUE(users_by_external_id(w.u, "old", 3) != USERS_NONE);
    json_object *x = export_of(&w, "keep");
    T_EQ_INT(list_len(x, "push_tokens"), 60);
    json_object_put(x);
    /* Identify is refused the same way. */
    fixture_world_identity(&w, NOW, IDENTITY_ALIAS_NEW, "{\"user_aliases\":[{\"external_id\":\"old\",\"alias_name\":\"a\",\"alias_label\":\"l\"}]}");
    uint32_t old = users_by_external_id(w.u, "old", 3);
    pedit e;
    pedit_open(&e, users_get(w.u, old)->blob);
    pedit_del(&e, pkey(PF_EXTERNAL_ID, PK_ATTR)); /* make it an alias-only user */
    users_commit(w.u, old, &e, 1);
    pedit_close(&e);
    T_EQ_INT(fixture_world_identity_out(&w, NOW, IDENTITY_IDENTIFY,
                                        "{\"aliases_to_identify\":[{\"external_id\":\"keep\",\"user_alias\":{\"alias_name\":\"a\",\"alias_label\":\"l\"}}]}",
                                        out),
             0);
    T_EQ_INT(out[0], IDO_OVER_TOKENS);
    T_EQ_INT(users_by_alias(w.u, "l", 1, "a", 1), old);
    buf_free(&b);
    fixture_world_free(&w);
}

TEST(limits_lists_already_over_are_kept_whole) {
    /* A profile from before the limits with 150 aliases: nothing cuts it,
     * other changes go on, only growth is refused. */
    world w = fixture_world_new();
    fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"big\"}]}");
    uint32_t row = users_by_external_id(w.u, "big", 3);
    pedit e;
    pedit_open(&e, users_get(w.u, row)->blob);
    buf_t b = BUF_INIT;
    char l[16];
    for (int i = 0; i < 150; i++) {
        int n = snprintf(l, sizeof l, "l%d", i);
        parr_put(&b, PT_STR, l, (size_t)n);
        parr_put(&b, PT_STR, "n", 1);
    }
    pedit_set(&e, pkey(PF_ALIASES, PK_ATTR), PT_ARR, b.data, b.len);
    users_commit(w.u, row, &e, 1);
    pedit_close(&e);
    uint8_t out[1];
    fixture_world_identity_out(&w, NOW, IDENTITY_ALIAS_UPDATE,
                               "{\"alias_updates\":[{\"alias_label\":\"l149\",\"old_alias_name\":\"n\",\"new_alias_name\":\"m\"}]}", out);
    T_EQ_INT(out[0], IDO_OK);
    T_EQ_INT(users_by_alias(w.u, "l149", 4, "m", 1), row);
    api_track_result r = fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"big\",\"x\":1}]}");
    T_EQ_INT(r.processed[0], 1);
    T_TRUE(r.errors == NULL);
    fixture_world_identity_out(&w, NOW, IDENTITY_ALIAS_NEW, "{\"user_aliases\":[{\"external_id\":\"big\",\"alias_name\":\"n\",\"alias_label\":\"new\"}]}", out);
    T_EQ_INT(out[0], IDO_OVER_ALIASES);
    json_object *x = export_of(&w, "big");
    T_EQ_INT(list_len(x, "user_aliases"), 150);
    json_object_put(x);
    buf_free(&b);
    fixture_world_free(&w);
}

static void no_touch(void *a, uint32_t r) { (void)a, (void)r; }

/* A body replayed from a format-1 journal (api/legacy.c). */
TEST(limits_do_not_apply_to_replayed_old_journals) {
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",");
    tokens(&b, "t", "d", 0, 150);
    buf_puts(&b, "},{\"push_token_import\":true,\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"imp\"}]}]}");
    json_object *body = json_tokener_parse(b.data);
    track_cmd t;
    api_track_result r;
    char why[256];
    T_EQ_INT(api_track_parse_v1(body, &t, &r, why, sizeof why), 0);
    T_EQ_INT(r.processed[0], 1); /* the import was refused then, and is now */
    T_EQ_STR(json_object_get_string(json_object_object_get(json_object_array_get_idx(r.errors, 0), "type")),
             "'push_token_import' is not supported by this server");
    track_ctx tc = {w.u, w.n, NOW, NULL, 1, no_touch, NULL, NULL, 0, 0};
    track_apply(&tc, &t);
    T_EQ_INT(t.attrs[0].refused.kind, LIM_OK);
    json_object_put(r.errors);
    track_cmd_free(&t);
    json_object_put(body);
    json_object *x = export_of(&w, "u");
    T_EQ_INT(list_len(x, "push_tokens"), 150); /* acknowledged then: applied whole */
    json_object_put(x);
    T_EQ_INT(users_live(w.u), 1);
    buf_free(&b);
    fixture_world_free(&w);
}

/* ---- push_token_import --------------------------------------------------- */

static uint32_t anonymous_users(world *w) {
    uint32_t n = 0;
    for (uint32_t r = 0; r < users_rows(w->u); r++) {
        profile_t *p = users_get(w->u, r);
        pfield f;
        if (!(p->flags & PROFILE_DELETED) && !profile_get(p->blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f)) n++;
    }
    return n;
}

TEST(push_token_import_makes_one_anonymous_user_per_device) {
    world w = fixture_world_new();
    const char *imp = "{\"attributes\":[{\"push_token_import\":true,\"email\":\"imp@x.io\",\"tier\":\"gold\",\"n\":{\"inc\":1},"
                      "\"push_tokens\":[{\"app_id\":\"ios\",\"token\":\"t1\"},{\"app_id\":\"ios\",\"token\":\"t2\",\"device_id\":\"dev2\"},"
                      "{\"app_id\":\"ios\",\"token\":\"t3\",\"device_id\":\"dev2\"}]}]}";
    api_track_result r = fixture_world_track(&w, NOW, imp);
    T_EQ_INT(r.processed[0], 1);
    T_TRUE(r.errors == NULL);
    T_EQ_INT(anonymous_users(&w), 2); /* t1's device, and dev2 with t2 and t3 */
    uint32_t d2 = users_by_device(w.u, "dev2", 4);
    T_TRUE(d2 != USERS_NONE);
    export_fields f = {0};
    json_object *x = export_user(w.u, w.n, d2, &f);
    T_EQ_STR(json_object_to_json_string_ext(json_object_object_get(x, "push_tokens"), JSON_C_TO_STRING_PLAIN),
             "[{\"app\":\"ios\",\"token\":\"t2\",\"device_id\":\"dev2\"},{\"app\":\"ios\",\"token\":\"t3\",\"device_id\":\"dev2\"}]");
    T_EQ_STR(json_object_get_string(json_object_object_get(x, "email")), "imp@x.io");
    json_object *ca = json_object_object_get(x, "custom_attributes");
    T_EQ_INT(json_object_get_int(json_object_object_get(ca, "n")), 1); /* the attributes once per user */
    T_TRUE(json_object_object_get(x, "external_id") == NULL);
    json_object_put(x);
    /* A token without device_id gets one derived from it, stable. */
    uint32_t t1 = USERS_NONE;
    for (uint32_t row = 0; row < users_rows(w.u); row++)
        if (row != d2 && !(users_get(w.u, row)->flags & PROFILE_DELETED)) t1 = row;
    T_TRUE(t1 != USERS_NONE);
    x = export_user(w.u, w.n, t1, &f);
    const char *dev = json_object_get_string(json_object_object_get(json_object_array_get_idx(json_object_object_get(x, "devices"), 0), "device_id"));
    T_TRUE(dev && !strncmp(dev, "token-", 6) && strlen(dev) == 22);
    json_object_put(x);
    /* Sent again (a retry): Braze ignores tokens it has; nothing changes. */
    r = fixture_world_track(&w, NOW, imp);
    T_EQ_INT(r.processed[0], 1);
    T_EQ_INT(anonymous_users(&w), 2);
    x = export_user(w.u, w.n, d2, &f);
    ca = json_object_object_get(x, "custom_attributes");
    T_EQ_INT(json_object_get_int(json_object_object_get(ca, "n")), 1);
    json_object_put(x);
    /* update-only creates nobody. */
    r = fixture_world_track(&w, NOW, "{\"attributes\":[{\"push_token_import\":true,\"_update_existing_only\":true,"
                                     "\"push_tokens\":[{\"app_id\":\"ios\",\"token\":\"t9\"}]}]}");
    T_EQ_INT(r.processed[0], 1);
    T_EQ_INT(anonymous_users(&w), 2);
    fixture_world_free(&w);
}

TEST(push_token_import_shapes_are_checked) {
    static const struct {
        const char *obj, *type;
    } bad[] = {
        {"{\"push_token_import\":true,\"external_id\":\"x\",\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t\"}]}",
         "a 'push_token_import' object must not have 'external_id' or 'braze_id': its tokens go to anonymous users"},
        {"{\"push_token_import\":true,\"braze_id\":\"x\",\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t\"}]}",
         "a 'push_token_import' object must not have 'external_id' or 'braze_id': its tokens go to anonymous users"},
        {"{\"push_token_import\":true,\"user_alias\":{\"alias_name\":\"n\",\"alias_label\":\"l\"},\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t\"}]}",
         "a 'push_token_import' object must not have 'user_alias': each of its tokens gets an anonymous user of its own"},
        {"{\"push_token_import\":true,\"email\":\"a@b.io\"}", "a 'push_token_import' object needs 'push_tokens'"},
        {"{\"push_token_import\":true,\"push_tokens\":[]}", "'push_tokens' must not be empty in a 'push_token_import' object"},
        {"{\"push_token_import\":true,\"push_tokens\":[{\"app_id\":\"a\"}]}",
         "'push_tokens' items need string 'app_id' and a non-empty string 'token'"},
        {"{\"push_token_import\":\"yes\",\"external_id\":\"x\"}", "'push_token_import' must be a boolean"},
        {"{\"push_token_import\":true,\"email\":\"nope\",\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t\"}]}",
         "The value provided for the 'email' field is not a valid email."},
        {"{\"external_id\":\"x\",\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t\",\"device_id\":7}]}",
         "'push_tokens' item 0: 'device_id' must be a string of 1-255 bytes"},
    };
    world w = fixture_world_new();
    char body[512];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(body, sizeof body, "{\"attributes\":[%s]}", bad[i].obj);
        api_track_result r = fixture_world_track(&w, NOW, body);
        T_EQ_INT(r.processed[0], 0);
        T_EQ_STR(error_type(&r, 0), bad[i].type);
        json_object_put(r.errors);
    }
    T_EQ_INT(users_live(w.u), 0);
    /* push_token_import: false is an ordinary object. */
    api_track_result r = fixture_world_track(&w, NOW, "{\"attributes\":[{\"push_token_import\":false,\"external_id\":\"x\","
                                                      "\"push_tokens\":[{\"app_id\":\"a\",\"token\":\"t\"}]}]}");
    T_EQ_INT(r.processed[0], 1);
    T_EQ_INT(users_by_external_id(w.u, "x", 1) != USERS_NONE, 1);
    fixture_world_free(&w);
}

/* The limits hold for the users an import creates too: an $update merged
 * into every item of an $add makes 'pets' larger than 100 KB from a small
 * request, and no anonymous user is made with it. */
TEST(push_token_import_refuses_new_users_past_the_object_limit) {
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    char pad[251];
    memset(pad, 'p', 250);
    pad[250] = '\0';
    buf_puts(&b, "{\"attributes\":[{\"push_token_import\":true,\"_merge_objects\":true,\"push_tokens\":["
                 "{\"app_id\":\"a\",\"token\":\"t1\"},{\"app_id\":\"a\",\"token\":\"t2\"}],\"pets\":{\"$add\":[");
    for (int i = 0; i < 2000; i++) buf_printf(&b, "%s{\"i\":1}", i ? "," : "");
    buf_printf(&b, "],\"$update\":[{\"$identifier_key\":\"i\",\"$identifier_value\":1,\"$new_object\":{\"p\":\"%s\"}}]}}]}", pad);
    api_track_result r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 0);
    T_EQ_STR(error_type(&r, 0), "'pets' would be larger than 100 KB");
    json_object_put(r.errors);
    T_EQ_INT(users_live(w.u), 0);
    buf_free(&b);
    fixture_world_free(&w);
}

/* Identifiers are stored and indexed: none is unbounded. A phone that
 * identifies an object has the bound it has as an attribute; alias labels
 * and names that of an external id, in /users/track and /users/alias/new. */
TEST(identifiers_have_bounds_wherever_they_come_from) {
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    buf_printf(&b, "{\"attributes\":[{\"phone\":\"%0256d\",\"a\":1},{\"phone\":\"%0255d\",\"a\":1}]}", 7, 7);
    api_track_result r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 1);
    T_EQ_STR(error_type(&r, 0), "'phone' must be 255 characters or fewer");
    json_object_put(r.errors);
    char big[989];
    memset(big, 'l', 988);
    big[988] = '\0';
    buf_reset(&b);
    buf_printf(&b, "{\"attributes\":[{\"user_alias\":{\"alias_label\":\"%s\",\"alias_name\":\"n\"},\"a\":1},"
                   "{\"user_alias\":{\"alias_label\":\"%.987s\",\"alias_name\":\"n\"},\"a\":1}]}", big, big);
    r = fixture_world_track(&w, NOW, b.data);
    T_EQ_INT(r.processed[0], 1);
    T_EQ_STR(error_type(&r, 0), "'user_alias' 'alias_name' and 'alias_label' must be fewer than 988 bytes");
    json_object_put(r.errors);
    uint8_t out[4];
    buf_reset(&b);
    buf_printf(&b, "{\"user_aliases\":[{\"alias_name\":\"%s\",\"alias_label\":\"l\"}]}", big);
    T_EQ_INT(fixture_world_identity_out(&w, NOW, IDENTITY_ALIAS_NEW, b.data, out), BR_EINVAL);
    buf_free(&b);
    fixture_world_free(&w);
}

/* ---- arrays of scalars ----------------------------------------------------- */

TEST(arrays_of_any_length_apply_in_linear_time) {
    /* Braze keeps the newest 25; a request may still send 100,000 elements,
     * and the engine thread must not spend minutes on them (it compared
     * each element with every other one before). No timed assertion:
     * the quadratic version runs past the runner's per-test timeout. */
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"set\":[");
    for (int i = 0; i < 100000; i++) buf_printf(&b, "%s\"%d\"", i ? "," : "", i % 70000); /* duplicates: first kept */
    buf_puts(&b, "]},{\"external_id\":\"u\",\"add\":{\"add\":[");
    for (int i = 0; i < 100000; i++) buf_printf(&b, "%s%d", i ? "," : "", i);
    buf_puts(&b, "],\"remove\":[99999,99998,true]}}]}");
    api_track_result r = fixture_world_track(&w, NOW, b.data); /* quadratic: past the test's timeout */
    T_EQ_INT(r.processed[0], 2);
    json_object *x = export_of(&w, "u"), *ca, *set, *add;
    json_object_object_get_ex(x, "custom_attributes", &ca);
    json_object_object_get_ex(ca, "set", &set);
    json_object_object_get_ex(ca, "add", &add);
    T_EQ_INT(json_object_array_length(set), 25);
    T_EQ_STR(json_object_get_string(json_object_array_get_idx(set, 0)), "69975");
    T_EQ_STR(json_object_get_string(json_object_array_get_idx(set, 24)), "69999");
    T_EQ_INT(json_object_array_length(add), 25);
    T_EQ_INT(json_object_get_int(json_object_array_get_idx(add, 0)), 99973);
    T_EQ_INT(json_object_get_int(json_object_array_get_idx(add, 24)), 99997);
    json_object_put(x);
    /* add: an element added again moves to the end; booleans (no bytes) too. */
    r = fixture_world_track(&w, NOW, "{\"attributes\":[{\"external_id\":\"u\",\"add\":{\"add\":[true,99980,false,true]}}]}");
    x = export_of(&w, "u");
    json_object_object_get_ex(x, "custom_attributes", &ca);
    json_object_object_get_ex(ca, "add", &add);
    T_EQ_INT(json_object_array_length(add), 25);
    T_EQ_STR(json_object_to_json_string_ext(json_object_array_get_idx(add, 21), JSON_C_TO_STRING_PLAIN), "99997");
    T_EQ_STR(json_object_to_json_string_ext(json_object_array_get_idx(add, 22), JSON_C_TO_STRING_PLAIN), "99980");
    T_EQ_STR(json_object_to_json_string_ext(json_object_array_get_idx(add, 23), JSON_C_TO_STRING_PLAIN), "false");
    T_EQ_STR(json_object_to_json_string_ext(json_object_array_get_idx(add, 24), JSON_C_TO_STRING_PLAIN), "true");
    json_object_put(x);
    buf_free(&b);
    fixture_world_free(&w);
}

/* ---- arrays of objects: $remove and $update ------------------------------- */

/* The custom attribute name of user u, as brasa exports it (a new ref). */
static json_object *attr_of(world *w, const char *name) {
    json_object *x = export_of(w, "u"), *ca, *v = NULL;
    if (x && json_object_object_get_ex(x, "custom_attributes", &ca) && json_object_object_get_ex(ca, name, &v)) json_object_get(v);
    json_object_put(x);
    return v;
}

TEST(arrays_of_objects_remove_and_update_in_linear_time) {
    /* A request may carry, for each of many attributes, 100 KB of $add,
     * of $remove and of $update selectors against 100 KB of stored items:
     * here 48 attributes of 8,500 items, 2,000 removals and 1,300 updates
     * each. Comparing every item with every selector, as before, holds the
     * engine thread for minutes: past the runner's per-test timeout. */
    enum { NATTR = 48, NITEMS = 8500, NRM = 2000, NUP = 1300 };
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\"");
    for (int a = 0; a < NATTR; a++) {
        buf_printf(&b, ",\"pets%d\":[", a);
        for (int i = 0; i < NITEMS; i++) buf_printf(&b, "%s{\"i\":%d}", i ? "," : "", i);
        buf_puts(&b, "]");
    }
    buf_puts(&b, "}]}");
    T_EQ_INT(fixture_world_track(&w, NOW, b.data).processed[0], 1);
    buf_reset(&b);
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"_merge_objects\":true");
    for (int a = 0; a < NATTR; a++) {
        buf_printf(&b, ",\"pets%d\":{\"$remove\":[", a);
        for (int i = 0; i < NRM; i++) buf_printf(&b, "%s{\"$identifier_key\":\"i\",\"$identifier_value\":%d}", i ? "," : "", 2 * i + 1);
        buf_puts(&b, "],\"$update\":[");
        for (int i = 0; i < NUP; i++)
            buf_printf(&b, "%s{\"$identifier_key\":\"i\",\"$identifier_value\":%d,\"$new_object\":{\"u\":%d}}", i ? "," : "", 6 * i, i);
        buf_puts(&b, "]}");
    }
    buf_puts(&b, "}]}");
    T_EQ_INT(fixture_world_track(&w, NOW, b.data).processed[0], 1);
    json_object *x = export_of(&w, "u"), *ca;
    json_object_object_get_ex(x, "custom_attributes", &ca);
    for (int a = 0; a < NATTR; a++) {
        char name[16];
        json_object *pets;
        snprintf(name, sizeof name, "pets%d", a);
        T_TRUE(json_object_object_get_ex(ca, name, &pets));
        T_EQ_INT(json_object_array_length(pets), NITEMS - NRM); /* odd ids below 4,000 removed */
        for (int i = 0; i < NITEMS - NRM; i++) {
            int id = i < NRM ? 2 * i : i + NRM;
            json_object *item = json_object_array_get_idx(pets, i), *u;
            T_EQ_INT(json_object_get_int(json_object_object_get_ex(item, "i", &u) ? u : NULL), id);
            bool updated = id % 6 == 0 && id / 6 < NUP;
            T_EQ_INT(json_object_object_get_ex(item, "u", &u), updated);
            if (updated) T_EQ_INT(json_object_get_int(u), id / 6);
        }
    }
    json_object_put(x);
    buf_free(&b);
    fixture_world_free(&w);
}

TEST(arrays_of_objects_equal_update_selectors_stay_linear) {
    /* 1,300 equal $update selectors, each matching every item again (its
     * $new_object keeps the identifier): applying each to each is what
     * Braze's rules ask (2.6 million merges), but finding them must not
     * walk the equal ones again after every merge (that was 1,300^2 per
     * item: past the runner's per-test timeout). */
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"_merge_objects\":true,\"pets\":{\"$add\":[");
    for (int i = 0; i < 2000; i++) buf_printf(&b, "%s{\"i\":1}", i ? "," : "");
    buf_puts(&b, "],\"$update\":[");
    for (int i = 0; i < 1300; i++)
        buf_printf(&b, "%s{\"$identifier_key\":\"i\",\"$identifier_value\":1,\"$new_object\":{\"i\":1,\"n\":%d}}", i ? "," : "", i);
    buf_puts(&b, "]}}]}");
    T_EQ_INT(fixture_world_track(&w, NOW, b.data).processed[0], 1);
    json_object *pets = attr_of(&w, "pets");
    T_EQ_INT(json_object_array_length(pets), 2000);
    T_EQ_STR(json_object_to_json_string_ext(json_object_array_get_idx(pets, 1999), JSON_C_TO_STRING_PLAIN), "{\"i\":1,\"n\":1299}");
    json_object_put(pets);
    buf_free(&b);
    fixture_world_free(&w);
}

/* The rules as written before (every item against every selector, in
 * order), to check the indexed version against. */
static bool ref_matches(json_object *item, json_object *sel) {
    json_object *k, *v, *iv;
    json_object_object_get_ex(sel, "$identifier_key", &k);
    json_object_object_get_ex(sel, "$identifier_value", &v);
    return json_object_object_get_ex(item, json_object_get_string(k), &iv) && json_object_equal(iv, v);
}

static void ref_merge(json_object *dst, json_object *src) {
    json_object_object_foreach(src, k, v) {
        json_object *d, *copy = NULL;
        if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(dst, k, &d) &&
            json_object_is_type(d, json_type_object)) {
            ref_merge(d, v);
        } else {
            json_object_deep_copy(v, &copy, NULL);
            json_object_object_add(dst, k, copy);
        }
    }
}

static json_object *ref_apply(json_object *cur, json_object *add, json_object *rm, json_object *up) {
    json_object *all = NULL, *out = json_object_new_array();
    json_object_deep_copy(cur, &all, NULL);
    for (size_t i = 0; i < json_object_array_length(add); i++) {
        json_object *copy = NULL;
        json_object_deep_copy(json_object_array_get_idx(add, i), &copy, NULL);
        json_object_array_add(all, copy);
    }
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *item = json_object_array_get_idx(all, i), *nobj;
        bool drop = false;
        for (size_t j = 0; j < json_object_array_length(rm) && !drop; j++) drop = ref_matches(item, json_object_array_get_idx(rm, j));
        if (drop) continue;
        for (size_t j = 0; j < json_object_array_length(up); j++) {
            json_object *u = json_object_array_get_idx(up, j);
            if (ref_matches(item, u) && json_object_object_get_ex(u, "$new_object", &nobj)) ref_merge(item, nobj);
        }
        json_object_array_add(out, json_object_get(item));
    }
    json_object_put(all);
    return out;
}

static int rnd(uint64_t *seed, int n) {
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return (int)((*seed >> 33) % (uint64_t)n);
}

TEST(arrays_of_objects_match_the_rules_on_random_operations) {
    /* Identifier values that are equal in JSON but differ in form (1 and
     * 1.0 are not equal to json-c, -0.0 and 0.0 are; objects in another
     * key order are), and updates that change the field a later selector
     * picks by. */
    static const char *const vals[] = {"0", "1", "1.0", "-0.0", "0.0", "\"1\"", "\"a\"", "true", "false", "null",
                                       "{\"x\":1,\"y\":[2]}", "{\"y\":[2],\"x\":1}", "[1,2]", "[2,1]", "18446744073709551615"};
    static const char *const keys[] = {"id", "k"};
    enum { NV = sizeof vals / sizeof *vals };
    uint64_t seed = 42;
#define RND(n) rnd(&seed, n)
    world w = fixture_world_new();
    buf_t b = BUF_INIT;
    for (int round = 0; round < 300; round++) {
        buf_reset(&b);
        buf_puts(&b, "{\"attributes\":[{\"external_id\":\"u\",\"pets\":[");
        for (int i = 0, n = 1 + RND(10); i < n; i++)
            buf_printf(&b, "%s{\"%s\":%s,\"%s\":%s,\"n\":%d}", i ? "," : "", keys[0], vals[RND(NV)], keys[1], vals[RND(NV)], i);
        buf_puts(&b, "]}]}");
        T_EQ_INT(fixture_world_track(&w, NOW, b.data).processed[0], 1);
        json_object *cur = attr_of(&w, "pets");
        buf_reset(&b);
        buf_puts(&b, "{\"add\":[");
        for (int i = 0, n = RND(3); i < n; i++) buf_printf(&b, "%s{\"id\":%s,\"n\":%d}", i ? "," : "", vals[RND(NV)], 100 + i);
        buf_puts(&b, "],\"rm\":[");
        for (int i = 0, n = RND(5); i < n; i++)
            buf_printf(&b, "%s{\"$identifier_key\":\"%s\",\"$identifier_value\":%s}", i ? "," : "", keys[RND(2)], vals[RND(NV)]);
        buf_puts(&b, "],\"up\":[");
        for (int i = 0, n = RND(8); i < n; i++)
            buf_printf(&b, "%s{\"$identifier_key\":\"%s\",\"$identifier_value\":%s,\"$new_object\":{\"%s\":%s,\"o\":{\"p%d\":%d}}}",
                       i ? "," : "", keys[RND(2)], vals[RND(NV)], keys[RND(2)], vals[RND(NV)], RND(3), i);
        buf_puts(&b, "]}");
        json_object *ops = json_tokener_parse(b.data), *add, *rm, *up;
        json_object_object_get_ex(ops, "add", &add);
        json_object_object_get_ex(ops, "rm", &rm);
        json_object_object_get_ex(ops, "up", &up);
        json_object *want = ref_apply(cur, add, rm, up);
        buf_reset(&b);
        buf_printf(&b, "{\"attributes\":[{\"external_id\":\"u\",\"_merge_objects\":true,\"pets\":{\"$add\":%s,\"$remove\":%s,\"$update\":%s}}]}",
                   json_object_to_json_string_ext(add, JSON_C_TO_STRING_PLAIN), json_object_to_json_string_ext(rm, JSON_C_TO_STRING_PLAIN),
                   json_object_to_json_string_ext(up, JSON_C_TO_STRING_PLAIN));
        T_EQ_INT(fixture_world_track(&w, NOW, b.data).processed[0], 1);
        json_object *got = attr_of(&w, "pets");
        if (!json_object_equal(got, want))
            fprintf(stderr, "round %d\n  body %s\n  got  %s\n  want %s\n", round, b.data, json_object_to_json_string(got),
                    json_object_to_json_string(want));
        T_TRUE(json_object_equal(got, want));
        json_object_put(got);
        json_object_put(want);
        json_object_put(ops);
        json_object_put(cur);
    }
#undef RND
    buf_free(&b);
    fixture_world_free(&w);
}
