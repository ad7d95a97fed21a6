/* api.h -- the route tables of every resource, in one list.
 *
 * Reading this file and the tables it names gives the whole HTTP surface:
 * each entry is method, path, permission, rate-limit group, handler. */
#ifndef BR_API_H
#define BR_API_H
#include "../http/http.h"

extern const http_route api_health_routes[];
extern const http_route api_keys_routes[];
extern const http_route api_users_routes[];
extern const http_route api_partners_routes[];
extern const http_route api_segments_routes[];
extern const http_route api_exports_routes[];

/* NULL-terminated list handed to http_start(). */
extern const http_route *const api_tables[];

#endif
