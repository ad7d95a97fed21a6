/* merge.c -- a POST /users/merge body checked and turned into a merge_cmd
 * (core/merge.h). The four 400 texts are Braze's own; brasa adds where the
 * request went wrong after them ("...: merge_updates[2].identifier_to_keep:
 * ..."). */
#include "parse.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <string.h>

#define FAIL(code, ...)                     \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return code;                        \
    } while (0)


static bool nonempty(json_object *v) { return json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0; }

/* Braze requires a prioritization with an email or phone: an ordered list
 * of "identified" or "unidentified" (not both) and "most_recently_updated"
 * or "least_recently_updated". */
static int prioritization(json_object *p, const char *where, uint8_t *out, char *why, size_t whylen) {
    static const struct {
        const char *name;
        uint8_t bit;
    } names[] = {{"identified", PRIO_IDENTIFIED}, {"unidentified", PRIO_UNIDENTIFIED},
                 {"most_recently_updated", PRIO_RECENT}, {"least_recently_updated", PRIO_LEAST}};
    if (!p) FAIL(BR_EMERGEIDENT, "%s: 'prioritization' is required with 'email' or 'phone'", where);
    if (!json_object_is_type(p, json_type_array) || !json_object_array_length(p))
        FAIL(BR_EMERGEIDENT, "%s: 'prioritization' must be a non-empty array", where);
    *out = 0;
    for (size_t i = 0; i < json_object_array_length(p); i++) {
        json_object *v = json_object_array_get_idx(p, i);
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        uint8_t bit = 0;
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            if (!strcmp(s, names[k].name)) bit = names[k].bit;
        if (!bit)
            FAIL(BR_EMERGEIDENT,
                 "%s: 'prioritization' values are 'identified', 'unidentified', 'most_recently_updated' and "
                 "'least_recently_updated'",
                 where);
        *out |= bit;
    }
    if ((*out & PRIO_IDENTIFIED) && (*out & PRIO_UNIDENTIFIED))
        FAIL(BR_EMERGEIDENT, "%s: 'prioritization' may have 'identified' or 'unidentified', not both", where);
    if ((*out & PRIO_RECENT) && (*out & PRIO_LEAST))
        FAIL(BR_EMERGEIDENT, "%s: 'prioritization' may have 'most_recently_updated' or 'least_recently_updated', not both",
             where);
    return 0;
}

/* One identifier object: exactly one of external_id, user_alias, email,
 * phone. */
static int identifier(json_object *o, const char *where, identity_item *it, char *why, size_t whylen) {
    memset(it, 0, sizeof *it);
    if (!json_object_is_type(o, json_type_object)) FAIL(BR_EMERGEIDENT, "%s is not an object", where);
    json_object *ext = json_get(o, "external_id"), *al = json_get(o, "user_alias"), *em = json_get(o, "email"),
                *ph = json_get(o, "phone");
    int n = !!ext + !!al + !!em + !!ph;
    if (n != 1) FAIL(BR_EMERGEIDENT, "%s has %s of them", where, n ? "more than one" : "none");
    if (ext) {
        if (!nonempty(ext) || json_object_get_string_len(ext) > EXTERNAL_ID_MAX)
            FAIL(BR_EMERGEIDENT, "%s: 'external_id' must be a string of 1-%d bytes", where, EXTERNAL_ID_MAX);
        it->list = IDL_EXTERNAL;
        it->ext = json_strlen(ext, &it->extn);
        return 0;
    }
    if (al) {
        if (!json_object_is_type(al, json_type_object) || !nonempty(json_get(al, "alias_name")) ||
            !nonempty(json_get(al, "alias_label")))
            FAIL(BR_EMERGEIDENT, "%s: 'user_alias' must be an object with non-empty string 'alias_name' and 'alias_label'",
                 where);
        it->list = IDL_ALIAS;
        it->a = json_str(al, "alias_label", &it->an);
        it->b = json_str(al, "alias_name", &it->bn);
        return 0;
    }
    json_object *v = em ? em : ph;
    if (!nonempty(v)) FAIL(BR_EMERGEIDENT, "%s: '%s' must be a non-empty string", where, em ? "email" : "phone");
    it->list = em ? IDL_EMAIL : IDL_PHONE;
    it->a = json_strlen(v, &it->an);
    return prioritization(json_get(o, "prioritization"), where, &it->prio, why, whylen);
}

int api_merge_parse(json_object *body, const gcg_t *gcg, merge_cmd *cmd, char *why, size_t whylen) {
    memset(cmd, 0, sizeof *cmd);
    if (!json_object_is_type(body, json_type_object)) FAIL(BR_EINVAL, "the body must be a JSON object");
    json_object *mu = json_get(body, "merge_updates");
    if (!mu) FAIL(BR_EMERGEARRAY, "'merge_updates' is required");
    if (!json_object_is_type(mu, json_type_array)) FAIL(BR_EMERGEARRAY, "'merge_updates' is not an array");
    size_t n = json_object_array_length(mu);
    if (!n) FAIL(BR_EMERGEARRAY, "'merge_updates' is empty");
    if (n > MERGE_MAX) FAIL(BR_EMERGEMAX, "this request has %zu", n);
    merge_pair *pairs = xcalloc(n, sizeof *pairs);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_object *u = json_object_array_get_idx(mu, i);
        char where[64];
        if (!json_object_is_type(u, json_type_object)) {
            snprintf(why, whylen, "merge_updates[%zu] is not an object", i);
            rc = BR_EMERGEARRAY;
            break;
        }
        json_object_object_foreach(u, k, v) {
            (void)v;
            if (strcmp(k, "identifier_to_merge") && strcmp(k, "identifier_to_keep")) {
                snprintf(why, whylen, "merge_updates[%zu] has '%.64s'", i, k);
                rc = BR_EMERGEKEYS;
                break;
            }
        }
        static const char *const sides[2] = {"identifier_to_merge", "identifier_to_keep"};
        for (int s = 0; s < 2 && rc == 0; s++) {
            json_object *id = json_get(u, sides[s]);
            if (!id) {
                snprintf(why, whylen, "merge_updates[%zu] has no '%s'", i, sides[s]);
                rc = BR_EMERGEKEYS;
                break;
            }
            snprintf(where, sizeof where, "merge_updates[%zu].%s", i, sides[s]);
            rc = identifier(id, where, s ? &pairs[i].keep : &pairs[i].merge, why, whylen);
        }
    }
    if (rc < 0) {
        free(pairs);
        return rc;
    }
    cmd->pairs = pairs;
    cmd->n = (uint32_t)n;
    cmd->gcg = gcg ? *gcg : (gcg_t){0, 0};
    cmd->body = json_object_get(body);
    return 0;
}
