/* dash_test.c -- unit tests for the dashboard's operators: roles, names and
 * passwords (dash/operator.c), and their rows: operators, sessions that end
 * on expiry, logout, a new password or removal, and the audit log's pages
 * (store/operators.c). */
#define _GNU_SOURCE
#include "test.h"
#include "dash/operator.h"
#include "lib/err.h"
#include "store/operators.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(dash_roles_grant_what_each_may_do) {
    perm_set s;
    dash_role r;
    T_TRUE(dash_role_parse("admin", &r) == 0 && r == DASH_ADMIN);
    T_TRUE(dash_role_parse("read-only", &r) == 0 && r == DASH_READ_ONLY);
    T_TRUE(dash_role_parse("Admin", &r) < 0 && dash_role_parse("", &r) < 0 && dash_role_parse(NULL, &r) < 0);
    dash_role_perms(DASH_ADMIN, &s);
    T_TRUE(perm_has(&s, PERM_BRASA_KEYS) && perm_has(&s, PERM_BRASA_MARKETING) && perm_has(&s, PERM_USERS_TRACK));
    dash_role_perms(DASH_MARKETER, &s);
    T_TRUE(!perm_has(&s, PERM_BRASA_KEYS) && perm_has(&s, PERM_BRASA_MARKETING) && perm_has(&s, PERM_USERS_DELETE));
    /* brasa.keys implies brasa.marketing, never the reverse */
    perm_set k = {0};
    perm_add(&k, PERM_BRASA_KEYS);
    T_TRUE(perm_has(&k, PERM_BRASA_MARKETING));
    char *f = perm_format(&k);
    T_EQ_STR(f, "brasa.keys"); /* a key lists what it was granted */
    free(f);
}

TEST(dash_names_and_passwords) {
    char why[160];
    T_EQ_INT(dash_name_check("ana.b-c_d@x", why, sizeof why), 0);
    T_EQ_INT(dash_name_check("", why, sizeof why), BR_EINVAL);
    T_EQ_INT(dash_name_check("a b", why, sizeof why), BR_EINVAL);
    T_EQ_INT(dash_name_check("<script>", why, sizeof why), BR_EINVAL);
    char long_name[62];
    memset(long_name, 'a', 61);
    long_name[61] = '\0';
    T_EQ_INT(dash_name_check(long_name, why, sizeof why), BR_EINVAL);
    long_name[60] = '\0';
    T_EQ_INT(dash_name_check(long_name, why, sizeof why), 0);
    T_EQ_INT(dash_password_check("123456789", why, sizeof why), BR_EINVAL);
    T_EQ_INT(dash_password_check("1234567890", why, sizeof why), 0);

    char hash[160];
    T_EQ_INT(dash_crypto_init(), 0);
    T_EQ_INT(dash_password_hash("correct horse", hash), 0);
    T_TRUE(!strncmp(hash, "$argon2id$", 10));
    T_TRUE(dash_password_verify(hash, "correct horse"));
    T_TRUE(!dash_password_verify(hash, "correct horsf"));
    T_TRUE(!dash_password_verify(hash, ""));
    char again[160];
    T_EQ_INT(dash_password_hash("correct horse", again), 0);
    T_TRUE(strcmp(hash, again) != 0); /* salted */
}

static store_operator op(const char *name, const char *role) {
    store_operator o = {.created_at = 1000};
    snprintf(o.name, sizeof o.name, "%s", name);
    snprintf(o.role, sizeof o.role, "%s", role);
    snprintf(o.pwhash, sizeof o.pwhash, "$argon2id$fake");
    return o;
}

TEST(dash_sessions_end_on_expiry_logout_passwd_and_removal) {
    char dir[] = "/tmp/brasa-unit-XXXXXX";
    T_TRUE(mkdtemp(dir) != NULL);
    store_t *s;
    T_EQ_INT(store_open(dir, &s), 0);
    store_operator a = op("ana", "admin"), b = op("bo", "read-only"), dup = op("ana", "marketer");
    T_EQ_INT(store_exec(s, store_operator_insert_op, &a), 0);
    T_EQ_INT(store_exec(s, store_operator_insert_op, &b), 0);
    T_EQ_INT(store_exec(s, store_operator_insert_op, &dup), BR_EEXISTS);
    sqlite3 *db;
    T_EQ_INT(store_open_reader(s, &db), 0);

    store_session s1 = {.operator_id = a.id, .now_ms = 5000, .expires_at = 9000};
    memset(s1.hash, 1, sizeof s1.hash);
    store_session s2 = {.operator_id = a.id, .now_ms = 5000, .expires_at = 99000};
    memset(s2.hash, 2, sizeof s2.hash);
    store_session s3 = {.operator_id = b.id, .now_ms = 5000, .expires_at = 99000};
    memset(s3.hash, 3, sizeof s3.hash);
    T_EQ_INT(store_exec(s, store_session_insert_op, &s1), 0);
    T_EQ_INT(store_exec(s, store_session_insert_op, &s2), 0);
    T_EQ_INT(store_exec(s, store_session_insert_op, &s3), 0);
    store_operator got;
    int64_t exp;
    T_EQ_INT(store_session_find(db, s1.hash, 8999, &got, &exp), 0);
    T_EQ_STR(got.name, "ana");
    T_EQ_STR(got.role, "admin");
    T_EQ_STR(got.pwhash, ""); /* never read where it is not needed */
    T_EQ_INT(exp, 9000);
    T_EQ_INT(store_session_find(db, s1.hash, 9000, &got, &exp), BR_ENOTFOUND); /* expired */
    uint8_t none[32] = {9};
    T_EQ_INT(store_session_find(db, none, 0, &got, &exp), BR_ENOTFOUND);
    T_EQ_INT(store_operator_get(db, "ana", &got), 0);
    T_EQ_INT(got.last_login_at, 5000);

    /* logout ends one session, twice is no error */
    T_EQ_INT(store_exec(s, store_session_delete_op, s2.hash), 0);
    T_EQ_INT(store_exec(s, store_session_delete_op, s2.hash), 0);
    T_EQ_INT(store_session_find(db, s2.hash, 6000, &got, &exp), BR_ENOTFOUND);
    /* a new password (and role) ends every session of that operator only */
    T_EQ_INT(store_exec(s, store_session_insert_op, &s2), 0);
    store_operator pw = op("ana", "");
    snprintf(pw.pwhash, sizeof pw.pwhash, "$argon2id$new");
    T_EQ_INT(store_exec(s, store_operator_update_op, &pw), 0);
    T_EQ_INT(store_session_find(db, s2.hash, 6000, &got, &exp), BR_ENOTFOUND);
    T_EQ_INT(store_session_find(db, s3.hash, 6000, &got, &exp), 0);
    T_EQ_INT(store_operator_get(db, "ana", &got), 0);
    T_EQ_STR(got.role, "admin"); /* an empty role keeps it */
    T_EQ_STR(got.pwhash, "$argon2id$new");
    store_operator nobody = op("zed", "admin");
    T_EQ_INT(store_exec(s, store_operator_update_op, &nobody), BR_ENOTFOUND);
    /* removal ends its sessions with it */
    T_EQ_INT(store_exec(s, store_operator_delete_op, "bo"), 0);
    T_EQ_INT(store_session_find(db, s3.hash, 6000, &got, &exp), BR_ENOTFOUND);
    T_EQ_INT(store_exec(s, store_operator_delete_op, "bo"), BR_ENOTFOUND);
    /* a role outside the three is refused by the schema */
    store_operator bad = op("cy", "root");
    T_EQ_INT(store_exec(s, store_operator_insert_op, &bad), BR_ESTORE);
    store_operator *rows;
    int n;
    T_EQ_INT(store_operator_list(db, &rows, &n), 0);
    T_EQ_INT(n, 1);
    T_EQ_STR(rows[0].name, "ana");
    free(rows);

    /* the audit log, newest first, in pages */
    for (int i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof path, "/admin/x/%d", i);
        store_audit e = {.at = 100 + i, .who = "key:k", .ip = "127.0.0.1", .method = "POST", .path = path, .status = 201};
        T_EQ_INT(store_exec(s, store_audit_insert_op, &e), 0);
    }
    store_audit *page;
    T_EQ_INT(store_audit_list(db, 0, 2, &page, &n), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(page[0].path, "/admin/x/4");
    T_EQ_STR(page[1].path, "/admin/x/3");
    int64_t next = page[1].id;
    store_audit_rows_free(page, n);
    T_EQ_INT(store_audit_list(db, next, 10, &page, &n), 0);
    T_EQ_INT(n, 3);
    T_EQ_STR(page[2].path, "/admin/x/0");
    T_EQ_INT(page[2].status, 201);
    store_audit_rows_free(page, n);

    sqlite3_close(db);
    store_close(s);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    T_TRUE(system(cmd) == 0);
}
