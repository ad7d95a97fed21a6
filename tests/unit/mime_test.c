/* mime_test.c -- email messages (src/send/mime.c, mime_text.c): address
 * parsing and its refusals, the headers and parts of a built message as
 * exact bytes, quoted-printable and RFC 2047 decoded back, header
 * injection, the plain text of HTML, and Python's email package reading
 * built messages without a defect. */
#include "test.h"
#include "lib/buf.h"
#include "lib/utf8.h"
#include "send/mime.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define DATE_MS 1782896400000LL /* 2026-07-01T09:00:00Z, a Wednesday */

static int parse(const char *s, mime_addr *a, char *why) { return mime_addr_parse(s, strlen(s), a, why, 128); }

/* The message e with its defaults: From Brand News, To jane, message id
 * "0123abcd". */
static mime_addr from_, to_;
static mime_email base(const char *subject, const char *html) {
    char why[128];
    parse("Brand News <news@brand.com>", &from_, why);
    parse("jane@x.org", &to_, why);
    mime_email e = {0};
    e.from = &from_;
    e.to = &to_;
    e.subject = subject;
    e.subject_len = subject ? strlen(subject) : 0;
    e.html = html;
    e.html_len = html ? strlen(html) : 0;
    e.message_id = "0123abcd";
    e.date_ms = DATE_MS;
    return e;
}

static char *build(const mime_email *e) {
    buf_t b = BUF_INIT;
    char why[128] = "";
    if (mime_build(e, &b, why, sizeof why)) {
        printf("    mime_build refused: %s\n", why);
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

/* The header block of msg (up to the blank line), or NULL. */
static char *headers_of(const char *msg) {
    const char *end = strstr(msg, "\r\n\r\n");
    return end ? strndup(msg, (size_t)(end - msg) + 2) : NULL;
}

/* Quoted-printable decoding (soft breaks dropped, =XX a byte). */
static void qp_decode(buf_t *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=' && i + 2 < n) {
            char h[3] = {s[i + 1], s[i + 2], 0};
            char c = (char)strtol(h, NULL, 16);
            buf_append(out, &c, 1);
            i += 2;
        } else {
            buf_append(out, s + i, 1);
        }
    }
}

/* The body of msg's part of Content-Type type, still encoded (raw) or
 * decoded, with its CRLFs as LFs. NULL when there is none. */
static char *part(const char *msg, const char *type, bool raw) {
    char ct[64];
    snprintf(ct, sizeof ct, "Content-Type: %s; charset=UTF-8\r\n", type);
    const char *p = strstr(msg, ct);
    const char *body = p ? strstr(p, "\r\n\r\n") : NULL;
    const char *end = body ? strstr(body + 4, "\r\n--=_") : NULL;
    if (!end) return NULL;
    body += 4;
    if (raw) return strndup(body, (size_t)(end - body));
    buf_t d = BUF_INIT, lf = BUF_INIT;
    qp_decode(&d, body, (size_t)(end - body));
    for (size_t i = 0; i < d.len; i++)
        if (!(d.data[i] == '\r' && i + 1 < d.len && d.data[i + 1] == '\n')) buf_append(&lf, d.data + i, 1);
    buf_free(&d);
    return buf_take(&lf);
}

/* s with every line break (CRLF, CR, LF) a LF. */
static char *to_lf(const char *s) {
    buf_t b = BUF_INIT;
    for (; *s; s++) {
        if (*s == '\r' && s[1] == '\n') continue;
        buf_append(&b, *s == '\r' ? "\n" : s, 1);
    }
    return buf_take(&b);
}

/* Every line of msg ends in CRLF and none is longer than max. */
static bool lines_within(const char *msg, size_t max) {
    for (const char *l = msg; *l;) {
        const char *cr = strstr(l, "\r\n");
        if (!cr || (size_t)(cr - l) > max || memchr(l, '\n', (size_t)(cr - l))) return false;
        l = cr + 2;
    }
    return true;
}

/* ---- addresses ----------------------------------------------------------- */

TEST(mime_addr_parses_names_and_bare_addresses) {
    mime_addr a;
    char why[128];
    T_EQ_INT(parse("news@brand.com", &a, why), 0);
    T_EQ_STR(a.name, "");
    T_EQ_STR(a.addr, "news@brand.com");
    T_EQ_INT(parse("  Brand News   <news@brand.com>  ", &a, why), 0);
    T_EQ_STR(a.name, "Brand News");
    T_EQ_STR(a.addr, "news@brand.com");
    T_EQ_INT(parse("\"Doe, Jane\" <j@x.org>", &a, why), 0);
    T_EQ_STR(a.name, "Doe, Jane");
    T_EQ_STR(a.addr, "j@x.org");
    T_EQ_INT(parse("\"The \\\"Best\\\" \\\\ Shop\" <shop@x.org>", &a, why), 0);
    T_EQ_STR(a.name, "The \"Best\" \\ Shop");
    T_EQ_INT(parse("Jöhn Ünïcödé <john+news@mail.x.org>", &a, why), 0);
    T_EQ_STR(a.name, "Jöhn Ünïcödé");
    T_EQ_STR(a.addr, "john+news@mail.x.org");
    T_EQ_INT(parse("<only@x.org>", &a, why), 0);
    T_EQ_STR(a.name, "");
    T_EQ_STR(a.addr, "only@x.org");
}

TEST(mime_addr_refuses_each_malformed_address) {
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        {"a@x.org\r\nBcc: e@x.org", "has a control character (CR, LF, NUL...)"},
        {"Brand\n <a@x.org>", "has a control character (CR, LF, NUL...)"},
        {"", "has no address"},
        {"Brand <>", "has no address"},
        {"brand.com", "has no @"},
        {"Brand <brand.com>", "has no @"},
        {"@x.org", "has an empty local part"},
        {"a@", "has an empty domain"},
        {"a b@x.org", "has a space in the address"},
        {"Brand <a @x.org>", "has a space in the address"},
        {"a@b@x.org", "has more than one @"},
        {"Brand <jöhn@x.org>", "has a non-ASCII address"},
        {"Brand <a(b)@x.org>", "has a '(' in the address"},
        {"a@x.org, b@y.org", "has more than one address"},
        {"A <a@x.org>, B <b@y.org>", "has more than one address"},
        {"A <a@x.org> <b@y.org>", "has more than one address"},
        {"a@x.org <b@y.org>", "has more than one address"},
        {"Brand <a@x.org", "has unbalanced <>"},
        {"Brand a@x.org>", "has unbalanced <>"},
        {"Brand >a@x.org<", "has unbalanced <>"},
        {"Brand <a@x.org> and more", "has text after the address"},
        {"\"Brand <a@x.org>", "has an unterminated quote"},
        {"\"Brand\" Shop <a@x.org>", "has text after the quoted display name"},
    };
    mime_addr a;
    char why[128];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        if (parse(bad[i].in, &a, why) != -1) T_FAIL_("accepted '%s'", bad[i].in);
        if (strcmp(why, bad[i].why)) T_FAIL_("'%s': got \"%s\", want \"%s\"", bad[i].in, why, bad[i].why);
    }
    T_EQ_INT(mime_addr_parse("a\0@x.org", 8, &a, why, sizeof why), -1); /* NUL inside */
    T_EQ_STR(why, "has a control character (CR, LF, NUL...)");
    char name[400];
    memset(name, 'n', 300);
    strcpy(name + 300, " <a@x.org>");
    T_EQ_INT(parse(name, &a, why), -1);
    T_EQ_STR(why, "has a display name longer than 255 bytes");
    T_EQ_INT(parse("\xC3\x28 <a@x.org>", &a, why), -1);
    T_EQ_STR(why, "has a display name that is not UTF-8");
}

/* ---- the message --------------------------------------------------------- */

TEST(mime_build_writes_the_structural_headers) {
    mime_addr reply;
    char why[128];
    T_EQ_INT(parse("\"Brand, Support\" <help@brand.com>", &reply, why), 0);
    const char *hdrs[] = {"X-Campaign-Id", "42", NULL};
    mime_email e = base("Your July offer", "<p>Hi</p>");
    e.reply_to = &reply;
    e.headers = hdrs;
    char *msg = build(&e);
    T_TRUE(msg);
    char *h = headers_of(msg);
    const char *bd = strstr(msg, "boundary=\"");
    T_TRUE(h && bd);
    char boundary[64];
    T_EQ_INT(sscanf(bd, "boundary=\"%63[^\"]\"", boundary), 1);
    T_EQ_INT(strlen(boundary), 34);
    T_TRUE(!strncmp(boundary, "=_", 2) && strspn(boundary + 2, "0123456789abcdef") == 32);
    char want[1024];
    snprintf(want, sizeof want,
             "Date: Wed, 01 Jul 2026 09:00:00 +0000\r\n"
             "From: Brand News <news@brand.com>\r\n"
             "To: jane@x.org\r\n"
             "Reply-To: \"Brand, Support\" <help@brand.com>\r\n"
             "Subject: Your July offer\r\n"
             "Message-ID: <0123abcd@brand.com>\r\n"
             "MIME-Version: 1.0\r\n"
             "X-Campaign-Id: 42\r\n"
             "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n",
             boundary);
    T_EQ_STR(h, want);
    /* then the two parts, text first, and the closing delimiter */
    char body[512];
    snprintf(body, sizeof body,
             "\r\n\r\n--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\nHi\r\n\r\n"
             "--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>Hi</p>\r\n--%s--\r\n",
             boundary, boundary, boundary);
    T_EQ_STR(msg + strlen(h) - 2, body);
    free(h);
    free(msg);
}

TEST(mime_build_quoted_printable_of_long_lines_equals_and_trailing_space) {
    char text[1024], want[1024];
    memset(text, 'x', 200);
    /* a line of exactly 76 fits without a soft break; one of 74 followed
     * by '=' can not hold the =3D */
    snprintf(text + 200, sizeof text - 200, "\n%.76s\n%.74s=\na=b end  \ntab\t\n.dot\nFrom me\né\r\nc\rd",
             "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    mime_email e = base("QP", "<p>x</p>");
    e.text = text;
    e.text_len = strlen(text);
    char *msg = build(&e);
    T_TRUE(msg);
    char *raw = part(msg, "text/plain", true);
    T_TRUE(raw);
    snprintf(want, sizeof want,
             "%.75s=\r\n%.75s=\r\n%.50s\r\n%.76s\r\n%.74s=\r\n=3D\r\na=3Db end =20\r\ntab=09\r\n=2Edot\r\n=46rom me\r\n"
             "=C3=A9\r\nc\r\nd",
             text, text, text, text + 201, text + 278);
    T_EQ_STR(raw, want);
    T_TRUE(lines_within(msg, 76));
    /* and it decodes back to the text, line breaks as CRLF */
    char *dec = part(msg, "text/plain", false);
    T_TRUE(dec);
    char *lf = to_lf(text);
    T_EQ_STR(dec, lf);
    free(lf);
    free(dec);
    free(raw);
    free(msg);
}

/* The unfolded value of msg's header field name (its first), RFC 2047
 * encoded words decoded; checks each encoded word on the way. */
static char *header_value(const char *msg, const char *name, bool *words_ok) {
    char *h = headers_of(msg);
    size_t nl = strlen(name);
    const char *p = h;
    while (p && !(!strncmp(p, name, nl) && p[nl] == ':')) {
        p = strstr(p, "\r\n");
        if (p) p += 2;
    }
    if (!p || !*p) {
        free(h);
        return NULL;
    }
    buf_t raw = BUF_INIT, out = BUF_INIT;
    for (p += nl + 1;; p += 2) { /* unfold */
        const char *cr = strstr(p, "\r\n");
        buf_append(&raw, p, (size_t)(cr - p));
        p = cr;
        if (p[2] != ' ' && p[2] != '\t') break;
    }
    *words_ok = true;
    const char *v = raw.data + (raw.len && raw.data[0] == ' ');
    bool encoded = !strncmp(v, "=?UTF-8?B?", 10);
    while (encoded && *v) {
        const char *end = strstr(v, "?=");
        size_t wl = (size_t)(end - v) + 2, bl = (size_t)(end - v) - 10;
        unsigned char dec[64];
        if (wl > 75 || bl > 80) *words_ok = false;
        int dn = EVP_DecodeBlock(dec, (const unsigned char *)v + 10, (int)bl);
        for (size_t i = bl; i > 0 && v[10 + i - 1] == '='; i--) dn--;
        /* each word decodes to whole characters */
        if (dn < 0 || !utf8_valid((const char *)dec, (size_t)dn, NULL)) *words_ok = false;
        else buf_append(&out, dec, (size_t)dn);
        v = end + 2;
        while (*v == ' ') v++;
    }
    if (!encoded) buf_puts(&out, v);
    buf_free(&raw);
    free(h);
    return buf_take(&out);
}

TEST(mime_build_encodes_a_utf8_subject_in_rfc2047_words) {
    const char *subj = "Ünïcödé 🎉 offer";
    mime_email e = base(subj, "<p>x</p>");
    char *msg = build(&e);
    T_TRUE(msg);
    T_TRUE(strstr(msg, "\r\nSubject: =?UTF-8?B?"));
    bool ok = false;
    char *v = header_value(msg, "Subject", &ok);
    T_TRUE(ok);
    T_EQ_STR(v, subj);
    free(v);
    free(msg);
    /* a long one: several words, split between characters, lines <= 76 */
    buf_t b = BUF_INIT;
    for (int i = 0; i < 30; i++) buf_puts(&b, "Grüße 🎉 ");
    e = base(b.data, "<p>x</p>");
    msg = build(&e);
    T_TRUE(msg);
    v = header_value(msg, "Subject", &ok);
    T_TRUE(ok);
    T_EQ_STR(v, b.data);
    char *h = headers_of(msg);
    T_TRUE(lines_within(h, 76));
    T_TRUE(strstr(h, "?=\r\n =?UTF-8?B?")); /* folded between words */
    free(h);
    free(v);
    free(msg);
    buf_free(&b);
}

TEST(mime_build_ascii_subjects_fold_at_whitespace) {
    const char *subj = "This is a rather long subject line that a marketer wrote to say that the spring sale has started";
    mime_email e = base(subj, "<p>x</p>");
    char *msg = build(&e);
    T_TRUE(msg);
    T_TRUE(strstr(msg, "\r\nSubject: This is a rather long subject line that a marketer wrote to say that\r\n"
                       " the spring sale has started\r\n"));
    bool ok;
    char *v = header_value(msg, "Subject", &ok);
    T_EQ_STR(v, subj);
    free(v);
    free(msg);
    /* a word that looks encoded is encoded, so it reads as written */
    e = base("=?UTF-8?B?SGk=?=", "<p>x</p>");
    msg = build(&e);
    v = header_value(msg, "Subject", &ok);
    T_TRUE(strstr(msg, "Subject: =?UTF-8?B?PT9VVEYtOD9CP1NHaz0/PQ==?=\r\n"));
    T_EQ_STR(v, "=?UTF-8?B?SGk=?=");
    free(v);
    free(msg);
}

/* No line of msg (headers or body) starts with prefix. */
static bool no_line_starts(const char *msg, const char *prefix) {
    size_t n = strlen(prefix);
    if (!strncasecmp(msg, prefix, n)) return false;
    for (const char *p = msg; (p = strstr(p, "\r\n")); p += 2)
        if (!strncasecmp(p + 2, prefix, n)) return false;
    for (const char *p = msg; (p = strchr(p, '\n')); p++) /* a bare LF some reader splits on */
        if (!strncasecmp(p + 1, prefix, n)) return false;
    for (const char *p = msg; (p = strchr(p, '\r')); p++)
        if (p[1] != '\n') return false;
    return true;
}

TEST(mime_build_crlf_in_subject_and_headers_never_reach_the_wire) {
    const char *hdrs[] = {"X-Tag", "a\r\nBcc: evil@x.org", "X-Uni", "é\nBcc: evil@x.org", NULL};
    mime_email e = base("Hi\r\nBcc: evil@x.org", "<p>x</p>");
    e.headers = hdrs;
    char *msg = build(&e);
    T_TRUE(msg);
    T_TRUE(no_line_starts(msg, "Bcc:"));
    T_TRUE(strstr(msg, "\r\nSubject: Hi  Bcc: evil@x.org\r\n"));
    T_TRUE(strstr(msg, "\r\nX-Tag: a  Bcc: evil@x.org\r\n"));
    bool ok;
    char *v = header_value(msg, "X-Uni", &ok);
    T_EQ_STR(v, "é Bcc: evil@x.org");
    free(v);
    free(msg);
    /* the same in a subject long enough to fold, and in UTF-8 */
    e = base("A long subject line of many words that will have to be folded somewhere\r\nBcc: evil@x.org and more",
             "<p>x</p>");
    msg = build(&e);
    T_TRUE(no_line_starts(msg, "Bcc:"));
    free(msg);
    e = base("Ünïcödé\r\nBcc: evil@x.org", "<p>x</p>");
    msg = build(&e);
    T_TRUE(no_line_starts(msg, "Bcc:"));
    free(msg);
}

TEST(mime_build_refuses_structural_and_malformed_custom_headers) {
    static const struct {
        const char *name;
        const char *why;
    } bad[] = {
        {"Content-Type", "custom header 'Content-Type' would replace the one brasa writes"},
        {"bcc", "custom header 'bcc' would replace the one brasa writes"},
        {"MESSAGE-ID", "custom header 'MESSAGE-ID' would replace the one brasa writes"},
        {"Reply-To", "custom header 'Reply-To' would replace the one brasa writes"},
        {"X Bad", "custom header names are printable ASCII without spaces or ':'"},
        {"X:Bad", "custom header names are printable ASCII without spaces or ':'"},
        {"X-\xC3\xA9", "custom header names are printable ASCII without spaces or ':'"},
        {"", "a custom header has an empty name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *hdrs[] = {"X-Fine", "1", bad[i].name, "text/html", NULL};
        mime_email e = base("s", "<p>x</p>");
        e.headers = hdrs;
        buf_t out = BUF_INIT;
        char why[128] = "";
        T_EQ_INT(mime_build(&e, &out, why, sizeof why), -1);
        T_EQ_STR(why, bad[i].why);
        T_EQ_INT(out.len, 0); /* nothing written */
    }
    /* an unusable message id or address is refused the same way */
    mime_email e = base("s", "<p>x</p>");
    e.message_id = "a b";
    buf_t out = BUF_INIT;
    char why[128];
    T_EQ_INT(mime_build(&e, &out, why, sizeof why), -1);
    T_EQ_STR(why, "the message id must be a dot-atom");
    mime_addr evil = {"Evil\r\nBcc: x@y.org", "a@x.org"};
    e = base("s", "<p>x</p>");
    e.to = &evil;
    T_EQ_INT(mime_build(&e, &out, why, sizeof why), -1);
    T_EQ_STR(why, "'to' has a control character");
    T_EQ_INT(out.len, 0);
}

TEST(mime_build_writes_display_names_as_atoms_quoted_or_encoded) {
    mime_addr f, t;
    char why[128];
    T_EQ_INT(parse("Jöhn Ünïcödé <john@brand.com>", &f, why), 0);
    T_EQ_INT(parse("\"O'Neil \\\"Jr\\\", Pat\" <pat@x.org>", &t, why), 0);
    mime_email e = base("s", "<p>x</p>");
    e.from = &f;
    e.to = &t;
    char *msg = build(&e);
    T_TRUE(msg);
    T_TRUE(strstr(msg, "\r\nFrom: =?UTF-8?B?SsO2aG4gw5xuw69jw7Zkw6k=?= <john@brand.com>\r\n"));
    T_TRUE(strstr(msg, "\r\nTo: \"O'Neil \\\"Jr\\\", Pat\" <pat@x.org>\r\n"));
    T_TRUE(strstr(msg, "\r\nMessage-ID: <0123abcd@brand.com>\r\n"));
    free(msg);
}

TEST(mime_html_to_text_of_a_newsletter) {
    const char *html =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Spring news</title>\n"
        "<style>.hide{display:none} p{margin:0}</style></head>\n<body>\n"
        "<table width=\"600\"><tr><td>\n"
        "  <h1>Spring   sale&nbsp;is here</h1>\n"
        "  <p>Hi Jane,<br>our <strong>biggest</strong> sale starts\n     today &mdash; up to 50% off.</p>\n"
        "  <ul>\n    <li>Shoes &amp; boots</li>\n    <li>Jackets <em>and</em> coats</li>\n  </ul>\n"
        "  <ol><li>Pick</li><li>Pay</li></ol>\n"
        "  <p><a href=\"https://brand.com/sale?utm=1\">Shop the sale</a> or\n"
        "     visit <a href=\"https://brand.com/\">https://brand.com</a>.</p>\n"
        "  <script>document.write(\"no\")</script>\n"
        "  <p>Questions? <a href=\"mailto:help@brand.com\">help@brand.com</a>\n"
        "     &middot; <a href=\"#top\">Top</a> &middot; <a href=\"javascript:x()\">JS</a></p>\n"
        "  <a href=\"https://brand.com/app\"><img src=\"app.png\" alt=\"\"></a>\n"
        "</td></tr></table>\n<!-- footer -->\n"
        "<div>&copy; 2026 Brand &lt;Inc&gt;<br><br><br><br><br>Unsubscribe</div>\n"
        "<table><tr><td>left</td><td>right</td></tr></table>\n"
        "</body></html>";
    buf_t out = BUF_INIT;
    buf_puts(&out, "kept:"); /* appends */
    mime_html_to_text(html, strlen(html), &out);
    T_EQ_STR(out.data, "kept:Spring sale is here\n"
                       "\n"
                       "Hi Jane,\n"
                       "our biggest sale starts today — up to 50% off.\n"
                       "\n"
                       "- Shoes & boots\n"
                       "- Jackets and coats\n"
                       "\n"
                       "1. Pick\n"
                       "2. Pay\n"
                       "\n"
                       "Shop the sale (https://brand.com/sale?utm=1) or visit https://brand.com.\n"
                       "\n"
                       "Questions? help@brand.com · Top · JS\n"
                       "\n"
                       "https://brand.com/app\n"
                       "© 2026 Brand <Inc>\n"
                       "\n"
                       "\n"
                       "Unsubscribe\n"
                       "left right\n");
    buf_free(&out);
    /* nothing for nothing; broken markup and bad UTF-8 still give text */
    mime_html_to_text("", 0, &out);
    T_EQ_INT(out.len, 0);
    const char *broken = "<p>a<p>b &amp; c<div>\xC3\x28</span>";
    mime_html_to_text(broken, strlen(broken), &out);
    T_EQ_STR(out.data, "a\n\nb & c\n\n\xEF\xBF\xBD(\n");
    buf_free(&out);
    /* <pre> keeps its whitespace */
    const char *pre = "<pre>a  b\n  c</pre><p>d   e</p>";
    mime_html_to_text(pre, strlen(pre), &out);
    T_EQ_STR(out.data, "a  b\n  c\n\nd e\n");
    buf_free(&out);
}

TEST(mime_build_places_the_preheader_first_in_body) {
    const char *html = "<html><head><style>body{margin:0}</style></head>"
                       "<!-- <body> in a comment --><BODY style=\"a>b\"><p>Hello</p></BODY></html>";
    mime_email e = base("s", html);
    e.preheader = "Sale & more <now>";
    e.preheader_len = strlen(e.preheader);
    char *msg = build(&e);
    T_TRUE(msg);
    char *h = part(msg, "text/html", false);
    T_EQ_STR(h, "<html><head><style>body{margin:0}</style></head><!-- <body> in a comment --><BODY style=\"a>b\">"
                "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\" aria-hidden=\"true\">"
                "Sale &amp; more &lt;now&gt;</div><p>Hello</p></BODY></html>");
    char *t = part(msg, "text/plain", false);
    T_EQ_STR(t, "Hello\n"); /* the text part is the HTML's, without the preheader */
    free(h);
    free(t);
    free(msg);
    /* no <body>: the preheader is the first thing */
    e = base("s", "<p>Hi</p>");
    e.preheader = "Pre";
    e.preheader_len = 3;
    msg = build(&e);
    h = part(msg, "text/html", false);
    T_EQ_STR(h, "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\" aria-hidden=\"true\">Pre</div>"
                "<p>Hi</p>");
    free(h);
    free(msg);
}

TEST(mime_build_is_deterministic) {
    const char *hdrs[] = {"X-A", "b", NULL};
    mime_email e = base("Ünïcödé 🎉", "<p>Hello <a href=\"https://x.org\">x</a></p>");
    e.headers = hdrs;
    e.preheader = "p";
    e.preheader_len = 1;
    char *a = build(&e), *b = build(&e);
    T_TRUE(a && b);
    T_EQ_STR(a, b);
    e.message_id = "0123abce"; /* another message: another boundary */
    char *c = build(&e);
    T_TRUE(strcmp(strstr(a, "boundary="), strstr(c, "boundary=")) != 0);
    free(a);
    free(b);
    free(c);
}

TEST(mime_build_lines_never_exceed_998) {
    buf_t word = BUF_INIT, html = BUF_INIT;
    for (int i = 0; i < 3000; i++) buf_puts(&word, "ab");
    for (int i = 0; i < 2000; i++) buf_puts(&html, "<td>cell</td>");
    const char *hdrs[] = {"X-Long", word.data, NULL};
    mime_email e = base(word.data, html.data);
    e.headers = hdrs;
    char *msg = build(&e);
    T_TRUE(msg);
    T_TRUE(lines_within(msg, 998));
    char *h = headers_of(msg);
    T_TRUE(lines_within(h, 78));
    bool ok;
    char *v = header_value(msg, "Subject", &ok);
    T_TRUE(ok);
    T_EQ_STR(v, word.data);
    free(v);
    free(h);
    free(msg);
    buf_free(&word);
    buf_free(&html);
}

/* ---- Python's email package reads them ----------------------------------- */

static const char py_check[] =
    "import sys, email.policy\n"
    "from email.parser import BytesParser\n"
    "d = sys.argv[1]\n"
    "def rd(i, ext): return open('%s/%d.%s' % (d, i, ext), 'rb').read().decode()\n"
    "for i in range(3):\n"
    "    m = BytesParser(policy=email.policy.strict).parsebytes(open('%s/%d.eml' % (d, i), 'rb').read())\n"
    "    for p in m.walk():\n"
    "        if p.defects: sys.exit('%d: %s %r' % (i, p.get_content_type(), p.defects))\n"
    "        for k, v in p.items():\n"
    "            if v.defects: sys.exit('%d: %s %r' % (i, k, v.defects))\n"
    "    if m.get_content_type() != 'multipart/alternative': sys.exit('%d: not multipart' % i)\n"
    "    if [p.get_content_type() for p in m.iter_parts()] != ['text/plain', 'text/html']: sys.exit('%d: parts' % i)\n"
    "    if m['subject'] != rd(i, 'subject'): sys.exit('%d: subject %r' % (i, m['subject']))\n"
    "    f = m['from'].addresses[0]\n"
    "    if [f.display_name, f.addr_spec] != rd(i, 'from').split('\\n'): sys.exit('%d: from %r' % (i, f))\n"
    "    for kind in ('plain', 'html'):\n"
    "        got = m.get_body((kind,)).get_content().replace('\\r\\n', '\\n')\n"
    "        want = rd(i, 'text' if kind == 'plain' else 'html')\n"
    "        if got != want: sys.exit('%d: %s %r != %r' % (i, kind, got, want))\n";

static bool write_file(const char *dir, int i, const char *ext, const char *s) {
    char path[256];
    snprintf(path, sizeof path, "%s/%d.%s", dir, i, ext);
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(s, 1, strlen(s), f) == strlen(s);
    return fclose(f) == 0 && ok;
}

TEST(mime_build_python_email_reads_them_without_defects) {
    if (access("/usr/bin/python3", X_OK)) {
        printf("    skipped: no /usr/bin/python3\n");
        return;
    }
    char dir[] = "/tmp/brasa-mime-XXXXXX";
    T_TRUE(mkdtemp(dir));
    mime_addr f1, t1, r1;
    char why[128];
    T_EQ_INT(parse("\"Jöhn Ünïcödé from the 🎉 team, Inc.\" <john@brand.com>", &f1, why), 0);
    T_EQ_INT(parse("\"Doe, Jane\" <jane@x.org>", &t1, why), 0);
    T_EQ_INT(parse("Support <help@brand.com>", &r1, why), 0);

    /* 0: UTF-8 everywhere, a text part given, custom headers */
    const char *h0[] = {"X-Campaign", "Frühling — 20% off", "List-Unsubscribe",
                        "<https://brand.com/unsubscribe?u=0123456789abcdef0123456789abcdef>, <mailto:u@brand.com>", NULL};
    mime_email e0 = base("Ünïcödé 🎉 offer", "<html><body><p>Grüße, <b>Jane</b> = 100% ✓</p>\n</body></html>\n");
    e0.from = &f1;
    e0.to = &t1;
    e0.reply_to = &r1;
    e0.headers = h0;
    e0.text = "Grüße, Jane = 100% ✓\nA line with trailing space \n.\nFrom here\n";
    e0.text_len = strlen(e0.text);

    /* 1: text from the HTML, a preheader, long lines, a subject with CRLF */
    buf_t long_html = BUF_INIT;
    buf_puts(&long_html, "<html><head><style>p{color:red}</style></head><body><p>");
    for (int i = 0; i < 60; i++) buf_puts(&long_html, "Lorem ipsum dolor sit amet, café=crème. ");
    buf_puts(&long_html, "<a href=\"https://brand.com/x?a=1&amp;b=2\">Read more</a></p></body></html>");
    mime_email e1 = base("Hi\r\nBcc: evil@x.org, and a subject long enough to be folded over two lines at least",
                         long_html.data);
    e1.from = &f1;
    e1.preheader = "Don't miss it — ends Sunday";
    e1.preheader_len = strlen(e1.preheader);
    buf_t text1 = BUF_INIT;
    mime_html_to_text(e1.html, e1.html_len, &text1);
    const char *pre = "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\" aria-hidden=\"true\">"
                      "Don't miss it — ends Sunday</div>";
    buf_t html1 = BUF_INIT;
    const char *at = strstr(long_html.data, "<body>") + 6;
    buf_append(&html1, long_html.data, (size_t)(at - long_html.data));
    buf_puts(&html1, pre);
    buf_puts(&html1, at);

    /* 2: nothing at all */
    mime_email e2 = base("", "");
    e2.text = "";

    const mime_email *es[] = {&e0, &e1, &e2};
    const char *subjects[] = {"Ünïcödé 🎉 offer",
                              "Hi  Bcc: evil@x.org, and a subject long enough to be folded over two lines at least", ""};
    const char *froms[] = {"Jöhn Ünïcödé from the 🎉 team, Inc.\njohn@brand.com",
                           "Jöhn Ünïcödé from the 🎉 team, Inc.\njohn@brand.com", "Brand News\nnews@brand.com"};
    const char *texts[] = {e0.text, text1.data, ""};
    const char *htmls[] = {e0.html, html1.data, ""};
    for (int i = 0; i < 3; i++) {
        char *msg = build(es[i]);
        T_TRUE(msg);
        T_TRUE(lines_within(msg, 998));
        T_TRUE(write_file(dir, i, "eml", msg) && write_file(dir, i, "subject", subjects[i]) &&
               write_file(dir, i, "from", froms[i]) && write_file(dir, i, "text", texts[i]) &&
               write_file(dir, i, "html", htmls[i]));
        free(msg);
    }
    char script[] = "/tmp/brasa-mime-check-XXXXXX";
    int fd = mkstemp(script);
    T_TRUE(fd >= 0);
    T_EQ_INT(write(fd, py_check, sizeof py_check - 1), (long long)(sizeof py_check - 1));
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, dir);
    int rc = system(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, script);
    T_EQ_INT(system(cmd), 0);
    T_EQ_INT(rc, 0);
    buf_free(&long_html);
    buf_free(&text1);
    buf_free(&html1);
}
