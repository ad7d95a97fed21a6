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
    /* HTTP edge (http/head.c, http/guard.c, http/authfail.c) */            \
    XX(TENCODING,   501, "Not Implemented")                                   \
    XX(AUTHFAIL,    429, "Too Many Requests: too many failed authentications from this address") \
    XX(URITOOLONG,  414, "URI Too Long")                                  

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
