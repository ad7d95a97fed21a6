/* identity.c -- the identity endpoints' bodies checked and turned into an
 * identity_cmd (core/identity.h): one item per element of each request
 * array, in the order Braze applies them. */
#include "parse.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <string.h>

#define FAIL(...)                           \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return BR_EINVAL;                   \
    } while (0)

/* A non-empty string identifier (alias label or name, email, phone) of at
 * most 987 bytes, the bound of an external id: identifiers are stored and
 * indexed, and a user keeps up to 100 aliases. */
static bool nonempty_str(json_object *o, const char *k) {
    size_t n;
    return json_str(o, k, &n) && n > 0 && n <= 987;
}

static bool is_alias(json_object *a) {
    return json_object_is_type(a, json_type_object) && nonempty_str(a, "alias_name") && nonempty_str(a, "alias_label");
}

/* An external id as /users/track accepts it: a string (or an integer:
 * Braze accepted one in /users/identify) of 1 to 987 bytes; absent is fine
 * unless required. */
static bool valid_ext(json_object *o, const char *k, bool required, bool integer) {
    json_object *v = json_get(o, k);
    if (!v) return !required;
    if (json_object_is_type(v, json_type_int)) return integer;
    size_t n;
    return json_object_is_type(v, json_type_string) && (json_strlen(v, &n), n > 0 && n < 988);
}

static bool ok_alias_new(json_object *o) { return is_alias(o) && valid_ext(o, "external_id", false, false); }
static bool ok_alias_identify(json_object *o) {
    return json_object_is_type(o, json_type_object) && valid_ext(o, "external_id", true, true) &&
           is_alias(json_get(o, "user_alias"));
}
static bool ok_email_identify(json_object *o) {
    return json_object_is_type(o, json_type_object) && valid_ext(o, "external_id", true, true) && nonempty_str(o, "email");
}
static bool ok_phone_identify(json_object *o) {
    return json_object_is_type(o, json_type_object) && valid_ext(o, "external_id", true, true) && nonempty_str(o, "phone");
}
static bool ok_string(json_object *o) { return json_object_is_type(o, json_type_string) && json_object_get_string_len(o) > 0; }
static bool ok_email_obj(json_object *o) { return json_object_is_type(o, json_type_object) && nonempty_str(o, "email"); }
static bool ok_phone_obj(json_object *o) { return json_object_is_type(o, json_type_object) && nonempty_str(o, "phone"); }
static bool ok_alias_update(json_object *o) {
    return json_object_is_type(o, json_type_object) && nonempty_str(o, "alias_label") &&
           nonempty_str(o, "old_alias_name") && nonempty_str(o, "new_alias_name");
}
static bool ok_rename(json_object *o) {
    return json_object_is_type(o, json_type_object) && nonempty_str(o, "current_external_id") &&
           valid_ext(o, "new_external_id", true, false);
}

/* The request arrays of each endpoint, in the order messages name them:
 * the field, its check, its shape for the message, the item list, and its
 * place in the order Braze applies them (kept: a replayed old journal must
 * apply them in that order too). */
typedef struct {
    const char *field;
    bool (*ok)(json_object *);
    const char *shape;
    uint8_t list;
    uint8_t pass;
} field_rule;

static const field_rule rules_alias_new[] = {
    {"user_aliases", ok_alias_new, "objects with string 'alias_name' and 'alias_label' (and optional 'external_id')", IDL_ALIAS, 0},
    {0}};
static const field_rule rules_alias_update[] = {
    {"alias_updates", ok_alias_update, "objects with string 'alias_label', 'old_alias_name' and 'new_alias_name'", IDL_ALIAS, 0},
    {0}};
static const field_rule rules_identify[] = {
    {"aliases_to_identify", ok_alias_identify, "objects with an 'external_id' and a 'user_alias' object", IDL_ALIAS, 0},
    {"emails_to_identify", ok_email_identify, "objects with an 'external_id' and an 'email'", IDL_EMAIL, 1},
    {"phone_numbers_to_identify", ok_phone_identify, "objects with an 'external_id' and a 'phone'", IDL_PHONE, 2},
    {0}};
static const field_rule rules_delete[] = {
    {"external_ids", ok_string, "non-empty strings", IDL_EXTERNAL, 0},
    {"user_aliases", is_alias, "objects with string 'alias_name' and 'alias_label'", IDL_ALIAS, 2},
    {"braze_ids", ok_string, "non-empty strings", IDL_BRAZE, 1},
    {"email_addresses", ok_email_obj, "objects with an 'email'", IDL_EMAIL, 3},
    {"phone_numbers", ok_phone_obj, "objects with a 'phone'", IDL_PHONE, 4},
    {0}};
static const field_rule rules_rename[] = {
    {"external_id_renames", ok_rename, "objects with string 'current_external_id' and 'new_external_id'", IDL_EXTERNAL, 0},
    {0}};
static const field_rule rules_remove[] = {{"external_ids", ok_string, "non-empty strings", IDL_EXTERNAL, 0}, {0}};

static const field_rule *const rules[] = {
    [IDENTITY_ALIAS_NEW] = rules_alias_new, [IDENTITY_IDENTIFY] = rules_identify, [IDENTITY_DELETE] = rules_delete,
    [IDENTITY_RENAME] = rules_rename, [IDENTITY_REMOVE] = rules_remove, [IDENTITY_ALIAS_UPDATE] = rules_alias_update,
};

static uint8_t prioritization(json_object *o) {
    json_object *pr = json_get(o, "prioritization");
    if (!json_object_is_type(pr, json_type_array)) return PRIO_DEFAULT;
    uint8_t p = 0;
    for (size_t i = 0, n = json_object_array_length(pr); i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(pr, i));
        if (!s) continue;
        if (!strcmp(s, "unidentified")) p |= PRIO_UNIDENTIFIED;
        if (!strcmp(s, "identified")) p |= PRIO_IDENTIFIED;
        if (!strcmp(s, "most_recently_updated")) p |= PRIO_RECENT;
        if (!strcmp(s, "least_recently_updated")) p |= PRIO_LEAST;
    }
    return p;
}

/* The string at v (a string or an integer external id). */
static const char *text(json_object *v, size_t *n) {
    const char *s = v ? json_object_get_string(v) : NULL;
    *n = s ? strlen(s) : 0;
    return s;
}

static identity_item item_of(int kind, uint8_t list, json_object *o) {
    identity_item it = {.list = list};
    json_object *al;
    switch (list) {
    case IDL_ALIAS:
        if (kind == IDENTITY_ALIAS_UPDATE) {
            it.a = json_str(o, "alias_label", &it.an);
            it.b = json_str(o, "old_alias_name", &it.bn);
            it.c = json_str(o, "new_alias_name", &it.cn);
            break;
        }
        al = kind == IDENTITY_IDENTIFY ? json_get(o, "user_alias") : o;
        it.a = json_str(al, "alias_label", &it.an);
        it.b = json_str(al, "alias_name", &it.bn);
        it.ext = text(json_get(o, "external_id"), &it.extn);
        break;
    case IDL_EMAIL:
    case IDL_PHONE:
        it.a = json_str(o, list == IDL_EMAIL ? "email" : "phone", &it.an);
        it.ext = text(json_get(o, "external_id"), &it.extn);
        it.prio = prioritization(o);
        break;
    case IDL_EXTERNAL:
        if (kind == IDENTITY_RENAME) {
            it.ext = json_str(o, "current_external_id", &it.extn);
            it.a = json_str(o, "new_external_id", &it.an);
        } else {
            it.ext = text(o, &it.extn);
        }
        break;
    case IDL_BRAZE: it.a = text(o, &it.an); break;
    }
    return it;
}

int api_identity_parse(int kind, json_object *body, identity_cmd *cmd, char *why, size_t whylen) {
    memset(cmd, 0, sizeof *cmd);
    cmd->kind = kind;
    if (!json_object_is_type(body, json_type_object)) FAIL("the body must be a JSON object");
    const field_rule *r = rules[kind];
    size_t total = 0;
    char names[160] = "";
    for (int i = 0; r[i].field; i++) {
        json_object *a = json_get(body, r[i].field);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s'%s'", i ? (r[i + 1].field ? ", " : " or ") : "",
                 r[i].field);
        if (!a) continue;
        if (!json_object_is_type(a, json_type_array)) FAIL("'%s' must be an array of %s", r[i].field, r[i].shape);
        size_t n = json_object_array_length(a);
        for (size_t j = 0; j < n; j++)
            if (!r[i].ok(json_object_array_get_idx(a, j))) FAIL("'%s' item %zu must be %s", r[i].field, j, r[i].shape);
        total += n;
    }
    if (total == 0) FAIL("%s must be a non-empty array", names);
    if (total > IDENTITY_MAX) {
        snprintf(why, whylen, "a single request may not contain more than %d identifiers", IDENTITY_MAX);
        return BR_ETOOMANY;
    }
    cmd->items = xcalloc(total, sizeof *cmd->items);
    for (int pass = 0; pass < 5; pass++)
        for (int i = 0; r[i].field; i++) {
            json_object *a = r[i].pass == pass ? json_get(body, r[i].field) : NULL;
            for (size_t j = 0, n = a ? json_object_array_length(a) : 0; j < n; j++) {
                identity_item *it = &cmd->items[cmd->n++];
                *it = item_of(kind, r[i].list, json_object_array_get_idx(a, j));
                it->field = r[i].field;
                it->index = (uint32_t)j;
            }
        }
    cmd->body = json_object_get(body);
    return 0;
}
