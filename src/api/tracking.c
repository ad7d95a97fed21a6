/* tracking.c -- the pages an email's links open (send/links.h). No key:
 * recipients and their mail clients follow them; the signed token in the
 * path is the only credential, and it names one recipient of one send.
 *
 *   GET  /t/o/{token}          the open pixel: records an open, answers a 1x1 GIF
 *   GET  /t/c/{token}?u=URL    records a click, redirects (302) to URL
 *   GET  /t/u/{token}          asks to confirm the unsubscribe: a form that posts
 *   POST /t/u/{token}          unsubscribes: that form, and RFC 8058's one-click POST
 *   GET  /t/s/{token}, /t/i/{token}, and their POSTs: subscribe, opt in, the same way
 *
 * Why a GET only asks: mail security scanners open every link of a
 * message before its reader does, so a GET that unsubscribed would
 * unsubscribe people who never clicked (RFC 8058 is a POST for the same
 * reason).
 *
 * A token that does not check (forged, truncated, another kind's, a click
 * whose URL is not the signed one) answers 404 with a page that says so;
 * nothing redirects where brasa did not sign. A valid link whose
 * recipient or send is gone still works (the pixel answers, the click
 * redirects) but records nothing. Every record is written before the
 * answer: a read of the user and the send (engine thread), for a
 * subscription link the global email state (core/subs.h: every user of
 * the address, its kept state, GlobalStateChange with state_change_source
 * "Email Link"), then the engagement (store/engagement.h) with its
 * Currents event. */
#include "api.h"
#include "../core/export.h"
#include "../core/subs.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../lib/str.h"
#include "../send/campaign.h"
#include "../send/links.h"
#include "../store/engagement.h"
#include "../store/keys.h"
#include "../store/messaging.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    eng_cmd cmd;
    lnk_token t;
    const char *url;          /* clicks: where to (the query's) */
    char ua[512];
    bool machine;             /* an open by a privacy proxy */
    const char *bot;          /* a click's reason to suspect a bot (Braze's suspected_bot_click_reason), or NULL */
    bool remove_bots;         /* the workspace removes suspected bot clicks (/admin/workspace) */
    /* out of the read */
    bool known;               /* the user and the send exist */
    char *external_id, *email, *campaign_id, *send_id, *campaign_name, *variation_name;
    store_engagement e;
    buf_t events;
    subs_cmd subs;
    char hex[25];
    const char *hexp;
} trk_req;

static void trk_req_free(void *p) {
    trk_req *s = p;
    free(s->external_id);
    free(s->email);
    free(s->campaign_id);
    free(s->send_id);
    free(s->campaign_name);
    free(s->variation_name);
    buf_free(&s->events);
}

/* ---- answers -------------------------------------------------------------- */

/* A 43-byte transparent GIF. */
static const unsigned char pixel[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00,
                                      0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02,
                                      0x44, 0x01, 0x00, 0x3b};

static int page(http_req *r, int status, const char *title, const char *text, bool form, const char *button) {
    buf_t b = BUF_INIT;
    buf_printf(&b,
               "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>%s</title>"
               "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
               "button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}</style></head>\n<body><h1>%s</h1><p>%s</p>",
               title, title, text);
    if (form) buf_printf(&b, "<form method=\"post\"><button type=\"submit\">%s</button></form>", button);
    buf_puts(&b, "</body></html>\n");
    http_header_add(r, "Cache-Control", "no-store");
    http_header_add(r, "Referrer-Policy", "no-referrer");
    http_reply_text(r, status, "text/html; charset=utf-8", b.data, b.len);
    buf_free(&b);
    return 0;
}

static int not_valid(http_req *r) {
    return page(r, 404, "Link not valid",
                "This link is not one this server made, or part of it is missing. Open it again from the email it came in.",
                false, NULL);
}

static int answer(http_req *r, trk_req *s) {
    switch (s->t.kind) {
    case LNK_OPEN:
        http_header_add(r, "Cache-Control", "no-store, private");
        return http_reply_text(r, 200, "image/gif", (const char *)pixel, sizeof pixel);
    case LNK_CLICK:
        http_header_add(r, "Location", s->url);
        http_header_add(r, "Cache-Control", "no-store");
        http_header_add(r, "Referrer-Policy", "no-referrer");
        return http_reply_text(r, 302, "text/plain; charset=utf-8", "", 0);
    case LNK_UNSUB:
        return page(r, 200, "Unsubscribed", "You will no longer receive these emails.", false, NULL);
    case LNK_SUB:
        return page(r, 200, "Subscribed", "You will receive these emails again.", false, NULL);
    default:
        return page(r, 200, "Opted in", "You are opted in to these emails.", false, NULL);
    }
}

/* ---- recording ------------------------------------------------------------ */

static void put_str(buf_t *b, const char *key, const char *v) {
    if (!v || !*v) return;
    buf_printf(b, ",\"%s\":", key);
    buf_json_str(b, v, strlen(v));
}

/* The Currents event of s, as the dispatcher writes its email events. */
static void event(trk_req *s, const char *type, int64_t now_ms) {
    char hex[25], rnd[17];
    uint8_t salt[8];
    str_hex(s->t.bz, 12, hex);
    secret_random(salt, sizeof salt);
    str_hex(salt, sizeof salt, rnd);
    char bid[LNK_ID_MAX + 1];
    snprintf(bid, sizeof bid, "%.*s", (int)strcspn(s->t.dispatch_id, "."), s->t.dispatch_id);
    buf_t *b = &s->events;
    buf_printf(b, "[{\"id\":\"%s-%s-%s\",\"event_type\":\"%s\",\"user_id\":\"%s\"", bid, hex, rnd, type, hex);
    put_str(b, "external_user_id", s->external_id);
    buf_printf(b, ",\"time\":%" PRId64, now_ms / 1000);
    put_str(b, "dispatch_id", bid);
    put_str(b, "campaign_id", s->campaign_id);
    put_str(b, "campaign_name", s->campaign_name);
    put_str(b, "send_id", s->send_id);
    put_str(b, "message_variation_id", s->t.variation_id);
    put_str(b, "message_variation_name", s->variation_name);
    put_str(b, "email_address", s->email);
    if (s->t.kind != LNK_UNSUB) put_str(b, "user_agent", s->ua);
    if (s->machine) buf_puts(b, ",\"machine_open\":\"true\"");
    if (s->t.kind == LNK_CLICK) {
        put_str(b, "url", s->url);
        buf_printf(b, ",\"link_id\":\"%d\"", s->t.link);
        /* As Braze: the flag only once the workspace removes bot clicks,
         * the reasons always (what removing them would change). */
        if (s->remove_bots) buf_printf(b, ",\"is_suspected_bot_click\":%s", s->bot ? "true" : "false");
        if (s->bot) buf_printf(b, ",\"suspected_bot_click_reason\":[\"%s\"]", s->bot);
    }
    const char *at = s->email ? strchr(s->email, '@') : NULL;
    if (at) put_str(b, "to_domain", at + 1);
    buf_puts(b, "}]");
}

static int who_read(engine_t *e, void *arg) {
    trk_req *s = arg;
    char hex[25];
    str_hex(s->t.bz, 12, hex);
    users_t *u = engine_users(e);
    uint32_t row = users_by_braze_id(u, hex, 24);
    store_dispatch_row d;
    if (row == USERS_NONE || store_dispatch_get(engine_reader(e), s->t.dispatch_id, false, &d) != 0) return 0;
    s->known = true;
    char *rm = NULL;
    if (s->t.kind == LNK_CLICK && store_meta_get(engine_reader(e), "remove_bot_clicks", &rm) == 0)
        s->remove_bots = !strcmp(rm, "1");
    free(rm);
    s->campaign_id = d.campaign_id, d.campaign_id = NULL;
    s->send_id = d.send_id, d.send_id = NULL;
    store_dispatch_row_free(&d);
    json_object *f = json_object_new_array();
    json_object_array_add(f, json_object_new_string("external_id"));
    json_object_array_add(f, json_object_new_string("email"));
    export_fields fields;
    char why[100];
    json_object *user = export_fields_parse(f, &fields, why, sizeof why) == 0 ? export_user(u, engine_names(e), row, &fields) : NULL;
    json_object_put(f);
    const char *ext = json_object_get_string(json_get(user, "external_id")), *em = json_object_get_string(json_get(user, "email"));
    s->external_id = ext ? xstrdup(ext) : NULL;
    s->email = em ? xstrdup(em) : NULL;
    json_object_put(user);
    store_campaign_row c;
    if (s->campaign_id && store_campaign_get(engine_reader(e), s->campaign_id, &c) == 0) {
        json_object *doc = json_parse(c.doc, strlen(c.doc));
        const char *name = json_object_get_string(json_get(doc, "name"));
        bool ctl;
        json_object *var = *s->t.variation_id ? camp_variation(doc, s->t.variation_id, &ctl) : NULL;
        const char *vname = json_object_get_string(json_get(var, "name"));
        s->campaign_name = name ? xstrdup(name) : NULL;
        s->variation_name = vname ? xstrdup(vname) : NULL;
        json_object_put(doc);
        store_campaign_row_free(&c);
    }
    return 0;
}

static int recorded(http_req *r, int rc) {
    trk_req *s = http_state_get(r);
    if (rc < 0) return rc;
    return answer(r, s);
}

static int record(http_req *r, trk_req *s) {
    int64_t now = clock_wall_ms();
    static const char *const types[] = {"users.messages.email.Open", "users.messages.email.Click",
                                        "users.messages.email.Unsubscribe"};
    store_engage_kind k = s->t.kind == LNK_OPEN ? ENGAGE_OPEN : s->t.kind == LNK_CLICK ? ENGAGE_CLICK : ENGAGE_UNSUBSCRIBE;
    event(s, types[k], now);
    memcpy(s->e.braze_id, s->t.bz, 12);
    s->e.kind = k;
    s->e.machine = s->machine;
    s->e.bot = s->bot && s->remove_bots;
    s->e.dispatch_id = s->t.dispatch_id;
    s->e.campaign_id = s->campaign_id;
    s->e.send_id = s->send_id;
    s->e.variation_id = *s->t.variation_id ? s->t.variation_id : NULL;
    s->e.now_ms = now;
    s->e.events = s->events.data;
    return api_store(r, &s->cmd, store_engage_op, &s->e, recorded);
}

static int changed(http_req *r, int rc) {
    trk_req *s = http_state_get(r);
    if (rc < 0) return rc;
    /* subscribing again or opting in is the profile's change alone */
    return s->t.kind == LNK_UNSUB ? record(r, s) : answer(r, s);
}

static int read_done(http_req *r, int rc) {
    trk_req *s = http_state_get(r);
    if (rc < 0) return rc;
    if (!s->known) {
        if (s->t.kind == LNK_OPEN || s->t.kind == LNK_CLICK) return answer(r, s);
        return page(r, 404, "Link no longer valid", "The subscription this link was for no longer exists.", false, NULL);
    }
    if (s->t.kind == LNK_OPEN || s->t.kind == LNK_CLICK) return record(r, s);
    /* the global state, through core/subs.h: every user of the address,
     * the address's kept state and a GlobalStateChange event */
    str_hex(s->t.bz, 12, s->hex);
    s->hexp = s->hex;
    s->subs = (subs_cmd){.kind = SUBS_EMAIL,
                         .state = s->t.kind == LNK_UNSUB ? SUBS_UNSUBSCRIBED : s->t.kind == LNK_SUB ? SUBS_SUBSCRIBED : SUBS_OPTED_IN,
                         .source = "Email Link", .braze_ids = &s->hexp, .nbraze = 1};
    s->cmd = (eng_cmd){.kind = ENG_SUBSCRIPTION, .arg = &s->subs};
    return api_submit(r, &s->cmd, changed);
}

/* ---- handlers --------------------------------------------------------------- */

/* Why a click looks like a machine's, or NULL. Mail security gateways
 * (Proofpoint, Mimecast, Barracuda, Microsoft's Safe Links) and scanners
 * follow every link of a message as it arrives, often with HEAD, often
 * saying what they are; people's browsers send a browser's agent. */
static const char *bot_reason(http_req *r, const char *ua) {
    static const char *const marks[] = {"bot", "crawl", "spider", "slurp", "scan", "preview", "proofpoint", "mimecast",
                                        "barracuda", "urldefense", "safelinks", "python-", "curl/", "wget/", "go-http",
                                        "java/", "okhttp", "apache-httpclient", "libwww", "headless", "phantomjs"};
    if (!strcmp(http_method(r), "HEAD")) return "head_request";
    if (!ua || !*ua) return "user_agent";
    char low[sizeof ((trk_req *)0)->ua];
    size_t n = 0;
    for (; ua[n] && n + 1 < sizeof low; n++) low[n] = (char)((ua[n] >= 'A' && ua[n] <= 'Z') ? ua[n] + 32 : ua[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (strstr(low, marks[i])) return "user_agent";
    return NULL;
}

static trk_req *begin(http_req *r, int kind, const char *url) {
    const uint8_t *key = http_context(r)->links_key;
    const char *tok = http_param(r, "token");
    trk_req *s = http_state(r, sizeof(trk_req), trk_req_free);
    if (!key || !tok || lnk_parse(key, kind, tok, url, &s->t) < 0) return NULL;
    s->url = url;
    const char *ua = http_header(r, "User-Agent");
    snprintf(s->ua, sizeof s->ua, "%s", ua ? ua : "");
    /* Apple Mail's privacy protection fetches every image of a message
     * through proxies that send exactly this user agent */
    s->machine = kind == LNK_OPEN && (!ua || !*ua || !strcmp(ua, "Mozilla/5.0"));
    if (kind == LNK_CLICK) s->bot = bot_reason(r, ua);
    return s;
}

static int get_open(http_req *r) {
    trk_req *s = begin(r, LNK_OPEN, NULL);
    return s ? api_read(r, &s->cmd, who_read, s, read_done) : not_valid(r);
}

static int get_click(http_req *r) {
    trk_req *s = begin(r, LNK_CLICK, http_query(r, "u"));
    return s ? api_read(r, &s->cmd, who_read, s, read_done) : not_valid(r);
}

static int ask(http_req *r, int kind) {
    if (!begin(r, kind, NULL)) return not_valid(r);
    if (kind == LNK_UNSUB)
        return page(r, 200, "Unsubscribe", "Stop receiving these emails? You can subscribe again at any time.", true,
                    "Unsubscribe");
    if (kind == LNK_SUB) return page(r, 200, "Subscribe", "Receive these emails again?", true, "Subscribe");
    return page(r, 200, "Opt in", "Opt in to these emails?", true, "Opt in");
}

static int change(http_req *r, int kind) {
    trk_req *s = begin(r, kind, NULL);
    return s ? api_read(r, &s->cmd, who_read, s, read_done) : not_valid(r);
}

static int get_unsub(http_req *r) { return ask(r, LNK_UNSUB); }
static int post_unsub(http_req *r) { return change(r, LNK_UNSUB); }
static int get_sub(http_req *r) { return ask(r, LNK_SUB); }
static int post_sub(http_req *r) { return change(r, LNK_SUB); }
static int get_optin(http_req *r) { return ask(r, LNK_OPTIN); }
static int post_optin(http_req *r) { return change(r, LNK_OPTIN); }

const http_route api_tracking_routes[] = {
    {"GET", "/t/o/{token}", PERM_NONE, RL_DEFAULT, get_open, 0},
    {"GET", "/t/c/{token}", PERM_NONE, RL_DEFAULT, get_click, 0},
    {"GET", "/t/u/{token}", PERM_NONE, RL_DEFAULT, get_unsub, 0},
    {"POST", "/t/u/{token}", PERM_NONE, RL_DEFAULT, post_unsub, HTTP_ANY_BODY},
    {"GET", "/t/s/{token}", PERM_NONE, RL_DEFAULT, get_sub, 0},
    {"POST", "/t/s/{token}", PERM_NONE, RL_DEFAULT, post_sub, HTTP_ANY_BODY},
    {"GET", "/t/i/{token}", PERM_NONE, RL_DEFAULT, get_optin, 0},
    {"POST", "/t/i/{token}", PERM_NONE, RL_DEFAULT, post_optin, HTTP_ANY_BODY},
    {NULL, NULL, 0, 0, NULL, 0},
};
