/* segment.c -- segment definitions (see segment.h and docs/segments.md).
 *
 * compile: JSON -> tree of groups and leaves, every operand checked.
 * seg_eval: the fast path over columns and bitmaps.
 * seg_match_row: the reference, from one profile blob.
 * seg_describe: the tree in words. */
#include "segment.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/relin.h"
#include "../lib/timefmt.h"
#include "../lib/varint.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS 86400000LL
#define SUB_DEFAULT "subscribed" /* the subscription status of a user who has none (Braze's default) */

/* Filter types. */
enum {
    F_ATTR,      /* custom attribute or an indexed standard string/number field */
    F_PRESENCE,  /* email, phone, external_id: exists / blank */
    F_CREATED,   /* created_at */
    F_RANDOM,    /* random_bucket */
    F_EVENT,     /* custom_event */
    F_PURCHASE,  /* purchase (any product, or one) */
    F_COHORT,
    F_SEGMENT,
    F_SUB,       /* email/push subscription status: no value = "subscribed" */
    F_GROUP,     /* a subscription group's state: no value = neither state */
};

/* Operators. The negated forms are NOT of a positive one (neg below). */
enum {
    OP_EXISTS, OP_BLANK,
    OP_EQ, OP_IN, OP_CONTAINS, OP_REGEX,          /* strings; not_* via neg */
    OP_NEQ, OP_LT, OP_GT, OP_LE, OP_GE, OP_BETWEEN, /* numbers; number_not_equals via neg */
    OP_TRUE, OP_FALSE,                            /* booleans; is_not_* via neg */
    OP_BEFORE, OP_AFTER, OP_WITHIN, OP_OLDER,     /* times */
    OP_WITHIN_NEXT, OP_LATER,                     /* times to come */
    OP_ANY, OP_ALL, OP_SIZE_EQ, OP_SIZE_GT, OP_SIZE_LT, /* arrays; includes_none via neg of any */
    OP_EVER,                                      /* events; never via neg */
    OP_CGT, OP_CGE, OP_CLT, OP_CLE, OP_CEQ,       /* event counts */
    OP_FIRST_BEFORE, OP_FIRST_AFTER, OP_LAST_BEFORE, OP_LAST_AFTER,
    OP_INCLUDES,                                  /* cohort; excludes via neg */
    OP_IN_SEGMENT,                                /* segment; not_in via neg */
};

/* Operand kinds. */
enum { V_NONE, V_STR, V_STRS, V_NUM, V_NUM2, V_TIME, V_DAYS, V_COUNT, V_REGEX, V_ELEMS };

typedef struct {
    const char *name;
    int op;
    bool neg;
    int operand;
    const char *words;
} opdef;

/* Value classes a filter type accepts. */
enum { C_STR = 1, C_NUM = 2, C_BOOL = 4, C_TIME = 8, C_ARR = 16, C_EVENT = 32, C_COHORT = 64, C_SEG = 128, C_GEN = 256,
       C_SUB = 512 };

static const struct {
    opdef d;
    int cls;
} ops[] = {
    {{"exists", OP_EXISTS, false, V_NONE, "exists"}, C_GEN},
    {{"blank", OP_BLANK, false, V_NONE, "is blank"}, C_GEN},
    {{"equals", OP_EQ, false, V_STR, "equals"}, C_STR | C_SUB},
    {{"not_equals", OP_EQ, true, V_STR, "does not equal"}, C_STR | C_SUB},
    {{"in", OP_IN, false, V_STRS, "is any of"}, C_STR | C_SUB},
    {{"not_in", OP_IN, true, V_STRS, "is none of"}, C_STR | C_SUB},
    {{"contains", OP_CONTAINS, false, V_STR, "contains"}, C_STR},
    {{"does_not_contain", OP_CONTAINS, true, V_STR, "does not contain"}, C_STR},
    {{"matches_regex", OP_REGEX, false, V_REGEX, "matches regex"}, C_STR},
    {{"does_not_match_regex", OP_REGEX, true, V_REGEX, "does not match regex"}, C_STR},
    {{"number_equals", OP_NEQ, false, V_NUM, "="}, C_NUM},
    {{"number_not_equals", OP_NEQ, true, V_NUM, "!="}, C_NUM},
    {{"less_than", OP_LT, false, V_NUM, "<"}, C_NUM},
    {{"greater_than", OP_GT, false, V_NUM, ">"}, C_NUM},
    {{"less_than_or_equal_to", OP_LE, false, V_NUM, "<="}, C_NUM},
    {{"greater_than_or_equal_to", OP_GE, false, V_NUM, ">="}, C_NUM},
    {{"between", OP_BETWEEN, false, V_NUM2, "is between"}, C_NUM},
    {{"is_true", OP_TRUE, false, V_NONE, "is true"}, C_BOOL},
    {{"is_false", OP_FALSE, false, V_NONE, "is false"}, C_BOOL},
    {{"is_not_true", OP_TRUE, true, V_NONE, "is not true"}, C_BOOL},
    {{"is_not_false", OP_FALSE, true, V_NONE, "is not false"}, C_BOOL},
    {{"before", OP_BEFORE, false, V_TIME, "is before"}, C_TIME},
    {{"after", OP_AFTER, false, V_TIME, "is after"}, C_TIME},
    {{"within_last_days", OP_WITHIN, false, V_DAYS, "is within the last"}, C_TIME},
    {{"more_than_days_ago", OP_OLDER, false, V_DAYS, "is more than"}, C_TIME},
    {{"within_next_days", OP_WITHIN_NEXT, false, V_DAYS, "is within the next"}, C_TIME},
    {{"more_than_days_from_now", OP_LATER, false, V_DAYS, "is more than"}, C_TIME},
    {{"includes_any", OP_ANY, false, V_ELEMS, "includes any of"}, C_ARR},
    {{"includes_all", OP_ALL, false, V_ELEMS, "includes all of"}, C_ARR},
    {{"includes_none", OP_ANY, true, V_ELEMS, "includes none of"}, C_ARR},
    {{"size_equals", OP_SIZE_EQ, false, V_COUNT, "has exactly this many elements:"}, C_ARR},
    {{"size_greater_than", OP_SIZE_GT, false, V_COUNT, "has more elements than"}, C_ARR},
    {{"size_less_than", OP_SIZE_LT, false, V_COUNT, "has fewer elements than"}, C_ARR},
    {{"performed", OP_EVER, false, V_NONE, "performed"}, C_EVENT},
    {{"never_performed", OP_EVER, true, V_NONE, "never performed"}, C_EVENT},
    {{"count_gt", OP_CGT, false, V_COUNT, "more than"}, C_EVENT},
    {{"count_ge", OP_CGE, false, V_COUNT, "at least"}, C_EVENT},
    {{"count_lt", OP_CLT, false, V_COUNT, "fewer than"}, C_EVENT},
    {{"count_le", OP_CLE, false, V_COUNT, "at most"}, C_EVENT},
    {{"count_eq", OP_CEQ, false, V_COUNT, "exactly"}, C_EVENT},
    {{"first_before", OP_FIRST_BEFORE, false, V_TIME, "first before"}, C_EVENT},
    {{"first_after", OP_FIRST_AFTER, false, V_TIME, "first after"}, C_EVENT},
    {{"last_before", OP_LAST_BEFORE, false, V_TIME, "last before"}, C_EVENT},
    {{"last_after", OP_LAST_AFTER, false, V_TIME, "last after"}, C_EVENT},
    {{"includes", OP_INCLUDES, false, V_NONE, "includes"}, C_COHORT},
    {{"excludes", OP_INCLUDES, true, V_NONE, "excludes"}, C_COHORT},
    {{"in", OP_IN_SEGMENT, false, V_NONE, "in"}, C_SEG},
    {{"not_in", OP_IN_SEGMENT, true, V_NONE, "not in"}, C_SEG},
};

/* Filter types: name, F_*, standard field id (0: custom), value classes. */
static const struct {
    const char *name;
    int f;
    uint32_t std;
    int cls;
} ftypes[] = {
    {"custom_attribute", F_ATTR, 0, C_GEN | C_STR | C_NUM | C_BOOL | C_TIME | C_ARR},
    {"country", F_ATTR, PF_COUNTRY, C_GEN | C_STR},
    {"language", F_ATTR, PF_LANGUAGE, C_GEN | C_STR},
    {"time_zone", F_ATTR, PF_TIME_ZONE, C_GEN | C_STR},
    {"email_subscribe", F_ATTR, PF_EMAIL_SUBSCRIBE, C_GEN | C_STR},
    {"push_subscribe", F_ATTR, PF_PUSH_SUBSCRIBE, C_GEN | C_STR},
    {"gender", F_ATTR, PF_GENDER, C_GEN | C_STR},
    {"home_city", F_ATTR, PF_HOME_CITY, C_GEN | C_STR},
    {"dob", F_ATTR, PF_DOB, C_GEN | C_STR},
    {"total_revenue", F_ATTR, PF_TOTAL_REVENUE, C_GEN | C_NUM},
    {"email_subscription_status", F_SUB, PF_EMAIL_SUBSCRIBE, C_SUB},
    {"push_subscription_status", F_SUB, PF_PUSH_SUBSCRIBE, C_SUB},
    {"subscription_group", F_GROUP, PF_SUBSCRIPTION_GROUPS, C_SUB},
    {"last_used_app", F_ATTR, PF_LAST_SESSION, C_GEN | C_TIME},
    {"email", F_PRESENCE, PF_EMAIL, C_GEN},
    {"phone", F_PRESENCE, PF_PHONE, C_GEN},
    {"external_id", F_PRESENCE, PF_EXTERNAL_ID, C_GEN},
    {"created_at", F_CREATED, 0, C_TIME},
    {"random_bucket", F_RANDOM, 0, C_NUM},
    {"custom_event", F_EVENT, 0, C_EVENT},
    {"purchase", F_PURCHASE, 0, C_EVENT},
    {"cohort", F_COHORT, 0, C_COHORT},
    {"segment", F_SEGMENT, 0, C_SEG},
};

typedef struct snode snode;
struct snode {
    bool group;
    bool is_or;
    snode **kids;
    int nkids;
    /* leaf */
    int f;
    const opdef *op;
    const char *ftype;
    uint32_t std;
    char *name;      /* attribute, event or product; partner for cohorts; segment id */
    char *cohort_id; /* cohorts; segment name for segments */
    char **strs;
    size_t *lens;
    int nstrs;
    double *nums;    /* array operators: the numbers of the list (strings in strs) */
    int nnums;
    double a, b;     /* numbers; times in ms */
    int64_t n;       /* counts, days */
    int64_t days;    /* event window, 0 = all time */
    char *needle;    /* subscription groups: the group's key as stored, "\"id\":" */
    size_t nneedle;
    relin_t *re;
    snode *sub;      /* segment */
};

struct seg_def {
    snode *root;
};

/* ---- compile ------------------------------------------------------------- */

typedef struct {
    seg_resolve_fn resolve;
    void *arg;
    const char *stack[SEG_MAX_DEPTH + 1];
    int nstack;
    int filters;
    char *why;
    size_t whylen;
    int rc;
} cctx;

static void node_free(snode *n) {
    if (!n) return;
    for (int i = 0; i < n->nkids; i++) node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->cohort_id);
    free(n->needle);
    for (int i = 0; i < n->nstrs; i++) free(n->strs[i]);
    free(n->strs);
    free(n->lens);
    free(n->nums);
    relin_free(n->re);
    node_free(n->sub);
    free(n);
}

static snode *bad(cctx *c, const char *path, const char *fmt, const char *arg) {
    if (!c->rc) {
        char msg[400];
        snprintf(msg, sizeof msg, fmt, arg ? arg : "");
        snprintf(c->why, c->whylen, "invalid segment definition: %s%s%s", path, *path ? ": " : "", msg);
        c->rc = BR_EINVAL;
    }
    return NULL;
}

static const char *jstr(json_object *o, const char *k) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return json_object_get_string(v);
}

static bool is_num(json_object *v) { return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double); }

static snode *compile_node(cctx *c, json_object *j, const char *path, int depth);

static bool parse_time(json_object *v, double *ms) {
    int64_t t;
    int year;
    if (!json_object_is_type(v, json_type_string)) return false;
    if (timefmt_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &t, &year) < 0) return false;
    *ms = (double)t;
    return true;
}

static snode *compile_leaf(cctx *c, json_object *j, const char *path, int depth) {
    const char *type = jstr(j, "type");
    if (!type) return bad(c, path, "a filter needs a string 'type' (or the object must be an 'and'/'or' group)", NULL);
    int t = -1;
    for (size_t i = 0; i < sizeof ftypes / sizeof *ftypes; i++)
        if (!strcmp(ftypes[i].name, type)) t = (int)i;
    if (t < 0) return bad(c, path, "unknown filter type '%s'", type);
    const char *opn = jstr(j, "op");
    if (!opn) return bad(c, path, "a filter needs a string 'op'", NULL);
    const opdef *op = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(ops[i].d.name, opn) && (ops[i].cls & ftypes[t].cls)) op = &ops[i].d;
    if (!op) {
        char m[160];
        snprintf(m, sizeof m, "'%s' is not an operator of %s filters", opn, type);
        return bad(c, path, "%s", m);
    }
    snode *n = xcalloc(1, sizeof *n);
    n->f = ftypes[t].f;
    n->std = ftypes[t].std;
    n->ftype = ftypes[t].name;
    n->op = op;
    json_object *v = NULL;
    json_object_object_get_ex(j, "value", &v);
    const char *s;
    switch (n->f) {
    case F_ATTR:
        if (!n->std) {
            if (!(s = jstr(j, "name")) || !*s) goto name;
            n->name = xstrdup(s);
        }
        break;
    case F_EVENT:
        if (!(s = jstr(j, "name")) || !*s) goto name;
        n->name = xstrdup(s);
        break;
    case F_PURCHASE:
        if (json_object_object_get_ex(j, "product", NULL)) {
            if (!(s = jstr(j, "product")) || !*s) {
                node_free(n);
                return bad(c, path, "'product' must be a non-empty string (leave it out for any product)", NULL);
            }
            n->name = xstrdup(s);
        }
        break;
    case F_GROUP: {
        /* The attribute is a JSON object written by json-c (JSON_PLAIN):
         * the group's key is found as json-c escapes it. */
        const char *g = jstr(j, "group_id");
        if (!g || !*g) {
            node_free(n);
            return bad(c, path, "a subscription_group filter needs a string 'group_id'", NULL);
        }
        n->name = xstrdup(g);
        json_object *k = json_object_new_string(g);
        size_t kl;
        const char *kt = json_text(k, &kl);
        n->needle = xmalloc(kl + 2);
        memcpy(n->needle, kt, kl);
        n->needle[kl] = ':';
        n->needle[kl + 1] = '\0';
        n->nneedle = kl + 1;
        json_object_put(k);
        break;
    }
    case F_COHORT: {
        const char *p = jstr(j, "partner"), *id = jstr(j, "cohort_id");
        if (!p || !*p || !id || !*id) {
            node_free(n);
            return bad(c, path, "a cohort filter needs string 'partner' and 'cohort_id'", NULL);
        }
        n->name = xstrdup(p);
        n->cohort_id = xstrdup(id);
        break;
    }
    case F_SEGMENT: {
        const char *id = jstr(j, "id");
        if (!id || !*id) {
            node_free(n);
            return bad(c, path, "a segment filter needs a string 'id'", NULL);
        }
        n->name = xstrdup(id);
        for (int i = 0; i < c->nstack; i++)
            if (c->stack[i] && !strcmp(c->stack[i], id)) {
                node_free(n);
                return bad(c, path, "segment '%s' refers to itself through its filters (a cycle)", id);
            }
        if (depth >= SEG_MAX_DEPTH || c->nstack >= SEG_MAX_DEPTH) {
            node_free(n);
            return bad(c, path, "segments are nested too deeply", NULL);
        }
        json_object *def = NULL;
        char *sname = NULL;
        int rc = c->resolve ? c->resolve(c->arg, id, &def, &sname) : BR_ENOTFOUND;
        if (rc < 0) {
            node_free(n);
            if (rc != BR_ENOTFOUND) {
                c->rc = rc;
                snprintf(c->why, c->whylen, "storage failure while reading segment '%s'", id);
                return NULL;
            }
            return bad(c, path, "unknown segment id '%s'", id);
        }
        n->cohort_id = sname;
        c->stack[c->nstack++] = n->name;
        char sub[300];
        snprintf(sub, sizeof sub, "%s(segment %s)", path, id);
        n->sub = compile_node(c, def, sub, depth + 1);
        c->nstack--;
        json_object_put(def);
        if (!n->sub) {
            node_free(n);
            return NULL;
        }
        break;
    }
    }
    switch (op->operand) {
    case V_NONE: break;
    case V_STR:
        if (!v || !json_object_is_type(v, json_type_string)) goto operand;
        n->strs = xmalloc(sizeof *n->strs);
        n->lens = xmalloc(sizeof *n->lens);
        /* With its length: a JSON string may hold NUL bytes. */
        n->lens[0] = (size_t)json_object_get_string_len(v);
        n->strs[0] = xstrndup(json_object_get_string(v), n->lens[0]);
        n->nstrs = 1;
        break;
    case V_STRS: {
        if (!v || !json_object_is_type(v, json_type_array) || !json_object_array_length(v)) goto operand;
        size_t k = json_object_array_length(v);
        if (k > SEG_MAX_VALUES) {
            node_free(n);
            return bad(c, path, "more than 1000 values in a list", NULL);
        }
        n->strs = xcalloc(k, sizeof *n->strs);
        n->lens = xcalloc(k, sizeof *n->lens);
        for (size_t i = 0; i < k; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (!json_object_is_type(e, json_type_string)) goto operand;
            n->lens[i] = (size_t)json_object_get_string_len(e);
            n->strs[i] = xstrndup(json_object_get_string(e), n->lens[i]);
            n->nstrs++;
        }
        break;
    }
    case V_ELEMS: {
        /* Array elements are strings or numbers (booleans too, which no
         * operator asks about). */
        if (!v || !json_object_is_type(v, json_type_array) || !json_object_array_length(v)) goto operand;
        size_t k = json_object_array_length(v);
        if (k > SEG_MAX_VALUES) {
            node_free(n);
            return bad(c, path, "more than 1000 values in a list", NULL);
        }
        n->strs = xcalloc(k, sizeof *n->strs);
        n->lens = xcalloc(k, sizeof *n->lens);
        n->nums = xcalloc(k, sizeof *n->nums);
        for (size_t i = 0; i < k; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (is_num(e)) n->nums[n->nnums++] = json_object_get_double(e);
            else if (json_object_is_type(e, json_type_string)) {
                n->lens[n->nstrs] = (size_t)json_object_get_string_len(e);
                n->strs[n->nstrs] = xstrndup(json_object_get_string(e), n->lens[n->nstrs]);
                n->nstrs++;
            } else goto operand;
        }
        break;
    }
    case V_NUM:
        if (!v || !is_num(v)) goto operand;
        n->a = json_object_get_double(v);
        break;
    case V_NUM2:
        if (!v || !json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2 ||
            !is_num(json_object_array_get_idx(v, 0)) || !is_num(json_object_array_get_idx(v, 1)))
            goto operand;
        n->a = json_object_get_double(json_object_array_get_idx(v, 0));
        n->b = json_object_get_double(json_object_array_get_idx(v, 1));
        if (n->b < n->a) {
            node_free(n);
            return bad(c, path, "'between' needs [low, high] with low <= high", NULL);
        }
        break;
    case V_TIME:
        if (!v || !parse_time(v, &n->a)) goto operand;
        break;
    case V_DAYS:
    case V_COUNT:
        if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_get_int64(v) > 1000000000)
            goto operand;
        n->n = json_object_get_int64(v);
        break;
    case V_REGEX: {
        if (!v || !json_object_is_type(v, json_type_string)) goto operand;
        char why[200];
        n->re = relin_compile(json_object_get_string(v), why, sizeof why);
        if (!n->re) {
            node_free(n);
            return bad(c, path, "invalid regex: %s", why);
        }
        n->strs = xmalloc(sizeof *n->strs);
        n->lens = xmalloc(sizeof *n->lens);
        n->strs[0] = xstrdup(json_object_get_string(v));
        n->lens[0] = strlen(n->strs[0]);
        n->nstrs = 1;
        break;
    }
    }
    if (n->f == F_EVENT || n->f == F_PURCHASE) {
        json_object *d;
        if (json_object_object_get_ex(j, "days", &d) && !json_object_is_type(d, json_type_null)) {
            if (op->op < OP_CGT || op->op > OP_CEQ) {
                node_free(n);
                return bad(c, path, "'days' applies to the count_* operators only", NULL);
            }
            if (!json_object_is_type(d, json_type_int) || json_object_get_int64(d) < 1 ||
                json_object_get_int64(d) > SUMMARY_DAYS) {
                node_free(n);
                return bad(c, path, "'days' must be an integer from 1 to 90 (per-day counts are kept 90 days)", NULL);
            }
            n->days = json_object_get_int64(d);
        }
    }
    if (n->f == F_RANDOM && (n->a < 0 || n->a > 9999 || n->b > 9999)) {
        node_free(n);
        return bad(c, path, "random_bucket values are 0 to 9999", NULL);
    }
    for (int i = 0; n->f == F_GROUP && i < n->nstrs; i++)
        if (n->lens[i] != strlen(n->strs[i]) || (strcmp(n->strs[i], "subscribed") && strcmp(n->strs[i], "unsubscribed"))) {
            node_free(n);
            return bad(c, path, "%s values are 'subscribed' and 'unsubscribed'", type);
        }
    for (int i = 0; n->f == F_SUB && i < n->nstrs; i++)
        if (n->lens[i] != strlen(n->strs[i]) ||
            (strcmp(n->strs[i], "opted_in") && strcmp(n->strs[i], "subscribed") && strcmp(n->strs[i], "unsubscribed"))) {
            node_free(n);
            return bad(c, path, "%s values are 'opted_in', 'subscribed' and 'unsubscribed'", type);
        }
    return n;
name:
    node_free(n);
    return bad(c, path, "a %s filter needs a non-empty string 'name'", type);
operand : {
    static const char *const want[] = {"", "a string", "a non-empty array of strings", "a number",
                                       "an array [low, high] of two numbers",
                                       "an ISO-8601 time string", "a non-negative integer number of days",
                                       "a non-negative integer", "a regex string",
                                       "a non-empty array of strings and numbers"};
    char m[200];
    snprintf(m, sizeof m, "'value' of '%s' must be %s", opn, want[op->operand]);
    node_free(n);
    return bad(c, path, "%s", m);
}
}

static snode *compile_node(cctx *c, json_object *j, const char *path, int depth) {
    if (!json_object_is_type(j, json_type_object)) return bad(c, path, "a filter or group must be a JSON object", NULL);
    if (depth > SEG_MAX_DEPTH) return bad(c, path, "groups are nested too deeply", NULL);
    json_object *kids = NULL;
    bool is_or = false;
    if (json_object_object_get_ex(j, "and", &kids) || (is_or = json_object_object_get_ex(j, "or", &kids))) {
        if (!json_object_is_type(kids, json_type_array) || !json_object_array_length(kids))
            return bad(c, path, "'%s' must be a non-empty array of filters", is_or ? "or" : "and");
        if (json_object_object_length(j) != 1)
            return bad(c, path, "a group has one key, 'and' or 'or'", NULL);
        snode *n = xcalloc(1, sizeof *n);
        n->group = true;
        n->is_or = is_or;
        size_t k = json_object_array_length(kids);
        n->kids = xcalloc(k, sizeof *n->kids);
        for (size_t i = 0; i < k; i++) {
            char sub[300];
            snprintf(sub, sizeof sub, "%s%s%s[%zu]", path, *path ? "." : "", is_or ? "or" : "and", i);
            snode *kid = compile_node(c, json_object_array_get_idx(kids, i), sub, depth + 1);
            if (!kid) {
                node_free(n);
                return NULL;
            }
            n->kids[n->nkids++] = kid;
        }
        return n;
    }
    if (++c->filters > SEG_MAX_FILTERS) return bad(c, path, "more than 200 filters (nested segments included)", NULL);
    return compile_leaf(c, j, path, depth);
}

int seg_compile(json_object *def, const char *self, seg_resolve_fn resolve, void *arg, seg_def **out, char *why,
                size_t whylen) {
    cctx c = {.resolve = resolve, .arg = arg, .why = why, .whylen = whylen};
    c.stack[c.nstack++] = self;
    snode *root = compile_node(&c, def, "", 0);
    if (!root) return c.rc ? c.rc : BR_EINVAL;
    *out = xcalloc(1, sizeof **out);
    (*out)->root = root;
    return 0;
}

void seg_free(seg_def *d) {
    if (!d) return;
    node_free(d->root);
    free(d);
}

/* ---- shared value tests -------------------------------------------------- */

static bool memmem_ok(const char *h, size_t hn, const char *nd, size_t nn) {
    if (!nn) return true;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == nd[0] && !memcmp(h + i, nd, nn)) return true;
    return false;
}

/* The positive string test (neg applied by the caller). */
static bool str_test(const snode *n, const char *s, size_t len) {
    switch (n->op->op) {
    case OP_EQ: return len == n->lens[0] && !memcmp(s, n->strs[0], len);
    case OP_IN:
        for (int i = 0; i < n->nstrs; i++)
            if (len == n->lens[i] && !memcmp(s, n->strs[i], len)) return true;
        return false;
    case OP_CONTAINS: return memmem_ok(s, len, n->strs[0], n->lens[0]);
    case OP_REGEX: return relin_match(n->re, s, len);
    }
    return false;
}

static bool num_test(const snode *n, double v) {
    switch (n->op->op) {
    case OP_NEQ: return v == n->a;
    case OP_LT: return v < n->a;
    case OP_GT: return v > n->a;
    case OP_LE: return v <= n->a;
    case OP_GE: return v >= n->a;
    case OP_BETWEEN: return v >= n->a && v <= n->b;
    }
    return false;
}

static bool time_test(const snode *n, double ms, int64_t now) {
    switch (n->op->op) {
    case OP_BEFORE: return ms < n->a;
    case OP_AFTER: return ms > n->a;
    case OP_WITHIN: return ms >= (double)(now - n->n * DAY_MS) && ms <= (double)now;
    case OP_OLDER: return ms < (double)(now - n->n * DAY_MS);
    case OP_WITHIN_NEXT: return ms >= (double)now && ms <= (double)(now + n->n * DAY_MS);
    case OP_LATER: return ms > (double)(now + n->n * DAY_MS);
    }
    return false;
}

/* Array operators on a PT_ARR payload (both evaluators: arrays are not
 * columns). String elements compare with the list's strings, number
 * elements (integers and doubles alike) with its numbers. */
static bool arr_test(const snode *n, const uint8_t *p, uint32_t len) {
    const uint8_t *q = p, *end = p + len;
    uint32_t size = 0;
    int op = n->op->op, want = n->nstrs + n->nnums, nfound = 0;
    uint64_t found[(SEG_MAX_VALUES + 63) / 64] = {0}; /* includes_all: bit per value of the list */
    while (q < end) {
        uint8_t et = *q++;
        uint64_t l;
        if (varint_get(&q, end, &l) < 0 || l > (uint64_t)(end - q)) break;
        int hit = -1; /* index of the last matching value of the list */
        for (int i = 0; et == PT_STR && i < n->nstrs; i++)
            if (l == n->lens[i] && !memcmp(q, n->strs[i], l)) {
                hit = i;
                if (!(found[i / 64] >> (i % 64) & 1)) found[i / 64] |= 1ull << (i % 64), nfound++;
            }
        if (n->nnums && (et == PT_INT || (et == PT_DBL && l == 8))) {
            double v = et == PT_INT ? (double)pval_get_int(q, (uint32_t)l) : pval_get_dbl(q);
            for (int i = 0; i < n->nnums; i++)
                if (v == n->nums[i]) {
                    int k = n->nstrs + i;
                    hit = k;
                    if (!(found[k / 64] >> (k % 64) & 1)) found[k / 64] |= 1ull << (k % 64), nfound++;
                }
        }
        if (op == OP_ANY && hit >= 0) return true;
        q += l;
        size++;
    }
    switch (op) {
    case OP_ALL: return nfound == want;
    case OP_SIZE_EQ: return size == n->n;
    case OP_SIZE_GT: return size > n->n;
    case OP_SIZE_LT: return size < n->n;
    }
    return false;
}

/* A value of the attribute (type + payload) against a positive operator. */
static bool value_test(const snode *n, uint8_t type, const uint8_t *p, uint32_t len, int64_t now) {
    int op = n->op->op;
    if (op == OP_EXISTS) return true;
    if (op >= OP_EQ && op <= OP_REGEX) return type == PT_STR && str_test(n, (const char *)p, len);
    if (op >= OP_NEQ && op <= OP_BETWEEN) {
        if (type == PT_INT) return num_test(n, (double)pval_get_int(p, len));
        if (type == PT_DBL) return num_test(n, pval_get_dbl(p));
        return false;
    }
    if (op == OP_TRUE) return type == PT_TRUE;
    if (op == OP_FALSE) return type == PT_FALSE;
    if (op >= OP_BEFORE && op <= OP_LATER) return type == PT_TIME && time_test(n, (double)pval_get_int(p, len), now);
    if (op >= OP_ANY && op <= OP_SIZE_LT) return type == PT_ARR && arr_test(n, p, len);
    return false;
}

static uint32_t today_of(int64_t now) { return now < 0 ? 0 : (uint32_t)(now / DAY_MS); }

/* Event operators on a summary's figures (count, first/last in seconds,
 * the count in the window). */
static bool event_test(const snode *n, uint64_t count, uint64_t in_window, int64_t first_ms, int64_t last_ms) {
    uint64_t c = n->days ? in_window : count;
    switch (n->op->op) {
    case OP_EVER: return count > 0;
    case OP_CGT: return c > (uint64_t)n->n;
    case OP_CGE: return c >= (uint64_t)n->n;
    case OP_CLT: return c < (uint64_t)n->n;
    case OP_CLE: return c <= (uint64_t)n->n;
    case OP_CEQ: return c == (uint64_t)n->n;
    case OP_FIRST_BEFORE: return count && (double)first_ms < n->a;
    case OP_FIRST_AFTER: return count && (double)first_ms > n->a;
    case OP_LAST_BEFORE: return count && (double)last_ms < n->a;
    case OP_LAST_AFTER: return count && (double)last_ms > n->a;
    }
    return false;
}

/* A subscription group's state in a profile: its value in the stored
 * object, found by key. In JSON text a '"' inside a string is escaped, so
 * a key is the needle right after '{' or ','. */
static bool group_test(const snode *n, const uint8_t *blob) {
    pfield f;
    if (!blob || !profile_get(blob, pkey(PF_SUBSCRIPTION_GROUPS, PK_ATTR), &f) || f.type != PT_JSON) return false;
    const char *h = (const char *)f.p;
    for (size_t i = 1; i + n->nneedle < f.len; i++) {
        if ((h[i - 1] != '{' && h[i - 1] != ',') || memcmp(h + i, n->needle, n->nneedle)) continue;
        const char *v = h + i + n->nneedle, *end = h + f.len;
        if (*v != '"') return false;
        const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
        return q && str_test(n, v + 1, (size_t)(q - v - 1));
    }
    return false;
}

static uint32_t leaf_name_id(const snode *n, const seg_env *env) {
    if (n->std) return n->std;
    return n->name ? names_find(env->names, n->name, strlen(n->name)) : 0;
}

/* ---- reference evaluator ------------------------------------------------- */

static bool ref_node(const snode *n, const seg_env *env, uint32_t row, const profile_t *p);

static bool ref_leaf(const snode *n, const seg_env *env, uint32_t row, const profile_t *p) {
    pfield f;
    switch (n->f) {
    case F_ATTR:
    case F_PRESENCE: {
        uint32_t id = leaf_name_id(n, env);
        bool has = id && p->blob && profile_get(p->blob, pkey(id, PK_ATTR), &f);
        if (n->op->op == OP_BLANK) return !has;
        if (!has) return false;
        /* Identifier fields hold strings; presence is all a filter asks. */
        return value_test(n, f.type, f.p, f.len, env->now_ms);
    }
    case F_SUB:
        /* A user who never had a status has Braze's default. */
        if (!p->blob || !profile_get(p->blob, pkey(n->std, PK_ATTR), &f)) return str_test(n, SUB_DEFAULT, strlen(SUB_DEFAULT));
        return f.type == PT_STR && str_test(n, (const char *)f.p, f.len);
    case F_GROUP: return group_test(n, p->blob);
    case F_CREATED: return time_test(n, (double)p->created * 1000, env->now_ms);
    case F_RANDOM: return num_test(n, (double)users_random_bucket(env->users, row));
    case F_EVENT:
    case F_PURCHASE: {
        bool purchase = n->f == F_PURCHASE;
        uint64_t count = 0, win = 0;
        int64_t first = 0, last = 0;
        uint32_t today = today_of(env->now_ms), from = n->days && today + 1 >= n->days ? today + 1 - (uint32_t)n->days : 0;
        if (p->blob) {
            uint32_t id = n->name ? names_find(env->names, n->name, strlen(n->name)) : 0;
            piter it;
            piter_init(&it, p->blob);
            while (piter_next(&it, &f)) {
                if ((f.key & 3) != (purchase ? PK_PURCHASE : PK_EVENT) || f.type != PT_SUMMARY) continue;
                if (n->name && f.key >> 2 != id) continue;
                psummary s;
                psummary_decode(f.p, f.len, purchase, &s);
                if (!s.count) continue;
                if (!count || s.first_ms < first) first = s.first_ms;
                if (s.last_ms > last) last = s.last_ms;
                count += s.count;
                for (uint32_t i = 0; i < s.ndays; i++)
                    if (s.days[i].day >= from && s.days[i].day <= today) win += s.days[i].count;
            }
        }
        /* Times compare at the second, as the columns keep them. */
        return event_test(n, count, win, first / 1000 * 1000, last / 1000 * 1000);
    }
    case F_COHORT: {
        cohort_t *k = env->cohorts ? cohorts_find(env->cohorts, n->name, n->cohort_id, strlen(n->cohort_id)) : NULL;
        return k && bitmap_contains(k->members, row);
    }
    case F_SEGMENT: return ref_node(n->sub, env, row, p);
    }
    return false;
}

static bool ref_node(const snode *n, const seg_env *env, uint32_t row, const profile_t *p) {
    if (n->group) {
        for (int i = 0; i < n->nkids; i++) {
            bool m = ref_node(n->kids[i], env, row, p);
            if (n->is_or && m) return true;
            if (!n->is_or && !m) return false;
        }
        return !n->is_or;
    }
    return ref_leaf(n, env, row, p) != n->op->neg;
}

static const profile_t *live_profile(const seg_env *env, uint32_t row) {
    profile_t *p = users_get(env->users, row);
    return p && !(p->flags & PROFILE_DELETED) ? p : NULL;
}

bool seg_match_row(const seg_def *d, const seg_env *env, uint32_t row) {
    const profile_t *p = live_profile(env, row);
    return p && ref_node(d->root, env, row, p);
}

/* ---- per filter ---------------------------------------------------------- */

static const snode *top_node(const seg_def *d, int i) { return d->root->group ? d->root->kids[i] : d->root; }

int seg_top_count(const seg_def *d) { return d->root->group ? d->root->nkids : 1; }

bool seg_top_match(const seg_def *d, const seg_env *env, uint32_t row, int i) {
    const profile_t *p = live_profile(env, row);
    return p && ref_node(top_node(d, i), env, row, p);
}

/* ---- fast evaluator ------------------------------------------------------ */

/* A leaf made ready for one evaluation: its columns and precomputed sets. */
typedef struct {
    const snode *n;
    const seg_env *env;
    const cols_attr *a;
    const cols_event *e;
    uint32_t id;
    uint8_t *codeok;   /* strings: [code] = the positive test holds */
    bool absent_ok;    /* subscription status: the test holds for a row without a value */
    bool numbers;      /* numok[] is filled: a number test on a column with few numbers */
    uint32_t *hashes;  /* equals/in on an open column: the operands' hashes */
    uint8_t numok[COLS_NUM_VALUES + 1]; /* [code] = the test holds (cols_nums) */
    uint32_t from, today;
    const uint16_t *wcnt; /* event counts over the window (columns.h), when they serve */
} prep;

static void prep_leaf(prep *x, const snode *n, const seg_env *env) {
    memset(x, 0, sizeof *x);
    x->n = n;
    x->env = env;
    if (n->f == F_ATTR || n->f == F_PRESENCE || n->f == F_SUB) {
        if (n->f == F_SUB) x->absent_ok = str_test(n, SUB_DEFAULT, strlen(SUB_DEFAULT));
        x->id = leaf_name_id(n, env);
        x->a = x->id ? cols_attr_get(env->cols, x->id) : NULL;
        int op = n->op->op;
        if (x->a && x->a->open && (op == OP_EQ || op == OP_IN)) {
            x->hashes = xmalloc((size_t)n->nstrs * sizeof *x->hashes);
            for (int k = 0; k < n->nstrs; k++) x->hashes[k] = cols_str_hash(n->strs[k], n->lens[k]);
        }
        if (x->a && op >= OP_EQ && op <= OP_REGEX && x->a->nstr) {
            /* Each distinct value is tested once. */
            x->codeok = xcalloc(x->a->nstr + 1, 1);
            for (uint32_t k = 1; k <= x->a->nstr; k++) {
                size_t len;
                const char *s = cols_str(x->a, k, &len);
                x->codeok[k] = str_test(n, s, len);
            }
        }
        if (x->a && x->a->nums && op >= OP_NEQ && op <= OP_BETWEEN) {
            x->numbers = true;
            for (uint32_t k = 1; k <= x->a->nums->n; k++) x->numok[k] = num_test(n, x->a->nums->val[k - 1]);
        }
    } else if (n->f == F_EVENT || n->f == F_PURCHASE) {
        uint32_t key = COLS_ANY_PURCHASE;
        if (n->name) {
            uint32_t id = names_find(env->names, n->name, strlen(n->name));
            key = id ? pkey(id, n->f == F_PURCHASE ? PK_PURCHASE : PK_EVENT) : 0;
        }
        x->e = key ? cols_event_get(env->cols, key) : NULL;
        x->today = today_of(env->now_ms);
        x->from = cols_window_from(x->today, (uint32_t)n->days);
        if (x->e && n->days && n->op->op >= OP_CGT && n->op->op <= OP_CEQ && n->n < 0xffff)
            x->wcnt = cols_window_counts(env->cols, key, (uint32_t)n->days, x->today);
    }
}

static bool attr_row(const prep *x, uint32_t row) {
    const snode *n = x->n;
    const cols_attr *a = x->a;
    int op = n->op->op;
    uint8_t t = a ? a->type[row] : 0;
    if (op == OP_BLANK) return !t;
    if (!t) return false;
    if (op == OP_EXISTS) return true;
    if (op >= OP_EQ && op <= OP_REGEX) {
        if (t != PT_STR) return false;
        if (!a->open) return x->codeok && x->codeok[cols_code(a, row)];
        /* Open column: hashes rule out equality cheaply; the profile decides. */
        bool maybe = !x->hashes;
        for (int k = 0; x->hashes && !maybe && k < n->nstrs; k++) maybe = x->hashes[k] == a->hash[row];
        pfield f;
        profile_t *p = users_get(x->env->users, row);
        return maybe && p->blob && profile_get(p->blob, pkey(x->id, PK_ATTR), &f) && f.type == PT_STR &&
               str_test(n, (const char *)f.p, f.len);
    }
    if (op >= OP_NEQ && op <= OP_BETWEEN) {
        if (x->numbers) return x->numok[a->nums->code[row]];
        return (t == PT_INT || t == PT_DBL) && num_test(n, cols_num(a, row));
    }
    if (op == OP_TRUE) return t == PT_TRUE;
    if (op == OP_FALSE) return t == PT_FALSE;
    if (op >= OP_BEFORE && op <= OP_LATER) return t == PT_TIME && time_test(n, cols_num(a, row), x->env->now_ms);
    if (op >= OP_ANY && op <= OP_SIZE_LT) {
        /* Arrays are not columns: read this row's value. */
        pfield f;
        profile_t *p = users_get(x->env->users, row);
        return t == PT_ARR && p->blob && profile_get(p->blob, pkey(x->id, PK_ATTR), &f) && arr_test(n, f.p, f.len);
    }
    return false;
}

static bool event_row(const prep *x, uint32_t row) {
    if (x->wcnt) return event_test(x->n, 0, x->wcnt[row], 0, 0);
    const cols_evrec *w = x->e ? cols_ev_rec(x->e, row) : NULL;
    if (!w || !cols_ev_count(w)) return event_test(x->n, 0, 0, 0, 0);
    if (cols_ev_count(w) == COLS_COUNT_MAX) return ref_leaf(x->n, x->env, row, users_get(x->env->users, row));
    uint64_t win = x->n->days ? cols_event_in_window(x->e, row, x->from, x->today) : 0;
    return event_test(x->n, cols_ev_count(w), win, (int64_t)w->first_s * 1000, (int64_t)w->last_s * 1000);
}

/* The positive test of a leaf for one row (columns, not blobs). */
static bool leaf_row(const prep *x, uint32_t row) {
    const snode *n = x->n;
    switch (n->f) {
    case F_ATTR:
    case F_PRESENCE: return attr_row(x, row);
    case F_SUB: return x->a && x->a->type[row] ? attr_row(x, row) : x->absent_ok;
    case F_GROUP: return group_test(n, users_get(x->env->users, row)->blob);
    case F_CREATED: return time_test(n, (double)users_get(x->env->users, row)->created * 1000, x->env->now_ms);
    case F_RANDOM: return num_test(n, (double)users_random_bucket(x->env->users, row));
    case F_EVENT:
    case F_PURCHASE: return event_row(x, row);
    }
    return false;
}

/* ---- threads ------------------------------------------------------------- */

/* Big scans and unions are split over threads: the columns and bitmaps
 * are only read, and the engine thread, their one writer, waits. */
#define PAR_MAX 16
#define PAR_MIN_ROWS 65536 /* per thread: below this a thread costs more than it saves */
static unsigned par_threads;
static size_t par_min_rows = PAR_MIN_ROWS;

void seg_set_parallel(unsigned threads, size_t min_rows) {
    par_threads = threads;
    par_min_rows = min_rows ? min_rows : PAR_MIN_ROWS;
}

/* How many parts `rows` rows of work make. */
static size_t par_parts(uint64_t rows) {
    if (!par_threads) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        par_threads = cpus < 1 ? 1 : cpus > PAR_MAX ? PAR_MAX : (unsigned)cpus;
    }
    uint64_t n = rows / par_min_rows;
    return n < 1 ? 1 : n > par_threads ? par_threads : n > PAR_MAX ? PAR_MAX : (size_t)n;
}

/* fn on each of the n parts (size bytes apart), all but the first on new
 * threads (or here, if a thread cannot start). */
static void par_run(void *(*fn)(void *), void *parts, size_t size, size_t n) {
    pthread_t tid[PAR_MAX];
    bool started[PAR_MAX] = {false};
    for (size_t i = 1; i < n; i++) started[i] = pthread_create(&tid[i], NULL, fn, (char *)parts + i * size) == 0;
    fn(parts);
    for (size_t i = 1; i < n; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else fn((char *)parts + i * size);
    }
}

typedef struct {
    const bitmap_t *const *sets;
    size_t n;
    bitmap_t *out;
} union_part;

static void *union_run(void *arg) {
    union_part *p = arg;
    p->out = bitmap_or_many(p->sets, p->n);
    return NULL;
}

/* The union of the value bitmaps whose value passes (ok[i]), as a new set
 * (*owned), or NULL when it holds more rows than ncand: testing the
 * candidates is then cheaper. A big union (a range over many values) is
 * split by value over threads, then the parts are merged. */
static bitmap_t *union_of(bitmap_t *const *sets, const uint8_t *ok, uint32_t n, uint64_t ncand, bool *owned) {
    const bitmap_t *pick[COLS_VALUE_BITMAPS];
    size_t k = 0;
    uint64_t rows = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ok[i]) {
            pick[k++] = sets[i];
            rows += bitmap_cardinality(sets[i]);
        }
    if (rows > ncand) return NULL;
    *owned = true;
    size_t np = par_parts(rows);
    if (np > k / 2) np = k / 2;
    if (np < 2) return bitmap_or_many(pick, k);
    union_part part[PAR_MAX];
    for (size_t i = 0; i < np; i++) {
        size_t lo = k * i / np, hi = k * (i + 1) / np;
        part[i] = (union_part){pick + lo, hi - lo, NULL};
    }
    par_run(union_run, part, sizeof *part, np);
    const bitmap_t *outs[PAR_MAX];
    for (size_t i = 0; i < np; i++) outs[i] = part[i].out;
    bitmap_t *u = bitmap_or_many(outs, np);
    for (size_t i = 0; i < np; i++) bitmap_free(part[i].out);
    return u;
}

/* A leaf's positive rows as a ready bitmap, when one exists (cohorts,
 * equality and "in" over few distinct strings, number tests over few
 * distinct numbers) and is cheaper than testing the ncand candidates (a
 * union costs about as much per row it holds as a test per candidate).
 * NULL otherwise; *owned says whether the caller frees it. */
static bitmap_t *leaf_set(const prep *x, uint64_t ncand, bool *owned) {
    const snode *n = x->n;
    *owned = false;
    if (n->f == F_COHORT) {
        cohort_t *k = x->env->cohorts ? cohorts_find(x->env->cohorts, n->name, n->cohort_id, strlen(n->cohort_id)) : NULL;
        if (k) return k->members;
        *owned = true;
        return bitmap_new();
    }
    if (n->f == F_ATTR && (n->op->op == OP_EQ || n->op->op == OP_IN)) {
        if (!x->a || (!x->a->nstr && !x->a->open)) {
            *owned = true;
            return bitmap_new();
        }
        if (!x->a->by_code) return NULL;
        return union_of(x->a->by_code + 1, x->codeok + 1, x->a->nstr, ncand, owned);
    }
    if (n->f == F_ATTR && n->op->op >= OP_NEQ && n->op->op <= OP_BETWEEN) {
        if (!x->a || (!x->a->nums && !x->a->num)) {
            *owned = true;
            return bitmap_new();
        }
        if (!x->numbers) return NULL;
        return union_of(x->a->nums->by, x->numok + 1, x->a->nums->n, ncand, owned);
    }
    return NULL;
}

/* ---- scans --------------------------------------------------------------- */

/* A leaf with no bitmap tests each candidate row; big scans are split by
 * row range over threads. */
typedef struct {
    const prep *x;
    uint32_t *rows;
    size_t n, kept;
} scan_part;

/* Candidate rows are sparse and ascending, so each test would wait on a
 * cache miss (two for events: the row's offset, then its record); fetching
 * a few rows ahead overlaps those waits. */
#define PREFETCH_AHEAD 16

static void prefetch_row(const prep *x, uint32_t row, bool second) {
    if (x->e) {
        if (!second) __builtin_prefetch(x->e->at + row);
        else if (x->e->at[row]) __builtin_prefetch(x->e->pool + x->e->at[row]);
    } else if (x->a && !second) {
        __builtin_prefetch(x->a->type + row);
        if (x->numbers) __builtin_prefetch(x->a->nums->code + row);
        if (x->a->num) __builtin_prefetch((const char *)x->a->num + (size_t)row * (x->a->num_dbl ? 8 : 4));
        else if (x->a->code) __builtin_prefetch((const uint8_t *)x->a->code + (size_t)row * x->a->code_width);
    }
}

/* A count operator as the range of window counts that pass [lo, hi]
 * (empty as lo > hi). */
static void window_range(const prep *x, uint32_t *lo, uint32_t *hi) {
    uint32_t v = (uint32_t)x->n->n; /* v < 0xffff (prep_leaf) */
    *lo = 0, *hi = 0xffff;
    switch (x->n->op->op) {
    case OP_CGT: *lo = v + 1; break;
    case OP_CGE: *lo = v; break;
    case OP_CLT: *hi = v ? v - 1 : 0, *lo = v ? 0 : 1; break;
    case OP_CLE: *hi = v; break;
    case OP_CEQ: *lo = *hi = v; break;
    }
}

/* Window counts: the operator as a range of counts, one load per row. */
static size_t scan_window(const prep *x, uint32_t *rows, size_t n) {
    uint32_t lo, hi;
    window_range(x, &lo, &hi);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) __builtin_prefetch(x->wcnt + rows[i + PREFETCH_AHEAD]);
        uint32_t c = x->wcnt[rows[i]];
        rows[k] = rows[i];
        k += c >= lo && c <= hi;
    }
    return k;
}

/* One byte per row looked up in a table (numbers' codes). */
static size_t scan_lookup(const uint8_t *ok, const uint8_t *code, uint32_t *rows, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) __builtin_prefetch(code + rows[i + PREFETCH_AHEAD]);
        rows[k] = rows[i];
        k += ok[code[rows[i]]];
    }
    return k;
}

static void *scan_run(void *arg) {
    scan_part *p = arg;
    bool neg = p->x->n->op->neg;
    size_t k = 0;
    if (p->x->wcnt && !neg) {
        p->kept = scan_window(p->x, p->rows, p->n);
        return NULL;
    }
    if (p->x->numbers && !neg) {
        p->kept = scan_lookup(p->x->numok, p->x->a->nums->code, p->rows, p->n);
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (i + PREFETCH_AHEAD < p->n) prefetch_row(p->x, p->rows[i + PREFETCH_AHEAD], false);
        if (i + PREFETCH_AHEAD / 2 < p->n) prefetch_row(p->x, p->rows[i + PREFETCH_AHEAD / 2], true);
        if (leaf_row(p->x, p->rows[i]) != neg) p->rows[k++] = p->rows[i];
    }
    p->kept = k;
    return NULL;
}

/* When most rows are candidates and the values that pass are one range of
 * small integers (window counts; number codes, which are in value order),
 * every row's value is read in row order, 16 bytes at a time with SSE2,
 * into a bit array that bitmap_from_words makes a bitmap in one go. The
 * gather in scan() costs a cache miss per candidate and a pass to list
 * them first, and a union of value bitmaps costs about that per row it
 * holds; this reads 1 or 2 bytes a row, sequentially. */
typedef struct {
    const void *vals; /* per row: uint16_t when wide, else uint8_t */
    bool wide, neg;
    uint64_t *words;  /* in: the candidates; out: those that pass (or not, with neg) */
    size_t w0, w1;    /* the part's words */
    uint32_t lo, hi;  /* the values that pass */
} dense_part;

static void *dense_words(void *arg) {
    dense_part *p = arg;
    uint32_t lo = p->lo, span = p->hi - p->lo;
#ifdef __SSE2__
    if (p->wide) {
        /* c passes when (c - lo) mod 2^16 <= span: an unsigned compare, made
         * signed by flipping the top bit of both sides. */
        const __m128i flip = _mm_set1_epi16((short)0x8000), vlo = _mm_set1_epi16((short)lo),
                      vspan = _mm_set1_epi16((short)(span ^ 0x8000));
        for (size_t w = p->w0; w < p->w1; w++) {
            if (!p->words[w]) continue;
            const uint16_t *c = (const uint16_t *)p->vals + w * 64;
            uint64_t word = 0;
            for (int g = 0; g < 4; g++) {
                __m128i a = _mm_xor_si128(_mm_sub_epi16(_mm_loadu_si128((const __m128i *)(c + 16 * g)), vlo), flip);
                __m128i b = _mm_xor_si128(_mm_sub_epi16(_mm_loadu_si128((const __m128i *)(c + 16 * g + 8)), vlo), flip);
                int out = _mm_movemask_epi8(_mm_packs_epi16(_mm_cmpgt_epi16(a, vspan), _mm_cmpgt_epi16(b, vspan)));
                word |= (uint64_t)(~out & 0xffff) << (16 * g);
            }
            p->words[w] &= p->neg ? ~word : word;
        }
    } else {
        /* d = c - lo (mod 256) passes when min(d, span) == d. */
        const __m128i vlo = _mm_set1_epi8((char)lo), vspan = _mm_set1_epi8((char)span);
        for (size_t w = p->w0; w < p->w1; w++) {
            if (!p->words[w]) continue;
            const uint8_t *c = (const uint8_t *)p->vals + w * 64;
            uint64_t word = 0;
            for (int g = 0; g < 4; g++) {
                __m128i d = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(c + 16 * g)), vlo);
                word |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, vspan), d)) << (16 * g);
            }
            p->words[w] &= p->neg ? ~word : word;
        }
    }
#else
    for (size_t w = p->w0; w < p->w1; w++) {
        uint64_t word = 0;
        for (int i = 0; p->words[w] && i < 64; i++) {
            size_t r = w * 64 + i;
            uint32_t c = p->wide ? ((const uint16_t *)p->vals)[r] : ((const uint8_t *)p->vals)[r];
            word |= (uint64_t)(c - lo <= span) << i;
        }
        p->words[w] &= p->neg ? ~word : word;
    }
#endif
    return NULL;
}

/* The rows of base whose value is in [lo, hi] (or not, with neg): base as
 * words, each word with a candidate ANDed with its rows' tests, and the
 * words made a bitmap. Bitmap algebra on the result would cost more than
 * the pass: an AND of a dense chunk with an array chunk tests each value. */
static bitmap_t *scan_dense(const void *vals, bool wide, uint32_t lo, uint32_t hi, uint32_t rows,
                            const bitmap_t *base, bool neg) {
    size_t full = rows / 64, nwords = (rows + 63) / 64;
    uint64_t *words = xmalloc((nwords ? nwords : 1) * sizeof *words);
    bitmap_to_words(base, words, nwords);
    dense_part part[PAR_MAX];
    size_t np = par_parts(rows);
    for (size_t i = 0; i < np; i++)
        part[i] = (dense_part){vals, wide, neg, words, full * i / np, full * (i + 1) / np, lo, hi};
    par_run(dense_words, part, sizeof *part, np);
    if (full < nwords) { /* the last rows, fewer than 64 */
        uint64_t word = 0;
        for (uint32_t r = (uint32_t)full * 64; r < rows; r++) {
            uint32_t c = wide ? ((const uint16_t *)vals)[r] : ((const uint8_t *)vals)[r];
            word |= (uint64_t)(c - lo <= hi - lo) << (r % 64);
        }
        words[full] &= neg ? ~word : word;
    }
    bitmap_t *r = bitmap_from_words(words, nwords);
    free(words);
    return r;
}

/* Below 1 candidate in DENSE_SHARE rows, gathering the candidates costs
 * less than a pass over the words that hold one (about 3 ns a candidate
 * against 0.05 ns a row with both cores, at 10 million rows; measured
 * level at 1 in 16 to 1 in 64 on the bench's segment). */
#define DENSE_SHARE 64

/* Whether the leaf is best answered by scan_dense over base, and with
 * which values and range. */
static bool dense_plan(const prep *x, const bitmap_t *base, const void **vals, bool *wide, uint32_t *lo, uint32_t *hi) {
    uint32_t rows = cols_rows(x->env->cols);
    if (!x->wcnt && !x->numbers) return false;
    if (bitmap_cardinality(base) < rows / DENSE_SHARE) return false; /* few candidates: gather them */
    if (x->wcnt) {
        window_range(x, lo, hi);
        *vals = x->wcnt, *wide = true;
        return *lo <= *hi;
    }
    /* The codes that pass must be one range, and hold enough rows that a
     * pass over all of them beats the union of their bitmaps. */
    const cols_nums *m = x->a->nums;
    uint32_t k = 1;
    while (k <= m->n && !x->numok[k]) k++;
    if (k > m->n) return false;
    *lo = k;
    uint64_t in = 0;
    while (k <= m->n && x->numok[k]) in += bitmap_cardinality(m->by[k - 1]), k++;
    *hi = k - 1;
    while (k <= m->n && !x->numok[k]) k++;
    *vals = m->code, *wide = false;
    return k > m->n && in >= rows / 16;
}

static bitmap_t *scan(const prep *x, const bitmap_t *base) {
    size_t nc = (size_t)bitmap_cardinality(base);
    uint32_t *rows = xmalloc((nc ? nc : 1) * sizeof *rows);
    bitmap_to_array(base, rows);
    scan_part part[PAR_MAX];
    size_t np = par_parts(nc);
    for (size_t i = 0; i < np; i++) {
        size_t lo = nc * i / np, hi = nc * (i + 1) / np;
        part[i] = (scan_part){x, rows + lo, hi - lo, 0};
    }
    par_run(scan_run, part, sizeof *part, np);
    size_t k = part[0].kept;
    for (size_t i = 1; i < np; i++) {
        memmove(rows + k, part[i].rows, part[i].kept * sizeof *rows);
        k += part[i].kept;
    }
    bitmap_t *r = bitmap_of(rows, k);
    free(rows);
    return r;
}

static bitmap_t *eval_node(const snode *n, const seg_env *env, const bitmap_t *cand);

/* Rows of cand (all live rows when NULL) for which the leaf holds. */
static bitmap_t *eval_leaf(const snode *n, const seg_env *env, const bitmap_t *cand) {
    const bitmap_t *base = cand ? cand : cols_live(env->cols);
    if (n->f == F_SEGMENT) {
        bitmap_t *in = eval_node(n->sub, env, cand);
        if (!n->op->neg) return in;
        bitmap_t *r = bitmap_copy(base);
        bitmap_andnot_inplace(r, in);
        bitmap_free(in);
        return r;
    }
    prep x;
    prep_leaf(&x, n, env);
    const void *vals;
    bool wide, owned;
    uint32_t lo, hi;
    if (dense_plan(&x, base, &vals, &wide, &lo, &hi)) {
        free(x.codeok);
        free(x.hashes);
        return scan_dense(vals, wide, lo, hi, cols_rows(env->cols), base, n->op->neg);
    }
    bitmap_t *set = leaf_set(&x, cand ? bitmap_cardinality(cand) : UINT64_MAX, &owned), *r;
    if (set) {
        if (n->op->neg) {
            r = bitmap_copy(base);
            bitmap_andnot_inplace(r, set);
        } else r = bitmap_and(base, set);
        if (owned) bitmap_free(set);
        free(x.codeok);
        free(x.hashes);
        return r;
    }
    r = scan(&x, base);
    free(x.codeok);
    free(x.hashes);
    return r;
}

/* Rough cost rank: bitmaps first, then column tests, then the rest. */
static int rank(const snode *n, const seg_env *env) {
    if (n->group) return 4;
    if (n->f == F_COHORT) return 0;
    if (n->f == F_ATTR && (n->op->op == OP_EQ || n->op->op == OP_IN)) return 1;
    if (n->f == F_ATTR && n->op->op >= OP_NEQ && n->op->op <= OP_BETWEEN) {
        uint32_t id = leaf_name_id(n, env);
        const cols_attr *a = id ? cols_attr_get(env->cols, id) : NULL;
        return !a || a->nums ? 1 : 2;
    }
    if (n->f == F_SEGMENT || n->f == F_GROUP) return 3; /* F_GROUP reads blobs */
    if (n->f == F_ATTR && n->op->op >= OP_ANY && n->op->op <= OP_SIZE_LT) return 3; /* reads blobs */
    return 2;
}

static bitmap_t *eval_node(const snode *n, const seg_env *env, const bitmap_t *cand) {
    if (!n->group) return eval_leaf(n, env, cand);
    if (n->is_or) {
        bitmap_t *r = bitmap_new();
        for (int i = 0; i < n->nkids; i++) {
            bitmap_t *k = eval_node(n->kids[i], env, cand);
            bitmap_or_inplace(r, k);
            bitmap_free(k);
        }
        return r;
    }
    /* AND: each filter only tests the rows the cheaper ones left. */
    bitmap_t *cur = NULL;
    for (int pass = 0; pass <= 4; pass++)
        for (int i = 0; i < n->nkids; i++) {
            if (rank(n->kids[i], env) != pass) continue;
            bitmap_t *k = eval_node(n->kids[i], env, cur ? cur : cand);
            bitmap_free(cur);
            cur = k;
            if (!bitmap_cardinality(cur)) return cur;
        }
    return cur ? cur : bitmap_copy(cand ? cand : cols_live(env->cols));
}

bitmap_t *seg_eval(const seg_def *d, const seg_env *env) { return eval_node(d->root, env, NULL); }

/* ---- description --------------------------------------------------------- */

static void describe_node(const snode *n, buf_t *b, bool top);

static void q(buf_t *b, const char *s, size_t n) { buf_json_str(b, s, n); }

static void describe_time(buf_t *b, double ms) {
    char t[40];
    timefmt_iso((int64_t)ms, t, sizeof t);
    buf_puts(b, t);
}

static void describe_leaf(const snode *n, buf_t *b) {
    const opdef *op = n->op;
    switch (n->f) {
    case F_ATTR:
        if (n->std) buf_printf(b, "%s ", n->ftype);
        else {
            buf_puts(b, "custom attribute ");
            q(b, n->name, strlen(n->name));
            buf_puts(b, " ");
        }
        break;
    case F_PRESENCE:
    case F_SUB: buf_printf(b, "%s ", n->ftype); break;
    case F_GROUP:
        buf_puts(b, "subscription group ");
        q(b, n->name, strlen(n->name));
        buf_puts(b, " ");
        break;
    case F_CREATED: buf_puts(b, "profile created "); break;
    case F_RANDOM: buf_puts(b, "random bucket "); break;
    case F_EVENT:
    case F_PURCHASE:
        if (n->f == F_EVENT) {
            buf_puts(b, "custom event ");
            q(b, n->name, strlen(n->name));
        } else if (n->name) {
            buf_puts(b, "purchase of product ");
            q(b, n->name, strlen(n->name));
        } else buf_puts(b, "any purchase");
        if (op->op == OP_EVER) buf_printf(b, " %s", op->neg ? "never performed" : "performed");
        else if (op->op >= OP_CGT && op->op <= OP_CEQ) {
            buf_printf(b, " performed %s %lld time%s", op->words, (long long)n->n, n->n == 1 ? "" : "s");
            if (n->days) buf_printf(b, " in the last %lld day%s", (long long)n->days, n->days == 1 ? "" : "s");
        } else {
            buf_printf(b, " %s performed ", op->op <= OP_FIRST_AFTER ? "first" : "last");
            buf_puts(b, op->op == OP_FIRST_BEFORE || op->op == OP_LAST_BEFORE ? "before " : "after ");
            describe_time(b, n->a);
        }
        return;
    case F_COHORT:
        buf_printf(b, "%s %s cohort ", op->neg ? "is not in" : "is in", n->name);
        q(b, n->cohort_id, strlen(n->cohort_id));
        return;
    case F_SEGMENT:
        buf_printf(b, "%s segment ", op->neg ? "not in" : "in");
        if (n->cohort_id) q(b, n->cohort_id, strlen(n->cohort_id));
        else q(b, n->name, strlen(n->name));
        buf_puts(b, " (");
        describe_node(n->sub, b, true);
        buf_puts(b, ")");
        return;
    }
    buf_puts(b, op->words);
    switch (op->operand) {
    case V_STR:
    case V_REGEX:
        buf_puts(b, " ");
        q(b, n->strs[0], n->lens[0]);
        break;
    case V_STRS:
    case V_ELEMS:
        buf_puts(b, " [");
        for (int i = 0; i < n->nstrs; i++) {
            if (i) buf_puts(b, ", ");
            q(b, n->strs[i], n->lens[i]);
        }
        for (int i = 0; i < n->nnums; i++) buf_printf(b, "%s%.15g", i || n->nstrs ? ", " : "", n->nums[i]);
        buf_puts(b, "]");
        break;
    case V_NUM: buf_printf(b, " %.15g", n->a); break;
    case V_NUM2: buf_printf(b, " %.15g and %.15g", n->a, n->b); break;
    case V_TIME:
        buf_puts(b, " ");
        describe_time(b, n->a);
        break;
    case V_DAYS:
        buf_printf(b, " %lld day%s%s", (long long)n->n, n->n == 1 ? "" : "s",
                   op->op == OP_OLDER ? " ago" : op->op == OP_LATER ? " from now" : "");
        break;
    case V_COUNT: buf_printf(b, " %lld", (long long)n->n); break;
    }
}

static void describe_node(const snode *n, buf_t *b, bool top) {
    if (!n->group) {
        describe_leaf(n, b);
        return;
    }
    if (!top && n->nkids > 1) buf_puts(b, "(");
    for (int i = 0; i < n->nkids; i++) {
        if (i) buf_puts(b, n->is_or ? " OR " : " AND ");
        describe_node(n->kids[i], b, false);
    }
    if (!top && n->nkids > 1) buf_puts(b, ")");
}

char *seg_describe(const seg_def *d) {
    buf_t b = BUF_INIT;
    describe_node(d->root, &b, true);
    return buf_take(&b);
}

char *seg_top_describe(const seg_def *d, int i) {
    buf_t b = BUF_INIT;
    describe_node(top_node(d, i), &b, true);
    return buf_take(&b);
}
