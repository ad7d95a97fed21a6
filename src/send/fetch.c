/* fetch.c -- the connected_content fetcher over libcurl's easy interface
 * (see fetch.h): checks, headers, attempts with retries and redirects, a
 * pool of curl handles, and the LRU response cache.
 *
 * Locks: the handle pool, the cache and each kind of shared curl data
 * (DNS, TLS sessions) have a mutex of their own, held only for list
 * operations and copies; no lock is held during a transfer. */
#include "fetch.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/hash.h"
#include "../lib/httpc.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../version.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_HEADERS 64
#define MAX_HEADER_BYTES (16u << 10)
#define MAX_KEY_BYTES (64u << 10) /* requests with larger bodies are not cached */
#define USER_MAX 256
#define PASS_MAX 1025

/* ---- the cache ----------------------------------------------------------- */

/* One cached answer. key and body share one allocation (key first). */
typedef struct centry {
    struct centry *chain;      /* hash bucket */
    struct centry *prev, *next; /* LRU: head is the most recent */
    uint64_t hash;
    int64_t born_us;           /* monotonic */
    int status;
    size_t klen, blen;
    char *key, *body;
} centry;

typedef struct {
    pthread_mutex_t lock;
    centry **buckets;
    size_t nbuckets; /* a power of two */
    centry *head, *tail;
    size_t n, bytes;
    size_t max_n, max_bytes;
} cache_t;

static size_t entry_cost(const centry *e) { return sizeof *e + e->klen + e->blen; }

static void lru_unlink(cache_t *c, centry *e) {
    if (e->prev) e->prev->next = e->next;
    else c->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(cache_t *c, centry *e) {
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static centry **slot_of(cache_t *c, uint64_t h, const char *key, size_t klen) {
    centry **p = &c->buckets[h & (c->nbuckets - 1)];
    while (*p && !((*p)->hash == h && (*p)->klen == klen && !memcmp((*p)->key, key, klen))) p = &(*p)->chain;
    return p;
}

/* Removes *slot (an entry) from the table and the list, and frees it. */
static void drop(cache_t *c, centry **slot) {
    centry *e = *slot;
    *slot = e->chain;
    lru_unlink(c, e);
    c->n--;
    c->bytes -= entry_cost(e);
    free(e);
}

static void drop_entry(cache_t *c, centry *e) { drop(c, slot_of(c, e->hash, e->key, e->klen)); }

static void cache_init(cache_t *c, size_t max_n, size_t max_bytes) {
    pthread_mutex_init(&c->lock, NULL);
    c->nbuckets = 16;
    while (c->nbuckets < max_n * 2) c->nbuckets *= 2;
    c->buckets = xcalloc(c->nbuckets, sizeof *c->buckets);
    c->max_n = max_n;
    c->max_bytes = max_bytes;
}

static void cache_free(cache_t *c) {
    while (c->head) drop_entry(c, c->head);
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
}

/* Appends the answer cached under key to out when it is younger than
 * max_age_s; returns whether it did. */
static bool cache_get(cache_t *c, const buf_t *key, uint64_t h, int max_age_s, int *status, buf_t *out) {
    int64_t now = clock_mono_us();
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    centry **slot = slot_of(c, h, key->data, key->len);
    centry *e = *slot;
    if (e && now - e->born_us >= (int64_t)SEND_FETCH_CACHE_AGE_MAX * 1000000) {
        drop(c, slot); /* too old for anyone */
    } else if (e && now - e->born_us < (int64_t)max_age_s * 1000000) {
        lru_unlink(c, e);
        lru_push(c, e);
        buf_append(out, e->body, e->blen);
        *status = e->status;
        hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void cache_put(cache_t *c, const buf_t *key, uint64_t h, int status, const char *body, size_t blen) {
    centry *e = xmalloc(sizeof *e + key->len + blen);
    *e = (centry){.hash = h, .born_us = clock_mono_us(), .status = status, .klen = key->len, .blen = blen};
    e->key = (char *)(e + 1);
    e->body = e->key + key->len;
    memcpy(e->key, key->data, key->len);
    if (blen) memcpy(e->body, body, blen);
    if (entry_cost(e) > c->max_bytes) {
        free(e);
        return;
    }
    pthread_mutex_lock(&c->lock);
    centry **slot = slot_of(c, h, key->data, key->len);
    if (*slot) drop(c, slot); /* a newer answer replaces it (slot now holds its successor) */
    e->chain = *slot;
    *slot = e;
    lru_push(c, e);
    c->n++;
    c->bytes += entry_cost(e);
    while (c->n > c->max_n || c->bytes > c->max_bytes) drop_entry(c, c->tail);
    pthread_mutex_unlock(&c->lock);
}

/* ---- the fetcher --------------------------------------------------------- */

struct send_fetcher {
    send_fetch_opts o; /* defaults filled in */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL **idle;
    int nidle;
    cache_t cache;
    atomic_uint_fast64_t calls, attempts, hits, retries, failures, too_big;
};

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud) {
    (void)h, (void)a;
    pthread_mutex_lock(&((send_fetcher *)ud)->share_locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud) {
    (void)h;
    pthread_mutex_unlock(&((send_fetcher *)ud)->share_locks[d]);
}

send_fetcher *send_fetcher_new(const send_fetch_opts *o) {
    send_fetcher *f = xcalloc(1, sizeof *f);
    if (o) f->o = *o;
    send_fetch_opts *p = &f->o;
    if (p->timeout_ms <= 0) p->timeout_ms = SEND_FETCH_TIMEOUT_MS;
    if (p->connect_timeout_ms <= 0) p->connect_timeout_ms = p->timeout_ms < 1000 ? p->timeout_ms : 1000;
    if (!p->max_body) p->max_body = SEND_FETCH_MAX_BODY;
    if (p->retries <= 0) p->retries = 1;
    if (p->retry_backoff_ms <= 0) p->retry_backoff_ms = 100;
    if (!p->cache_bytes) p->cache_bytes = 64u << 20;
    if (p->cache_entries <= 0) p->cache_entries = 4096;
    if (p->pool_size <= 0) p->pool_size = 16;
    if (p->max_redirects < 0) p->max_redirects = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&f->share_locks[i], NULL);
    pthread_mutex_init(&f->pool_lock, NULL);
    f->idle = xcalloc((size_t)p->pool_size, sizeof *f->idle);
    /* Connections stay with their handle: libcurl's shared connection
     * cache is not safe across threads. DNS answers and TLS sessions are
     * shared. */
    if ((f->share = curl_share_init())) {
        curl_share_setopt(f->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(f->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(f->share, CURLSHOPT_USERDATA, f);
        curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    cache_init(&f->cache, (size_t)p->cache_entries, p->cache_bytes);
    return f;
}

void send_fetcher_free(send_fetcher *f) {
    if (!f) return;
    for (int i = 0; i < f->nidle; i++) curl_easy_cleanup(f->idle[i]);
    free(f->idle);
    if (f->share) curl_share_cleanup(f->share);
    cache_free(&f->cache);
    pthread_mutex_destroy(&f->pool_lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&f->share_locks[i]);
    free(f);
    curl_global_cleanup();
}

send_fetch_stats send_fetcher_stats(send_fetcher *f) {
    send_fetch_stats s = {.calls = f->calls, .attempts = f->attempts, .cache_hits = f->hits,
                          .retries = f->retries, .failures = f->failures, .too_big = f->too_big};
    pthread_mutex_lock(&f->cache.lock);
    s.cache_entries = f->cache.n;
    s.cache_bytes = f->cache.bytes;
    pthread_mutex_unlock(&f->cache.lock);
    return s;
}

static CURL *pool_get(send_fetcher *f) {
    CURL *c = NULL;
    pthread_mutex_lock(&f->pool_lock);
    if (f->nidle) c = f->idle[--f->nidle];
    pthread_mutex_unlock(&f->pool_lock);
    return c ? c : curl_easy_init();
}

static void pool_put(send_fetcher *f, CURL *c) {
    pthread_mutex_lock(&f->pool_lock);
    if (f->nidle < f->o.pool_size) f->idle[f->nidle++] = c, c = NULL;
    pthread_mutex_unlock(&f->pool_lock);
    if (c) curl_easy_cleanup(c);
}

/* ---- checks -------------------------------------------------------------- */

/* scheme://host:port of an http(s) URL, the port explicit; false when the
 * URL is not one fetch accepts (see fetch.h). */
static bool url_origin(const send_fetcher *f, const char *url, char *origin, size_t len) {
    if (!httpc_url_valid(url)) return false;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok && !f->o.any_port) ok = !strcmp(port, "80") || !strcmp(port, "443");
    if (ok) snprintf(origin, len, "%s://%s:%s", scheme, host, port);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

static bool method_ok(const char *m) {
    static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(m, ok[i])) return true;
    return false;
}

static bool token_ok(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

static bool value_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) return false;
    return true;
}

/* ---- one request ----------------------------------------------------------- */

/* What a call asks for, after its checks. */
typedef struct {
    send_fetcher *f;
    const liq_fetch_req *req;
    const char *method;
    const char *body; /* NULL: none sent */
    size_t body_len;
    char origin[2200]; /* of the original URL (URLs are at most 2 KB): credentials go there only */
    bool auth;
    char user[USER_MAX], pass[PASS_MAX];
} call_t;

static bool named(const char *line, const char *name) {
    size_t n = strlen(name);
    return !strncasecmp(line, name, n) && (line[n] == ':' || line[n] == ';');
}

/* The header lines: :headers (without Authorization and Cookie when going
 * to another origin), then the defaults they did not set. */
static int build_headers(const call_t *c, bool same_origin, struct curl_slist **out) {
    const liq_fetch_req *req = c->req;
    struct curl_slist *l = NULL;
    bool has_ct = false, has_accept = false, has_expect = false;
    size_t bytes = 0;
    int n = 0;
    buf_t line = BUF_INIT;
    if (req->headers && !json_object_is_type(req->headers, json_type_object)) goto bad;
    if (req->headers) {
        json_object_object_foreach(req->headers, k, v) {
            if (!token_ok(k)) goto bad;
            if (!v) continue; /* null: not sent */
            json_type t = json_object_get_type(v);
            if (t == json_type_object || t == json_type_array) goto bad;
            const char *s = json_object_get_string(v);
            size_t sl = t == json_type_string ? (size_t)json_object_get_string_len(v) : strlen(s);
            if (!value_ok(s, sl)) goto bad;
            if (!same_origin && (!strcasecmp(k, "Authorization") || !strcasecmp(k, "Cookie") ||
                                 !strcasecmp(k, "Proxy-Authorization")))
                continue;
            buf_reset(&line);
            buf_printf(&line, sl ? "%s: " : "%s;", k); /* "Name;" is how curl sends an empty value */
            buf_append(&line, s, sl);
            bytes += line.len;
            if (++n > MAX_HEADERS || bytes > MAX_HEADER_BYTES) goto bad;
            l = curl_slist_append(l, line.data);
            has_ct |= named(line.data, "Content-Type");
            has_accept |= named(line.data, "Accept");
            has_expect |= named(line.data, "Expect");
        }
    }
    const char *ct = req->content_type;
    if (ct && (!*ct || !value_ok(ct, strlen(ct)) || strlen(ct) > 256)) goto bad;
    if (!has_ct) {
        buf_reset(&line);
        buf_printf(&line, "Content-Type: %s",
                   ct ? ct : !strcmp(c->method, "GET") ? "application/json" : "application/x-www-form-urlencoded");
        l = curl_slist_append(l, line.data);
    }
    if (!has_accept) {
        buf_reset(&line);
        buf_printf(&line, "Accept: %s", ct ? ct : "*/*");
        l = curl_slist_append(l, line.data);
    }
    /* No "Expect: 100-continue" wait before a body of over 1 KB. */
    if (!has_expect) l = curl_slist_append(l, "Expect:");
    buf_free(&line);
    *out = l;
    return 0;
bad:
    buf_free(&line);
    curl_slist_free_all(l);
    return BR_EINVAL;
}

typedef struct {
    buf_t *body;
    size_t start, max;
    bool too_big;
} sink_t;

static size_t on_data(char *p, size_t size, size_t n, void *arg) {
    sink_t *s = arg;
    size_t len = size * n;
    if (s->body->len - s->start + len > s->max) {
        s->too_big = true;
        return 0; /* anything but len stops the transfer */
    }
    buf_append(s->body, p, len);
    return len;
}

static void truncate_to(buf_t *b, size_t len) {
    if (b->len <= len) return;
    b->len = len;
    b->data[len] = '\0';
}

/* One HTTP exchange on handle h. Returns 0 with *status (and, for a
 * redirect, *location: malloc'd or NULL), BR_ETOOBIG or BR_EIO. */
static int attempt(call_t *c, CURL *h, const char *url, const char *method, bool with_body, bool auth,
                   struct curl_slist *hdrs, sink_t *sink, long *status, char **location) {
    send_fetcher *f = c->f;
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_reset(h);
    if (f->share) curl_easy_setopt(h, CURLOPT_SHARE, f->share);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* followed here, after the same checks */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, f->o.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, f->o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "brasa/" BRASA_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->o.max_body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (with_body || strcmp(method, "DELETE")) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(with_body ? c->body_len : 0));
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, with_body && c->body ? c->body : "");
        }
    }
    if (auth) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass);
    }
    atomic_fetch_add(&f->attempts, 1);
    CURLcode rc = curl_easy_perform(h);
    int out = 0;
    if (sink->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        atomic_fetch_add(&f->too_big, 1);
        log_debug("connected_content: answer over %zu bytes refused", f->o.max_body);
        out = BR_ETOOBIG;
    } else if (rc != CURLE_OK) {
        log_debug("connected_content: request failed: %s", err[0] ? err : curl_easy_strerror(rc));
        out = BR_EIO;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        char *loc = NULL;
        if (location && *status >= 300 && *status < 400 &&
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
            *location = xstrdup(loc);
    }
    /* The handle goes back to the pool: drop what points into this call
     * (error buffer, headers, sink) and its copy of the password. Its
     * connections stay. */
    curl_easy_reset(h);
    return out;
}

/* One attempt, following redirects as far as max_redirects allows. */
static int exchange(call_t *c, CURL *h, struct curl_slist *hdrs, sink_t *sink, long *status) {
    const char *method = c->method;
    bool with_body = c->body != NULL, auth = c->auth;
    char *url = xstrdup(c->req->url);
    struct curl_slist *other = NULL; /* headers for another origin */
    int rc;
    for (int hop = 0;; hop++) {
        char *location = NULL;
        truncate_to(sink->body, sink->start);
        sink->too_big = false;
        rc = attempt(c, h, url, method, with_body, auth, other ? other : hdrs, sink, status,
                     hop < c->f->o.max_redirects ? &location : NULL);
        if (rc < 0 || !location) break;
        char origin[sizeof c->origin];
        if (!url_origin(c->f, location, origin, sizeof origin)) {
            log_debug("connected_content: redirect to a URL refused");
            free(location);
            rc = BR_EINVAL;
            break;
        }
        free(url);
        url = location;
        /* As browsers and curl: 303, and 301/302 after a POST, go on as a
         * GET without the body. */
        if (*status == 303 || ((*status == 301 || *status == 302) && !strcmp(method, "POST"))) {
            method = "GET";
            with_body = false;
        }
        /* Credentials stay with the origin they were meant for. */
        if (strcmp(origin, c->origin) && !other) {
            auth = false;
            if ((rc = build_headers(c, false, &other)) < 0) break;
        }
    }
    curl_slist_free_all(other);
    free(url);
    return rc;
}

/* The cache age a request allows, in seconds; 0: not cached. */
static int cache_age(const liq_fetch_req *req, const char *method) {
    if (req->no_cache) return 0;
    int age = req->cache_max_age >= 0 ? req->cache_max_age : !strcmp(method, "GET") ? SEND_FETCH_CACHE_AGE : 0;
    return age > SEND_FETCH_CACHE_AGE_MAX ? SEND_FETCH_CACHE_AGE_MAX : age;
}

/* What makes two calls the same request: method, URL, every header line
 * sent, the credential (its password as a hash) and the body. */
static void cache_key(const call_t *c, struct curl_slist *hdrs, buf_t *key) {
    buf_printf(key, "%s %s\n", c->method, c->req->url);
    for (struct curl_slist *l = hdrs; l; l = l->next) buf_printf(key, "%s\n", l->data);
    if (c->auth)
        buf_printf(key, "auth %s %s %016llx\n", c->req->basic_auth, c->user,
                   (unsigned long long)hash_bytes(c->pass, strlen(c->pass)));
    buf_puts(key, "\n");
    if (c->body) buf_append(key, c->body, c->body_len);
}

static int call(send_fetcher *f, call_t *c, int *status, buf_t *body) {
    const liq_fetch_req *req = c->req;
    c->method = req->method ? req->method : "GET";
    if (!method_ok(c->method)) {
        log_debug("connected_content: method '%.16s' refused", c->method);
        return BR_EINVAL;
    }
    if (!url_origin(f, req->url, c->origin, sizeof c->origin)) {
        log_debug("connected_content: URL refused (http/https%s only)", f->o.any_port ? "" : " on ports 80 and 443");
        return BR_EINVAL;
    }
    if (strcmp(c->method, "GET")) {
        c->body = req->body;
        c->body_len = req->body ? req->body_len : 0;
    }
    if (req->basic_auth) {
        int rc = f->o.credential ? f->o.credential(f->o.credential_ud, req->basic_auth, c->user, sizeof c->user,
                                                   c->pass, sizeof c->pass)
                                 : BR_ENOTFOUND;
        if (rc < 0) {
            log_debug("connected_content: no basic_auth credential '%.64s'", req->basic_auth);
            return rc == BR_ENOTFOUND || rc == BR_ETOOMANY ? BR_EINVAL : rc;
        }
        c->auth = true;
    }
    struct curl_slist *hdrs;
    int rc = build_headers(c, true, &hdrs);
    if (rc < 0) {
        log_debug("connected_content: bad :headers or :content_type");
        return rc;
    }
    int age = cache_age(req, c->method);
    buf_t key = BUF_INIT;
    uint64_t h = 0;
    if (age > 0) {
        cache_key(c, hdrs, &key);
        if (key.len > MAX_KEY_BYTES) age = 0;
        else h = hash_bytes(key.data, key.len);
    }
    if (age > 0 && cache_get(&f->cache, &key, h, age, status, body)) {
        atomic_fetch_add(&f->hits, 1);
        curl_slist_free_all(hdrs);
        buf_free(&key);
        return 0;
    }
    CURL *ch = pool_get(f);
    sink_t sink = {.body = body, .start = body->len, .max = f->o.max_body};
    long st = 0;
    if (!ch) rc = BR_EIO;
    for (int tries = req->retry ? f->o.retries : 0, i = 0; ch; i++) {
        rc = exchange(c, ch, hdrs, &sink, &st);
        if (!(rc == BR_EIO || (rc == 0 && st >= 500)) || i >= tries) break;
        long ms = f->o.retry_backoff_ms << (i < 10 ? i : 10);
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        atomic_fetch_add(&f->retries, 1);
    }
    if (ch) pool_put(f, ch);
    curl_slist_free_all(hdrs);
    if (rc < 0) truncate_to(body, sink.start);
    else {
        *status = (int)st;
        if (age > 0 && st >= 200 && st < 300)
            cache_put(&f->cache, &key, h, *status, body->data ? body->data + sink.start : "", body->len - sink.start);
    }
    buf_free(&key);
    return rc;
}

int send_fetch(void *ud, const liq_fetch_req *req, int *status, buf_t *body) {
    send_fetcher *f = ud;
    atomic_fetch_add(&f->calls, 1);
    call_t *c = xcalloc(1, sizeof *c); /* ~3.5 KB: off the render thread's stack */
    c->f = f;
    c->req = req;
    int rc = call(f, c, status, body);
    explicit_bzero(c->pass, sizeof c->pass);
    free(c);
    if (rc < 0) atomic_fetch_add(&f->failures, 1);
    return rc;
}
