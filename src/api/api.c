/* api.c -- the list of route tables served by `brasa serve`. */
#include "api.h"

const http_route *const api_tables[] = {
    api_health_routes,
    api_keys_routes,
    api_users_routes,
    api_partners_routes,
    api_segments_routes,
    api_exports_routes,
    NULL,
};
