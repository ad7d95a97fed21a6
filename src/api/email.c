/* email.c -- the email lists and global email state of Braze's REST API.
 *
 *   GET  /email/hard_bounces   email.hard_bounces   end_date (YYYY-MM-DD, required) with start_date, or email;
 *                                                   limit (100, at most 500), offset; newest first
 *   GET  /email/unsubscribes   email.unsubscribe    the same, and sort_direction (desc, the default, or asc)
 *   POST /email/bounce/remove  email.bounce.remove  {"email": address or [<= 50]}: sends to them again
 *   POST /email/spam/remove    email.spam.remove    {"email": ...}: lifts their spam reports
 *   POST /email/status         email.status         {"email": ..., "subscription_state": subscribed |
 *                                                   unsubscribed | opted_in}: every user of each address, and
 *                                                   the address itself for a user who gets it later
 *   POST /email/blocklist      email.blacklist      {"email": ...}: unsubscribed and hard-bounced
 *   POST /email/blacklist      email.blacklist      its legacy name
 *
 * A relay's 5xx marks an address hard-bounced (send/dispatch.c records it
 * with the send's progress); the dispatcher sends nothing to it until it
 * is removed here. State changes are engine commands (core/subs.h): they
 * edit the profiles and write GlobalStateChange events. */
#include "api.h"
#include "../core/attrs.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/timefmt.h"
#include "../core/subs.h"
#include "../store/email.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define MAX_EMAILS 50

typedef struct {
    eng_cmd cmd;
    char email[STORE_EMAIL_MAX + 1];
    bool by_email;
    int64_t from_ms, to_ms;
    int limit, offset;
    store_bounce_row *rows;
    int n;
    const char *emails[MAX_EMAILS];
    int nemails;
    bool asc;
    const char *listed_at; /* the listing's time key */
    subs_cmd subs;
    int64_t now_ms;
} email_req;

static void email_req_free(void *p) {
    email_req *s = p;
    store_bounce_rows_free(s->rows, s->n);
}

static email_req *state(http_req *r) { return http_state(r, sizeof(email_req), email_req_free); }

/* ---- GET /email/hard_bounces ---------------------------------------------- */

static int bounces_read(engine_t *e, void *arg) {
    email_req *s = arg;
    return store_email_bounces(engine_reader(e), s->by_email ? s->email : NULL, s->from_ms, s->to_ms, s->limit, s->offset,
                               &s->rows, &s->n);
}

static int bounces_done(http_req *r, int rc) {
    email_req *s = http_state_get(r);
    if (rc < 0) return rc;
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    for (int i = 0; i < s->n; i++) {
        /* Braze's format here: "2016-08-25 15:24:32 +0000" */
        char t[40];
        timefmt_iso(s->rows[i].at, t, sizeof t);
        char out[40];
        snprintf(out, sizeof out, "%.10s %.8s +0000", t, t + 11);
        json_object *x = json_object_new_object();
        json_object_object_add(x, "email", json_object_new_string(s->rows[i].address));
        json_object_object_add(x, s->listed_at, json_object_new_string(out));
        json_object_array_add(a, x);
    }
    json_object_object_add(o, "emails", a);
    json_object_object_add(o, "message", json_object_new_string("success"));
    return http_reply(r, 200, o);
}

/* A YYYY-MM-DD query parameter: its midnight (UTC); -1 after answering 400. */
static int date_param(http_req *r, const char *name, int64_t *ms) {
    const char *v = http_query(r, name);
    int year;
    char why[120];
    if (v && strlen(v) == 10 && timefmt_parse(v, 10, ms, &year) == 0) return 0;
    snprintf(why, sizeof why, "'%s' must be a date such as 2026-12-24", name);
    return http_error(r, BR_EINVAL, why), -1;
}

static int int_param(http_req *r, const char *name, int dflt, int max, int *out) {
    const char *v = http_query(r, name);
    char *end, why[120];
    *out = dflt;
    if (!v) return 0;
    long x = strtol(v, &end, 10);
    if (*v && !*end && x >= (max ? 1 : 0) && x <= (max ? max : 1000000000)) return *out = (int)x, 0;
    if (max) snprintf(why, sizeof why, "'%s' must be an integer from 1 to %d", name, max);
    else snprintf(why, sizeof why, "'%s' must be a non-negative integer", name);
    return http_error(r, BR_EINVAL, why), -1;
}

/* The query of both listings: 0, or -1 with the 400 answer set. */
static int list_query(http_req *r, email_req *s) {
    const char *email = http_query(r, "email");
    if (!http_query(r, "end_date")) return http_error(r, BR_EINVAL, "'end_date' is required (a date such as 2026-12-24)"), -1;
    if (date_param(r, "end_date", &s->to_ms) < 0) return -1;
    s->to_ms += DAY_MS; /* the end date's whole day */
    if (email) {
        if (!attrs_valid_email(email, strlen(email)) || strlen(email) > STORE_EMAIL_MAX)
            return http_error(r, BR_EINVAL, "'email' must be an email address"), -1;
        snprintf(s->email, sizeof s->email, "%s", email);
        s->by_email = true; /* the address beats the dates, as in Braze */
    } else if (!http_query(r, "start_date")) {
        return http_error(r, BR_EINVAL, "give 'start_date' or 'email'"), -1;
    } else if (date_param(r, "start_date", &s->from_ms) < 0) {
        return -1;
    } else if (s->from_ms >= s->to_ms) {
        return http_error(r, BR_EINVAL, "'start_date' must not be after 'end_date'"), -1;
    }
    if (int_param(r, "limit", 100, 500, &s->limit) < 0 || int_param(r, "offset", 0, 0, &s->offset) < 0) return -1;
    return 0;
}

static int get_hard_bounces(http_req *r) {
    email_req *s = state(r);
    if (list_query(r, s) < 0) return 0;
    s->listed_at = "hard_bounced_at";
    return api_read(r, &s->cmd, bounces_read, s, bounces_done);
}

/* ---- GET /email/unsubscribes ------------------------------------------------ */

static int unsubscribes_read(engine_t *e, void *arg) {
    email_req *s = arg;
    return store_email_unsubscribes(engine_reader(e), s->by_email ? s->email : NULL, s->from_ms, s->to_ms, s->limit,
                                    s->offset, s->asc, &s->rows, &s->n);
}

static int get_unsubscribes(http_req *r) {
    email_req *s = state(r);
    const char *dir = http_query(r, "sort_direction");
    if (dir && strcmp(dir, "asc") && strcmp(dir, "desc"))
        return http_error(r, BR_EINVAL, "'sort_direction' must be 'asc' or 'desc'");
    if (list_query(r, s) < 0) return 0;
    s->asc = dir && !strcmp(dir, "asc");
    s->listed_at = "unsubscribed_at";
    return api_read(r, &s->cmd, unsubscribes_read, s, bounces_done);
}

/* ---- POST /email/bounce/remove --------------------------------------------- */

static int remove_op(sqlite3 *db, void *arg) {
    email_req *s = arg;
    for (int i = 0; i < s->nemails; i++) {
        int rc = store_email_bounce_remove(db, s->emails[i]);
        if (rc < 0 && rc != BR_ENOTFOUND) return rc; /* one that was not listed: nothing to lift */
    }
    return 0;
}

static int removed(http_req *r, int rc) {
    if (rc < 0) return rc;
    return http_reply(r, 201, api_success());
}

/* The body's "email" (an address or an array of at most 50) into s, with
 * the other fields allowed (NULL-terminated, "email" first): 0, or -1
 * with the 400 answer set. */
static int body_emails(http_req *r, email_req *s, const char *const *fields) {
    json_object *v = json_get(http_body(r), "email");
    if (api_body_fields(r, fields) < 0) return -1;
    bool list = json_object_is_type(v, json_type_array);
    size_t n = list ? json_object_array_length(v) : 1;
    if (!v || n == 0) return http_error(r, BR_EINVAL, "'email' is required: an address or an array of at most 50"), -1;
    if (n > MAX_EMAILS) return http_error(r, BR_EINVAL, "'email' may list at most 50 addresses"), -1;
    for (size_t i = 0; i < n; i++) {
        json_object *x = list ? json_object_array_get_idx(v, i) : v;
        const char *a = json_object_is_type(x, json_type_string) ? json_object_get_string(x) : NULL;
        if (!a || !attrs_valid_email(a, strlen(a)) || strlen(a) > STORE_EMAIL_MAX)
            return http_error(r, BR_EINVAL, "'email' must be an email address or an array of them"), -1;
        s->emails[s->nemails++] = a; /* the body outlives the request's steps */
    }
    return 0;
}

static int post_bounce_remove(http_req *r) {
    static const char *const fields[] = {"email", NULL};
    email_req *s = state(r);
    if (body_emails(r, s, fields) < 0) return 0;
    return api_store(r, &s->cmd, remove_op, s, removed);
}

/* ---- POST /email/spam/remove ------------------------------------------------ */

static int spam_remove_op(sqlite3 *db, void *arg) {
    email_req *s = arg;
    for (int i = 0; i < s->nemails; i++) {
        int rc = store_email_spam_remove(db, s->emails[i]);
        if (rc < 0 && rc != BR_ENOTFOUND) return rc; /* one that never reported spam: nothing to lift */
    }
    return 0;
}

static int post_spam_remove(http_req *r) {
    static const char *const fields[] = {"email", NULL};
    email_req *s = state(r);
    if (body_emails(r, s, fields) < 0) return 0;
    return api_store(r, &s->cmd, spam_remove_op, s, removed);
}

/* ---- POST /email/status, /email/blocklist ------------------------------------ */

/* Submits the state change of s->emails (core/subs.h). */
static int submit_state(http_req *r, email_req *s, subs_state st) {
    s->subs.kind = SUBS_EMAIL;
    s->subs.state = st;
    s->subs.source = "REST API";
    s->subs.emails = s->emails;
    s->subs.nemails = s->nemails;
    s->cmd = (eng_cmd){.kind = ENG_SUBSCRIPTION, .arg = &s->subs};
    return api_submit(r, &s->cmd, removed);
}

static int post_status(http_req *r) {
    static const char *const fields[] = {"email", "subscription_state", NULL};
    email_req *s = state(r);
    if (body_emails(r, s, fields) < 0) return 0;
    json_object *v = json_get(http_body(r), "subscription_state");
    int st = subs_state_parse(json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL, false);
    if (st < 0)
        return http_error(r, BR_EINVAL, "'subscription_state' must be 'subscribed', 'unsubscribed' or 'opted_in'");
    return submit_state(r, s, (subs_state)st);
}

/* Blocklisting also marks the addresses hard-bounced, in the change's batch. */
static int blocklist_op(sqlite3 *db, void *arg) {
    email_req *s = arg;
    for (int i = 0; i < s->nemails; i++) {
        int rc = store_email_bounce_add(db, s->emails[i], "blocklisted through the REST API", s->now_ms);
        if (rc < 0) return rc;
    }
    return 0;
}

static int post_blocklist(http_req *r) {
    static const char *const fields[] = {"email", NULL};
    email_req *s = state(r);
    if (body_emails(r, s, fields) < 0) return 0;
    s->now_ms = clock_wall_ms();
    s->subs.op = blocklist_op;
    s->subs.op_arg = s;
    return submit_state(r, s, SUBS_UNSUBSCRIBED);
}

const http_route api_email_routes[] = {
    {"GET", "/email/hard_bounces", PERM_EMAIL_HARD_BOUNCES, RL_DEFAULT, get_hard_bounces, 0},
    {"GET", "/email/unsubscribes", PERM_EMAIL_UNSUBSCRIBE, RL_DEFAULT, get_unsubscribes, 0},
    {"POST", "/email/bounce/remove", PERM_EMAIL_BOUNCE_REMOVE, RL_DEFAULT, post_bounce_remove, 0},
    {"POST", "/email/spam/remove", PERM_EMAIL_SPAM_REMOVE, RL_DEFAULT, post_spam_remove, 0},
    {"POST", "/email/status", PERM_EMAIL_STATUS, RL_DEFAULT, post_status, 0},
    {"POST", "/email/blocklist", PERM_EMAIL_BLACKLIST, RL_DEFAULT, post_blocklist, 0},
    {"POST", "/email/blacklist", PERM_EMAIL_BLACKLIST, RL_DEFAULT, post_blocklist, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
