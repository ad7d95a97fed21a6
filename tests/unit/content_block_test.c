/* content_block_test.c -- Content Blocks: the rules of core/content_block.c
 * and the rows of store/content_blocks.c on a real store (writes through
 * store_exec, as the engine's batches run them). */
#include "test.h"
#include "fixture.h"
#include "core/content_block.h"
#include "lib/err.h"
#include "store/content_blocks.h"
#include "store/store.h"

#include <stdlib.h>

TEST(cblock_names_descriptions_states) {
    T_EQ_INT(cblock_check_name("promo_2024-a", 12), 0);
    T_EQ_INT(cblock_check_name("", 0), BR_ECBNAMEBLANK);
    T_EQ_INT(cblock_check_name("  ", 2), BR_ECBNAMEBLANK);
    T_EQ_INT(cblock_check_name("a b", 3), BR_ECBNAMECHARS);
    T_EQ_INT(cblock_check_name("caf\xc3\xa9", 5), BR_ECBNAMECHARS);
    char name[101];
    memset(name, 'n', 100);
    name[100] = '\0';
    T_EQ_INT(cblock_check_name(name, 99), 0);
    T_EQ_INT(cblock_check_name(name, 100), BR_ECBNAMELONG);
    char d[251];
    memset(d, 'd', 250);
    T_EQ_INT(cblock_check_description(d, 249), 0);
    T_EQ_INT(cblock_check_description(d, 250), BR_ECBDESCLONG);
    T_EQ_INT(cblock_check_description(" ", 1), BR_ECBDESCBLANK);
    /* Characters, not bytes: 249 two-byte characters fit. */
    char *wide = malloc(2 * 250);
    for (int i = 0; i < 250; i++) wide[2 * i] = '\xc3', wide[2 * i + 1] = '\xa9';
    T_EQ_INT(cblock_check_description(wide, 2 * 249), 0);
    T_EQ_INT(cblock_check_description(wide, 2 * 250), BR_ECBDESCLONG);
    free(wide);
    cblock_state st;
    T_EQ_INT(cblock_parse_state("draft", &st), 0);
    T_EQ_INT(st, CBLOCK_DRAFT);
    T_EQ_INT(cblock_parse_state("Active", &st), BR_ECBSTATE);
    cblock_state draft = CBLOCK_DRAFT, active = CBLOCK_ACTIVE;
    T_EQ_INT(cblock_check_update(CBLOCK_ACTIVE, "a", "b", NULL), BR_ECBRENAME);
    T_EQ_INT(cblock_check_update(CBLOCK_ACTIVE, "a", "a", &active), 0);
    T_EQ_INT(cblock_check_update(CBLOCK_ACTIVE, "a", NULL, &draft), BR_ECBTODRAFT);
    T_EQ_INT(cblock_check_update(CBLOCK_DRAFT, "a", "b", &active), 0);
    T_EQ_INT(cblock_check_update(CBLOCK_DRAFT, "a", NULL, &draft), 0);
}

TEST(cblock_content_checks_and_type) {
    char why[200] = "";
    T_EQ_INT(cblock_check_content("Hi {{${first_name}}}", 20, why, sizeof why), 0);
    T_EQ_INT(cblock_check_content(" \n", 2, why, sizeof why), BR_ECBCONTENTBLANK);
    T_EQ_INT(cblock_check_content("a\n{% if x %}", 12, why, sizeof why), BR_ECBLIQUID);
    T_TRUE(why[0] >= '1' && why[0] <= '9' && strchr(why, ':')); /* "line:col: message" */
    char *big = malloc(CBLOCK_CONTENT_MAX + 1);
    memset(big, 'x', CBLOCK_CONTENT_MAX + 1);
    T_EQ_INT(cblock_check_content(big, CBLOCK_CONTENT_MAX, why, sizeof why), 0);
    T_EQ_INT(cblock_check_content(big, CBLOCK_CONTENT_MAX + 1, why, sizeof why), BR_ECBCONTENTBIG);
    free(big);
    T_EQ_STR(cblock_content_type("<p>hi</p>", 9), "html");
    T_EQ_STR(cblock_content_type("a<br/>b", 7), "html");
    T_EQ_STR(cblock_content_type("<!-- c -->", 10), "html");
    T_EQ_STR(cblock_content_type("<!DOCTYPE html>", 15), "html");
    T_EQ_STR(cblock_content_type("</div>", 6), "html");
    T_EQ_STR(cblock_content_type("plain {{ a }}", 13), "text");
    T_EQ_STR(cblock_content_type("{% if a < b %}x{% endif %}", 26), "text");
    T_EQ_STR(cblock_content_type("1 <2 and 3> 2", 13), "text");
    T_EQ_STR(cblock_content_type("<b", 2), "text");
    char tag[CBLOCK_TAG_MAX];
    cblock_liquid_tag("promo", tag, sizeof tag);
    T_EQ_STR(tag, "{{content_blocks.${promo}}}");
}

typedef struct {
    char seen[8][32];
    int n;
} refs_seen;

static int collect(void *ud, const char *name, size_t len) {
    refs_seen *r = ud;
    if (r->n < 8) snprintf(r->seen[r->n++], 32, "%.*s", (int)len, name);
    return 0;
}

TEST(cblock_refs_finds_each_spelling_outside_text_strings_raw_and_comments) {
    const char *src = "text content_blocks.${nope} {{content_blocks.${a}}} {{ content_blocks.${ b } | upcase }}"
                      "{% content_blocks.${c} %}{{content_blocks.d}}{{ \"content_blocks.${nope2}\" }}"
                      "{% raw %}{{content_blocks.${nope3}}}{% endraw %}{% comment %}{{content_blocks.${nope4}}}"
                      "{% endcomment %}{% # content_blocks.${nope5} %}{% if x %}{{content_blocks.${e-1}}}{% endif %}"
                      "{{x.content_blocks.${nope6}}}";
    refs_seen r = {0};
    T_EQ_INT(cblock_refs(src, strlen(src), collect, &r), 0);
    T_EQ_INT(r.n, 5);
    T_EQ_STR(r.seen[0], "a");
    T_EQ_STR(r.seen[1], "b");
    T_EQ_STR(r.seen[2], "c");
    T_EQ_STR(r.seen[3], "d");
    T_EQ_STR(r.seen[4], "e-1");
    T_TRUE(cblock_refers_to(src, strlen(src), "e-1"));
    T_TRUE(!cblock_refers_to(src, strlen(src), "nope"));
    T_TRUE(!cblock_refers_to(src, strlen(src), "e"));
    /* Unterminated markup does not read past the end. */
    T_TRUE(!cblock_refers_to("{{content_blocks.${x", 20, "x"));
    T_TRUE(cblock_refers_to("{{content_blocks.x", 18, "x"));
}

typedef struct {
    store_block_write w;
    cblock_state st;
} wr;

static int put(store_t *s, wr *x, const char *id, const char *name, const char *content, const char *state) {
    store_block_row_free(&x->w.row);
    memset(x, 0, sizeof *x);
    x->w.id = id;
    x->w.name = name;
    x->w.content = content;
    if (state) {
        cblock_parse_state(state, &x->st);
        x->w.state = &x->st;
    }
    return store_exec(s, store_block_write_op, &x->w);
}

TEST(store_blocks_write_rules_and_send_lookup) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    sqlite3 *db = store_db_for_tests(s);
    wr x = {0};
    T_EQ_INT(put(s, &x, NULL, "promo", "<p>Sale</p>", NULL), 0);
    char id[BLOCK_ID_LEN + 1];
    memcpy(id, x.w.row.id, sizeof id);
    T_EQ_INT(strlen(id), 36);
    T_EQ_STR(x.w.row.content_type, "html");
    T_EQ_INT(x.w.row.state, CBLOCK_ACTIVE);
    T_EQ_INT(put(s, &x, NULL, "promo", "x", NULL), BR_ECBNAMETAKEN);
    T_EQ_INT(put(s, &x, NULL, "loop", "a {{content_blocks.${loop}}}", NULL), BR_ECBSELFREF);
    T_EQ_INT(put(s, &x, NULL, "draft1", "plain", "draft"), 0);
    char did[BLOCK_ID_LEN + 1];
    memcpy(did, x.w.row.id, sizeof did);

    /* Updates: the active block keeps its name and state. */
    T_EQ_INT(put(s, &x, id, "promo2", NULL, NULL), BR_ECBRENAME);
    T_EQ_INT(put(s, &x, id, NULL, NULL, "draft"), BR_ECBTODRAFT);
    T_EQ_INT(put(s, &x, id, "promo", "Now {{content_blocks.${draft1}}}", "active"), 0);
    T_EQ_STR(x.w.row.content_type, "text");
    T_EQ_INT(put(s, &x, "00000000-0000-4000-8000-000000000000", NULL, "x", NULL), BR_ECBID);
    /* A draft may be renamed (not onto a taken name, nor so that its
     * content names itself) and published. */
    T_EQ_INT(put(s, &x, did, "promo", NULL, NULL), BR_ECBNAMETAKEN);
    T_EQ_INT(put(s, &x, did, NULL, "{{content_blocks.${draft1}}}", NULL), BR_ECBSELFREF);
    T_EQ_INT(put(s, &x, did, "draft2", NULL, NULL), 0);

    char *content;
    T_EQ_INT(store_block_get(db, "promo", &content), 1);
    T_EQ_STR(content, "Now {{content_blocks.${draft1}}}");
    free(content);
    T_EQ_INT(store_block_get(db, "draft2", &content), 0); /* a draft is not sent */
    T_TRUE(content == NULL);
    T_EQ_INT(store_block_get(db, "PROMO", &content), 0);
    T_EQ_INT(put(s, &x, did, NULL, NULL, "active"), 0);
    T_EQ_INT(store_block_get(db, "draft2", &content), 1);
    T_EQ_STR(content, "plain");
    free(content);

    /* Archived: out of the list and of sends, its name still taken. */
    T_EQ_INT(store_sql(db, "UPDATE content_blocks SET archived_at = 1 WHERE name = 'draft2'"), 0);
    T_EQ_INT(store_block_get(db, "draft2", &content), 0);
    T_EQ_INT(put(s, &x, NULL, "draft2", "again", NULL), BR_ECBNAMETAKEN);
    T_EQ_INT(put(s, &x, did, NULL, "edit", NULL), BR_ECBDELETED);
    store_block_row *rows;
    int n;
    T_EQ_INT(store_block_list(db, INT64_MIN, INT64_MAX, 0, 10, &rows, &n), 0);
    T_EQ_INT(n, 1);
    T_EQ_STR(rows[0].name, "promo");
    T_TRUE(rows[0].content == NULL);
    store_block_rows_free(rows, n);
    store_block_row one;
    T_EQ_INT(store_block_by_id(db, did, &one), 0);
    T_TRUE(one.archived_at != 0);
    store_block_row_free(&one);

    /* A render's cache: read once, the same text and the same miss after
     * the store changes. */
    json_object *memo = json_object_new_object();
    const char *src;
    size_t len;
    T_EQ_INT(store_block_memo(db, memo, "promo", &src, &len), 1);
    T_EQ_STR(src, "Now {{content_blocks.${draft1}}}");
    T_EQ_INT(len, strlen(src));
    T_EQ_INT(store_block_memo(db, memo, "nope", &src, &len), 0);
    T_EQ_INT(store_sql(db, "UPDATE content_blocks SET content = 'changed' WHERE name = 'promo'"), 0);
    T_EQ_INT(store_sql(db, "UPDATE content_blocks SET name = 'nope', archived_at = 0, state = 'active' WHERE name = 'draft2'"), 0);
    T_EQ_INT(store_block_memo(db, memo, "promo", &src, &len), 1);
    T_EQ_STR(src, "Now {{content_blocks.${draft1}}}");
    T_EQ_INT(store_block_memo(db, memo, "nope", &src, &len), 0);
    T_EQ_INT(json_object_object_length(memo), 2);
    json_object_put(memo);

    store_block_row_free(&x.w.row);
    store_close(s);
    rmdir_r(d);
}

TEST(store_blocks_list_pages_and_time_window) {
    char *d = tmpdir();
    store_t *s;
    T_EQ_INT(store_open(d, &s), 0);
    sqlite3 *db = store_db_for_tests(s);
    wr x = {0};
    char name[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "b%d", i);
        T_EQ_INT(put(s, &x, NULL, name, "c", NULL), 0);
    }
    store_block_row_free(&x.w.row);
    T_EQ_INT(store_sql(db, "UPDATE content_blocks SET updated_at = 1000 * CAST(substr(name, 2) AS INTEGER)"), 0);
    store_block_row *rows;
    int n;
    T_EQ_INT(store_block_list(db, INT64_MIN, INT64_MAX, 1, 2, &rows, &n), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(rows[0].name, "b1");
    T_EQ_STR(rows[1].name, "b2");
    store_block_rows_free(rows, n);
    /* Both bounds inclusive. */
    T_EQ_INT(store_block_list(db, 1000, 3000, 0, 100, &rows, &n), 0);
    T_EQ_INT(n, 3);
    T_EQ_STR(rows[0].name, "b1");
    T_EQ_STR(rows[2].name, "b3");
    store_block_rows_free(rows, n);
    store_close(s);
    rmdir_r(d);
}
