/* dkim_test.c -- DKIM signatures (src/send/dkim.c): a message as
 * mime_build writes it, signed with a key made here, verified by
 * libopendkim's verifier with the public key handed over in place of DNS;
 * a changed body or header fails; mail from other domains goes unsigned
 * and is counted; signers on several threads at once; the refusals of
 * bad settings at start-up. */
#include "test.h"
#include "lib/buf.h"
#include "send/dkim.h"
#include "send/mime.h"

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* The key record a verifier would find in DNS at SELECTOR._domainkey.DOMAIN. */
static char key_record[1024];
static char key_lookup_name[300]; /* what the verifier asked for */

/* A test key, made for this run (nothing is committed): its PEM in a
 * temporary file (path out, unlinked by the caller), its public half in
 * key_record. traditional: "BEGIN RSA PRIVATE KEY" as opendkim-genkey
 * writes, else PKCS#8 as openssl genpkey does. */
static bool make_key(EVP_PKEY *k, bool traditional, char path[64]) {
    snprintf(path, 64, "/tmp/brasa-dkim-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return false;
    close(fd);
    BIO *b = BIO_new_file(path, "w");
    bool ok = b && (traditional ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
                                : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
    BIO_free(b);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    if (!ok || n <= 0) return false;
    char b64[800];
    EVP_EncodeBlock((unsigned char *)b64, der, n);
    OPENSSL_free(der);
    snprintf(key_record, sizeof key_record, "v=DKIM1; k=rsa; p=%s", b64);
    return true;
}

static DKIM_CBSTAT lookup(DKIM *d, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen) {
    (void)d;
    snprintf(key_lookup_name, sizeof key_lookup_name, "%s._domainkey.%s", dkim_sig_getselector(sig),
             dkim_sig_getdomain(sig));
    snprintf((char *)buf, buflen, "%s", key_record);
    return DKIM_CBSTAT_CONTINUE;
}

/* libopendkim's verdict on msg: 1 a good signature, 0 a bad one, -1 none
 * or an error. h gets the signature's h= tag. */
static int verify(const char *msg, size_t len, char *h, size_t hlen) {
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    dkim_set_key_lookup(lib, lookup);
    DKIM_STAT st;
    DKIM *d = dkim_verify(lib, (const unsigned char *)"test", NULL, &st);
    int rc = -1;
    if (d) {
        st = dkim_chunk(d, (unsigned char *)msg, len);
        if (st == DKIM_STAT_OK) st = dkim_chunk(d, NULL, 0);
        if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG) st = dkim_eom(d, NULL);
        DKIM_SIGINFO *sig = dkim_getsignature(d);
        if (sig) {
            rc = st == DKIM_STAT_OK && DKIM_SIG_CHECK(sig) ? 1 : 0;
            unsigned char *t = dkim_sig_gettagvalue(sig, false, (unsigned char *)"h");
            if (h) snprintf(h, hlen, "%s", t ? (char *)t : "");
        }
        dkim_free(d);
    }
    dkim_close(lib);
    return rc;
}

/* A campaign email as the channel builds it, from `from`. */
static char *message(const char *from, size_t *len) {
    mime_addr f, t;
    char why[128];
    if (mime_addr_parse(from, strlen(from), &f, why, sizeof why) || mime_addr_parse("jane@x.org", 10, &t, why, sizeof why))
        return NULL;
    const char *hdrs[] = {"List-Unsubscribe", "<https://brasa.brand.com/u/abc>", "X-Campaign", "spring", NULL};
    const char *subject = "Spring sale \xe2\x80\x94 30% off";
    const char *html = "<p>Hello Jane,</p><p>Our <a href=\"https://brand.com/sale\">spring sale</a> starts today.</p>";
    mime_email e = {.from = &f, .to = &t, .reply_to = &f, .subject = subject, .subject_len = strlen(subject), .html = html, .html_len = strlen(html), .headers = hdrs,
                    .message_id = "0123abcd", .date_ms = 1782896400000LL};
    buf_t b = BUF_INIT;
    if (mime_build(&e, &b, why, sizeof why)) return NULL;
    *len = b.len;
    return buf_take(&b);
}

TEST(dkim_signs_what_libopendkim_verifies) {
    EVP_PKEY *k = EVP_RSA_gen(2048);
    char path[64], why[600] = "";
    T_TRUE(k && make_key(k, false, path));
    EVP_PKEY_free(k);
    dkim_signer *s = dkim_signer_new("brand.com", "brasa1", path, why, sizeof why);
    unlink(path);
    if (!s) T_FAIL_("dkim_signer_new: %s", why);
    size_t len;
    char *msg = message("Brand News <news@brand.com>", &len);
    T_TRUE(msg != NULL);
    char *plain = strndup(msg, len);
    size_t plain_len = len;
    T_EQ_INT(dkim_signer_prepend(s, &msg, &len, "news@brand.com"), 1);
    const char *head = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=brand.com; s=brasa1;";
    T_TRUE(!strncmp(msg, head, strlen(head)));
    /* The header is folded with CRLF + tab, and the message follows it
     * unchanged. */
    const char *p = msg;
    while ((p = strchr(p, '\n')) && (p[1] == '\t' || p[1] == ' ')) {
        T_TRUE(p[-1] == '\r');
        p++;
    }
    T_TRUE(p && p[-1] == '\r');
    T_EQ_INT(len - (size_t)(p + 1 - msg), plain_len);
    T_TRUE(!memcmp(p + 1, plain, plain_len));
    free(plain);

    char h[400] = "";
    T_EQ_INT(verify(msg, len, h, sizeof h), 1);
    T_EQ_STR(key_lookup_name, "brasa1._domainkey.brand.com");
    /* The headers signed, in the message's order: those of the list it
     * has, not X-Campaign. */
    T_EQ_STR(h, "Date:From:To:Reply-To:Subject:Message-ID:MIME-Version:List-Unsubscribe:Content-Type");

    /* One byte of the body changed: the body hash no longer matches. */
    char *body = strstr(msg, "Hello Jane");
    T_TRUE(body != NULL);
    body[0] = 'J';
    T_EQ_INT(verify(msg, len, NULL, 0), 0);
    body[0] = 'H';
    T_EQ_INT(verify(msg, len, NULL, 0), 1);
    /* A signed header changed: the signature no longer matches. */
    char *subj = strstr(msg, "\r\nSubject: ");
    T_TRUE(subj != NULL);
    subj[11] = (char)(subj[11] == 'X' ? 'Y' : 'X');
    T_EQ_INT(verify(msg, len, NULL, 0), 0);
    free(msg);

    dkim_signer_stats st = dkim_signer_get_stats(s);
    T_EQ_INT(st.signed_, 1);
    T_EQ_INT(st.other + st.failed, 0);
    dkim_signer_free(s);
}

TEST(dkim_signs_only_its_domain) {
    EVP_PKEY *k = EVP_RSA_gen(2048);
    char path[64], why[600] = "";
    T_TRUE(k && make_key(k, true, path)); /* "BEGIN RSA PRIVATE KEY" */
    EVP_PKEY_free(k);
    dkim_signer *s = dkim_signer_new("Brand.com", "s1.brasa", path, why, sizeof why);
    unlink(path);
    if (!s) T_FAIL_("dkim_signer_new: %s", why);
    static const struct {
        const char *from;
        int signed_;
    } cases[] = {
        {"news@brand.com", 1},       {"news@BRAND.COM", 1},     {"news@mail.brand.com", 1},
        {"news@a.b.brand.com", 1},   {"news@otherbrand.com", 0}, {"news@brand.com.evil.org", 0},
        {"news@brand.co", 0},        {"news@example.org", 0},
    };
    int nsigned = 0, nother = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char from[128];
        snprintf(from, sizeof from, "Brand <%s>", cases[i].from);
        size_t len, len0;
        char *msg = message(from, &len);
        T_TRUE(msg != NULL);
        char *copy = strndup(msg, len);
        len0 = len;
        int rc = dkim_signer_prepend(s, &msg, &len, cases[i].from);
        if (rc != cases[i].signed_) T_FAIL_("%s: signed %d, want %d", cases[i].from, rc, cases[i].signed_);
        if (rc) {
            T_EQ_INT(verify(msg, len, NULL, 0), 1);
            nsigned++;
        } else {
            T_TRUE(len == len0 && !memcmp(msg, copy, len)); /* unsigned: untouched */
            T_EQ_INT(verify(msg, len, NULL, 0), -1);
            nother++;
        }
        free(copy);
        free(msg);
    }
    dkim_signer_stats st = dkim_signer_get_stats(s);
    T_EQ_INT(st.signed_, nsigned);
    T_EQ_INT(st.other, nother);
    T_EQ_INT(st.failed, 0);
    T_EQ_STR(dkim_signer_domain(s), "Brand.com");
    dkim_signer_free(s);
}

/* The render threads share one signer. */
static dkim_signer *shared;
static void *sign_many(void *arg) {
    long bad = 0;
    for (int i = 0; i < 20; i++) {
        size_t len;
        char *msg = message("news@brand.com", &len);
        if (!msg || dkim_signer_prepend(shared, &msg, &len, "news@brand.com") != 1 || verify(msg, len, NULL, 0) != 1) bad++;
        free(msg);
    }
    (void)arg;
    return (void *)bad;
}

TEST(dkim_signs_from_several_threads) {
    EVP_PKEY *k = EVP_RSA_gen(2048);
    char path[64], why[600] = "";
    T_TRUE(k && make_key(k, false, path));
    EVP_PKEY_free(k);
    shared = dkim_signer_new("brand.com", "brasa1", path, why, sizeof why);
    unlink(path);
    if (!shared) T_FAIL_("dkim_signer_new: %s", why);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) T_EQ_INT(pthread_create(&th[i], NULL, sign_many, NULL), 0);
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += (long)r;
    }
    T_EQ_INT(bad, 0);
    T_EQ_INT(dkim_signer_get_stats(shared).signed_, 80);
    dkim_signer_free(shared);
}

/* dkim_signer_new's refusal of domain/selector/path, or NULL when it
 * accepted them. */
static char refusal[600];
static const char *refused(const char *domain, const char *selector, const char *path) {
    refusal[0] = '\0';
    dkim_signer *s = dkim_signer_new(domain, selector, path, refusal, sizeof refusal);
    if (!s) return refusal;
    dkim_signer_free(s);
    return NULL;
}

static bool write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

TEST(dkim_refuses_bad_settings) {
    EVP_PKEY *k = EVP_RSA_gen(2048);
    char good[64];
    T_TRUE(k && make_key(k, false, good));
    EVP_PKEY_free(k);
    T_TRUE(refused("brand.com", "brasa1", good) == NULL);
    T_TRUE(refused("a-b.brand.com", "2026-01", good) == NULL);

    static const char *const bad_domains[] = {"", "brand..com", ".brand.com", "brand.com.", "-brand.com", "brand-.com",
                                              "br and.com", "brand.com;x=y", "br_and.com", "bränd.com", NULL};
    for (int i = 0; bad_domains[i]; i++) {
        const char *r = refused(bad_domains[i], "brasa1", good);
        if (!r || strncmp(r, "--dkim-domain must be a domain name", 35)) T_FAIL_("domain '%s': %s", bad_domains[i], r ? r : "accepted");
    }
    char long_label[80];
    memset(long_label, 'a', 64);
    strcpy(long_label + 64, ".com");
    T_TRUE(refused(long_label, "brasa1", good) != NULL);
    static const char *const bad_selectors[] = {"", "a_b", "sel;", "sel ector", "-x", "a..b", NULL};
    for (int i = 0; bad_selectors[i]; i++) {
        const char *r = refused("brand.com", bad_selectors[i], good);
        if (!r || strncmp(r, "--dkim-selector must be a DNS label", 35))
            T_FAIL_("selector '%s': %s", bad_selectors[i], r ? r : "accepted");
    }

    const char *r = refused("brand.com", "brasa1", "/nonexistent/dkim.pem");
    T_EQ_STR(r, "--dkim-key: cannot read /nonexistent/dkim.pem: No such file or directory");
    r = refused("brand.com", "brasa1", "/tmp");
    T_TRUE(r && strstr(r, "--dkim-key: /tmp is unreadable"));

    char path[64] = "/tmp/brasa-dkim-bad-XXXXXX";
    int fd = mkstemp(path);
    T_TRUE(fd >= 0);
    close(fd);
    r = refused("brand.com", "brasa1", path);
    T_TRUE(r && strstr(r, " is empty"));
    /* The public half, not the private key. */
    T_TRUE(write_file(path, "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMDhKvA=\n-----END PUBLIC KEY-----\n"));
    r = refused("brand.com", "brasa1", path);
    T_TRUE(r && strstr(r, "holds no unencrypted PEM private key"));
    T_TRUE(write_file(path, "not a key at all\n"));
    r = refused("brand.com", "brasa1", path);
    T_TRUE(r && strstr(r, "holds no unencrypted PEM private key"));
    /* An encrypted key is refused, not prompted for. */
    k = EVP_RSA_gen(2048);
    FILE *f = fopen(path, "w");
    T_TRUE(k && f && PEM_write_PrivateKey(f, k, EVP_aes_128_cbc(), (unsigned char *)"secret", 6, NULL, NULL));
    fclose(f);
    EVP_PKEY_free(k);
    r = refused("brand.com", "brasa1", path);
    T_TRUE(r && strstr(r, "holds no unencrypted PEM private key"));
    /* Not RSA: signatures are rsa-sha256. */
    k = EVP_EC_gen("P-256");
    f = fopen(path, "w");
    T_TRUE(k && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    EVP_PKEY_free(k);
    r = refused("brand.com", "brasa1", path);
    T_TRUE(r && strstr(r, "is not an RSA key"));
    /* Too short for receivers. */
    k = EVP_RSA_gen(768);
    f = fopen(path, "w");
    T_TRUE(k && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    EVP_PKEY_free(k);
    r = refused("brand.com", "brasa1", path);
    T_TRUE(r && strstr(r, "is an RSA key of 768 bits; DKIM needs 1024 or more"));
    unlink(path);
    unlink(good);
}
