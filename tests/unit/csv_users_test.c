/* csv_users_test.c -- Braze's CSV user import format into /users/track
 * attribute objects: the header's rules, each identifier, the typing of
 * custom cells, blanks, and every refusal with its reason. */
#include "test.h"
#include "fixture.h"
#include "api/csv_users.h"
#include "api/parse.h"

#include <csv.h>
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

/* ---- the typed path agrees with the JSON path ---------------------------- */

/* Whether two parsed objects are the same: identifier, flags and every
 * planned change (what the engine applies). NULL, or what differs. */
static const char *same_attrs(const track_attrs *x, const track_attrs *y) {
    if (x->id.kind != y->id.kind || x->id.an != y->id.an || x->id.bn != y->id.bn ||
        (x->id.an && memcmp(x->id.a, y->id.a, x->id.an)) || (x->id.bn && memcmp(x->id.b, y->id.b, x->id.bn)))
        return "identifier";
    if (x->may_create != y->may_create || x->merge != y->merge || x->token_import != y->token_import)
        return "flags";
    if (!x->email_subscribe != !y->email_subscribe || (x->email_subscribe && strcmp(x->email_subscribe, y->email_subscribe)))
        return "email_subscribe";
    const attrs_plan *p = x->plan, *q = y->plan;
    if (p->n != q->n) return "number of changes";
    for (int i = 0; i < p->n; i++) {
        const attrs_change *c = &p->c[i], *d = &q->c[i];
        if (c->key != d->key || c->kind != d->kind || c->type != d->type || c->len != d->len || c->inc != d->inc ||
            c->force_merge != d->force_merge || c->namelen != d->namelen ||
            (c->namelen && memcmp(c->name, d->name, c->namelen)) ||
            (c->len && memcmp(p->bytes.data + c->off, q->bytes.data + d->off, c->len)) ||
            !json_object_equal(c->a, d->a) || !json_object_equal(c->b, d->b) || !json_object_equal(c->c, d->c))
            return "a change";
    }
    return NULL;
}

/* A row both ways: the JSON path (csvu_row, then api_track_parse, as the
 * server's import takes it) and the typed path must keep or refuse it
 * alike, with the same text, and keep the same changes. */
static const char *agree(const csvu_header *h, char **cells, int n, char *detail, size_t dlen) {
    char jwhy[300] = "", twhy[300] = "", msg[200];
    size_t lens[32];
    for (int i = 0; i < n; i++) lens[i] = strlen(cells[i]);
    json_object *o = csvu_row(h, cells, n, jwhy, sizeof jwhy);
    track_cmd cmd = {0};
    api_track_result res = {0};
    const track_attrs *ja = NULL;
    if (o) {
        json_object *body = json_object_new_object(), *arr = json_object_new_array();
        json_object_array_add(arr, o);
        json_object_object_add(body, "attributes", arr);
        api_track_parse(body, &cmd, &res, msg, sizeof msg);
        json_object_put(body); /* cmd holds its own reference */
        if (res.errors)
            snprintf(jwhy, sizeof jwhy, "%s",
                     json_object_get_string(json_object_object_get(json_object_array_get_idx(res.errors, 0), "type")));
        else ja = &cmd.attrs[0];
    }
    track_attrs ta;
    bool kept = csvu_row_typed(h, cells, lens, n, &ta, twhy, sizeof twhy) == 0;
    const char *diff = NULL;
    if (!kept) api_utf8_trim(twhy);
    if (kept != (ja != NULL)) diff = kept ? "kept by the typed path only" : "refused by the typed path only";
    else if (!kept && strcmp(jwhy, twhy)) diff = "refused for another reason";
    else if (kept) diff = same_attrs(ja, &ta);
    if (diff) snprintf(detail, dlen, "json: %s / typed: %s", ja ? "kept" : jwhy, kept ? "kept" : twhy);
    if (kept) attrs_plan_free(ta.plan);
    json_object_put(res.errors);
    track_cmd_free(&cmd);
    return diff;
}

TEST(csv_users_typed_path_agrees_with_the_json_path) {
    /* Headers of every identifier, default attributes of every kind, and
     * custom columns, some named like standard fields. */
    static const char *const heads[] = {
        "external_id,first_name,last_name,email,phone,gender,dob,country,language,home_city,time_zone,tier,score",
        "external_id,email_subscribe,push_subscribe,date_of_first_session,date_of_last_session,"
        "email_open_tracking_disabled,email_click_tracking_disabled,image_url,marked_email_as_spam_at,vip",
        "user_alias_name,user_alias_label,first_name,email,ratio,when",
        "braze_id,email,country,n,flag",
        "email,phone,first_name,email_subscribe,misc",
        "phone,first_name,gender,misc",
    };
    static const char *const values[] = {
        "", "", "Ann", "42", "-7", "00501", "0", "1.5", "2e3", "1e999", "99999999999999999999", "+3", "1.2.3",
        "true", "FALSE", "maybe", "2025-01-02T10:00:00Z", "1985-03-04", "1985-13-45", "2025-05-05 10:00:00",
        "ann@example.com", "not-an-email", "a@b", "male", "F", "X", "US", "gb", "united kingdom", "Narnia", "EN",
        "eng", "Europe/Paris", "UTC", "bad zone", "opted_in", "subscribed", "unsubscribed", "Subscribed",
        "\xc3\xa9t\xc3\xa9", "+442071838750", "3001-01-01T00:00:00Z",
    };
    const size_t nv = sizeof values / sizeof *values;
    char long256[300], long988[1000], longutf8[600];
    memset(long256, 'x', 256), long256[256] = '\0';
    memset(long988, 'y', 988), long988[988] = '\0';
    for (int i = 0; i < 256; i++) memcpy(longutf8 + 2 * i, "\xc3\xa9", 2);
    longutf8[512] = '\0';
    const char *extra[] = {long256, long988, longutf8};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int rows = 0, kept = 0;
    for (size_t hi = 0; hi < sizeof heads / sizeof *heads; hi++) {
        csvu_header h = {0};
        char why[200];
        T_EQ_INT(header(&h, heads[hi], why, sizeof why), 0);
        T_TRUE(h.typed);
        for (int r = 0; r < 3000; r++, rows++) {
            char *cells[32];
            for (int c = 0; c < h.ncols; c++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                uint64_t k = (seed >> 33) % (3 * (nv + 3)); /* two in three blank: rows that pass */
                if (k >= nv + 3) k = 0;
                /* the identifier is rarely blank, so most rows go deep */
                if ((c == h.id_col[0] || c == h.id_col[1]) && k < 2) k = 2 + (seed >> 20) % 40;
                cells[c] = (char *)(k < nv ? values[k] : extra[k - nv]);
            }
            char detail[700];
            const char *diff = agree(&h, cells, h.ncols, detail, sizeof detail);
            if (diff) T_FAIL_("%s, row %d: %s (%s)", heads[hi], r, diff, detail);
            track_attrs ta;
            size_t lens[32];
            for (int c = 0; c < h.ncols; c++) lens[c] = strlen(cells[c]);
            if (csvu_row_typed(&h, cells, lens, h.ncols, &ta, why, sizeof why) == 0) kept++, attrs_plan_free(ta.plan);
        }
        /* The refusals of the row's shape, too. */
        char *few[2] = {"u1", "x"};
        char detail[700];
        T_TRUE(!agree(&h, few, 2, detail, sizeof detail));
        csvu_header_free(&h);
    }
    if (kept < rows / 5 || kept > rows - rows / 5) T_FAIL_("%d of %d rows kept: both outcomes need rows", kept, rows);

    /* Files the typed path leaves to the JSON path. */
    static const char *const json_only[] = {
        "external_id,braze_id,x", "external_id,_merge_objects", "external_id,app_id", "external_id,user_aliases",
        "external_id,current_location", "external_id,subscription_group_id,subscription_state", "external_id,$x",
        "email,external_id_x,_update_existing_only",
    };
    for (size_t i = 0; i < sizeof json_only / sizeof *json_only; i++) {
        csvu_header h = {0};
        char why[200];
        T_EQ_INT(header(&h, json_only[i], why, sizeof why), 0);
        if (h.typed) T_FAIL_("%s: taken by the typed path", json_only[i]);
        csvu_header_free(&h);
    }
}

/* ---- plain lines split as libcsv reads them ------------------------------ */

typedef struct {
    char text[512];
    size_t len[32];
    int n, rows;
} csv_out;

static void lib_field(void *s, size_t n, void *ud) {
    csv_out *o = ud;
    if (o->n == 32) return;
    size_t at = 0;
    for (int i = 0; i < o->n; i++) at += o->len[i];
    memcpy(o->text + at, s, n);
    o->len[o->n++] = n;
}
static void lib_row(int term, void *ud) {
    (void)term;
    ((csv_out *)ud)->rows++;
}

TEST(csv_users_plain_lines_split_as_libcsv_does) {
    static const char alphabet[] = {'a', 'b', ' ', '\t', ',', ',', '"', '\r', '\xc3', '\xa9', '0'};
    uint64_t seed = 42;
    int plain = 0;
    for (int t = 0; t < 200000; t++) {
        char line[64];
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = (seed >> 59) + 0, k = 0;
        for (; k < n; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            line[k] = alphabet[(seed >> 33) % sizeof alphabet];
        }
        if ((seed >> 20) & 1) line[k++] = '\r';
        line[k++] = '\n';
        int fields = csvu_plain_fields(line, k);
        if (fields < 0) continue;
        plain++;
        csv_out lib = {0};
        struct csv_parser p;
        csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
        T_EQ_INT(csv_parse(&p, line, k, lib_field, lib_row, &lib), k);
        csv_fini(&p, lib_field, lib_row, &lib);
        csv_free(&p);
        char copy[64], *cells[32];
        size_t lens[32];
        memcpy(copy, line, k);
        csvu_plain_split(copy, k, cells, lens);
        T_EQ_INT(lib.rows, 1);
        T_EQ_INT(lib.n, fields);
        size_t at = 0;
        for (int i = 0; i < fields; i++) {
            if (lens[i] != lib.len[i] || memcmp(cells[i], lib.text + at, lens[i]) || cells[i][lens[i]])
                T_FAIL_("line %d, field %d: '%.*s' where libcsv reads '%.*s'", t, i, (int)lens[i], cells[i],
                        (int)lib.len[i], lib.text + at);
            at += lens[i];
        }
    }
    T_TRUE(plain > 20000);
    /* Not plain: a quote, a CR inside, a blank line, no line end. */
    T_EQ_INT(csvu_plain_fields("a,\"b\"\n", 6), -1);
    T_EQ_INT(csvu_plain_fields("a\rb\n", 4), -1);
    T_EQ_INT(csvu_plain_fields(" \t\r\n", 4), -1);
    T_EQ_INT(csvu_plain_fields("a,b", 3), -1);
    T_EQ_INT(csvu_plain_fields("a,,b\r\n", 6), 3);
}
