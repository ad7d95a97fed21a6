/* lifecycle.c -- the user-lifecycle Currents events (see lifecycle.h).
 * Written with buf_* appends, no JSON tree: a cohort import of 100,000
 * users writes 100,000 of them on the engine thread. */
#include "lifecycle.h"
#include "profile.h"

#include <inttypes.h>
#include <string.h>

void life_head(buf_t *b, users_t *u, uint32_t row, const char *type, uint64_t base, char tag, uint32_t n, bool external,
               int64_t now_ms) {
    char bz[25];
    users_braze_hex(u, row, bz);
    if (b->len > 1) buf_append(b, ",", 1);
    buf_printf(b, "{\"id\":\"%016" PRIx64 "-%c%04x\",\"event_type\":\"%s\",\"user_id\":\"%s\"", base, tag, n, type, bz);
    const uint8_t *blob = users_get(u, row)->blob;
    pfield f;
    if (external && blob && profile_get(blob, pkey(PF_EXTERNAL_ID, PK_ATTR), &f)) {
        buf_puts(b, ",\"external_user_id\":");
        buf_json_str(b, (const char *)f.p, f.len);
    }
    buf_printf(b, ",\"time\":%" PRId64, now_ms / 1000);
}

void life_deleted(buf_t *b, users_t *u, uint32_t row, uint64_t base, uint32_t n, int64_t now_ms) {
    life_head(b, u, row, "users.UserDeleteRequest", base, 'd', n, false, now_ms);
    buf_append(b, "}", 1);
}

void life_orphaned(buf_t *b, users_t *u, uint32_t from, uint32_t into, uint64_t base, uint32_t n, int64_t now_ms) {
    char bz[25];
    users_braze_hex(u, into, bz);
    life_head(b, u, from, "users.UserOrphan", base, 'o', n, true, now_ms);
    buf_printf(b, ",\"orphaned_by_id\":\"%s\"}", bz);
}
