/* links_test.c -- email links (src/send/links.c): tokens that check only
 * as they were signed, and the rewriting of a body's links that changes
 * nothing but their hrefs. */
#include "test.h"
#include "send/links.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t key[LNK_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                         17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static lnk_token who(void) {
    lnk_token t = {.kind = LNK_UNSUB, .bz = {0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xbb}};
    strcpy(t.dispatch_id, "0123456789abcdef01234567.3");
    strcpy(t.variation_id, "5b1f0f3c-6f64-4b63-9a4e-2f6c0d1e2a3b");
    return t;
}

/* The token of a URL made by lnk_url: what follows "/t/<kind>/", up to '?'. */
static char *token_of(const char *url) {
    const char *p = strstr(url, "/t/") + 5;
    return strndup(p, strcspn(p, "?"));
}

TEST(links_tokens_check_only_as_signed) {
    lnk_token t = who(), back;
    buf_t b = BUF_INIT;
    lnk_url(&b, "https://e.example.com", key, &t, NULL);
    T_TRUE(!strncmp(b.data, "https://e.example.com/t/u/", 26));
    char *tok = token_of(b.data);
    /* The bytes of the format (version, kind, braze_id, ids, the first 16
     * bytes of HMAC-SHA256), as computed apart with Python's hmac: tokens
     * already in inboxes must keep checking whatever library signs them. */
    T_EQ_STR(tok, "AXWqAQIDBAUGBwgJCrsaMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3LjMkNWIxZjBmM2MtNmY2NC00YjYzLTlhNGUtMmY2YzBkMWUy"
                  "YTNiy1S2HdBnTmsHP8fJ6ZyWvQ");
    T_EQ_INT(lnk_parse(key, LNK_UNSUB, tok, NULL, &back), 0);
    T_TRUE(!memcmp(back.bz, t.bz, 12));
    T_EQ_STR(back.dispatch_id, t.dispatch_id);
    T_EQ_STR(back.variation_id, t.variation_id);
    /* another kind's path, another key, a truncated or altered token: refused */
    T_EQ_INT(lnk_parse(key, LNK_SUB, tok, NULL, &back), -1);
    uint8_t other[LNK_KEY_LEN];
    memcpy(other, key, sizeof other);
    other[0] ^= 1;
    T_EQ_INT(lnk_parse(other, LNK_UNSUB, tok, NULL, &back), -1);
    size_t n = strlen(tok);
    char *cut = strndup(tok, n - 1);
    T_EQ_INT(lnk_parse(key, LNK_UNSUB, cut, NULL, &back), -1);
    for (size_t i = 0; i < n; i += 7) { /* any character changed */
        char *alt = strdup(tok);
        alt[i] = alt[i] == 'A' ? 'B' : 'A';
        T_EQ_INT(lnk_parse(key, LNK_UNSUB, alt, NULL, &back), -1);
        free(alt);
    }
    T_EQ_INT(lnk_parse(key, LNK_UNSUB, "", NULL, &back), -1);
    T_EQ_INT(lnk_parse(key, LNK_UNSUB, "!!!!", NULL, &back), -1);
    free(cut);
    free(tok);
    buf_free(&b);
}

TEST(links_click_tokens_are_bound_to_their_url) {
    lnk_token t = who(), back;
    t.kind = LNK_CLICK;
    t.link = 3;
    buf_t b = BUF_INIT;
    lnk_url(&b, "http://127.0.0.1:9", key, &t, "https://shop.example.com/a?b=1&c=d e");
    T_TRUE(strstr(b.data, "?u=https%3A%2F%2Fshop.example.com%2Fa%3Fb%3D1%26c%3Dd%20e") != NULL);
    char *tok = token_of(b.data);
    T_EQ_INT(lnk_parse(key, LNK_CLICK, tok, "https://shop.example.com/a?b=1&c=d e", &back), 0);
    T_EQ_INT(back.link, 3);
    /* the same token with another destination: no open redirect */
    T_EQ_INT(lnk_parse(key, LNK_CLICK, tok, "https://evil.example.net/", &back), -1);
    T_EQ_INT(lnk_parse(key, LNK_CLICK, tok, NULL, &back), -1);
    free(tok);
    buf_free(&b);
}

static char *rewrite(const char *html, bool opens, bool clicks) {
    lnk_token t = who();
    lnk_ctx c = {.base = "https://e.example.com", .key = key, .who = &t, .opens = opens, .clicks = clicks};
    buf_t b = BUF_INIT;
    lnk_rewrite(&c, html, strlen(html), &b);
    return buf_take(&b);
}

/* out with every tracked href put back to "X": what must equal the input
 * with its hrefs to X. */
static void untrack(char *s) {
    char *p;
    while ((p = strstr(s, "https://e.example.com/t/c/"))) {
        char *e = p + strcspn(p, "\"' >");
        *p = 'X';
        memmove(p + 1, e, strlen(e) + 1);
    }
}

TEST(links_rewrite_changes_only_hrefs) {
    const char *in = "<!doctype html><html><head><meta charset=\"iso-8859-1\"><title>Caf\xc3\xa9</title></head>"
                     "<body><p>H\xc3\xa9llo <a class=x HREF=\"https://shop.example.com/?a=1&amp;b=2\">shop</a>"
                     "<!-- <a href=\"https://in.comment/\">no</a> -->"
                     "<a href='https://q.example.com/x' title=\"a > b\">q</a> <a href=https://bare.example.com/>bare</a>"
                     "<a href=\"mailto:x@y.z\">mail</a> <a href=\"#top\">top</a>"
                     "<a href=\"https://e.example.com/t/u/abc\">unsub</a>"
                     "<a clicktracking=\"off\" href=\"https://off.example.com/\">off</a>"
                     "<map><area shape=rect href=\"http://area.example.com/\"></map>"
                     "<script>var s = '<a href=\"https://in.script/\">';</script></p></BODY></html>";
    char *out = rewrite(in, false, true);
    T_TRUE(strstr(out, "https://e.example.com/t/c/") != NULL);
    T_TRUE(strstr(out, "u=https%3A%2F%2Fshop.example.com%2F%3Fa%3D1%26b%3D2") != NULL); /* the decoded href */
    T_TRUE(strstr(out, "u=https%3A%2F%2Fbare.example.com%2F\"") != NULL);             /* quoted now */
    T_TRUE(strstr(out, "u=http%3A%2F%2Farea.example.com%2F") != NULL);
    T_TRUE(strstr(out, "https://in.comment/") && strstr(out, "https://in.script/")); /* not links */
    T_TRUE(strstr(out, "https://off.example.com/") && strstr(out, "mailto:x@y.z") && strstr(out, "https://e.example.com/t/u/abc"));
    untrack(out);
    const char *want = "<!doctype html><html><head><meta charset=\"iso-8859-1\"><title>Caf\xc3\xa9</title></head>"
                       "<body><p>H\xc3\xa9llo <a class=x HREF=\"X\">shop</a>"
                       "<!-- <a href=\"https://in.comment/\">no</a> -->"
                       "<a href='X' title=\"a > b\">q</a> <a href=\"X\">bare</a>"
                       "<a href=\"mailto:x@y.z\">mail</a> <a href=\"#top\">top</a>"
                       "<a href=\"https://e.example.com/t/u/abc\">unsub</a>"
                       "<a clicktracking=\"off\" href=\"https://off.example.com/\">off</a>"
                       "<map><area shape=rect href=\"X\"></map>"
                       "<script>var s = '<a href=\"https://in.script/\">';</script></p></BODY></html>";
    T_EQ_STR(out, want);
    free(out);
}

TEST(links_pixel_goes_before_the_body_end) {
    char *out = rewrite("<html><body><p>x</p></body></html>", true, false);
    char *img = strstr(out, "<img src=\"https://e.example.com/t/o/");
    T_TRUE(img != NULL);
    T_TRUE(strstr(img, "</body></html>") != NULL);
    T_TRUE(!strncmp(out, "<html><body><p>x</p><img", 24));
    free(out);
    out = rewrite("just text, no markup", true, true); /* a fragment: at the end */
    T_TRUE(!strncmp(out, "just text, no markup<img", 24));
    free(out);
}
