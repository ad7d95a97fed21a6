/* session.c -- operators' sessions: the check the HTTP layer makes for a
 * request that carries the session cookie, and what a login writes.
 *
 * A session is 256 random bits in an HttpOnly, SameSite=Strict cookie
 * (Secure when the public URL is https); the store keeps only its SHA-256,
 * so neither a copy of brasa.db nor the audit log opens one. Each request
 * looks its session up in SQLite (a primary-key read on this module's own
 * connection): a logout, a removed operator or a new password ends a
 * session at once, with no cache to wait for. The CSRF token is derived
 * from the session (a hash of the cookie under another label): it needs no
 * storage, and a page can only learn it from the server. */
#include "dash.h"
#include "operator.h"
#include "../api/api.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../lib/thread.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct login_state login_state;

struct dash {
    http_dash http;
    sqlite3 *db; /* a reader of brasa.db, for sessions and logins */
    pthread_mutex_t lock;
    int64_t ttl_ms;
    bool secure;
    /* The password checker (see "login and logout"): its queue. */
    pthread_t checker;
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    login_state *head, **tail;
    bool stopping;
};

static void *checker_main(void *arg);

static void csrf_of(const char *token, size_t len, char out[HTTP_CSRF_LEN + 1]) {
    buf_t b = BUF_INIT;
    buf_puts(&b, "brasa-csrf:");
    buf_append(&b, token, len);
    uint8_t h[SECRET_HASH_LEN];
    secret_hash(b.data, b.len, h);
    buf_free(&b);
    sodium_bin2hex(out, HTTP_CSRF_LEN + 1, h, HTTP_CSRF_LEN / 2);
}

/* The operator of the live session whose cookie is token, and when it
 * ends: 0, BR_ESESSION (unknown or expired) or BR_ESTORE. */
static int find_session(dash_t *d, const char *token, size_t len, store_operator *op, int64_t *expires) {
    uint8_t h[SECRET_HASH_LEN];
    secret_hash(token, len, h);
    pthread_mutex_lock(&d->lock);
    int rc = store_session_find(d->db, h, clock_wall_ms(), op, expires);
    pthread_mutex_unlock(&d->lock);
    return rc == BR_ENOTFOUND ? BR_ESESSION : rc;
}

static int check(void *arg, const char *token, size_t len, auth_ident *id, bool *read_only,
                 char csrf[HTTP_CSRF_LEN + 1]) {
    store_operator op;
    int64_t expires;
    int rc = find_session(arg, token, len, &op, &expires);
    if (rc < 0) return rc;
    dash_role role;
    if (dash_role_parse(op.role, &role) < 0) return BR_ESESSION;
    memset(id, 0, sizeof *id);
    id->id = -op.id; /* keys count from 1: operators never share a key's rate-limit bucket */
    snprintf(id->name, sizeof id->name, "%.60s", op.name);
    dash_role_perms(role, &id->perms);
    *read_only = role == DASH_READ_ONLY;
    csrf_of(token, len, csrf);
    return 0;
}

dash_t *dash_new(store_t *store, int64_t ttl_s, bool secure) {
    if (dash_crypto_init() < 0) return NULL;
    dash_t *d = xcalloc(1, sizeof *d);
    if (store_open_reader(store, &d->db) < 0) {
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->qlock, NULL);
    pthread_cond_init(&d->qcond, NULL);
    d->tail = &d->head;
    d->ttl_ms = ttl_s * 1000;
    d->secure = secure;
    d->http = (http_dash){.check = check, .after = dash_audit_after, .arg = d};
    pthread_create(&d->checker, NULL, checker_main, d);
    return d;
}

/* After the HTTP servers stopped: no login waits in the queue then. */
void dash_free(dash_t *d) {
    if (!d) return;
    pthread_mutex_lock(&d->qlock);
    d->stopping = true;
    pthread_cond_signal(&d->qcond);
    pthread_mutex_unlock(&d->qlock);
    pthread_join(d->checker, NULL);
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->qlock);
    pthread_cond_destroy(&d->qcond);
    free(d);
}

const http_dash *dash_http(dash_t *d) { return &d->http; }
dash_t *dash_of(http_req *r) { return http_context(r)->dash->arg; }

int dash_operator_count(dash_t *d, int64_t *n) {
    store_operator *rows;
    int k;
    pthread_mutex_lock(&d->lock);
    int rc = store_operator_list(d->db, &rows, &k);
    pthread_mutex_unlock(&d->lock);
    free(rows);
    *n = k;
    return rc;
}

/* ---- login and logout ---------------------------------------------------- */

/* A login: the password to check against the operator's hash, then the
 * session and its audit entry, written in one transaction. */
struct login_state {
    http_req *r;
    store_operator op; /* op.id 0: no such operator (checked against a decoy) */
    char *password;
    login_state *next; /* in the checker's queue */
    eng_cmd cmd;
    store_session sess;
    store_audit audit;
    char token[64], ip[48], who[STORE_OPERATOR_NAME_MAX + 16];
};

static void login_free(void *p) {
    login_state *s = p;
    if (s->password) sodium_memzero(s->password, strlen(s->password));
    free(s->password);
}

static int login_op(sqlite3 *db, void *arg) {
    login_state *s = arg;
    int rc = store_session_insert_op(db, &s->sess);
    return rc < 0 ? rc : store_audit_insert_op(db, &s->audit);
}

static void set_cookie(http_req *r, const char *value, int64_t max_age_s) {
    char c[200];
    snprintf(c, sizeof c, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", HTTP_SESSION_COOKIE, value,
             (long long)max_age_s, dash_of(r)->secure ? "; Secure" : "");
    http_header_add(r, "Set-Cookie", c);
    http_header_add(r, "Cache-Control", "no-store");
}

/* What a page learns of its operator: who, what role, the CSRF token its
 * changes carry, and when the session ends. */
static json_object *me_json(const char *name, const char *role, const char *csrf, int64_t expires_at) {
    json_object *o = api_success(), *op = json_object_new_object();
    json_object_object_add(op, "name", json_object_new_string(name));
    json_object_object_add(op, "role", json_object_new_string(role));
    json_object_object_add(o, "operator", op);
    json_object_object_add(o, "csrf_token", json_object_new_string(csrf));
    json_object_object_add(o, "expires_at", json_time(expires_at));
    return o;
}

static int login_done(http_req *r, int rc) {
    login_state *s = http_state_get(r);
    if (rc < 0) return rc;
    char csrf[HTTP_CSRF_LEN + 1];
    csrf_of(s->token, strlen(s->token), csrf);
    set_cookie(r, s->token, dash_of(r)->ttl_ms / 1000);
    return http_reply(r, 200, me_json(s->op.name, s->op.role, csrf, s->sess.expires_at));
}

/* The hash a missing operator's password is checked against, so that a
 * wrong name takes as long as a wrong password. */
static char decoy[160];
static pthread_once_t decoy_once = PTHREAD_ONCE_INIT;
static void make_decoy(void) {
    if (dash_password_hash("brasa-no-such-operator", decoy) < 0) decoy[0] = '\0';
}

/* Passwords are checked on a thread of their own, one at a time: Argon2id
 * takes ~0.1 s and 64 MiB, and an HTTP thread busy with it would hold up
 * the API requests behind it. Logins wait their turn in the queue, which
 * also bounds what a burst of them costs. */
static void *checker_main(void *arg) {
    dash_t *d = arg;
    thread_name("brasa-login");
    for (;;) {
        pthread_mutex_lock(&d->qlock);
        while (!d->head && !d->stopping) pthread_cond_wait(&d->qcond, &d->qlock);
        login_state *s = d->head;
        if (s && !(d->head = s->next)) d->tail = &d->head;
        pthread_mutex_unlock(&d->qlock);
        if (!s) return NULL; /* stopping, and nothing queued */
        pthread_once(&decoy_once, make_decoy);
        bool ok = dash_password_verify(s->op.id ? s->op.pwhash : decoy, s->password) && s->op.id;
        http_resume(s->r, ok ? 0 : BR_ELOGIN);
    }
}

/* The password was checked: a session, written before the cookie is set. */
static int checked(http_req *r, int rc) {
    if (rc < 0) return http_error(r, rc, NULL);
    login_state *s = http_state_get(r);
    dash_t *d = dash_of(r);
    uint8_t raw[32];
    secret_random(raw, sizeof raw);
    sodium_bin2base64(s->token, sizeof s->token, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    secret_hash(s->token, strlen(s->token), s->sess.hash);
    s->sess.operator_id = s->op.id;
    s->sess.now_ms = clock_wall_ms();
    s->sess.expires_at = s->sess.now_ms + d->ttl_ms;
    http_client_str(r, s->ip, sizeof s->ip);
    snprintf(s->who, sizeof s->who, "operator:%s", s->op.name);
    s->audit = (store_audit){.at = s->sess.now_ms, .who = s->who, .ip = s->ip, .method = "POST",
                             .path = "/dashboard/api/login", .status = 200};
    return api_store(r, &s->cmd, login_op, s, login_done);
}

/* POST /dashboard/api/login {"name", "password"}. The password is checked
 * by the checker thread (above); the session is written through the
 * engine's batches and the cookie set once it is committed. Failures
 * answer 401, which counts against the address like a wrong key
 * (http/authfail.h): a guesser is throttled. */
int dash_post_login(http_req *r) {
    static const char *const known[] = {"name", "password", NULL};
    if (api_body_fields(r, known) < 0) return 0;
    json_object *b = http_body(r), *jn, *jp;
    if (!json_object_object_get_ex(b, "name", &jn) || !json_object_is_type(jn, json_type_string) ||
        !json_object_object_get_ex(b, "password", &jp) || !json_object_is_type(jp, json_type_string))
        return http_error(r, BR_EINVAL, "'name' and 'password' are required strings");
    /* Login CSRF: a page of another origin cannot post JSON here without a
     * preflight brasa never grants, and browsers name their origin. */
    const char *origin = http_header(r, "Origin"), *host = http_header(r, "Host");
    const char *authority = origin ? strstr(origin, "://") : NULL;
    if (origin && strcmp(origin, "null") && (!host || !authority || strcmp(authority + 3, host)))
        return http_error(r, BR_ECSRF, "a login must come from this server's own pages");
    dash_t *d = dash_of(r);
    login_state *s = http_state(r, sizeof *s, login_free);
    s->r = r;
    pthread_mutex_lock(&d->lock);
    int rc = store_operator_get(d->db, json_object_get_string(jn), &s->op);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0 && rc != BR_ENOTFOUND) return rc;
    if (rc == BR_ENOTFOUND) s->op = (store_operator){0};
    s->password = xstrdup(json_object_get_string(jp));
    int d_rc = http_defer(r, checked); /* before queueing: the answer may come first */
    pthread_mutex_lock(&d->qlock);
    *d->tail = s;
    d->tail = &s->next;
    pthread_cond_signal(&d->qcond);
    pthread_mutex_unlock(&d->qlock);
    return d_rc;
}

static int need_session(http_req *r) {
    if (http_by_session(r)) return 0;
    http_error(r, BR_EINVAL, "this route is a dashboard session's: a key has none");
    return -1;
}

/* GET /dashboard/api/me: the signed-in operator (a page's first call). */
int dash_get_me(http_req *r) {
    if (need_session(r) < 0) return 0;
    const char *tok = http_cookie(r, HTTP_SESSION_COOKIE);
    store_operator op;
    int64_t expires;
    int rc = find_session(dash_of(r), tok, strlen(tok), &op, &expires);
    if (rc < 0) return rc;
    char csrf[HTTP_CSRF_LEN + 1];
    csrf_of(tok, strlen(tok), csrf);
    return http_reply(r, 200, me_json(op.name, op.role, csrf, expires));
}

typedef struct {
    eng_cmd cmd;
    uint8_t hash[SECRET_HASH_LEN];
} logout_state;

static int logout_done(http_req *r, int rc) {
    if (rc < 0) return rc;
    set_cookie(r, "", 0);
    return http_reply(r, 200, api_success());
}

/* POST /dashboard/api/logout: the session ends for good (its row goes). */
int dash_post_logout(http_req *r) {
    if (need_session(r) < 0) return 0;
    const char *tok = http_cookie(r, HTTP_SESSION_COOKIE);
    logout_state *s = http_state(r, sizeof *s, NULL);
    secret_hash(tok, strlen(tok), s->hash);
    return api_store(r, &s->cmd, store_session_delete_op, s->hash, logout_done);
}
