/* profile.h -- one user profile in memory, and its compact encoding.
 *
 * 10 million profiles must fit in a few GiB, so a profile is a 32-byte
 * header plus one byte string ("blob") holding every other field:
 *
 *   blob   = varint(n) field*            (n = bytes of fields that follow)
 *   field  = varint(key) u8(type) varint(len) payload[len]
 *   key    = name_id * 4 + kind          (kind: attribute, event, purchase)
 *
 * Fields are sorted by key, so lookups are a binary search after decoding
 * and the encoding of a given profile is canonical. Name ids below
 * NAMES_FIRST are the standard fields (PF_* below); others come from
 * names.h. Payloads:
 *   PT_STR, PT_JSON  bytes (JSON: nested objects, arrays of objects)
 *   PT_INT, PT_TIME  zigzag varint (time in ms since the epoch)
 *   PT_DBL           8 bytes, native order
 *   PT_FALSE/TRUE    empty
 *   PT_ARR           elements, each u8(type) varint(len) payload
 *   PT_SUMMARY       events and purchases: varint count, zigzag first ms,
 *                    zigzag last ms, 8-byte revenue (purchases only), then
 *                    (varint day, varint count) pairs, days ascending
 *
 * Editing decodes into a pedit (an array of fields), changes it, and
 * encodes a new blob; the engine thread is the only writer. */
#ifndef BR_PROFILE_H
#define BR_PROFILE_H
#include "../lib/buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PT_STR = 1, PT_INT, PT_DBL, PT_FALSE, PT_TRUE, PT_TIME, PT_ARR, PT_JSON, PT_SUMMARY };
enum { PK_ATTR = 0, PK_EVENT = 1, PK_PURCHASE = 2 };

/* Standard fields (name ids below NAMES_FIRST). */
#define PF_MAP(XX)                                            \
    XX(EXTERNAL_ID, 1, "external_id")                         \
    XX(EMAIL, 2, "email")                                     \
    XX(PHONE, 3, "phone")                                     \
    XX(ALIASES, 4, "user_aliases")                            \
    XX(DEVICES, 5, "device_ids")                              \
    XX(FIRST_NAME, 6, "first_name")                           \
    XX(LAST_NAME, 7, "last_name")                             \
    XX(GENDER, 8, "gender")                                   \
    XX(DOB, 9, "dob")                                         \
    XX(COUNTRY, 10, "country")                                \
    XX(LANGUAGE, 11, "language")                              \
    XX(HOME_CITY, 12, "home_city")                            \
    XX(TIME_ZONE, 13, "time_zone")                            \
    XX(EMAIL_SUBSCRIBE, 14, "email_subscribe")                \
    XX(PUSH_SUBSCRIBE, 15, "push_subscribe")                  \
    XX(CURRENT_LOCATION, 16, "current_location")              \
    XX(FIRST_SESSION, 17, "date_of_first_session")            \
    XX(LAST_SESSION, 18, "date_of_last_session")              \
    XX(SPAM_AT, 19, "marked_email_as_spam_at")                \
    XX(OPEN_TRACKING_OFF, 20, "email_open_tracking_disabled") \
    XX(CLICK_TRACKING_OFF, 21, "email_click_tracking_disabled") \
    XX(FACEBOOK, 22, "facebook")                              \
    XX(TWITTER, 23, "twitter")                                \
    XX(IMAGE_URL, 24, "image_url")                            \
    XX(SUBSCRIPTION_GROUPS, 25, "subscription_groups")        \
    XX(PUSH_TOKENS, 26, "push_tokens")                        \
    XX(TOTAL_REVENUE, 27, "total_revenue")                    \
    XX(OLD_EXTERNAL_IDS, 28, "deprecated_external_ids")       \
    XX(EMAIL_OPTED_IN_AT, 29, "email_opted_in_at")            \
    XX(PUSH_OPTED_IN_AT, 30, "push_opted_in_at")              \
    XX(ENGAGEMENT, 31, "$engagement_hours") /* core/engage.h */

enum {
#define XX(id, num, name) PF_##id = num,
    PF_MAP(XX)
#undef XX
};

/* Name of a standard field, or NULL. */
const char *profile_std_name(uint32_t id);
/* Id of a standard field name, or 0. */
uint32_t profile_std_lookup(const char *s, size_t len);

#define PROFILE_DELETED 1u

/* 24 bytes a profile: the braze_id is not stored, only the time in it
 * (users_braze_id rebuilds the rest from the store's instance and the row). */
typedef struct {
    uint32_t born;    /* seconds: the time part of its braze_id */
    uint32_t created; /* seconds since the epoch */
    uint32_t updated; /* seconds; "most recently updated" rules */
    uint32_t flags;
    uint8_t *blob;    /* NULL = no fields */
} profile_t;

typedef struct {
    uint32_t key;
    uint8_t type;
    uint32_t len;
    const uint8_t *p; /* payload; into the old blob, or NULL while in the edit arena */
    uint32_t off;     /* payload offset in the edit arena when p == NULL */
} pfield;

typedef struct {
    pfield *f;
    int n, cap;
    buf_t arena; /* payloads of changed fields */
    bool changed;
    uint32_t std_touched; /* bit i: standard field i (< 32) was set or deleted */
} pedit;

static inline uint32_t pkey(uint32_t name, int kind) { return name * 4 + (uint32_t)kind; }

/* Decodes blob (may be NULL) into e. Returns 0, or -1 for a corrupt blob. */
int pedit_open(pedit *e, const uint8_t *blob);
void pedit_close(pedit *e);
/* The field with key, or NULL. */
const pfield *pedit_get(const pedit *e, uint32_t key);
/* Payload bytes of f (valid until the next pedit_set). */
const uint8_t *pedit_payload(const pedit *e, const pfield *f);
/* Sets (inserts or replaces) a field. payload must not point into e's arena
 * (copy it first): the arena may move. */
void pedit_set(pedit *e, uint32_t key, uint8_t type, const void *payload, size_t len);
/* Removes a field; returns whether it existed. */
bool pedit_del(pedit *e, uint32_t key);
/* Encodes e into a new malloc'd blob (NULL when e has no fields). */
uint8_t *pedit_encode(const pedit *e);

/* Iterates the fields of a blob in key order without decoding it whole. */
typedef struct {
    const uint8_t *p, *end;
} piter;
void piter_init(piter *it, const uint8_t *blob);
/* Next field into *f (f->p points into the blob); false at the end. */
bool piter_next(piter *it, pfield *f);
/* Finds one field in a blob by key; false if absent. */
bool profile_get(const uint8_t *blob, uint32_t key, pfield *f);
/* Bytes the blob occupies. */
size_t profile_blob_size(const uint8_t *blob);

/* PT_ARR payloads: elements u8(type) varint(len) bytes, one after the
 * other. Every reader and writer of arrays (identifiers, custom arrays,
 * devices) goes through these two. */
typedef struct {
    const uint8_t *p, *end;
} parr_iter;
static inline void parr_init(parr_iter *it, const uint8_t *p, uint32_t len) {
    it->p = p;
    it->end = p + len;
}
/* The next element: its type, bytes and length, and the whole encoded
 * element (raw, rawlen; may be NULL). False at the end or on bad bytes. */
bool parr_next(parr_iter *it, uint8_t *type, const uint8_t **s, size_t *n, const uint8_t **raw, size_t *rawlen);
/* Appends one element to an array payload being built. */
void parr_put(buf_t *b, uint8_t type, const void *s, size_t n);

/* Payload helpers. */
size_t pval_int(uint8_t *out, int64_t v);
int64_t pval_get_int(const uint8_t *p, uint32_t len);
double pval_get_dbl(const uint8_t *p);

/* Event/purchase summary. */
typedef struct {
    uint64_t count;
    int64_t first_ms, last_ms;
    double revenue;
    uint32_t ndays;
    struct { uint32_t day, count; } days[128];
} psummary;
#define SUMMARY_DAYS 90 /* per-day counts kept for this many days */

void psummary_decode(const uint8_t *p, uint32_t len, bool purchase, psummary *s);
size_t psummary_encode(const psummary *s, bool purchase, buf_t *out);
/* Records n occurrences at t_ms; drops per-day counts older than
 * SUMMARY_DAYS before today (now_ms). */
void psummary_add(psummary *s, int64_t t_ms, uint64_t n, double revenue, int64_t now_ms);
/* Count of occurrences on days [today - days + 1, today]. */
uint64_t psummary_count_since(const psummary *s, int64_t now_ms, uint32_t days);

#endif
