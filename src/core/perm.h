/* perm.h -- REST API key permissions.
 *
 * One permission per Braze endpoint, under Braze's own names (basics.md), plus
 * brasa's own for what Braze does in its dashboard (managing keys). A key's
 * permissions are a bit set over this table; they are stored as the
 * comma-separated names so that reordering the table never changes a key.
 *
 * "all" means every Braze permission. brasa's admin permissions (brasa.keys:
 * keys, partners' data import keys, SMTP relays, Currents connectors;
 * brasa.marketing: the admin routes of segments, campaigns, cohorts and
 * users, what the dashboard's marketer role may do; brasa.metrics: GET
 * /metrics) are granted only when named: a key made with "all" for a
 * partner must not be able to mint keys. brasa.keys implies
 * brasa.marketing (those routes needed brasa.keys before it existed). Keys store the names they were granted, so a key made with "all"
 * before this rule still holds brasa.keys (docs/operations.md). */
#ifndef BR_PERM_H
#define BR_PERM_H
#include <stdbool.h>
#include <stdint.h>

#define PERM_MAP(XX)                                                                     \
    XX(USERS_TRACK, "users.track")                                                       \
    XX(USERS_DELETE, "users.delete")                                                     \
    XX(USERS_ALIAS_NEW, "users.alias.new")                                               \
    XX(USERS_ALIAS_UPDATE, "users.alias.update")                                         \
    XX(USERS_IDENTIFY, "users.identify")                                                 \
    XX(USERS_EXPORT_IDS, "users.export.ids")                                             \
    XX(USERS_EXPORT_SEGMENT, "users.export.segment")                                     \
    XX(USERS_EXPORT_GCG, "users.export.global_control_group")                            \
    XX(USERS_MERGE, "users.merge")                                                       \
    XX(USERS_EXTERNAL_IDS_RENAME, "users.external_ids.rename")                           \
    XX(USERS_EXTERNAL_IDS_REMOVE, "users.external_ids.remove")                           \
    XX(EMAIL_UNSUBSCRIBE, "email.unsubscribe")                                           \
    XX(EMAIL_STATUS, "email.status")                                                     \
    XX(EMAIL_HARD_BOUNCES, "email.hard_bounces")                                         \
    XX(EMAIL_BOUNCE_REMOVE, "email.bounce.remove")                                       \
    XX(EMAIL_SPAM_REMOVE, "email.spam.remove")                                           \
    XX(EMAIL_BLACKLIST, "email.blacklist")                                               \
    XX(MESSAGES_SEND, "messages.send")                                                   \
    XX(MESSAGES_SCHEDULE_CREATE, "messages.schedule.create")                             \
    XX(MESSAGES_SCHEDULE_UPDATE, "messages.schedule.update")                             \
    XX(MESSAGES_SCHEDULE_DELETE, "messages.schedule.delete")                             \
    XX(MESSAGES_SCHEDULE_BROADCASTS, "messages.schedule_broadcasts")                     \
    XX(MESSAGES_LIVE_ACTIVITY_UPDATE, "messages.live_activity.update")                   \
    XX(CAMPAIGNS_TRIGGER_SEND, "campaigns.trigger.send")                                 \
    XX(CAMPAIGNS_TRIGGER_SCHEDULE_CREATE, "campaigns.trigger.schedule.create")           \
    XX(CAMPAIGNS_TRIGGER_SCHEDULE_UPDATE, "campaigns.trigger.schedule.update")           \
    XX(CAMPAIGNS_TRIGGER_SCHEDULE_DELETE, "campaigns.trigger.schedule.delete")           \
    XX(CAMPAIGNS_LIST, "campaigns.list")                                                 \
    XX(CAMPAIGNS_DATA_SERIES, "campaigns.data_series")                                   \
    XX(CAMPAIGNS_DETAILS, "campaigns.details")                                           \
    XX(CAMPAIGNS_URL_INFO_DETAILS, "campaigns.url_info.details")                         \
    XX(SENDS_DATA_SERIES, "sends.data_series")                                           \
    XX(SENDS_ID_CREATE, "sends.id.create")                                               \
    XX(TRANSACTIONAL_SEND, "transactional.send")                                         \
    XX(CANVAS_TRIGGER_SEND, "canvas.trigger.send")                                       \
    XX(CANVAS_TRIGGER_SCHEDULE_CREATE, "canvas.trigger.schedule.create")                 \
    XX(CANVAS_TRIGGER_SCHEDULE_UPDATE, "canvas.trigger.schedule.update")                 \
    XX(CANVAS_TRIGGER_SCHEDULE_DELETE, "canvas.trigger.schedule.delete")                 \
    XX(CANVAS_LIST, "canvas.list")                                                       \
    XX(CANVAS_DATA_SERIES, "canvas.data_series")                                         \
    XX(CANVAS_DETAILS, "canvas.details")                                                 \
    XX(CANVAS_DATA_SUMMARY, "canvas.data_summary")                                       \
    XX(CANVAS_URL_INFO_DETAILS, "canvas.url_info.details")                               \
    XX(SEGMENTS_LIST, "segments.list")                                                   \
    XX(SEGMENTS_DATA_SERIES, "segments.data_series")                                     \
    XX(SEGMENTS_DETAILS, "segments.details")                                             \
    XX(PURCHASES_PRODUCT_LIST, "purchases.product_list")                                 \
    XX(PURCHASES_REVENUE_SERIES, "purchases.revenue_series")                             \
    XX(PURCHASES_QUANTITY_SERIES, "purchases.quantity_series")                           \
    XX(EVENTS_LIST, "events.list")                                                       \
    XX(EVENTS_DATA_SERIES, "events.data_series")                                         \
    XX(SESSIONS_DATA_SERIES, "sessions.data_series")                                     \
    XX(KPI_DAU_DATA_SERIES, "kpi.dau.data_series")                                       \
    XX(KPI_MAU_DATA_SERIES, "kpi.mau.data_series")                                       \
    XX(KPI_NEW_USERS_DATA_SERIES, "kpi.new_users.data_series")                           \
    XX(KPI_UNINSTALLS_DATA_SERIES, "kpi.uninstalls.data_series")                         \
    XX(TEMPLATES_EMAIL_CREATE, "templates.email.create")                                 \
    XX(TEMPLATES_EMAIL_INFO, "templates.email.info")                                     \
    XX(TEMPLATES_EMAIL_LIST, "templates.email.list")                                     \
    XX(TEMPLATES_EMAIL_UPDATE, "templates.email.update")                                 \
    XX(CONTENT_BLOCKS_INFO, "content_blocks.info")                                       \
    XX(CONTENT_BLOCKS_LIST, "content_blocks.list")                                       \
    XX(CONTENT_BLOCKS_CREATE, "content_blocks.create")                                   \
    XX(CONTENT_BLOCKS_UPDATE, "content_blocks.update")                                   \
    XX(PREFERENCE_CENTER_GET, "preference_center.get")                                   \
    XX(PREFERENCE_CENTER_LIST, "preference_center.list")                                 \
    XX(PREFERENCE_CENTER_UPDATE, "preference_center.update")                             \
    XX(PREFERENCE_CENTER_USER_GET, "preference_center.user.get")                         \
    XX(SUBSCRIPTION_STATUS_SET, "subscription.status.set")                               \
    XX(SUBSCRIPTION_STATUS_GET, "subscription.status.get")                               \
    XX(SUBSCRIPTION_GROUPS_GET, "subscription.groups.get")                               \
    XX(SMS_INVALID_PHONE_NUMBERS, "sms.invalid_phone_numbers")                           \
    XX(SMS_INVALID_PHONE_NUMBERS_REMOVE, "sms.invalid_phone_numbers.remove")             \
    XX(CATALOGS_ADD_ITEMS, "catalogs.add_items")                                         \
    XX(CATALOGS_UPDATE_ITEMS, "catalogs.update_items")                                   \
    XX(CATALOGS_DELETE_ITEMS, "catalogs.delete_items")                                   \
    XX(CATALOGS_GET_ITEM, "catalogs.get_item")                                           \
    XX(CATALOGS_UPDATE_ITEM, "catalogs.update_item")                                     \
    XX(CATALOGS_CREATE_ITEM, "catalogs.create_item")                                     \
    XX(CATALOGS_DELETE_ITEM, "catalogs.delete_item")                                     \
    XX(CATALOGS_REPLACE_ITEM, "catalogs.replace_item")                                   \
    XX(CATALOGS_CREATE, "catalogs.create")                                               \
    XX(CATALOGS_GET, "catalogs.get")                                                     \
    XX(CATALOGS_DELETE, "catalogs.delete")                                               \
    XX(CATALOGS_GET_ITEMS, "catalogs.get_items")                                         \
    XX(CATALOGS_REPLACE_ITEMS, "catalogs.replace_items")                                 \
    XX(SDK_AUTHENTICATION_CREATE, "sdk_authentication.create")                           \
    XX(SDK_AUTHENTICATION_PRIMARY, "sdk_authentication.primary")                         \
    XX(SDK_AUTHENTICATION_DELETE, "sdk_authentication.delete")                           \
    XX(SDK_AUTHENTICATION_KEYS, "sdk_authentication.keys")                               \
    XX(SSO_SAML_LOGIN, "sso.saml.login")                                                 \
    XX(BRASA_KEYS, "brasa.keys")       /* brasa: manage keys, partners, relays, connectors */ \
    XX(BRASA_METRICS, "brasa.metrics") /* brasa: read GET /metrics */                   \
    XX(BRASA_MARKETING, "brasa.marketing") /* brasa: segments, campaigns, cohorts, users */

typedef enum {
#define XX(id, name) PERM_##id,
    PERM_MAP(XX)
#undef XX
    PERM__COUNT,
    PERM_NONE = 1000 /* a route that needs no key at all */
} perm_id;

typedef struct {
    uint64_t bits[(PERM__COUNT + 63) / 64];
} perm_set;

/* Name of a permission ("users.track"). */
const char *perm_name(perm_id p);
/* Looks a name up; returns the id or -1. */
int perm_lookup(const char *name, int len);
/* Whether s grants p (brasa.keys grants brasa.marketing too). */
bool perm_has(const perm_set *s, perm_id p);
void perm_add(perm_set *s, perm_id p);
/* Whether p is one of brasa's admin permissions, which "all" leaves out. */
bool perm_is_admin(perm_id p);
/* Sets *s to every permission but the admin ones ("all"). */
void perm_all(perm_set *s);
/* Parses "users.track,users.export.ids" (or "all"/"*", which can be
 * combined with admin names: "all,brasa.keys") into *s.
 * Returns 0, or BR_EINVAL and, in *bad, the offending name (caller frees). */
int perm_parse(const char *list, perm_set *s, char **bad);
/* Writes the set as a comma-separated list (caller frees). */
char *perm_format(const perm_set *s);

#endif
