/* mime.c -- addresses, header fields and the multipart/alternative message
 * of an email (see mime.h).
 *
 * The shapes on the wire: header fields folded with CRLF SP at
 * whitespace (RFC 5322 §2.2.3) or written as RFC 2047 encoded words, both
 * parts quoted-printable (RFC 2045 §6.7) so any line of the HTML, however
 * long, goes out as lines of at most 76 characters. The boundary starts
 * with "=_", which quoted-printable can never produce (its '=' is always
 * followed by two hex digits or a line break), so no body line can be
 * read as a boundary whatever the campaign wrote. */
#include "mime.h"
#include "../lib/str.h"
#include "../lib/timefmt.h"
#include "../lib/utf8.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FOLD_AT 78       /* RFC 5322 §2.1.1: lines SHOULD be at most 78 characters */
#define EW_MAX 75        /* RFC 2047 §2: an encoded word is at most 75 characters */
#define EW_LINE 76       /* ... and a line holding one at most 76 */
#define EW_OVERHEAD 12   /* "=?UTF-8?B?" "?=" */
#define EW_MIN (EW_OVERHEAD + 8) /* one encoded word holding one 4-byte character */
#define LONG_WORD 900    /* an ASCII word this long can not be folded under 998 */
#define QP_LINE 76       /* RFC 2045 §6.7 (5) */
#define NAME_MAX_LEN 76  /* a custom header's name, so that "name: " fits a line */
#define MSGID_MAX 200

static int refuse(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t whylen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (whylen) vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7F; }

/* RFC 5322 atext: what an atom (and a dot-atom) is made of. */
static bool is_atext(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* ---- addresses ----------------------------------------------------------- */

/* The address proper: one '@', a local part and a domain of dot-atom
 * characters. Quoted local parts and domain literals are real but no
 * sender uses them; refusing them keeps every address a plain token. */
static int check_addr(const char *s, size_t n, char *why, size_t whylen) {
    if (!n) return refuse(why, whylen, "has no address");
    if (n >= sizeof ((mime_addr *)0)->addr) return refuse(why, whylen, "has an address longer than 319 characters");
    size_t at = n, ats = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '@') at = i, ats++;
        else if (c == ' ') return refuse(why, whylen, "has a space in the address");
        else if (c >= 0x80) return refuse(why, whylen, "has a non-ASCII address");
        else if (c != '.' && !is_atext(c)) return refuse(why, whylen, "has a '%c' in the address", c);
    }
    if (!ats) return refuse(why, whylen, "has no @");
    if (ats > 1) return refuse(why, whylen, "has more than one @");
    if (at == 0) return refuse(why, whylen, "has an empty local part");
    if (at == n - 1) return refuse(why, whylen, "has an empty domain");
    return 0;
}

static void trim(const char **s, size_t *n) {
    while (*n && **s == ' ') (*s)++, (*n)--;
    while (*n && (*s)[*n - 1] == ' ') (*n)--;
}

/* The display name before '<': a quoted string (unquoted into a->name)
 * or the text as it is. */
static int parse_name(const char *s, size_t n, mime_addr *a, char *why, size_t whylen) {
    trim(&s, &n);
    size_t len = 0;
    if (n && s[0] == '"') {
        size_t i = 1;
        for (; i < n && s[i] != '"'; i++) {
            if (s[i] == '\\' && i + 1 < n) i++;
            if (len + 1 >= sizeof a->name) return refuse(why, whylen, "has a display name longer than 255 bytes");
            a->name[len++] = s[i];
        }
        if (i + 1 != n) return refuse(why, whylen, "has text after the quoted display name");
    } else {
        if (n >= sizeof a->name) return refuse(why, whylen, "has a display name longer than 255 bytes");
        memcpy(a->name, s, n);
        len = n;
    }
    a->name[len] = '\0';
    if (!utf8_valid(a->name, len, NULL)) return refuse(why, whylen, "has a display name that is not UTF-8");
    return 0;
}

int mime_addr_parse(const char *s, size_t n, mime_addr *a, char *why, size_t whylen) {
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < n; i++)
        if (is_ctl((unsigned char)s[i])) return refuse(why, whylen, "has a control character (CR, LF, NUL...)");
    trim(&s, &n);
    /* One pass outside quoted strings: where the brackets are, and whether
     * anything separates a second address (',' ';', or an '@' outside <>). */
    size_t lt = 0, gt = 0, lts = 0, gts = 0; /* first '<', first '>', how many */
    bool quoted = false, more = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (quoted) {
            if (c == '\\') i++;
            else if (c == '"') quoted = false;
        } else if (c == '"') quoted = true;
        else if (c == '<') lt = lts++ ? lt : i;
        else if (c == '>') gt = gts++ ? gt : i;
        else if (c == ',' || c == ';') more = true;
        else if (c == '@' && lts && gts == lts) more = true; /* after "<...>" */
        else if (c == '@' && !lts && memchr(s + i, '<', n - i)) more = true; /* in the name */
    }
    if (quoted) return refuse(why, whylen, "has an unterminated quote");
    if (lts != gts || gt < lt) return refuse(why, whylen, "has unbalanced <>");
    if (more || lts > 1) return refuse(why, whylen, "has more than one address");
    const char *addr = s;
    size_t alen = n;
    if (lts) {
        if (gt != n - 1) return refuse(why, whylen, "has text after the address");
        if (parse_name(s, lt, a, why, whylen)) return -1;
        addr = s + lt + 1;
        alen = gt - lt - 1;
    }
    if (check_addr(addr, alen, why, whylen)) return -1;
    memcpy(a->addr, addr, alen);
    return 0;
}

/* An address the builder can write, for structs filled by hand too: a
 * name with a control character would put a line break on the wire. */
static int addr_usable(const mime_addr *a, const char *what, char *why, size_t whylen) {
    char sub[128];
    size_t nl = strnlen(a->name, sizeof a->name), al = strnlen(a->addr, sizeof a->addr);
    if (nl == sizeof a->name || al == sizeof a->addr) return refuse(why, whylen, "'%s' is not terminated", what);
    for (size_t i = 0; i < nl; i++)
        if (is_ctl((unsigned char)a->name[i])) return refuse(why, whylen, "'%s' has a control character", what);
    if (!utf8_valid(a->name, nl, NULL)) return refuse(why, whylen, "'%s' has a display name that is not UTF-8", what);
    if (check_addr(a->addr, al, sub, sizeof sub)) return refuse(why, whylen, "'%s' %s", what, sub);
    return 0;
}

/* ---- header fields ------------------------------------------------------- */

/* value as header text: valid UTF-8, every control character a space. */
static void sanitize(buf_t *b, const char *s, size_t n) {
    if (n) utf8_repair(b, s, n);
    for (size_t i = 0; i < b->len; i++)
        if (is_ctl((unsigned char)b->data[i])) b->data[i] = ' ';
}

/* Starts a new line of the field when w (after a space) would pass limit. */
static void put_word(buf_t *b, size_t *col, const char *w, size_t n, size_t limit) {
    if (*col + 1 + n > limit) {
        buf_append(b, "\r\n", 2);
        *col = 0;
    }
    buf_append(b, " ", 1);
    buf_append(b, w, n);
    *col += 1 + n;
}

/* s as RFC 2047 encoded words, each after a space. Whitespace between
 * encoded words is not part of the text (§6.2), so the words split s
 * anywhere between two characters: never inside one, since each word
 * must decode to whole characters on its own. */
static void put_encoded(buf_t *b, size_t *col, const char *s, size_t n) {
    size_t i = 0;
    do {
        if (*col + 1 + EW_MIN > EW_LINE) {
            buf_append(b, "\r\n", 2);
            *col = 0;
        }
        size_t room = EW_LINE - *col - 1;
        if (room > EW_MAX) room = EW_MAX;
        size_t max = (room - EW_OVERHEAD) / 4 * 3, take = 0;
        while (i + take < n) {
            int32_t cp;
            size_t c = utf8_decode((const unsigned char *)s + i + take, n - i - take, &cp);
            if (!c) c = 1; /* not reached: s was repaired */
            if (take + c > max) break;
            take += c;
        }
        unsigned char enc[EW_MAX];
        int elen = EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)take);
        buf_printf(b, " =?UTF-8?B?%.*s?=", elen, (const char *)enc);
        *col += 1 + EW_OVERHEAD + (size_t)elen;
        i += take;
    } while (i < n);
}

/* Whether s can go out as it is: printable ASCII, no word too long to
 * fold under 998, and no word a reader would decode as an encoded word. */
static bool plain_ascii(const char *s, size_t n) {
    size_t word = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7E) return false;
        if (c == ' ') {
            word = 0;
            continue;
        }
        if (++word > LONG_WORD) return false;
        if (word == 1 && c == '=' && i + 1 < n && s[i + 1] == '?') {
            size_t e = i;
            while (e < n && s[e] != ' ') e++;
            if (e - i >= 4 && s[e - 2] == '?' && s[e - 1] == '=') return false;
        }
    }
    return true;
}

/* s folded before its whitespace: unfolding (removing the CRLFs) gives s
 * back exactly. A line is only started before a word, never for
 * whitespace alone (RFC 5322 §3.2.2), nor before the first word. */
static void put_folded(buf_t *b, size_t *col, const char *s, size_t n) {
    if (!n) return;
    buf_append(b, " ", 1);
    (*col)++;
    for (size_t i = 0; i < n;) {
        size_t j = i, k;
        while (j < n && s[j] == ' ') j++;
        for (k = j; k < n && s[k] != ' ';) k++;
        if (i > 0 && k > j && *col + (k - i) > FOLD_AT) {
            buf_append(b, "\r\n", 2);
            *col = 0;
        }
        buf_append(b, s + i, k - i);
        *col += k - i;
        i = k;
    }
}

void mime_header(buf_t *out, const char *name, const char *value, size_t len) {
    buf_t v = BUF_INIT;
    sanitize(&v, value, value ? len : 0);
    buf_puts(out, name);
    buf_append(out, ":", 1);
    size_t col = strlen(name) + 1;
    if (plain_ascii(v.data, v.len)) put_folded(out, &col, v.data, v.len);
    else put_encoded(out, &col, v.data, v.len);
    buf_append(out, "\r\n", 2);
    buf_free(&v);
}

/* A display name as RFC 5322 phrase: atoms as they are, other ASCII as a
 * quoted string, anything else (or anything that looks encoded) as
 * encoded words, which may not appear inside a quoted string. */
static void put_name(buf_t *b, size_t *col, const char *name) {
    size_t n = strlen(name);
    bool atoms = !strstr(name, "=?") && name[0] != ' ' && !strstr(name, "  ") && name[n - 1] != ' ';
    bool ascii = !strstr(name, "=?");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        atoms = atoms && (c == ' ' || is_atext(c));
        ascii = ascii && c >= 0x20 && c <= 0x7E;
    }
    if (atoms) {
        put_folded(b, col, name, n);
    } else if (ascii) {
        buf_t q = BUF_INIT;
        buf_append(&q, "\"", 1);
        for (size_t i = 0; i < n; i++) {
            if (name[i] == '"' || name[i] == '\\') buf_append(&q, "\\", 1);
            buf_append(&q, name + i, 1);
        }
        buf_append(&q, "\"", 1);
        put_word(b, col, q.data, q.len, FOLD_AT);
        buf_free(&q);
    } else {
        put_encoded(b, col, name, n);
    }
}

static void addr_header(buf_t *b, const char *field, const mime_addr *a) {
    buf_printf(b, "%s:", field);
    size_t col = strlen(field) + 1;
    if (!a->name[0]) {
        put_word(b, &col, a->addr, strlen(a->addr), FOLD_AT);
    } else {
        put_name(b, &col, a->name);
        char angle[sizeof a->addr + 2];
        int n = snprintf(angle, sizeof angle, "<%s>", a->addr);
        put_word(b, &col, angle, (size_t)n, EW_LINE);
    }
    buf_append(b, "\r\n", 2);
}

/* ---- the message --------------------------------------------------------- */

/* The headers brasa writes itself: a custom one by these names would
 * redirect the message or break its structure. */
static const char *const structural[] = {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
                                         "Content-Type", "Content-Transfer-Encoding", "Reply-To", "Bcc",
                                         "Cc", NULL};

static int check_header_name(const char *name, char *why, size_t whylen) {
    size_t n = name ? strlen(name) : 0;
    if (!n) return refuse(why, whylen, "a custom header has an empty name");
    if (n > NAME_MAX_LEN) return refuse(why, whylen, "custom header name '%.40s...' is longer than 76 characters", name);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 33 || c > 126 || c == ':')
            return refuse(why, whylen, "custom header names are printable ASCII without spaces or ':'");
    }
    for (const char *const *s = structural; *s; s++)
        if (str_ieq(name, n, *s)) return refuse(why, whylen, "custom header '%s' would replace the one brasa writes", name);
    return 0;
}

/* Everything mime_build can refuse, checked before anything is written. */
static int check_email(const mime_email *e, char *why, size_t whylen) {
    if (!e->from || !e->to) return refuse(why, whylen, "'from' and 'to' are required");
    if (addr_usable(e->from, "from", why, whylen) || addr_usable(e->to, "to", why, whylen)) return -1;
    if (e->reply_to && addr_usable(e->reply_to, "reply_to", why, whylen)) return -1;
    size_t m = e->message_id ? strlen(e->message_id) : 0;
    if (!m || m > MSGID_MAX) return refuse(why, whylen, "the message id must be 1 to %d characters", MSGID_MAX);
    for (size_t i = 0; i < m; i++)
        if (e->message_id[i] != '.' && !is_atext((unsigned char)e->message_id[i]))
            return refuse(why, whylen, "the message id must be a dot-atom");
    for (const char *const *h = e->headers; h && *h; h += 2)
        if (check_header_name(h[0], why, whylen)) return -1;
    return 0;
}

/* "=_" and 32 hex digits of a hash of the message id: the same for a
 * re-send of the message, different between messages. What keeps it out
 * of the bodies is the "=_" (see the top of the file), not secrecy. */
static void make_boundary(const char *message_id, char out[35]) {
    static const char salt[] = "brasa mime boundary";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, salt, sizeof salt);
    EVP_DigestUpdate(c, message_id, strlen(message_id));
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    out[0] = '=';
    out[1] = '_';
    str_hex(md, 16, out + 2);
}

/* Quoted-printable, RFC 2045 §6.7. Line breaks of the text (CRLF, LF or
 * a lone CR) become CRLF; spaces and tabs are literal except at the end of
 * a line, where transports strip them; '.' and "From " at the start of a
 * line are encoded too, so neither a dot-unstuffing relay nor an mbox
 * writer can alter the line. Soft breaks keep each line <= 76. */
static void put_qp(buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    /* Written in place, not a buf_append a character (that was a quarter
     * of a broadcast's CPU): each input byte takes at most 3 output bytes
     * plus its share of a soft break ("=\r\n" per 24 bytes at worst, as
     * each line holds 25 encoded ones), and a lone CR or LF becomes 2. */
    buf_reserve(b, 3 * n + 3 * (n / 24 + 1));
    char *o = b->data + b->len;
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && s[i + 1] == '\n') i++;
            *o++ = '\r', *o++ = '\n';
            col = 0;
            continue;
        }
        /* A run of characters that go as they are, inside the line
         * (col > 0: '.' and "From " matter at its start only; a space or
         * tab with more on its line), copied at once. */
        if (col > 0 && col < QP_LINE - 1) {
            size_t j = i, end = i + (QP_LINE - 1 - col) < n ? i + (QP_LINE - 1 - col) : n;
            for (; j < end; j++) {
                unsigned char d = (unsigned char)s[j];
                if ((d >= 33 && d <= 126 && d != '=') ||
                    ((d == ' ' || d == '\t') && j + 1 < n && s[j + 1] != '\r' && s[j + 1] != '\n'))
                    continue;
                break;
            }
            if (j > i) {
                memcpy(o, s + i, j - i);
                o += j - i;
                col += j - i;
                i = j - 1;
                continue;
            }
        }
        bool eol = i + 1 == n || s[i + 1] == '\r' || s[i + 1] == '\n';
        bool lit = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol);
        size_t w = lit ? 1 : 3;
        /* the last character of a line needs no room for a soft break */
        if (col + w > QP_LINE - 1 && !(eol && col + w <= QP_LINE)) {
            *o++ = '=', *o++ = '\r', *o++ = '\n';
            col = 0;
        }
        if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 && !memcmp(s + i, "From ", 5)))) lit = false;
        if (lit) {
            *o++ = (char)c;
            col++;
        } else {
            *o++ = '=', *o++ = hex[c >> 4], *o++ = hex[c & 15];
            col += 3;
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

/* Where the content of <body> starts in h: just past its tag, skipping
 * comments; 0 when there is no <body> (the preheader then goes first). */
static size_t body_start(const char *h, size_t n) {
    for (size_t i = 0; i + 5 <= n; i++) {
        if (h[i] != '<') continue;
        if (!memcmp(h + i, "<!--", 4)) {
            for (i += 4; i + 3 <= n && memcmp(h + i, "-->", 3); i++) {}
            continue;
        }
        if (!str_ieq(h + i + 1, 4, "body") || (i + 5 < n && !strchr(" \t\r\n\f/>", h[i + 5]))) continue;
        char quote = 0;
        for (size_t j = i + 5; j < n; j++) {
            if (quote) quote = h[j] == quote ? 0 : quote;
            else if (h[j] == '"' || h[j] == '\'') quote = h[j];
            else if (h[j] == '>') return j + 1;
        }
        return 0;
    }
    return 0;
}

/* The HTML part: html with the preheader placed, as valid UTF-8. */
static void html_with_preheader(const mime_email *e, buf_t *b) {
    size_t at = e->preheader ? body_start(e->html, e->html_len) : e->html_len;
    if (at) utf8_repair(b, e->html, at);
    if (e->preheader) {
        buf_t ph = BUF_INIT;
        if (e->preheader_len) utf8_repair(&ph, e->preheader, e->preheader_len);
        buf_puts(b, "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\" aria-hidden=\"true\">");
        for (size_t i = 0; i < ph.len; i++) {
            char c = ph.data[i];
            if (c == '&') buf_puts(b, "&amp;");
            else if (c == '<') buf_puts(b, "&lt;");
            else if (c == '>') buf_puts(b, "&gt;");
            else buf_append(b, &c, 1);
        }
        buf_puts(b, "</div>");
        buf_free(&ph);
    }
    if (e->html_len > at) utf8_repair(b, e->html + at, e->html_len - at);
}

void mime_body_build(const mime_email *e, mime_body *body) {
    buf_t html = BUF_INIT, text = BUF_INIT;
    html_with_preheader(e, &html);
    if (e->text) {
        if (e->text_len) utf8_repair(&text, e->text, e->text_len);
    } else if (e->html_len) {
        mime_html_to_text(e->html, e->html_len, &text);
    }
    body->text = body->html = (buf_t)BUF_INIT;
    put_qp(&body->text, text.data, text.len);
    put_qp(&body->html, html.data, html.len);
    buf_free(&html);
    buf_free(&text);
}

void mime_body_free(mime_body *body) {
    buf_free(&body->text);
    buf_free(&body->html);
}

/* One part; the CRLF after its content belongs to the next delimiter
 * (RFC 2046 §5.1.1), so a body's own last line break is kept. */
static void put_part(buf_t *b, const char *boundary, const char *type, const buf_t *qp) {
    buf_printf(b, "--%s\r\nContent-Type: %s; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
               boundary, type);
    buf_append(b, qp->data, qp->len);
    buf_append(b, "\r\n", 2);
}

/* A parameter of a part's header: name="value" for printable ASCII without
 * quotes or backslashes, else RFC 2231's name*=UTF-8''%XX form. */
static void put_param(buf_t *b, const char *name, const char *v) {
    bool plain = true;
    for (const char *p = v; *p; p++) plain &= *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\';
    if (plain) {
        buf_printf(b, ";\r\n %s=\"%s\"", name, v);
        return;
    }
    buf_printf(b, ";\r\n %s*=UTF-8''", name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p)) buf_append(b, (const char *)p, 1);
        else buf_printf(b, "%%%02X", *p);
    }
}

/* A file: base64 in lines of 76 (RFC 2045). */
static void put_attachment(buf_t *b, const char *boundary, const mime_attachment *a) {
    buf_printf(b, "--%s\r\nContent-Type: %s", boundary, a->type);
    put_param(b, "name", a->filename);
    buf_puts(b, "\r\nContent-Disposition: attachment");
    put_param(b, "filename", a->filename);
    buf_puts(b, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    char line[80];
    for (size_t i = 0; i < a->len; i += 57) {
        int n = EVP_EncodeBlock((unsigned char *)line, (const unsigned char *)a->data + i, (int)(a->len - i < 57 ? a->len - i : 57));
        buf_append(b, line, (size_t)n);
        buf_append(b, "\r\n", 2);
    }
}

int mime_build_with(const mime_email *e, const mime_body *body, buf_t *out, char *why, size_t whylen) {
    if (check_email(e, why, whylen)) return -1;
    char date[40], boundary[35];
    timefmt_rfc5322(e->date_ms, date, sizeof date);
    make_boundary(e->message_id, boundary);
    /* One allocation for the message: the parts, and room for the headers. */
    buf_reserve(out, body->text.len + body->html.len + 2048);
    buf_printf(out, "Date: %s\r\n", date);
    addr_header(out, "From", e->from);
    addr_header(out, "To", e->to);
    if (e->reply_to) addr_header(out, "Reply-To", e->reply_to);
    mime_header(out, "Subject", e->subject, e->subject ? e->subject_len : 0);
    buf_printf(out, "Message-ID: <%s@%s>\r\n", e->message_id, strchr(e->from->addr, '@') + 1);
    buf_puts(out, "MIME-Version: 1.0\r\n");
    for (const char *const *h = e->headers; h && *h; h += 2) mime_header(out, h[0], h[1], h[1] ? strlen(h[1]) : 0);
    char mixed[36];
    snprintf(mixed, sizeof mixed, "m%s", boundary);
    if (e->nattachments)
        buf_printf(out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n--%s\r\n", mixed, mixed);
    buf_printf(out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n", boundary);
    put_part(out, boundary, "text/plain", &body->text);
    put_part(out, boundary, "text/html", &body->html);
    buf_printf(out, "--%s--\r\n", boundary);
    for (int i = 0; i < e->nattachments; i++) put_attachment(out, mixed, &e->attachments[i]);
    if (e->nattachments) buf_printf(out, "--%s--\r\n", mixed);
    return 0;
}

int mime_build(const mime_email *e, buf_t *out, char *why, size_t whylen) {
    if (check_email(e, why, whylen)) return -1;
    mime_body body;
    mime_body_build(e, &body);
    int rc = mime_build_with(e, &body, out, why, whylen);
    mime_body_free(&body);
    return rc;
}
