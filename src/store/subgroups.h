/* subgroups.h -- subscription groups (table subscription_groups,
 * sql/017_email_state.sql): their id, name and channel.
 *
 * Braze makes groups in its dashboard; brasa makes them over
 * /admin/subscription_groups (api/subscriptions.c), and the
 * /subscription/... endpoints check a group id against this table. A
 * user's state in a group is kept in its profile (core/subs.h). Functions
 * return 0, BR_ENOTFOUND / BR_EEXISTS where said, or BR_ESTORE. */
#ifndef BR_STORE_SUBGROUPS_H
#define BR_STORE_SUBGROUPS_H
#include <sqlite3.h>
#include <stdint.h>

#define STORE_SUBGROUP_ID_LEN 36 /* a UUID */
#define STORE_SUBGROUP_NAME_MAX 255

typedef struct {
    char *id, *name, *channel; /* channel: "email" or "sms" */
    int64_t created_at;        /* ms */
} store_subgroup;

/* Adds a group (BR_EEXISTS: the name is taken). */
int store_subgroup_add(sqlite3 *db, const store_subgroup *g);
/* The group of id (BR_ENOTFOUND); free its strings with
 * store_subgroup_clear. */
int store_subgroup_get(sqlite3 *db, const char *id, store_subgroup *g);
void store_subgroup_clear(store_subgroup *g);
/* Every group, oldest first. */
int store_subgroups_list(sqlite3 *db, store_subgroup **out, int *n);
void store_subgroups_free(store_subgroup *v, int n);

#endif
