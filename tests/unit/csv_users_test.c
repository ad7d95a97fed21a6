/* csv_users_test.c -- Braze's CSV user import format into /users/track
 * attribute objects: the header's rules, each identifier, the typing of
 * custom cells, blanks, and every refusal with its reason. */
#include "test.h"
#include "fixture.h"
#include "api/csv_users.h"

#include <string.h>

/* Splits a comma list (no quoting: the tests' cells have no commas) into
 * cells[]; returns the count. */
static int cells_of(char *line, char **cells) {
    int n = 0;
    for (char *p = line;; p++) {
        cells[n++] = p;
        p = strchr(p, ',');
        if (!p) break;
        *p = '\0';
    }
    return n;
}

static int header(csvu_header *h, const char *text, char *why, size_t whylen) {
    char line[512], *cells[32];
    snprintf(line, sizeof line, "%s", text);
    return csvu_header_read(h, cells, cells_of(line, cells), why, whylen);
}

static json_object *row(const csvu_header *h, const char *text, char *why, size_t whylen) {
    char line[512], *cells[32];
    snprintf(line, sizeof line, "%s", text);
    return csvu_row(h, cells, cells_of(line, cells), why, whylen);
}

#define T_ROW(h, text, want)                                                  \
    do {                                                                      \
        char why_[200] = "";                                                  \
        json_object *o_ = row(h, text, why_, sizeof why_);                    \
        if (!o_) T_FAIL_("%s refused: %s", text, why_);                       \
        T_JSON_AS(o_, json_tokener_parse(want), want);                        \
        json_object_put(o_);                                                  \
    } while (0)

#define T_REFUSED(h, text, reason)                                            \
    do {                                                                      \
        char why_[200] = "";                                                  \
        json_object *o_ = row(h, text, why_, sizeof why_);                    \
        if (o_) T_FAIL_("%s accepted", text);                                 \
        T_EQ_STR(why_, reason);                                               \
    } while (0)

TEST(csv_users_typed_cells_defaults_and_blanks) {
    csvu_header h = {0};
    char why[200];
    T_EQ_INT(header(&h, "external_id,first_name,email,tier,score,ratio,vip,zip,neg,big,sci,email_open_tracking_disabled",
                    why, sizeof why), 0);
    T_ROW(&h, "u1,Ann,ann@example.com,gold,42,1.5,TRUE,00501,-7,99999999999999999999,2e3,false",
          "{\"external_id\":\"u1\",\"first_name\":\"Ann\",\"email\":\"ann@example.com\",\"tier\":\"gold\",\"score\":42,"
          "\"ratio\":1.5,\"vip\":true,\"zip\":\"00501\",\"neg\":-7,\"big\":1e20,\"sci\":2000.0,"
          "\"email_open_tracking_disabled\":false}");
    /* Default attributes stay text, whatever they look like; blanks are left out. */
    T_ROW(&h, "u2,42,,,,,false,0,,,1.2.3,", "{\"external_id\":\"u2\",\"first_name\":\"42\",\"vip\":false,\"zip\":0,"
                                          "\"sci\":\"1.2.3\"}");
    T_REFUSED(&h, "u3,A,a@b.c,x,1,1,true,1,1,1,1,maybe", "email_open_tracking_disabled must be true or false, not 'maybe'");
    T_REFUSED(&h, "u3,A", "2 fields, the header has 12");
    T_REFUSED(&h, ",A,a@b.c,x,1,1,true,1,1,1,1,", "no external_id");
    csvu_header_free(&h);
}

TEST(csv_users_identifiers_aliases_and_subscription_groups) {
    csvu_header h = {0};
    char why[200];
    T_EQ_INT(header(&h, "user_alias_name,user_alias_label,last_name", why, sizeof why), 0);
    T_ROW(&h, "182736485,my_alt,Smith",
          "{\"last_name\":\"Smith\",\"user_alias\":{\"alias_name\":\"182736485\",\"alias_label\":\"my_alt\"},"
          "\"_update_existing_only\":false}");
    T_REFUSED(&h, "182736485,,Smith", "no user_alias_name and user_alias_label");
    csvu_header_free(&h);

    memset(&h, 0, sizeof h);
    T_EQ_INT(header(&h, "braze_id,tier", why, sizeof why), 0);
    T_ROW(&h, "0123456789abcdef01234567,vip", "{\"braze_id\":\"0123456789abcdef01234567\",\"tier\":\"vip\"}");
    csvu_header_free(&h);

    /* email identifies only when no stronger identifier is there. */
    memset(&h, 0, sizeof h);
    T_EQ_INT(header(&h, "email,phone,first_name", why, sizeof why), 0);
    T_ROW(&h, "a@b.example,+442071838750,A", "{\"email\":\"a@b.example\",\"phone\":\"+442071838750\",\"first_name\":\"A\"}");
    T_REFUSED(&h, ",+442071838750,A", "no email");
    csvu_header_free(&h);

    memset(&h, 0, sizeof h);
    T_EQ_INT(header(&h, "external_id,subscription_group_id,subscription_state", why, sizeof why), 0);
    T_ROW(&h, "u1,6ff593d7-cf69-448b-aca9-abf7d7b8c273,subscribed",
          "{\"external_id\":\"u1\",\"subscription_groups\":[{\"subscription_group_id\":"
          "\"6ff593d7-cf69-448b-aca9-abf7d7b8c273\",\"subscription_state\":\"subscribed\"}]}");
    csvu_header_free(&h);
}

TEST(csv_users_headers_refused_whole) {
    static const struct {
        const char *head, *why;
    } cases[] = {
        {"external_id,email,email", "the header names 'email' twice (columns 2 and 3)"},
        {"external_id,,tier", "the header's column 2 has no name"},
        {"first_name,tier", "the header has no identifier column: external_id, braze_id, user_alias_name and "
                            "user_alias_label, email or phone"},
        {"user_alias_label,tier", "user_alias_name and user_alias_label go together: the header has only user_alias_label"},
        {"external_id,user_alias_name,user_alias_label",
         "one file cannot hold both external_id and user aliases: import them separately"},
        {"external_id,subscription_state",
         "subscription_group_id and subscription_state go together: the header has only subscription_state"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        csvu_header h = {0};
        char why[200] = "";
        T_EQ_INT(header(&h, cases[i].head, why, sizeof why), -1);
        T_EQ_STR(why, cases[i].why);
        csvu_header_free(&h);
    }
}
