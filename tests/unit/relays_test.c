/* relays_test.c -- unit tests for the SMTP relays' store (src/store/
 * relays.c: the checks, insert, list, delete) and the choice of a relay
 * for a message (rly_pick in src/send/relays.c). The relay set sending
 * through real relays is tested in smtp_test.c, next to its receiver. */
#define _GNU_SOURCE
#include "test.h"
#include "lib/err.h"
#include "send/relays.h"
#include "store/relays.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

static store_relay relay(const char *name, const char *url) {
    return (store_relay){.name = name, .url = url, .max_connections = 16, .enabled = true};
}

/* store_relay_check's answer for r: "" when it passes. */
static const char *check(store_relay r) {
    static char why[200];
    why[0] = 0;
    if (store_relay_check(&r, why, sizeof why) < 0 && !why[0]) return "(no reason given)";
    return why;
}

TEST(relays_check_fields) {
    T_EQ_STR(check(relay("eu-1", "smtp://mail.example.com:587")), "");
    T_EQ_STR(check(relay("a.b_c", "SMTPS://10.0.0.1")), "");
    T_EQ_STR(check(relay("v6", "smtp://[::1]:2525/brasa.example")), "");
    const char *name_why = "'name' must be 1 to 64 letters, digits, '_', '-' or '.'";
    T_EQ_STR(check(relay("", "smtp://h")), name_why);
    T_EQ_STR(check(relay(NULL, "smtp://h")), name_why);
    T_EQ_STR(check(relay("a b", "smtp://h")), name_why);
    char longname[66];
    memset(longname, 'x', 65);
    longname[65] = 0;
    T_EQ_STR(check(relay(longname, "smtp://h")), name_why);
    T_TRUE(strstr(check(relay("default", "smtp://h")), "BRASA_SMTP_URL"));
    const char *bad_urls[] = {NULL, "", "http://h", "smtp://", "smtp:///x", "smtp://:25", "smtp://user:pw@h",
                              "smtp://u@h:25", "smtp://h x", "smtp://h\r\n", "mailto:a@b"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        const char *w = check(relay("r", bad_urls[i]));
        T_TRUE(!strncmp(w, "'url' must be smtp://host[:port] or smtps://host[:port]", 54));
    }
    /* An '@' after the host is a path's, not a user's. */
    T_EQ_STR(check(relay("r", "smtp://h:25/a@b")), "");
    store_relay r = relay("r", "smtp://h");
    r.username = "u";
    T_EQ_STR(check(r), "'user' and 'password' go together (AUTH needs both)");
    r.password = "";
    T_EQ_STR(check(r), "");
    r.username = NULL;
    T_EQ_STR(check(r), "'user' and 'password' go together (AUTH needs both)");
    r.username = "a\tb";
    T_EQ_STR(check(r), "'user' must be 1 to 255 bytes without control characters");
    r = relay("r", "smtp://h");
    r.max_connections = 0;
    T_EQ_STR(check(r), "'max_connections' must be an integer from 1 to 128");
    r.max_connections = 129;
    T_EQ_STR(check(r), "'max_connections' must be an integer from 1 to 128");
    r = relay("r", "smtp://h");
    r.rate_per_second = -1;
    T_EQ_STR(check(r), "'rate_per_second' must be an integer from 0 (no limit) to 100000");
    r.rate_per_second = 100000;
    T_EQ_STR(check(r), "");
    r.timeout_ms = 999;
    T_EQ_STR(check(r), "'timeout_ms' must be 0 (the default) or an integer from 1000 to 3600000");
    r.timeout_ms = 3600001;
    T_EQ_STR(check(r), "'timeout_ms' must be 0 (the default) or an integer from 1000 to 3600000");
    r.timeout_ms = 1000;
    T_EQ_STR(check(r), "");
}

TEST(relays_store_round_trip) {
    char dir[] = "/tmp/brasa-unit-XXXXXX";
    T_TRUE(mkdtemp(dir));
    store_t *s;
    T_EQ_INT(store_open(dir, &s), 0);
    store_relay a = relay("b-relay", "smtp://127.0.0.1:2525");
    a.username = "brasa";
    a.password = "s3cret";
    a.rate_per_second = 50;
    a.timeout_ms = 5000;
    store_relay b = relay("a-relay", "smtps://mail.example.com");
    b.max_connections = 4;
    b.enabled = false;
    T_EQ_INT(store_exec(s, store_relay_insert_op, &a), 0);
    T_EQ_INT(store_exec(s, store_relay_insert_op, &b), 0);
    store_relay dup = relay("b-relay", "smtp://other");
    T_EQ_INT(store_exec(s, store_relay_insert_op, &dup), BR_EEXISTS);
    sqlite3 *db;
    T_EQ_INT(store_open_reader(s, &db), 0);
    store_relay *rows;
    int n;
    /* For people: all of them by name, never a password. */
    T_EQ_INT(store_relay_list(db, false, &rows, &n), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(rows[0].name, "a-relay");
    T_EQ_STR(rows[0].url, "smtps://mail.example.com");
    T_TRUE(!rows[0].username && !rows[0].password && !rows[0].enabled);
    T_EQ_INT(rows[0].max_connections, 4);
    T_EQ_STR(rows[1].name, "b-relay");
    T_EQ_STR(rows[1].url, "smtp://127.0.0.1:2525"); /* the first one stays */
    T_EQ_STR(rows[1].username, "brasa");
    T_TRUE(!rows[1].password && rows[1].enabled);
    T_EQ_INT(rows[1].rate_per_second, 50);
    T_EQ_INT(rows[1].timeout_ms, 5000);
    T_TRUE(rows[1].created_at > 0);
    store_relay_rows_free(rows, n);
    /* For sending: the enabled ones, with their passwords. */
    T_EQ_INT(store_relay_list(db, true, &rows, &n), 0);
    T_EQ_INT(n, 1);
    T_EQ_STR(rows[0].name, "b-relay");
    T_EQ_STR(rows[0].password, "s3cret");
    store_relay_rows_free(rows, n);
    /* One by name, enabled or not, with its password (smtp test --relay). */
    store_relay *one;
    T_EQ_INT(store_relay_get(db, "b-relay", &one), 0);
    T_EQ_STR(one->password, "s3cret");
    T_EQ_INT(one->timeout_ms, 5000);
    store_relay_rows_free(one, 1);
    T_EQ_INT(store_relay_get(db, "a-relay", &one), 0);
    T_TRUE(!one->enabled && !one->password);
    store_relay_rows_free(one, 1);
    T_EQ_INT(store_relay_get(db, "nope", &one), BR_ENOTFOUND);
    T_TRUE(!one);
    T_EQ_INT(store_exec(s, store_relay_delete_op, "a-relay"), 0);
    T_EQ_INT(store_exec(s, store_relay_delete_op, "a-relay"), BR_ENOTFOUND);
    /* At most STORE_RELAY_MAX. */
    for (int i = 1; i < STORE_RELAY_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        store_relay r = relay(name, "smtp://h");
        T_EQ_INT(store_exec(s, store_relay_insert_op, &r), 0);
    }
    store_relay one_more = relay("one-more", "smtp://h");
    T_EQ_INT(store_exec(s, store_relay_insert_op, &one_more), BR_ETOOMANY);
    T_EQ_INT(store_relay_list(db, false, &rows, &n), 0);
    T_EQ_INT(n, STORE_RELAY_MAX);
    store_relay_rows_free(rows, n);
    sqlite3_close(db);
    store_close(s);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    T_EQ_INT(system(cmd), 0);
}

TEST(relays_pick_spreads_by_weight_and_skips_the_down) {
    unsigned rr = 0;
    T_EQ_INT(rly_pick(NULL, 0, 0, &rr), -1);
    /* Equal relays, nothing held: round robin. */
    rly_cand c[3] = {{16, 0, 0, false}, {16, 0, 0, false}, {16, 0, 0, false}};
    int got[6];
    for (int i = 0; i < 6; i++) got[i] = rly_pick(c, 3, 1000, &rr);
    int want[6] = {0, 1, 2, 0, 1, 2};
    for (int i = 0; i < 6; i++) T_EQ_INT(got[i], want[i]);
    /* Messages held per weight: the least loaded first. */
    rly_cand w[2] = {{4, 0, 0, false}, {12, 0, 0, false}};
    int count[2] = {0, 0};
    for (int i = 0; i < 160; i++) {
        int k = rly_pick(w, 2, 1000, &rr);
        count[k]++;
        w[k].held++;
    }
    T_EQ_INT(count[0], 40);
    T_EQ_INT(count[1], 120);
    /* A relay that holds many (slow, or rate-limited) gets fewer. */
    rly_cand busy[2] = {{16, 500, 0, false}, {16, 3, 0, false}};
    T_EQ_INT(rly_pick(busy, 2, 1000, &rr), 1);
    /* Cooling down: passed over while another is up... */
    rly_cand down[2] = {{16, 0, 5000, false}, {16, 9, 0, false}};
    T_EQ_INT(rly_pick(down, 2, 1000, &rr), 1);
    T_EQ_INT(rly_pick(down, 2, 1000, &rr), 1);
    /* ...and taken again once its time is up. */
    T_EQ_INT(rly_pick(down, 2, 5000, &rr), 0);
    /* Every one down: still one of them (its retries are the last resort). */
    rly_cand all_down[2] = {{16, 3, 5000, false}, {16, 1, 9000, false}};
    T_EQ_INT(rly_pick(all_down, 2, 1000, &rr), 1);
    /* The relay that just failed the message is not a candidate. */
    rly_cand skip[2] = {{16, 0, 0, true}, {16, 50, 5000, false}};
    T_EQ_INT(rly_pick(skip, 2, 1000, &rr), 1);
    skip[1].skip = true;
    T_EQ_INT(rly_pick(skip, 2, 1000, &rr), -1);
}
