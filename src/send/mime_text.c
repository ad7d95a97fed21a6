/* mime_text.c -- the plain-text part of an email, from its HTML (see
 * mime_html_to_text in mime.h).
 *
 * Campaign HTML is whatever an editor or a partner's template produced:
 * unclosed tags, tables for layout, entities. libxml2's HTML parser reads
 * it the way browsers do (recovering, never failing), and the tree is then
 * walked into text the way a browser lays it out: whitespace runs are one
 * space, blocks start lines, paragraphs are apart by a blank line. The
 * walk is iterative, so a document nested thousands deep costs no stack. */
#include "mime.h"
#include "../lib/mem.h"
#include "../lib/str.h"
#include "../lib/utf8.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEWLINES 3 /* two blank lines */

typedef struct {
    buf_t *out;
    size_t start; /* where this text starts in out */
    int nl;       /* line breaks owed before the next text */
    bool space;   /* a collapsed space owed before the next text */
    int pre;      /* depth of <pre>: whitespace kept as it is */
} walk;

/* What the walk does with an element, found once per element (a row of
 * the table below, by length then bytes: comparing the name against every
 * row with strcmp, at entry and exit, was a tenth of a broadcast's CPU).
 * Block elements start a line; gap 2 ones are apart by a blank line, as
 * their default margins show them. Hidden ones are the document's head,
 * code and templates: not shown. */
enum { T_OTHER, T_BLOCK, T_LIST, T_HIDDEN, T_BR, T_PRE, T_CELL, T_A, T_LI };
typedef struct {
    const char *name;
    unsigned char len, kind, gap;
} tag;

static const tag tags[] = {
    {"p", 1, T_BLOCK, 2}, {"h1", 2, T_BLOCK, 2}, {"h2", 2, T_BLOCK, 2}, {"h3", 2, T_BLOCK, 2},
    {"h4", 2, T_BLOCK, 2}, {"h5", 2, T_BLOCK, 2}, {"h6", 2, T_BLOCK, 2}, {"blockquote", 10, T_BLOCK, 2},
    {"pre", 3, T_PRE, 2}, {"dl", 2, T_BLOCK, 2}, {"figure", 6, T_BLOCK, 2}, {"ul", 2, T_LIST, 2},
    {"ol", 2, T_LIST, 2}, {"div", 3, T_BLOCK, 1}, {"li", 2, T_LI, 1}, {"tr", 2, T_BLOCK, 1},
    {"table", 5, T_BLOCK, 1}, {"tbody", 5, T_BLOCK, 1}, {"thead", 5, T_BLOCK, 1}, {"tfoot", 5, T_BLOCK, 1},
    {"caption", 7, T_BLOCK, 1}, {"dt", 2, T_BLOCK, 1}, {"dd", 2, T_BLOCK, 1}, {"hr", 2, T_BLOCK, 1},
    {"address", 7, T_BLOCK, 1}, {"article", 7, T_BLOCK, 1}, {"aside", 5, T_BLOCK, 1}, {"center", 6, T_BLOCK, 1},
    {"details", 7, T_BLOCK, 1}, {"dialog", 6, T_BLOCK, 1}, {"fieldset", 8, T_BLOCK, 1},
    {"figcaption", 10, T_BLOCK, 1}, {"footer", 6, T_BLOCK, 1}, {"form", 4, T_BLOCK, 1},
    {"header", 6, T_BLOCK, 1}, {"main", 4, T_BLOCK, 1}, {"nav", 3, T_BLOCK, 1}, {"section", 7, T_BLOCK, 1},
    {"summary", 7, T_BLOCK, 1}, {"head", 4, T_HIDDEN, 0}, {"script", 6, T_HIDDEN, 0}, {"style", 5, T_HIDDEN, 0},
    {"title", 5, T_HIDDEN, 0}, {"template", 8, T_HIDDEN, 0}, {"br", 2, T_BR, 0}, {"td", 2, T_CELL, 0},
    {"th", 2, T_CELL, 0}, {"a", 1, T_A, 0},
};
static const tag other = {"", 0, T_OTHER, 0};

static const tag *tag_of(const xmlNode *n) {
    const char *name = (const char *)n->name;
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
        if (tags[i].len == len && !memcmp(tags[i].name, name, len)) return &tags[i];
    return &other;
}

static bool is_el(const xmlNode *n, const char *name) { return !strcmp((const char *)n->name, name); }

static int gap_of(const xmlNode *n, const tag *t) {
    /* a list inside a list has no margins */
    if (t->kind == T_LIST && n->parent && n->parent->type == XML_ELEMENT_NODE &&
        (is_el(n->parent, "li") || is_el(n->parent, "ul") || is_el(n->parent, "ol")))
        return 1;
    return t->gap;
}

/* Pays what is owed before text: line breaks (trailing spaces of the line
 * dropped, at most MAX_NEWLINES in a row) or one space. Nothing is owed at
 * the start of the text. */
static void flush(walk *w) {
    buf_t *o = w->out;
    if (w->nl) {
        while (o->len > w->start && o->data[o->len - 1] == ' ') o->data[--o->len] = '\0';
        int have = 0;
        while (o->len - (size_t)have > w->start && o->data[o->len - 1 - (size_t)have] == '\n') have++;
        if (o->len > w->start)
            for (int i = have; i < (w->nl < MAX_NEWLINES ? w->nl : MAX_NEWLINES); i++) buf_append(o, "\n", 1);
    } else if (w->space && o->len > w->start && o->data[o->len - 1] != ' ' && o->data[o->len - 1] != '\n') {
        buf_append(o, " ", 1);
    }
    w->nl = 0;
    w->space = false;
}

static void want_lines(walk *w, int n) {
    if (w->nl < n) w->nl = n;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

/* Text content: whitespace collapsed (kept inside <pre>), U+00A0 a space
 * that does not collapse. */
static void put_text(walk *w, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        if (w->pre && (s[i] == '\n' || s[i] == '\r')) {
            if (s[i] == '\n') w->nl++;
            i++;
        } else if (!w->pre && is_ws(s[i])) {
            w->space = true;
            i++;
        } else if ((unsigned char)s[i] == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) {
            flush(w);
            buf_append(w->out, " ", 1);
            i += 2;
        } else {
            size_t j = i;
            while (j < n && !is_ws(s[j]) && (unsigned char)s[j] != 0xC2) j++;
            if (j == i) j++; /* a 0xC2 that is not U+00A0 */
            if (w->pre)
                while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
            flush(w);
            buf_append(w->out, s + i, j - i);
            i = j;
        }
    }
}

static bool linkable(const char *u) {
    size_t n = strlen(u);
    return (n > 7 && str_ieq(u, 7, "http://")) || (n > 8 && str_ieq(u, 8, "https://")) ||
           (n > 7 && str_ieq(u, 7, "mailto:"));
}

/* Whether a link's label already says where it goes: the address itself,
 * without "mailto:" or a trailing '/'. */
static bool says_href(const char *label, size_t n, const char *href) {
    if (str_ieq(href, strnlen(href, 7), "mailto:")) href += 7;
    size_t h = strlen(href);
    if (h && href[h - 1] == '/') h--;
    if (n && label[n - 1] == '/') n--;
    return n == h && !memcmp(label, href, n);
}

/* After a link's content: " (href)" when the label does not say it, the
 * bare address when there is no label (a linked image). The label is what
 * the link wrote since mark. */
static void end_link(walk *w, xmlNode *a) {
    size_t mark = (size_t)(uintptr_t)a->_private - 1;
    xmlChar *prop = xmlGetProp(a, (const xmlChar *)"href");
    if (!prop) return;
    const char *href = (const char *)prop;
    size_t hn = strlen(href);
    while (hn && is_ws(href[hn - 1])) hn--;
    while (hn && is_ws(*href)) href++, hn--;
    char *u = xstrndup(href, hn);
    size_t ln = w->out->len > mark ? w->out->len - mark : 0;
    const char *label = ln ? w->out->data + mark : "";
    while (ln && is_ws(*label)) label++, ln--;
    if (linkable(u) && !says_href(label, ln, u)) {
        if (ln) {
            w->space = true;
            put_text(w, "(", 1);
            put_text(w, u, hn);
            put_text(w, ")", 1);
        } else {
            put_text(w, u, hn);
        }
    }
    free(u);
    xmlFree(prop);
}

/* Entering element n: false when its content is not shown. */
static bool enter(walk *w, xmlNode *n) {
    const tag *t = tag_of(n);
    if (t->kind == T_HIDDEN) return false;
    if (t->kind == T_BR) {
        w->nl++;
        return false;
    }
    int gap = gap_of(n, t);
    if (gap) want_lines(w, gap);
    if (t->kind == T_PRE) w->pre++;
    if (t->kind == T_CELL) w->space = true;
    if (t->kind == T_A) {
        flush(w);
        n->_private = (void *)(uintptr_t)(w->out->len + 1);
    }
    if (t->kind == T_LI) {
        xmlNode *list = n->parent;
        if (list && list->type == XML_ELEMENT_NODE && is_el(list, "ol")) {
            /* the <ol> counts its items in _private */
            list->_private = (void *)((uintptr_t)list->_private + 1);
            char num[32];
            int k = snprintf(num, sizeof num, "%lu. ", (unsigned long)(uintptr_t)list->_private);
            put_text(w, num, (size_t)k - 1);
        } else {
            put_text(w, "-", 1);
        }
        w->space = true;
    }
    return true;
}

static void leave(walk *w, xmlNode *n) {
    const tag *t = tag_of(n);
    if (t->kind == T_HIDDEN || t->kind == T_BR) return;
    int gap = gap_of(n, t);
    if (gap) want_lines(w, gap);
    if (t->kind == T_PRE) w->pre--;
    if (t->kind == T_CELL) w->space = true;
    if (t->kind == T_A && n->_private) end_link(w, n);
}

static void walk_tree(walk *w, xmlNode *root) {
    xmlNode *n = root;
    while (n) {
        bool down = true;
        if (n->type == XML_ELEMENT_NODE) down = enter(w, n);
        else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) put_text(w, (const char *)n->content, strlen((const char *)n->content));
        }
        if (down && n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        /* done with n: leave it and every ancestor it was the last child of */
        for (;;) {
            if (n->type == XML_ELEMENT_NODE) leave(w, n);
            if (n == root) return;
            if (n->next) {
                n = n->next;
                break;
            }
            n = n->parent;
        }
    }
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

void mime_xml_init(void) { pthread_once(&xml_once, xmlInitParser); }

void mime_html_to_text(const char *html, size_t n, buf_t *out) {
    if (!n) return;
    mime_xml_init();
    buf_t fixed = BUF_INIT;
    if (!utf8_valid(html, n, NULL)) {
        utf8_repair(&fixed, html, n);
        html = fixed.data;
        n = fixed.len;
    }
    if (n > INT_MAX) n = INT_MAX; /* libxml2 takes an int; no email is that large */
    htmlDocPtr doc = htmlReadMemory(html, (int)n, NULL, "UTF-8",
                                    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_RECOVER);
    buf_free(&fixed);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (root) {
        walk w = {out, out->len, 0, false, 0};
        walk_tree(&w, root);
        while (out->len > w.start && is_ws(out->data[out->len - 1])) out->data[--out->len] = '\0';
        if (out->len > w.start) buf_append(out, "\n", 1);
    }
    xmlFreeDoc(doc);
}
