/* mime.c -- libFuzzer target for the email builder (src/send/mime.c,
 * mime_text.c).
 *
 * The input is split at its first two NUL bytes into a subject, an HTML
 * body and the rest, which is tried as an address, a custom header value
 * and a preheader. Findings besides crashes and sanitizer reports: a
 * message whose lines do not all end in CRLF or pass 998 octets, a header
 * line that a line break in the input started (anything but the fields the
 * builder writes), an accepted address holding a control character, text
 * from HTML that is not UTF-8, and two builds of one message that differ.
 * The HTML also goes through the link rewriting of tracked email
 * (send/links.c, which splices libxml2's byte offsets into it): two
 * rewrites that differ, or one with nothing to track that is not the
 * input, byte for byte. */
#include "lib/buf.h"
#include "lib/utf8.h"
#include "send/links.h"
#include "send/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char *const fields[] = {"Date:", "From:", "To:", "Reply-To:", "Subject:", "Message-ID:",
                                     "MIME-Version:", "X-Fuzz:", "Content-Type:", NULL};

/* Every line ends in CRLF, is at most 998 octets, and each header line is
 * one the builder wrote or the continuation of one. */
static void check_lines(const char *m, size_t n) {
    bool in_headers = true;
    for (size_t i = 0; i < n;) {
        const char *cr = memchr(m + i, '\r', n - i);
        if (!cr || (size_t)(cr - m) + 1 >= n || cr[1] != '\n') abort();
        size_t len = (size_t)(cr - m) - i;
        if (len > 998 || memchr(m + i, '\n', len)) abort();
        if (in_headers && len == 0) in_headers = false;
        else if (in_headers && m[i] != ' ' && m[i] != '\t') {
            bool known = false;
            for (const char *const *f = fields; *f && !known; f++) known = !strncmp(m + i, *f, strlen(*f));
            if (!known) abort();
        }
        i += len + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    const char *z1 = memchr(s, 0, size);
    const char *subj = s, *html = "", *rest = "";
    size_t subj_n = z1 ? (size_t)(z1 - s) : size, html_n = 0, rest_n = 0;
    if (z1) {
        html = z1 + 1;
        const char *z2 = memchr(html, 0, size - subj_n - 1);
        html_n = z2 ? (size_t)(z2 - html) : size - subj_n - 1;
        if (z2) rest = z2 + 1, rest_n = size - subj_n - html_n - 2;
    }

    mime_addr a, from, to;
    char why[128];
    if (mime_addr_parse(rest, rest_n, &a, why, sizeof why) == 0) {
        for (const char *p = a.name; *p; p++)
            if ((unsigned char)*p < 0x20) abort();
        if (!strchr(a.addr, '@') || strpbrk(a.addr, " \r\n<>")) abort();
    } else if (!why[0]) {
        abort();
    }
    mime_addr_parse("Brand <news@brand.com>", 22, &from, why, sizeof why);
    char *value = malloc(rest_n + 1);
    memcpy(value, rest, rest_n);
    value[rest_n] = '\0';
    const char *hdrs[] = {"X-Fuzz", value, NULL};
    mime_email e = {
        .from = &from, .to = mime_addr_parse(rest, rest_n, &to, why, sizeof why) ? &from : &to,
        .subject = subj, .subject_len = subj_n, .html = html, .html_len = html_n,
        .preheader = rest, .preheader_len = rest_n, .headers = hdrs,
        .message_id = "fuzz", .date_ms = 1782896400000LL,
    };
    buf_t m1 = BUF_INIT, m2 = BUF_INIT;
    if (mime_build(&e, &m1, why, sizeof why) || mime_build(&e, &m2, why, sizeof why)) abort();
    check_lines(m1.data, m1.len);
    if (m1.len != m2.len || memcmp(m1.data, m2.data, m1.len)) abort();

    buf_t t = BUF_INIT;
    mime_html_to_text(html, html_n, &t);
    if (!utf8_valid(t.data ? t.data : "", t.len, NULL)) abort();
    buf_free(&t);

    static const uint8_t key[LNK_KEY_LEN] = {1};
    lnk_token who = {.kind = LNK_OPEN, .dispatch_id = "d", .variation_id = "v"};
    lnk_ctx on = {.base = "https://t.example", .key = key, .who = &who, .opens = true, .clicks = true}, off = on;
    off.opens = off.clicks = false;
    buf_t r1 = BUF_INIT, r2 = BUF_INIT, r3 = BUF_INIT;
    lnk_rewrite(&on, html, html_n, &r1);
    lnk_rewrite(&on, html, html_n, &r2);
    lnk_rewrite(&off, html, html_n, &r3);
    if (r1.len != r2.len || (r1.len && memcmp(r1.data, r2.data, r1.len))) abort();
    if (r3.len != html_n || (html_n && memcmp(r3.data, html, html_n))) abort();
    buf_free(&r1);
    buf_free(&r2);
    buf_free(&r3);
    buf_free(&m1);
    buf_free(&m2);
    free(value);
    return 0;
}
