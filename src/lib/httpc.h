/* httpc.h -- outbound HTTP requests (libcurl).
 *
 * Used off the engine thread only (the exporter's callbacks): a call blocks
 * its caller for up to its timeout. Redirects are not followed and only
 * http:// and https:// URLs are fetched. */
#ifndef BR_HTTPC_H
#define BR_HTTPC_H
#include <stdbool.h>
#include <stddef.h>

/* Process-wide set-up and tear-down; call before any other thread may use
 * httpc and after the last one stopped. */
void httpc_global_init(void);
void httpc_global_cleanup(void);

/* Whether url is an absolute http:// or https:// URL with a host. */
bool httpc_url_valid(const char *url);

/* POSTs body with Content-Type application/json, waiting at most
 * timeout_ms in all. Returns the answer's HTTP status, or 0 when none came
 * (why in err). The answer's body is discarded. */
int httpc_post_json(const char *url, const char *body, long timeout_ms, char *err, size_t errlen);

#endif
