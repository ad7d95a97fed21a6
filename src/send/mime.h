/* mime.h -- the bytes of an email: RFC 5322 headers and an RFC 2045
 * multipart/alternative body, as the email channel hands them to an SMTP
 * relay.
 *
 * Everything in an email that a campaign can set is rendered by Liquid
 * from partner data, so nothing here trusts its input to be a well-formed
 * header: CR and LF never reach the wire as line breaks (a Subject can not
 * start a Bcc: line), non-ASCII text is encoded (RFC 2047 in headers,
 * quoted-printable UTF-8 in bodies) and no line exceeds 998 octets. The
 * output is deterministic: the same message built twice gives the same
 * bytes, so a retried send is the same message.
 *
 * mime.c builds messages and headers; mime_text.c derives the plain-text
 * part from the HTML. */
#ifndef BR_SEND_MIME_H
#define BR_SEND_MIME_H
#include "../lib/buf.h"
#include <stddef.h>
#include <stdint.h>

/* An address as Braze takes it: "Display Name <local@domain>" or
 * "local@domain". name is UTF-8 ("" when none), addr ASCII. */
typedef struct {
    char name[256];
    char addr[320];
} mime_addr;

/* Parses s[0..n) into a. Quoted display names ("Doe, Jane" <j@x.org>)
 * are unquoted. Refuses control characters (CR, LF, NUL...), a missing
 * '@', an empty local part or domain, spaces or non-ASCII in the address,
 * more than one address and unbalanced <>: returns -1 with a short reason
 * in why ("has no @"), which the caller puts in its own message about the
 * field. 0 on success. */
int mime_addr_parse(const char *s, size_t n, mime_addr *a, char *why, size_t whylen);

/* A file attached to a message. */
typedef struct {
    char *filename; /* UTF-8: "report.pdf" */
    char *type;     /* "application/pdf" */
    char *data;
    size_t len;
} mime_attachment;

/* One message, as the email channel has rendered it for one recipient.
 * Nothing is copied or kept. */
typedef struct {
    const mime_addr *from, *to;
    const mime_addr *reply_to; /* NULL: no Reply-To */
    /* UTF-8 (invalid sequences become U+FFFD); CR, LF and other controls
     * are written as spaces. */
    const char *subject;
    size_t subject_len;
    const char *html; /* the HTML body */
    size_t html_len;
    const char *text; /* the plain-text part; NULL: mime_html_to_text(html) */
    size_t text_len;
    /* NULL: none. Placed as Braze does, as the first thing in <body>: a
     * hidden div that mail clients show as the inbox preview. */
    const char *preheader;
    size_t preheader_len;
    /* Custom headers as name, value pairs, NULL-terminated (NULL: none).
     * Names are RFC 5322 field names (printable ASCII but ':', at most 76
     * characters) and may not be one of the headers the builder writes;
     * values are written with mime_header. */
    const char *const *headers;
    const mime_attachment *attachments; /* nattachments of them: a multipart/mixed around the rest */
    int nattachments;
    const char *message_id; /* left part: Message-ID: <message_id@domain of from> */
    int64_t date_ms;        /* Date:, written in UTC */
} mime_email;

/* Appends the whole message to out: headers, then a multipart/alternative
 * body with a text/plain and a text/html part, both UTF-8 and
 * quoted-printable, lines ending in CRLF; with attachments, that body is
 * the first part of a multipart/mixed and each file follows in base64,
 * its name in RFC 2231 form when it is not plain ASCII. The boundary is derived from
 * message_id. Returns 0, or -1 with why when a custom header is refused
 * (or the addresses or message_id are not usable); out is then unchanged. */
int mime_build(const mime_email *e, buf_t *out, char *why, size_t whylen);

/* The content of a message's two parts, quoted-printable: all that depends
 * on the HTML, the plain text and the preheader, and nothing on the
 * recipient's headers or the boundary. A broadcast whose recipients get the
 * same body builds it once (email.c keeps the last one) rather than
 * deriving the text and encoding 20 KB for each. */
typedef struct {
    buf_t text, html;
} mime_body;

/* The parts of e (its html, text and preheader; the rest is not read). */
void mime_body_build(const mime_email *e, mime_body *body);
void mime_body_free(mime_body *body);

/* mime_build with the parts already built, from an email with the same
 * html, text and preheader as e: the same bytes as mime_build(e). */
int mime_build_with(const mime_email *e, const mime_body *body, buf_t *out, char *why, size_t whylen);

/* Appends the header field "name: value" CRLF to out. A value that is not
 * printable ASCII (or that would read as an encoded word) is written as
 * RFC 2047 encoded words (UTF-8, base64, each <= 75 characters, split
 * between characters, one per line); an ASCII value is folded at its
 * whitespace to keep lines under 78 characters where it can. CR, LF and
 * other controls in value are written as spaces. name is trusted. */
void mime_header(buf_t *out, const char *name, const char *value, size_t len);

/* Appends to out the plain text of the HTML html[0..n), as a browser would
 * show it: <head>, <script> and <style> dropped, whitespace collapsed,
 * entities decoded, block elements on lines of their own (paragraphs and
 * headings apart by a blank line, list items as "- item" or "1. item"),
 * <a href="u">label</a> as "label (u)" for http(s) and mailto links whose
 * label is not the address itself, never more than 2 blank lines in a
 * row. The text is UTF-8 and ends with a newline (nothing for an empty
 * document). Uses libxml2's forgiving HTML parser. */
void mime_html_to_text(const char *html, size_t n, buf_t *out);

/* libxml2 sets up its globals (encoding handlers, dictionaries) on first
 * use, and that is not thread-safe: the render threads parse at once, so
 * every parse of ours calls this first, which initializes them once. */
void mime_xml_init(void);

#endif
