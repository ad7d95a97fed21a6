/* message.c -- checks of the channel message objects (message.h).
 *
 * Webhook: url (http or https, Liquid allowed), request_method (POST, PUT,
 * DELETE, GET), request_headers (an object of strings), body (a string).
 * Email: the shape of Braze's email object; its delivery is the email
 * channel's (an SMTP relay must be configured before one is sent). */
#include "message.h"
#include "attach.h"
#include "../lib/httpc.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const channel_names[CH__COUNT] = {"webhook", "email"};

const char *msg_channel_name(msg_channel c) { return channel_names[c]; }

int msg_channel_of(const char *name) {
    for (int i = 0; i < CH__COUNT; i++)
        if (!strcmp(name, channel_names[i])) return i;
    return -1;
}

bool msg_channel_known_elsewhere(const char *name) {
    static const char *const others[] = {"apple_push", "android_push", "kindle_push", "web_push",
                                         "content_card", "sms", "whats_app"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        if (!strcmp(name, others[i])) return true;
    return false;
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(why, whylen, __VA_ARGS__); \
        return BR_EINVAL;                   \
    } while (0)

static bool is_str(json_object *v) { return json_object_is_type(v, json_type_string); }

/* A URL whose Liquid may still change it: what is fixed must be http(s). */
static bool url_ok(const char *u) {
    if (!strncmp(u, "{{", 2) || !strncmp(u, "{%", 2)) return true; /* the whole URL comes from Liquid */
    return !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8);
}

/* An HTTP field name: a token of RFC 9110 (what curl would otherwise send
 * as is, tabs and all). */
static bool header_name(const char *k) {
    if (!*k) return false;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!alnum && !strchr("!#$%&'*+-.^_`|~", *p)) return false;
    }
    return true;
}

static int check_string_map(json_object *h, const char *what, char *why, size_t whylen) {
    if (!json_object_is_type(h, json_type_object)) FAIL("%s must be an object of strings", what);
    if (json_object_object_length(h) > MSG_HEADERS_MAX) FAIL("%s has more than %d entries", what, MSG_HEADERS_MAX);
    json_object_object_foreach(h, k, v) {
        if (!is_str(v)) FAIL("%s.%.100s must be a string", what, k);
        if (!header_name(k)) FAIL("%s: '%.100s' is not a header name", what, k);
        if (strpbrk(json_object_get_string(v), "\r\n")) FAIL("%s.%.100s must not contain a line break", what, k);
    }
    return 0;
}

static int check_webhook(json_object *m, const char *pre, char *why, size_t whylen) {
    json_object *v;
    char what[80];
    json_object_object_foreach(m, key, val) {
        (void)val;
        if (strcmp(key, "url") && strcmp(key, "request_method") && strcmp(key, "request_headers") &&
            strcmp(key, "body") && strcmp(key, "message_variation_id"))
            FAIL("%s: unknown field '%.100s'", pre, key);
    }
    if (!(v = json_get(m, "url")) || !is_str(v) || !json_object_get_string_len(v)) FAIL("%s.url is required (a string)", pre);
    if (json_object_get_string_len(v) > MSG_URL_MAX) FAIL("%s.url is longer than %d bytes", pre, MSG_URL_MAX);
    if (!url_ok(json_object_get_string(v))) FAIL("%s.url must be an http:// or https:// URL", pre);
    if (!(v = json_get(m, "request_method")) || !is_str(v)) FAIL("%s.request_method is required: POST, PUT, DELETE or GET", pre);
    const char *meth = json_object_get_string(v);
    if (strcmp(meth, "POST") && strcmp(meth, "PUT") && strcmp(meth, "DELETE") && strcmp(meth, "GET"))
        FAIL("%s.request_method must be POST, PUT, DELETE or GET", pre);
    if ((v = json_get(m, "request_headers"))) {
        snprintf(what, sizeof what, "%s.request_headers", pre);
        int rc = check_string_map(v, what, why, whylen);
        if (rc < 0) return rc;
    }
    if ((v = json_get(m, "body"))) {
        if (!is_str(v)) FAIL("%s.body must be a string (JSON escaped into it)", pre);
        if (json_object_get_string_len(v) > (int)MSG_BODY_MAX) FAIL("%s.body is longer than %u bytes", pre, MSG_BODY_MAX);
    }
    return 0;
}

static int check_email(json_object *m, const char *pre, char *why, size_t whylen) {
    json_object *v;
    char what[80];
    static const char *const strs[] = {"app_id", "subject", "from", "reply_to", "bcc", "body", "plaintext_body",
                                       "preheader", "email_template_id"};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if ((v = json_get(m, strs[i])) && !is_str(v)) FAIL("%s.%s must be a string", pre, strs[i]);
    if (!json_get(m, "app_id")) FAIL("%s.app_id is required", pre);
    if (!json_get(m, "from")) FAIL("%s.from is required (\"Display Name <address@domain>\")", pre);
    if (!json_get(m, "body") && !json_get(m, "email_template_id")) FAIL("%s.body is required unless email_template_id is given", pre);
    if ((v = json_get(m, "body")) && json_object_get_string_len(v) > (int)MSG_BODY_MAX * 4)
        FAIL("%s.body is longer than %u bytes", pre, MSG_BODY_MAX * 4);
    if ((v = json_get(m, "headers"))) {
        snprintf(what, sizeof what, "%s.headers", pre);
        int rc = check_string_map(v, what, why, whylen);
        if (rc < 0) return rc;
    }
    if ((v = json_get(m, "extras")) && !json_object_is_type(v, json_type_object)) FAIL("%s.extras must be an object", pre);
    if ((v = json_get(m, "should_inline_css")) && !json_object_is_type(v, json_type_boolean))
        FAIL("%s.should_inline_css must be a boolean", pre);
    if ((v = json_get(m, "attachments"))) {
        snprintf(what, sizeof what, "%s.attachments", pre);
        return msg_check_attachments(v, what, why, whylen);
    }
    return 0;
}

int msg_check_attachments(json_object *v, const char *what, char *why, size_t whylen) {
    if (!json_object_is_type(v, json_type_array)) FAIL("%s must be an array", what);
    if (json_object_array_length(v) > ATT_MAX_FILES) FAIL("%s has more than %d files", what, ATT_MAX_FILES);
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *a = json_object_array_get_idx(v, i), *x;
        if (!json_object_is_type(a, json_type_object)) FAIL("%s[%zu] must be an object with file_name and url", what, i);
        json_object_object_foreach(a, k, val) {
            (void)val;
            if (strcmp(k, "file_name") && strcmp(k, "url") && strcmp(k, "basic_auth_credential"))
                FAIL("%s[%zu]: unknown field '%.60s'", what, i, k);
        }
        if (!is_str(x = json_get(a, "file_name")) || !att_name_ok(json_object_get_string(x)))
            FAIL("%s[%zu].file_name must be a name of 1 to %d characters without an extension, '/' or '\\'", what, i,
                 ATT_NAME_MAX);
        if (!is_str(x = json_get(a, "url")) || !httpc_url_valid(json_object_get_string(x)))
            FAIL("%s[%zu].url must be an http:// or https:// URL", what, i);
        if ((x = json_get(a, "basic_auth_credential")) && !is_str(x))
            FAIL("%s[%zu].basic_auth_credential must be the name of a credential", what, i);
    }
    return 0;
}

int msg_check(msg_channel ch, json_object *m, bool in_campaign, const char *prefix, char *why, size_t whylen) {
    if (!json_object_is_type(m, json_type_object)) FAIL("%s must be an object", prefix);
    json_object *v = json_get(m, "message_variation_id");
    if (v && in_campaign) FAIL("%s.message_variation_id does not belong in a campaign's stored content", prefix);
    if (v && !is_str(v)) FAIL("%s.message_variation_id must be a string", prefix);
    int rc = ch == CH_WEBHOOK ? check_webhook(m, prefix, why, whylen) : check_email(m, prefix, why, whylen);
    return rc < 0 ? rc : msg_check_liquid(ch, m, prefix, why, whylen);
}

liq_template *msg_compile(json_object *v) {
    liq_template *t = NULL;
    size_t n;
    const char *s = is_str(v) ? json_strlen(v, &n) : NULL;
    if (s && liq_compile(s, n, &t, NULL) < 0) return NULL; /* checked when it came in: cannot happen */
    return t;
}

char *msg_render(liq_renderer *r, const liq_template *t, const liq_render_opts *o, size_t *len, liq_error *err) {
    liq_result res;
    if (!t) return *len = 0, xstrdup("");
    if (liq_render(r, t, o, &res) < 0) {
        *err = res.err;
        return NULL;
    }
    *len = res.len;
    return xstrndup(res.out, res.len);
}

static int compiles(json_object *v, const char *field, char *why, size_t whylen) {
    if (!is_str(v)) return 0;
    liq_template *t;
    liq_error e;
    size_t n;
    const char *s = json_strlen(v, &n);
    if (liq_compile(s, n, &t, &e) < 0) FAIL("%s: Liquid syntax error at line %d, column %d: %s", field, e.line, e.col, e.message);
    liq_template_free(t);
    return 0;
}

int msg_check_liquid(msg_channel ch, json_object *m, const char *prefix, char *why, size_t whylen) {
    static const char *const webhook[] = {"url", "body"};
    static const char *const email[] = {"subject", "from", "reply_to", "body", "plaintext_body", "preheader"};
    const char *const *f = ch == CH_WEBHOOK ? webhook : email;
    size_t nf = ch == CH_WEBHOOK ? 2 : 6;
    char field[160];
    for (size_t i = 0; i < nf; i++) {
        snprintf(field, sizeof field, "%s.%s", prefix, f[i]);
        int rc = compiles(json_get(m, f[i]), field, why, whylen);
        if (rc < 0) return rc;
    }
    json_object *h = json_get(m, ch == CH_WEBHOOK ? "request_headers" : "headers");
    if (json_object_is_type(h, json_type_object)) {
        json_object_object_foreach(h, k, v) {
            snprintf(field, sizeof field, "%s.%s.%.60s", prefix, ch == CH_WEBHOOK ? "request_headers" : "headers", k);
            int rc = compiles(v, field, why, whylen);
            if (rc < 0) return rc;
        }
    }
    return 0;
}
