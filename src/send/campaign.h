/* campaign.h -- a campaign as brasa keeps it: a JSON document checked and
 * normalised here, stored as is (store/messaging.h), read by the API,
 * the CLI and the dispatcher.
 *
 * The admin API's body (POST /admin/campaigns, brasa campaigns create):
 *
 *   {"name", "kind": "api"|"api_triggered"|"transactional", "tags": [..], "description",
 *    "variations": [{"name", "channel": "webhook"|"email", "percent",
 *                    "content": {channel message, Liquid inside; api_triggered
 *                                and transactional only}}],
 *    "control_percent", "segment_id", "conversion_events": [{"type", "name"?,
 *    "window_hours"}] (at most 4), "rate_limit_per_minute", "frequency_capping",
 *    "draft", "archived", "email_tracking": {"opens", "clicks"} (booleans, default true),
 *    "postback_url" (transactional only)}
 *
 * A transactional campaign (POST /transactional/v1/campaigns/{id}/send,
 * api/transactional.c) has one email variation and no control group.
 *
 * The stored document adds "id", "variations[].id" (UUIDs, kept across
 * updates by name or id), "control_id" (the control group's variation id),
 * "channels", "created_at" and "updated_at". Percentages left out split
 * what the control group leaves evenly; given ones must add up to 100
 * with it. */
#ifndef BR_SEND_CAMPAIGN_H
#define BR_SEND_CAMPAIGN_H
#include "message.h"
#include <json-c/json.h>
#include <stdint.h>

#define CAMP_ID_LEN 36
#define CAMP_NAME_MAX 255
#define CAMP_VARIATIONS_MAX 8
#define CAMP_TAGS_MAX 50
#define CAMP_DESCRIPTION_MAX 10000
#define CAMP_CONVERSIONS_MAX 4

/* Checks body and builds the document. old: the stored document for an
 * update (fields absent from body keep their values; variation ids are
 * kept), or NULL for a create (new ids are drawn). Returns 0 and *doc
 * (new reference), or BR_EINVAL with why naming the field. */
int camp_build(json_object *body, json_object *old, int64_t now_ms, json_object **doc, char *why, size_t whylen);

/* Reads from a document (borrowed values; NULL when absent). */
const char *camp_id(json_object *doc);
const char *camp_kind(json_object *doc);
bool camp_is_triggered(json_object *doc);      /* api_triggered */
bool camp_is_transactional(json_object *doc);  /* transactional */
/* The variation with this id (NULL: none); *is_control when it is the
 * control group's id. */
json_object *camp_variation(json_object *doc, const char *id, bool *is_control);
/* The variation a user gets, from a number in [0, 100) that is stable for
 * the user and the campaign (send/dispatch.c hashes the braze_id with the
 * campaign id); NULL for the control group. */
json_object *camp_pick(json_object *doc, unsigned bucket);

/* The admin API's answer to a create: {"campaign_id", "variations": [{"id", "name"}]}. */
json_object *camp_created_json(json_object *doc);
/* Braze's /campaigns/details body (without "message"). */
json_object *camp_details_json(json_object *doc, int64_t first_sent, int64_t last_sent);

#endif
