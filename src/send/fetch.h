/* fetch.h -- the connected_content fetcher: what `{% connected_content %}`
 * asks for at send time, made over libcurl, as Braze makes it.
 *
 * One send_fetcher serves every render thread at once (send_fetch is a
 * liq_fetch_fn: pass it with the fetcher as fetch_ud in liq_render_opts).
 * A call blocks its thread for at most the timeout (per attempt): render
 * threads are the send workers, never the engine or an HTTP thread.
 *
 * What a call does, after Braze's Connected Content:
 *  - http:// and https:// only; by default only ports 80 and 443, as Braze
 *    (any_port lifts that); redirects are not followed (Braze does not: the
 *    3xx is the answer), unless max_redirects allows them, and then only to
 *    http(s) URLs that pass the same checks.
 *  - a total timeout per attempt (2 s by default, Braze's limit) and a
 *    connect timeout; an answer over max_body (1 MiB) is refused while it
 *    arrives, never buffered beyond the cap.
 *  - :retry: on a transport failure or a 5xx answer, `retries` more attempts
 *    (1 by default) after a short backoff that doubles.
 *  - headers: User-Agent: brasa/<version>; Content-Type and Accept are both
 *    :content_type when given, else Content-Type is application/json for a
 *    GET and application/x-www-form-urlencoded otherwise, with Accept
 *    "any type" (Braze's defaults); :headers are sent as given and win over
 *    those defaults. A :body goes with every method but GET. Methods: GET,
 *    POST, PUT, PATCH, DELETE.
 *  - :basic_auth NAME: username and password from the credential callback
 *    (store_cred_lookup over store/credentials.h in the server); an unknown
 *    name fails the call, so the message aborts, as in Braze.
 *  - cache: 2xx answers are kept in a bounded LRU cache (entries and bytes)
 *    keyed by method, URL, body, headers, content type and credential.
 *    GETs are cached for 5 minutes unless :cache_max_age says otherwise;
 *    other methods only with :cache_max_age; :no_cache neither reads nor
 *    fills it; :cache_max_age 0 is no caching; ages are capped at 4 hours
 *    (Braze's maximum). An entry serves a request only while younger than
 *    that request's own max age.
 *
 * Libcurl handles are pooled (each keeps its connections alive for reuse);
 * the DNS cache and TLS sessions are shared between them. */
#ifndef BR_SEND_FETCH_H
#define BR_SEND_FETCH_H
#include "../liquid/liquid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Looks up credential `name`: writes its username and password, NUL-
 * terminated, into user[user_size] and pass[pass_size]. Returns 0, or a
 * negative code (BR_ENOTFOUND when there is none). Called from any render
 * thread at once. store_cred_lookup (store/credentials.h) has this shape. */
typedef int (*send_cred_fn)(void *ud, const char *name, char *user, size_t user_size, char *pass,
                            size_t pass_size);

#define SEND_FETCH_TIMEOUT_MS 2000            /* Braze: answer within 2 s */
#define SEND_FETCH_MAX_BODY (1u << 20)        /* Braze: 1 MB */
#define SEND_FETCH_CACHE_AGE 300              /* Braze: 5 minutes for GETs */
#define SEND_FETCH_CACHE_AGE_MAX (4 * 3600)   /* Braze: at most 4 hours */

/* Zero in any field means its default. */
typedef struct {
    long timeout_ms;          /* whole attempt; default SEND_FETCH_TIMEOUT_MS */
    long connect_timeout_ms;  /* default: the timeout, at most 1 s */
    size_t max_body;          /* bytes; default SEND_FETCH_MAX_BODY */
    int retries;              /* attempts added by :retry; default 1 */
    long retry_backoff_ms;    /* before the first retry, doubling; default 100 */
    size_t cache_bytes;       /* cached bodies and keys; default 64 MiB */
    int cache_entries;        /* default 4096 */
    int pool_size;            /* idle curl handles kept; default 16 */
    int max_redirects;        /* default 0: not followed (Braze) */
    bool any_port;            /* allow ports other than 80 and 443 */
    send_cred_fn credential;  /* NULL: every :basic_auth fails */
    void *credential_ud;
} send_fetch_opts;

typedef struct send_fetcher send_fetcher;

/* Counters since send_fetcher_new (a snapshot). */
typedef struct {
    uint64_t calls;        /* send_fetch calls */
    uint64_t attempts;     /* HTTP requests made (retries and redirects included) */
    uint64_t cache_hits;   /* calls answered from the cache */
    uint64_t retries;      /* attempts made because of :retry */
    uint64_t failures;     /* calls that returned an error */
    uint64_t too_big;      /* answers refused for exceeding max_body */
    uint64_t cache_entries, cache_bytes; /* in the cache now */
} send_fetch_stats;

/* Creates a fetcher (o may be NULL: every default). Calls
 * curl_global_init, so create it before starting threads that use it.
 * Never NULL. */
send_fetcher *send_fetcher_new(const send_fetch_opts *o);
/* Frees f once no thread uses it any more. NULL is a no-op. */
void send_fetcher_free(send_fetcher *f);

/* A liq_fetch_fn: ud is a send_fetcher. Appends the answer's body to *body
 * and sets *status; returns 0 when an HTTP answer came (any status, a 5xx
 * after the retries), or a negative BR_E* code: BR_EINVAL for a request it
 * refuses (URL, port, method, header, unknown credential), BR_ETOOBIG for
 * an answer over max_body, BR_EIO for a transport failure or timeout. On
 * failure *body is as it was. */
int send_fetch(void *ud, const liq_fetch_req *req, int *status, buf_t *body);

send_fetch_stats send_fetcher_stats(send_fetcher *f);

#endif
