/* import_sink.c -- where `brasa import users` sends its batches (see
 * import.h): the engine of a stopped server's data directory, or the
 * /users/track of the server that runs on it.
 *
 * Both keep many batches in flight, because each is answered only once it
 * is durable: the engine's group commit then puts dozens of them in one
 * transaction, and the server sees as many requests at once as its
 * clients usually send. */
#include "import.h"
#include "../api/api.h"
#include "../api/parse.h"
#include "../engine/engine.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../store/store.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HTTP_TRIES 8          /* a batch refused for load or by the network */
#define HTTP_TIMEOUT_MS 60000 /* one request */

struct imp_sink {
    int inflight, window;
    /* the engine */
    store_t *store;
    engine_t *engine;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the server */
    CURLM *multi;
    char *url, *auth;
    int conns;
};

/* ---- the engine ---------------------------------------------------------- */

typedef struct {
    eng_cmd c;
    track_cmd t;
    api_track_result r;
    imp_batch *b;
    imp_sink *s;
} eng_job;

static void eng_done(eng_cmd *c) { /* the store's thread, once durable */
    eng_job *j = c->done_arg;
    if (c->rc == 0) api_track_refusals(&j->t, &j->r);
    else snprintf(j->b->fatal, sizeof j->b->fatal, "%s (the log above says why)", br_err_message(c->rc));
    pthread_mutex_lock(&j->s->mu);
    j->b->done = true;
    j->s->inflight--;
    pthread_cond_signal(&j->s->cv);
    pthread_mutex_unlock(&j->s->mu);
}

imp_sink *imp_sink_engine(const char *dir, char *why, size_t whylen) {
    imp_sink *s = xcalloc(1, sizeof *s);
    s->window = 64; /* batches the group commit can take together */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    api_legacy_register();
    if (store_open(dir, &s->store) < 0 || engine_open(s->store, &s->engine) < 0 || store_start(s->store) < 0 ||
        engine_start(s->engine) < 0) {
        snprintf(why, whylen, "cannot open the data in %s (the log above says why)", dir);
        imp_sink_close(s);
        return NULL;
    }
    return s;
}

static void eng_send(imp_sink *s, imp_batch *b) {
    eng_job *j = xcalloc(1, sizeof *j);
    j->b = b;
    j->s = s;
    b->sink = j;
    char why[200];
    int rc = 0;
    if (b->body) { /* the request parser itself: what /users/track refuses, this does */
        rc = api_track_parse(b->body, &j->t, &j->r, why, sizeof why);
    } else { /* parsed by the reader, with the same checks */
        j->t = b->cmd;
        memset(&b->cmd, 0, sizeof b->cmd);
        j->r = (api_track_result){.present = {true}, .processed = {(int)j->t.nattrs}};
    }
    if (rc < 0 || !(j->t.nattrs || j->t.nevents || j->t.npurchases)) {
        if (rc < 0) snprintf(b->fatal, sizeof b->fatal, "%s", why);
        b->done = true;
        return;
    }
    j->c = (eng_cmd){.kind = ENG_TRACK, .arg = &j->t, .done = eng_done, .done_arg = j};
    pthread_mutex_lock(&s->mu);
    s->inflight++;
    pthread_mutex_unlock(&s->mu);
    eng_submit(s->engine, &j->c);
}

static void eng_finish(imp_batch *b) {
    eng_job *j = b->sink;
    b->errors = j->r.errors;
    track_cmd_free(&j->t);
    free(j);
    b->sink = NULL;
}

/* ---- the server ---------------------------------------------------------- */

typedef struct {
    CURL *h;
    imp_batch *b;
    char *text;
    size_t textlen;
    char *reply;
    size_t replylen;
    struct curl_slist *headers;
    int tries;
} http_job;

static size_t on_reply(char *p, size_t size, size_t n, void *ud) {
    http_job *j = ud;
    size_t len = size * n;
    if (j->replylen + len > (1u << 20)) return 0; /* no answer of ours is that long */
    j->reply = xrealloc(j->reply, j->replylen + len + 1);
    memcpy(j->reply + j->replylen, p, len);
    j->replylen += len;
    j->reply[j->replylen] = '\0';
    return len;
}

static void job_start(imp_sink *s, http_job *j) {
    free(j->reply);
    j->reply = NULL;
    j->replylen = 0;
    if (!j->h) {
        j->h = curl_easy_init();
        curl_easy_setopt(j->h, CURLOPT_URL, s->url);
        curl_easy_setopt(j->h, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(j->h, CURLOPT_POSTFIELDS, j->text);
        curl_easy_setopt(j->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->textlen);
        curl_easy_setopt(j->h, CURLOPT_WRITEFUNCTION, on_reply);
        curl_easy_setopt(j->h, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(j->h, CURLOPT_PRIVATE, j);
        curl_easy_setopt(j->h, CURLOPT_TIMEOUT_MS, (long)HTTP_TIMEOUT_MS);
        curl_easy_setopt(j->h, CURLOPT_NOSIGNAL, 1L);
    }
    curl_multi_add_handle(s->multi, j->h);
}

imp_sink *imp_sink_http(const char *url, const char *key, int conns, char *why, size_t whylen) {
    imp_sink *s = xcalloc(1, sizeof *s);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(s->multi = curl_multi_init())) {
        snprintf(why, whylen, "cannot start libcurl");
        free(s);
        return NULL;
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    size_t n = strlen(url) + 16;
    s->url = xmalloc(n);
    snprintf(s->url, n, "%s/users/track", url);
    n = strlen(key) + 32;
    s->auth = xmalloc(n);
    snprintf(s->auth, n, "Authorization: Bearer %s", key);
    s->conns = s->window = conns;
    return s;
}

static void http_send(imp_sink *s, imp_batch *b) {
    http_job *j = xcalloc(1, sizeof *j);
    j->b = b;
    b->sink = j;
    const char *t = json_object_to_json_string_ext(b->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    j->textlen = strlen(t);
    j->text = xmalloc(j->textlen + 1);
    memcpy(j->text, t, j->textlen + 1);
    j->headers = curl_slist_append(NULL, "Content-Type: application/json");
    j->headers = curl_slist_append(j->headers, s->auth);
    s->inflight++;
    job_start(s, j);
}

/* What an answer means for the batch: applied (with the objects refused
 * listed in errors), to be tried again (load, network), or refused whole. */
static bool http_settle(http_job *j, CURLcode cc, long status) {
    imp_batch *b = j->b;
    json_object *reply = j->reply ? json_tokener_parse(j->reply) : NULL, *v;
    const char *msg = reply && json_object_object_get_ex(reply, "message", &v) ? json_object_get_string(v) : NULL;
    bool again = false;
    if (cc != CURLE_OK) {
        again = ++j->tries < HTTP_TRIES;
        snprintf(b->fatal, sizeof b->fatal, "the server did not answer: %s", curl_easy_strerror(cc));
    } else if (status == 201 || (status == 400 && reply && json_object_object_get_ex(reply, "errors", &v))) {
        /* A 400 with errors: every object was refused, each listed. */
        if (reply && json_object_object_get_ex(reply, "errors", &v)) b->errors = json_object_get(v);
        b->fatal[0] = '\0';
    } else if (status == 429 || status >= 500) {
        again = ++j->tries < HTTP_TRIES;
        snprintf(b->fatal, sizeof b->fatal, "the server answered %ld: %s", status, msg ? msg : "(no message)");
    } else {
        snprintf(b->fatal, sizeof b->fatal, "the server answered %ld: %s", status, msg ? msg : "(no message)");
    }
    json_object_put(reply);
    return again;
}

static void http_wait(imp_sink *s, int inflight) {
    for (bool once = true; once || s->inflight > inflight; once = false) {
        int running;
        curl_multi_perform(s->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            http_job *j;
            long status = 0;
            CURLcode cc = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(s->multi, m->easy_handle);
            if (http_settle(j, cc, status)) {
                /* 429 and 5xx, a refused connection: back off (100 ms,
                 * doubling to 6.4 s: the rate limit's window is 3 s). */
                struct timespec ts = {0, 0};
                long ms = 100L << (j->tries - 1);
                ts.tv_sec = ms / 1000;
                ts.tv_nsec = (ms % 1000) * 1000000L;
                nanosleep(&ts, NULL);
                job_start(s, j);
                continue;
            }
            j->b->done = true;
            s->inflight--;
        }
        if (s->inflight > inflight) curl_multi_poll(s->multi, NULL, 0, 100, NULL);
    }
}

static void job_finish(imp_batch *b) {
    http_job *j = b->sink;
    if (j->h) curl_easy_cleanup(j->h);
    curl_slist_free_all(j->headers);
    free(j->text);
    free(j->reply);
    free(j);
    b->sink = NULL;
}

/* ---- either ---------------------------------------------------------------- */

bool imp_sink_typed(const imp_sink *s) { return !s->multi; }

void imp_sink_send(imp_sink *s, imp_batch *b) {
    if (!b->n) { /* only refused rows: nothing to apply */
        b->done = true;
        return;
    }
    imp_sink_wait(s, s->window - 1);
    if (s->multi) http_send(s, b);
    else eng_send(s, b);
}

void imp_sink_wait(imp_sink *s, int inflight) {
    if (s->multi) {
        http_wait(s, inflight);
        return;
    }
    pthread_mutex_lock(&s->mu);
    while (s->inflight > inflight) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void imp_sink_release(imp_sink *s, imp_batch *b) {
    if (!b->sink) return;
    if (s->multi) job_finish(b);
    else eng_finish(b);
}

void imp_sink_close(imp_sink *s) {
    if (!s) return;
    imp_sink_wait(s, 0);
    if (s->multi) {
        curl_multi_cleanup(s->multi);
        curl_global_cleanup();
        free(s->url);
        free(s->auth);
    } else {
        if (s->engine) engine_stop(s->engine, !store_failed(s->store)); /* a clean stop: no journal to replay */
        if (s->store) store_stop(s->store);
        engine_free(s->engine);
        store_close(s->store);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    free(s);
}
