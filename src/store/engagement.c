/* engagement.c -- opens, clicks and unsubscribes in SQL (see engagement.h). */
#include "engagement.h"
#include "store.h"
#include "../lib/err.h"

#include <string.h>

#define DAY_MS 86400000LL

static const char *const kinds[] = {"open", "click", "unsubscribe"};

int store_engage_op(sqlite3 *db, void *arg) {
    store_engagement *e = arg;
    sqlite3_stmt *st;
    e->first = false;
    if (e->bot) goto event; /* Braze's "Remove bot clicks": not a click of anyone's */
    if (!e->machine) { /* a machine's open is no one's: not a person's first */
        if (!(st = store_prep(db, "INSERT INTO email_engagement (braze_id, dispatch_id, kind, first_at, count) "
                                  "VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count")))
            return BR_ESTORE;
        sqlite3_bind_blob(st, 1, e->braze_id, 12, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e->dispatch_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, kinds[e->kind], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, e->now_ms);
        int s = sqlite3_step(st);
        e->first = s == SQLITE_ROW && sqlite3_column_int64(st, 0) == 1;
        if (s == SQLITE_ROW) s = sqlite3_step(st);
        sqlite3_finalize(st);
        if (s != SQLITE_DONE) return BR_ESTORE;
    }
    if (e->campaign_id) {
        static const char *const sql[] = {
            "INSERT INTO message_stats (campaign_id, send_id, variation_id, channel, day, opens, unique_opens, "
            "machine_opens) VALUES (?1, ?2, ?3, 'email', ?4, 1, ?6, ?7) ON CONFLICT DO UPDATE SET opens = opens + 1, "
            "unique_opens = unique_opens + ?6, machine_opens = machine_opens + ?7",
            "INSERT INTO message_stats (campaign_id, send_id, variation_id, channel, day, clicks, unique_clicks) "
            "VALUES (?1, ?2, ?3, 'email', ?4, 1, ?6) ON CONFLICT DO UPDATE SET clicks = clicks + 1, "
            "unique_clicks = unique_clicks + ?6",
            "INSERT INTO message_stats (campaign_id, send_id, variation_id, channel, day, unsubscribes) "
            "VALUES (?1, ?2, ?3, 'email', ?4, ?6) ON CONFLICT DO UPDATE SET unsubscribes = unsubscribes + ?6",
        };
        if (!(st = store_prep(db, sql[e->kind]))) return BR_ESTORE;
        sqlite3_bind_text(st, 1, e->campaign_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e->send_id ? e->send_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, e->variation_id ? e->variation_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, e->now_ms / DAY_MS);
        sqlite3_bind_int(st, 6, e->first);
        if (e->kind == ENGAGE_OPEN) sqlite3_bind_int(st, 7, e->machine);
        int rc = store_done(db, st);
        if (rc < 0) return rc;
        if (e->kind != ENGAGE_UNSUBSCRIBE && !e->machine) {
            if (!(st = store_prep(db, e->kind == ENGAGE_OPEN
                                          ? "UPDATE received SET opened = 1 WHERE braze_id = ? AND campaign_id = ? AND dispatch_id = ?"
                                          : "UPDATE received SET clicked = 1 WHERE braze_id = ? AND campaign_id = ? AND dispatch_id = ?")))
                return BR_ESTORE;
            sqlite3_bind_blob(st, 1, e->braze_id, 12, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, e->campaign_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, e->dispatch_id, (int)strcspn(e->dispatch_id, "."), SQLITE_STATIC);
            if ((rc = store_done(db, st)) < 0) return rc;
        }
    }
event:
    if (!e->events) return 0;
    if (!(st = store_prep(db, "INSERT INTO message_outbox (at, events) VALUES (?, ?)"))) return BR_ESTORE;
    sqlite3_bind_int64(st, 1, e->now_ms);
    sqlite3_bind_text(st, 2, e->events, -1, SQLITE_STATIC);
    return store_done(db, st);
}
