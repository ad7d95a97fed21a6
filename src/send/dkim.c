/* dkim.c -- DKIM signing through libopendkim (see dkim.h).
 *
 * libopendkim does the canonicalisation, the hashes, the RSA signature
 * and the header's syntax; this file checks the operator's settings at
 * start-up, where a mistake can still stop the server with a clear
 * message, and puts the header in front of each message. */
#include "dkim.h"
#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/mem.h"

/* libopendkim's header, by its directory: ours is also dkim.h. */
#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_MAX (64 * 1024) /* a PEM RSA key of 16384 bits is ~13 KB */
#define MIN_BITS 1024       /* what RFC 8301 requires of signers; 2048 is what receivers expect */

struct dkim_signer {
    DKIM_LIB *lib;
    char *domain, *selector;
    unsigned char *key; /* the PEM text: dkim_sign parses it per handle */
    atomic_uint_fast64_t nsigned, nother, nfailed;
};

/* Headers signed when present (the From is libopendkim's requirement too). */
static const char *const sign_headers[] = {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                                           "Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post", NULL};

/* A DNS name of LDH labels (RFC 1035 §2.3.1, and RFC 6376's selector
 * syntax): 1-63 letters, digits and hyphens per label, no hyphen at a
 * label's ends, at most 253 characters. */
static bool dns_name(const char *s) {
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253) return false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-') return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
            if (label++ == 0 && c == '-') return false;
        } else {
            return false;
        }
    }
    return true;
}

/* A key file's PEM text, NUL-terminated (dkim_sign takes a C string). */
static unsigned char *read_key(const char *path, char *why, size_t whylen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "--dkim-key: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *key = xmalloc(KEY_MAX + 1);
    size_t n = fread(key, 1, KEY_MAX + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err || n == 0 || n > KEY_MAX) {
        snprintf(why, whylen, "--dkim-key: %s is %s", path,
                 err ? "unreadable" : n ? "too large for a private key" : "empty");
        free(key);
        return NULL;
    }
    key[n] = '\0';
    return key;
}

/* No passphrase prompt: an encrypted key is refused, not asked for. */
static int no_passphrase(char *buf, int size, int rw, void *u) {
    (void)buf, (void)size, (void)rw, (void)u;
    return -1;
}

/* OpenSSL's reading of the key: libopendkim's would only say that it
 * failed, at the first message. */
static int check_key(const unsigned char *pem, const char *path, char *why, size_t whylen) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    int rc = -1;
    if (!k)
        snprintf(why, whylen,
                 "--dkim-key: %s holds no unencrypted PEM private key (make one with `openssl genrsa -out %s 2048`)",
                 path, path);
    else if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
        snprintf(why, whylen, "--dkim-key: %s is not an RSA key (signatures are rsa-sha256)", path);
    else if (EVP_PKEY_get_bits(k) < MIN_BITS)
        snprintf(why, whylen, "--dkim-key: %s is an RSA key of %d bits; DKIM needs %d or more (2048 recommended)", path,
                 EVP_PKEY_get_bits(k), MIN_BITS);
    else
        rc = 0;
    EVP_PKEY_free(k);
    return rc;
}

/* Signs msg[0..len) into hdr ("DKIM-Signature: ..." CRLF). DKIM_STAT_OK
 * or libopendkim's status. */
static DKIM_STAT sign(dkim_signer *s, const char *msg, size_t len, buf_t *hdr) {
    DKIM_STAT st;
    DKIM *d = dkim_sign(s->lib, (const unsigned char *)"brasa", NULL, s->key, (const unsigned char *)s->selector,
                        (const unsigned char *)s->domain, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256,
                        -1, &st);
    if (!d) return st;
    unsigned char *v = NULL;
    size_t vlen = 0;
    if ((st = dkim_chunk(d, (unsigned char *)msg, len)) == DKIM_STAT_OK && (st = dkim_chunk(d, NULL, 0)) == DKIM_STAT_OK &&
        (st = dkim_eom(d, NULL)) == DKIM_STAT_OK &&
        (st = dkim_getsighdr_d(d, sizeof DKIM_SIGNHEADER + 1, &v, &vlen)) == DKIM_STAT_OK) {
        /* The value comes folded with bare LFs: the wire wants CRLF. */
        buf_puts(hdr, DKIM_SIGNHEADER ": ");
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] == '\n' && (i == 0 || v[i - 1] != '\r')) buf_append(hdr, "\r", 1);
            buf_append(hdr, &v[i], 1);
        }
        buf_append(hdr, "\r\n", 2);
    }
    dkim_free(d);
    return st;
}

dkim_signer *dkim_signer_new(const char *domain, const char *selector, const char *key_path, char *why,
                             size_t whylen) {
    if (!dns_name(domain)) {
        snprintf(why, whylen, "--dkim-domain must be a domain name such as brand.com (got '%s')", domain);
        return NULL;
    }
    if (!dns_name(selector)) {
        snprintf(why, whylen,
                 "--dkim-selector must be a DNS label such as brasa1 (letters, digits, hyphens; got '%s')", selector);
        return NULL;
    }
    unsigned char *key = read_key(key_path, why, whylen);
    if (!key) return NULL;
    if (check_key(key, key_path, why, whylen) < 0) {
        free(key);
        return NULL;
    }
    dkim_signer *s = xcalloc(1, sizeof *s);
    s->domain = xstrdup(domain);
    s->selector = xstrdup(selector);
    s->key = key;
    /* The list is compiled into a pattern, and its length given as that of
     * a pointer (libopendkim's convention for lists). */
    if (!(s->lib = dkim_init(NULL, NULL)) ||
        dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, (void *)sign_headers, sizeof(char **)) != DKIM_STAT_OK) {
        snprintf(why, whylen, "DKIM: libopendkim could not be set up");
        dkim_signer_free(s);
        return NULL;
    }
    /* A message like the channel's, so a key libopendkim cannot use stops
     * the start rather than every send. */
    char probe[256];
    int n = snprintf(probe, sizeof probe,
                     "From: probe@%s\r\nTo: probe@%s\r\nSubject: probe\r\nMIME-Version: 1.0\r\n\r\nprobe\r\n", domain,
                     domain);
    buf_t hdr = BUF_INIT;
    DKIM_STAT st = sign(s, probe, (size_t)n, &hdr);
    buf_free(&hdr);
    if (st != DKIM_STAT_OK) {
        snprintf(why, whylen, "--dkim-key: libopendkim cannot sign with %s: %s", key_path, dkim_getresultstr(st));
        dkim_signer_free(s);
        return NULL;
    }
    return s;
}

void dkim_signer_free(dkim_signer *s) {
    if (!s) return;
    if (s->lib) dkim_close(s->lib);
    if (s->key) OPENSSL_cleanse(s->key, strlen((char *)s->key));
    free(s->key);
    free(s->domain);
    free(s->selector);
    free(s);
}

/* from's domain is s's or under it (case does not matter in DNS). */
static bool covers(const dkim_signer *s, const char *from) {
    const char *at = from ? strrchr(from, '@') : NULL;
    if (!at) return false;
    size_t n = strlen(at + 1), dn = strlen(s->domain);
    const char *tail = at + 1 + (n >= dn ? n - dn : 0);
    return n >= dn && !strcasecmp(tail, s->domain) && (n == dn || tail[-1] == '.');
}

int dkim_signer_prepend(dkim_signer *s, char **msg, size_t *len, const char *from) {
    if (!covers(s, from)) {
        atomic_fetch_add(&s->nother, 1);
        return 0;
    }
    buf_t b = BUF_INIT;
    DKIM_STAT st = sign(s, *msg, *len, &b);
    if (st != DKIM_STAT_OK) {
        atomic_fetch_add(&s->nfailed, 1);
        log_error("dkim: a message from %s goes unsigned: %s", from, dkim_getresultstr(st));
        buf_free(&b);
        return 0;
    }
    buf_append(&b, *msg, *len);
    free(*msg);
    *len = b.len;
    *msg = buf_take(&b);
    atomic_fetch_add(&s->nsigned, 1);
    return 1;
}

dkim_signer_stats dkim_signer_get_stats(const dkim_signer *s) {
    dkim_signer_stats st = {0};
    if (s) {
        st.signed_ = atomic_load(&s->nsigned);
        st.other = atomic_load(&s->nother);
        st.failed = atomic_load(&s->nfailed);
    }
    return st;
}

const char *dkim_signer_domain(const dkim_signer *s) { return s ? s->domain : NULL; }
