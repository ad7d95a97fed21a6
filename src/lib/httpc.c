/* httpc.c -- outbound HTTP with libcurl's easy interface (see httpc.h). */
#include "httpc.h"
#include "../version.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define URL_MAX 2048

void httpc_global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void httpc_global_cleanup(void) { curl_global_cleanup(); }

bool httpc_url_valid(const char *url) {
    if (!url || !*url || strlen(url) > URL_MAX) return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return false;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    /* Without a scheme curl would guess one, and it reads "http:///h" as
     * host "h": require "scheme://host" in the text. */
    const char *after = strstr(url, "://");
    bool ok = u && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) && after[3] != '/' &&
              curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static size_t discard(char *p, size_t size, size_t n, void *arg) {
    (void)p, (void)arg;
    return size * n;
}

int httpc_post_json(const char *url, const char *body, long timeout_ms, char *err, size_t errlen) {
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "cannot create a curl handle");
        return 0;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "brasa/" BRASA_VERSION);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in a threaded server */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return (int)status;
}
