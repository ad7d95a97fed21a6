/* campaigns.h -- the campaign and app writes of api/campaigns.c, and the
 * admin view of a stored campaign, shared with the CLI (cli/campaigns.c),
 * which runs the same store ops on the data directory's store (whether a
 * server runs on it or not: nothing caches campaigns in memory). */
#ifndef BR_API_CAMPAIGNS_H
#define BR_API_CAMPAIGNS_H
#include "../lib/secret.h"
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdint.h>

/* A create (id NULL) or update of a campaign from an admin API body. The
 * store op answers 0 with the stored document in doc (a new reference);
 * BR_EINVAL with why; BR_ENOTFOUND for an unknown id. */
typedef struct {
    const char *id;
    json_object *body;
    int64_t now_ms;
    json_object *doc; /* out */
    int64_t first_sent, last_sent; /* out: an update's (0: never) */
    char why[400];
} api_campaign_write;
int api_campaign_write_op(sqlite3 *db, void *arg);
/* A stored document as the admin routes show it: takes doc, returns it
 * with created_at/updated_at as ISO times and first_sent/last_sent. */
json_object *api_campaign_view(json_object *doc, int64_t first_sent, int64_t last_sent);

/* A new app: {"name", "platform"} checked by api_app_parse (strings point
 * into the body); the op draws its app_id. */
typedef struct {
    const char *name, *platform;
    int64_t now_ms;
    char app_id[SECRET_KEY_LEN + 1]; /* out */
} api_app_create;
int api_app_parse(json_object *body, api_app_create *a, char *why, size_t whylen);
int api_app_create_op(sqlite3 *db, void *arg);

#endif
