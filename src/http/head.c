/* head.c -- RFC 9112 checks of a request head (see head.h). */
#include "head.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/str.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* tchar (RFC 9110 5.6.2): what a field name is made of. */
static bool is_tchar(unsigned char c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field values may hold HTAB, SP, visible ASCII and obs-text (>= 0x80);
 * never another control character (a bare CR, a NUL, ...). */
static bool value_ok(const char *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

/* The value without the optional whitespace around it. */
static const char *trim(const char *v, size_t n, size_t *len) {
    while (n && (v[0] == ' ' || v[0] == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    *len = n;
    return v;
}

/* uri-host [ ":" port ] without anything that would change what a URL built
 * from it points at (exports build download URLs from Host). */
static bool host_ok(const char *v, size_t n) {
    if (!n) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f || strchr("/\\?#@\"<>`{}|^", c)) return false;
    }
    return true;
}

static int refuse(int code, char *why, size_t whylen, const char *fmt, const char *arg, size_t arglen) {
    /* Names are client text: bounded, and only printable ones are shown. */
    char shown[64];
    size_t k = 0;
    for (size_t i = 0; arg && i < arglen && k + 1 < sizeof shown; i++)
        shown[k++] = ((unsigned char)arg[i] >= 0x20 && (unsigned char)arg[i] < 0x7f) ? arg[i] : '?';
    shown[k] = '\0';
    snprintf(why, whylen, fmt, shown);
    return code;
}

int http_head_check(const http_head *h, char *why, size_t whylen) {
    for (size_t i = 0; i < h->target_len; i++) {
        unsigned char c = (unsigned char)h->target[i];
        if (c <= 0x20 || c >= 0x7f)
            return refuse(BR_EINVAL, why, whylen,
                          "the request-target holds a space, a control character or a non-ASCII byte%s", "", 0);
    }
    int hosts = 0, te = 0, cl = 0;
    const http_field *te_f = NULL, *cl_f = NULL;
    for (int i = 0; i < h->nfields; i++) {
        const http_field *f = &h->fields[i];
        bool name_ok = f->name_len > 0;
        for (size_t j = 0; name_ok && j < f->name_len; j++) name_ok = is_tchar((unsigned char)f->name[j]);
        if (!name_ok)
            return refuse(BR_EINVAL, why, whylen,
                          "invalid header name '%s' (no whitespace or separators, none before the colon)",
                          f->name, f->name_len);
        if (!value_ok(f->value, f->value_len))
            return refuse(BR_EINVAL, why, whylen, "control character (CR, LF, NUL, ...) in the value of header '%s'",
                          f->name, f->name_len);
        size_t vl;
        const char *v = trim(f->value, f->value_len, &vl);
        if (str_ieq(f->name, f->name_len, "Host")) {
            if (++hosts > 1) return refuse(BR_EINVAL, why, whylen, "more than one Host header%s", "", 0);
            if (!host_ok(v, vl)) return refuse(BR_EINVAL, why, whylen, "invalid Host header%s", "", 0);
        } else if (str_ieq(f->name, f->name_len, "Transfer-Encoding")) {
            te++;
            te_f = f;
        } else if (str_ieq(f->name, f->name_len, "Content-Length")) {
            /* Identical repeats are one length (RFC 9110 8.6); libmicrohttpd
             * keeps the first, so any other would frame the body differently. */
            size_t pl;
            const char *pv = cl_f ? trim(cl_f->value, cl_f->value_len, &pl) : NULL;
            if (cl_f && (pl != vl || memcmp(pv, v, vl) != 0))
                return refuse(BR_EINVAL, why, whylen, "conflicting Content-Length headers%s", "", 0);
            cl++;
            cl_f = f;
        }
    }
    if (!hosts && !h->http10) return refuse(BR_EINVAL, why, whylen, "an HTTP/1.1 request needs a Host header%s", "", 0);
    if (te) {
        /* RFC 9112 6.1 and 6.3: a body framed by Transfer-Encoding, with a
         * Content-Length beside it or in HTTP/1.0, is how one request is
         * made to read as two; only chunked, once, can be framed at all. */
        if (h->http10) return refuse(BR_EINVAL, why, whylen, "Transfer-Encoding in an HTTP/1.0 request%s", "", 0);
        if (cl) return refuse(BR_EINVAL, why, whylen, "both Content-Length and Transfer-Encoding%s", "", 0);
        size_t vl;
        const char *v = trim(te_f->value, te_f->value_len, &vl);
        if (te > 1 || !str_ieq(v, vl, "chunked"))
            return refuse(BR_ETENCODING, why, whylen, "Transfer-Encoding '%s' is not supported (only chunked)", v, vl);
    }
    return 0;
}

/* ---- what libmicrohttpd's parse may hide ---------------------------------
 *
 * libmicrohttpd 0.9.75 parses the head in place in its read buffer: it
 * writes a NUL over the space after the method and before the version, over
 * each colon and over each line's CR and LF, and hands out pointers into
 * that buffer (strlen'd: a NUL the client sent ends the string early). The
 * head spans [method, method + MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE). So
 * between the end of one string and the start of the next there must be
 * exactly what libmicrohttpd overwrote: anything else is bytes the client
 * sent that no C string shows. Should a later libmicrohttpd copy the strings
 * elsewhere, the pointers leave that span and this check stands aside
 * rather than refuse every request (the e2e tests would say so). */

typedef struct {
    http_field *f;
    int n, cap;
} collect_st;

static enum MHD_Result add_field(void *cls, enum MHD_ValueKind kind, const char *k, size_t kl, const char *v,
                                 size_t vl) {
    (void)kind;
    collect_st *st = cls;
    if (st->n == st->cap) return MHD_NO; /* counted beforehand: not reached */
    st->f[st->n++] = (http_field){k, kl, v ? v : "", v ? vl : 0};
    return MHD_YES;
}

/* Whether [a, b) holds only NULs, between lo and hi of them. */
static bool nuls(uintptr_t a, uintptr_t b, size_t lo, size_t hi) {
    if (b < a || b - a < lo || b - a > hi) return false;
    for (const char *p = (const char *)a; p < (const char *)b; p++)
        if (*p) return false;
    return true;
}

/* Refuses bytes found after field i (-1: after the request line). */
static int hidden_after(int i, const http_field *f, char *why, size_t whylen) {
    if (i < 0) return refuse(BR_EINVAL, why, whylen, "bytes after a NUL on the request line%s", "", 0);
    return refuse(BR_EINVAL, why, whylen, "bytes after a NUL in the value of header '%s'", f[i].name, f[i].name_len);
}

int http_head_collect(struct MHD_Connection *c, const char *method, const char *version,
                      const char *target_at, size_t target_len, http_field **out, int *n, char *why,
                      size_t whylen) {
    int count = MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL);
    collect_st st = {xcalloc(count > 0 ? (size_t)count : 1, sizeof *st.f), 0, count > 0 ? count : 0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, add_field, &st);
    *out = st.f;
    *n = st.n;

    const union MHD_ConnectionInfo *hs = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!hs || !method || !version || !target_at) return 0;
    uintptr_t base = (uintptr_t)method, end = base + hs->header_size;
#define INSIDE(p) ((uintptr_t)(p) >= base && (uintptr_t)(p) < end)
    if (!INSIDE(version) || !INSIDE(target_at)) return 0; /* not the layout described above */
    /* "GET /x\0junk HTTP/1.1": the target ends at the space before the version. */
    if ((uintptr_t)target_at + target_len + 1 != (uintptr_t)version)
        return refuse(BR_EINVAL, why, whylen, "bytes after a NUL in the request-target%s", "", 0);
    uintptr_t p = (uintptr_t)version + strlen(version);
    for (int i = 0; i < st.n; i++) {
        const http_field *f = &st.f[i];
        uintptr_t k = (uintptr_t)f->name, v = (uintptr_t)f->value;
        /* A folded line comes back glued to another, copied elsewhere. */
        if (!INSIDE(f->name) || v < k + f->name_len || v + f->value_len > end)
            return refuse(BR_EINVAL, why, whylen,
                          "header line folding (a line starting with whitespace) is not accepted%s", "", 0);
        /* The previous line's end: its CR and LF, or a bare LF. */
        if (!nuls(p, k, 1, 2)) return hidden_after(i - 1, st.f, why, whylen);
        /* The colon, then optional whitespace. */
        const char *q = (const char *)(k + f->name_len);
        if (*q) return refuse(BR_EINVAL, why, whylen, "bytes after a NUL in header name '%s'", f->name, f->name_len);
        for (q++; (uintptr_t)q < v; q++)
            if (*q != ' ' && *q != '\t')
                return refuse(BR_EINVAL, why, whylen, "bytes after a NUL in header name '%s'", f->name, f->name_len);
        p = v + f->value_len;
    }
    /* The last line's end and the empty line. */
    if (!nuls(p, end, 2, 4)) return hidden_after(st.n - 1, st.f, why, whylen);
#undef INSIDE
    return 0;
}
