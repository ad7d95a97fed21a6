/* err.h -- the one error table of brasa.
 *
 * Every function that can fail returns 0 or a negative BR_E* code from this
 * table. Each code carries the HTTP status and the Braze-style message that
 * api/ and http/ put in a `{"message": ...}` body, so the whole set of error
 * answers the server can give is readable in one place. */
#ifndef BR_ERR_H
#define BR_ERR_H

/* XX(name, http status, message) */
#define BR_ERR_MAP(XX)                                                        \
    XX(OK,          200, "success")                                           \
    XX(INVAL,       400, "Bad Request")                                       \
    XX(JSON,        400, "Invalid JSON in request body")                      \
    XX(TOOMANY,     400, "Max Input Length Exceeded")                         \
    XX(MAXIDS,      400, "The max number of external_ids and aliases per request was exceeded") \
    XX(NODATA,      400, "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.") \
    XX(NOKEY,       401, "Invalid API key: ")                                 \
    XX(BADKEY,      401, "Invalid API key: ")                                 \
    XX(IPDENIED,    401, "Unauthorized")                                      \
    XX(PERM,        403, "Access Denied")                                     \
    XX(NOTFOUND,    404, "Not Found")                                         \
    XX(METHOD,      405, "Method Not Allowed")                                \
    XX(TOOBIG,      413, "Request Entity Too Large")                          \
    XX(CTYPE,       415, "Unsupported Media Type: send Content-Type: application/json") \
    XX(RATE,        429, "Rate Limited")                                      \
    XX(HEADERS,     431, "Request Header Fields Too Large")                   \
    XX(STORE,       500, "Internal Server Error: storage failure")            \
    XX(INTERNAL,    500, "Internal Server Error")                             \
    XX(UNAVAIL,     503, "Service Unavailable: shutting down")                \
    XX(IO,          500, "I/O error")                                         \
    XX(EXISTS,      409, "Already exists")                                    \
    XX(EXPORTBUSY,  429, "An export of this segment is already in progress")  \
    /* Partner cohort import (Braze's documented texts, without the docs' code marks) */ \
    XX(COHORTID,    400, "cohort_id must be a valid string")                  \
    XX(NOCOHORT,    400, "cohort_id must be a valid string")                  \
    XX(COHORTCHANGES, 400, "cohort_changes must be an array of objects each with key user_ids and/or device_ids mapping to an array of strings, or an aliases object") \
    XX(COHORTMAX,   400, "Only 1,000 user_ids, device_ids, and aliases are allowed per request") \
    XX(COHORTNAME,  400, "name must be a non-empty string")                   \
    XX(COHORTTIME,  400, "created_at must be a valid time as an ISO-8601 string") \
    XX(PARTNERKEY,  401, "Invalid Partner API key")                           \
    XX(CLIENTSECRET, 401, "Invalid client secret")                            \
    XX(PARTNEROFF,  401, "Partner not enabled for client with client secret: ") \
    /* POST /users/merge (Braze's documented texts) */                       \
    XX(MERGEARRAY,  400, "'merge_updates' must be an array of objects")      \
    XX(MERGEMAX,    400, "a single request may not contain more than 50 merge updates") \
    XX(MERGEIDENT,  400, "identifiers must be objects with an 'external_id' property that is a string, 'user_alias' property that is an object, 'email' property that is a string, or 'phone' property that is a string") \
    XX(MERGEKEYS,   400, "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep'") \
    /* Messaging (Braze's names for them; the detail says what and where) */ \
    XX(NORECIPIENTS, 400, "No Recipients")                                   \
    XX(CAMPAIGNID,  400, "Invalid Campaign ID")                               \
    XX(VARUNSPEC,   400, "Message Variant Unspecified")                       \
    XX(VARIANT,     400, "Invalid Message Variant")                           \
    XX(MSGTYPE,     400, "Mismatched Message Type")                           \
    XX(NOMESSAGE,   400, "No message to send")                                \
    XX(MAXRECIPS,   400, "The max number of ids per request was exceeded")    \
    /* Email templates (api/templates.c; Braze's texts where it documents them) */ \
    XX(TPLNAME,     400, "Template name is required")                         \
    XX(TPLINLINECSS, 400, "Invalid value for 'should_inline_css'. One of 'true' or 'false' was expected") \
    XX(TPLBLOCKS,   400, "Email must have valid Content Block names")         \
    XX(TPLLIQUID,   400, "Template contains malformed liquid")                \
    XX(TPLID,       400, "Invalid email_template_id")                         \
    /* Transactional email (api/transactional.c; Braze's texts) */           \
    XX(TXCAMPAIGNID, 400, "campaign_id must be a string of the campaign api identifier") \
    XX(TXNOCAMPAIGN, 400, "Campaign does not exist")                          \
    XX(TXNOTTX,     400, "The campaign is not a transactional campaign. Only transactional campaigns may use this endpoint") \
    XX(TXARCHIVED,  400, "The campaign is archived. Unarchive the campaign in order for trigger requests to take effect.") \
    XX(TXPAUSED,    400, "The campaign is paused. Resume the campaign in order for trigger requests to take effect.") \
    /* HTTP edge (http/head.c, http/guard.c, http/authfail.c) */            \
    XX(TENCODING,   501, "Not Implemented")                                   \
    XX(AUTHFAIL,    429, "Too Many Requests: too many failed authentications from this address") \
    XX(URITOOLONG,  414, "URI Too Long")                                      \
    /* Content Blocks (Braze's texts; core/content_block.h, api/content_blocks.c) */ \
    XX(CBCONTENTBLANK, 400, "Content cannot be blank")                       \
    XX(CBCONTENTTYPE, 400, "Content must be a string")                       \
    XX(CBCONTENTBIG, 400, "Content must be smaller than 50kb")               \
    XX(CBLIQUID,    400, "Content contains malformed liquid")                 \
    XX(CBSELFREF,   400, "Content Block cannot be referenced within itself")  \
    XX(CBDESCBLANK, 400, "Content Block description cannot be blank")         \
    XX(CBDESCLONG,  400, "Content Block description must be shorter than 250 characters") \
    XX(CBNAMEBLANK, 400, "Content Block name cannot be blank")                \
    XX(CBNAMELONG,  400, "Content Block name must be shorter than 100 characters") \
    XX(CBNAMECHARS, 400, "Content Block name can only contain alphanumeric characters") \
    XX(CBNAMETAKEN, 400, "Content Block with this name already exists")       \
    XX(CBSTATE,     400, "Content Block state must be either active or draft") \
    XX(CBTAGSARRAY, 400, "Tags must be an array")                             \
    XX(CBTAGSSTRINGS, 400, "All tags must be strings")                        \
    XX(CBRENAME,    400, "Content Block name cannot be updated for active Content Blocks") \
    XX(CBTODRAFT,   400, "Active Content Block can not be updated to Draft. Create a new Content Block.") \
    XX(CBAFTER,     400, "Modified after time is invalid")                    \
    XX(CBBEFORE,    400, "Modified before time is invalid")                   \
    XX(CBLIMIT,     400, "Content Block number limit is invalid")             \
    XX(CBLIMITLOW,  400, "Content Block number limit must be greater than 0") \
    XX(CBLIMITHIGH, 400, "Content Block number limit exceeds maximum of 1000") \
    XX(CBOFFSET,    400, "Offset is invalid")                                 \
    XX(CBIDBLANK,   400, "Content Block ID cannot be blank")                  \
    XX(CBID,        400, "Content Block ID is invalid for this workspace")    \
    XX(CBDELETED,   400, "Content Block has been deleted—content not available") \
    /* Subscription groups (Braze's texts; api/subscriptions.c) */           \
    XX(SUBGROUP,    400, "Invalid subscription group ID")                     \
    XX(SUBBOTH,     400, "Either an email address or a phone number should be provided, but not both.") \
    /* The dashboard's operators and sessions (dash/) */                     \
    XX(LOGIN,       401, "Wrong operator name or password")                   \
    XX(SESSION,     401, "Your session has expired or was ended: sign in again") \
    XX(CSRF,        403, "Missing or invalid CSRF token")                     \
    XX(ROLE,        403, "Access Denied")

typedef enum {
#define XX(name, status, msg) BR_E_##name##_IDX,
    BR_ERR_MAP(XX)
#undef XX
    BR_E__COUNT
} br_err_idx;

/* Codes are the negated table index: BR_EINVAL == -1, and so on. */
#define XX(name, status, msg) BR_E##name = -(int)BR_E_##name##_IDX,
enum { BR_ERR_MAP(XX) };
#undef XX

/* HTTP status of a code (0 or negative); 500 for anything unknown. */
int br_err_status(int code);
/* Message of a code; never NULL. */
const char *br_err_message(int code);
/* Symbolic name ("EINVAL"), for logs and tests. */
const char *br_err_name(int code);

#endif
