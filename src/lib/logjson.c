/* logjson.c -- a log message as one JSON object (see logjson.h).
 *
 * One pass over the message writes msg while it collects the pairs, then
 * the pairs follow. Writing goes into a fixed buffer and stops at the first
 * piece that does not fit: a string is cut between characters (never inside
 * an escape or a UTF-8 sequence), a key or a number is taken back whole, and
 * room is kept for the closing quote, ,"truncated":true, '}' and '\n', so
 * the cut line is still one valid object. */
#include "logjson.h"
#include "str.h"
#include "utf8.h"

#include <string.h>

#define MAX_PAIRS 64
#define MAX_MODULE 32
/* '"' + ,"truncated":true + '}' + '\n' */
#define TAIL_ROOM 20

typedef struct {
    char *p;
    size_t len, cap; /* cap leaves TAIL_ROOM below LOG_LINE_MAX */
    bool full;       /* something did not fit: nothing more is written */
} writer;

typedef struct {
    const char *k, *v;
    size_t kn, vn;
    bool quoted;
} pair;

static bool put(writer *w, const void *s, size_t n) {
    if (w->full || n > w->cap - w->len) {
        w->full = true;
        return false;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    return true;
}

/* For what TAIL_ROOM keeps room for: past cap, once w is full. */
static void put_tail(writer *w, const char *s) {
    size_t n = strlen(s);
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

/* A string's closing quote, in cap or else in TAIL_ROOM (only one string is
 * ever open). */
static void close_quote(writer *w) {
    if (!put(w, "\"", 1)) put_tail(w, "\"");
}

/* s[0..n) escaped as the inside of a JSON string, until it no longer fits;
 * with unquote, \" and \\ stand for " and \. */
static void put_text(writer *w, const char *s, size_t n, bool unquote) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n && !w->full;) {
        if (unquote && u[i] == '\\' && i + 1 < n && (u[i + 1] == '"' || u[i + 1] == '\\')) i++;
        if (u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' && u[i] != '\\') {
            size_t run = i + 1; /* plain ASCII goes in runs */
            while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\') run++;
            size_t room = w->cap - w->len;
            if (run - i > room) {
                put(w, s + i, room);
                w->full = true;
                return;
            }
            put(w, s + i, run - i);
            i = run;
        } else if (u[i] < 0x80) {
            char esc[STR_JSON_MAX(1)];
            put(w, esc, str_json_escape(esc, s + i, 1));
            i++;
        } else {
            int32_t cp;
            size_t len = utf8_decode(u + i, n - i, &cp);
            if (len) put(w, s + i, len);
            else put(w, "\xEF\xBF\xBD", 3); /* U+FFFD for each invalid byte */
            i += len ? len : 1;
        }
    }
}

static bool is_key_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_key_char(char c) { return is_key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

/* The word at s[i..n) (s[i] is not a space) as a pair; *end gets where the
 * word ends. False when it is not key=value. */
static bool pair_at(const char *s, size_t n, size_t i, pair *p, size_t *end) {
    size_t j = i;
    if (!is_key_start(s[j])) return false;
    while (j < n && is_key_char(s[j])) j++;
    if (j >= n || s[j] != '=') return false;
    p->k = s + i;
    p->kn = j - i;
    j++;
    p->quoted = j < n && s[j] == '"';
    if (!p->quoted) {
        size_t e = j;
        while (e < n && s[e] != ' ') e++;
        p->v = s + j;
        p->vn = e - j;
        *end = e;
        return true;
    }
    /* The closing quote is the first unescaped one before a space or the
     * end: a value logged without escaping ("a"b") still reads whole. */
    size_t e = j + 1;
    while (e < n && !(s[e] == '"' && (e + 1 == n || s[e + 1] == ' '))) e += s[e] == '\\' && e + 1 < n ? 2 : 1;
    p->v = s + j + 1;
    p->vn = (e < n ? e : n) - (j + 1);
    *end = e < n ? e + 1 : n;
    return true;
}

static bool keyeq(const char *k, size_t kn, const char *lit) { return strlen(lit) == kn && !memcmp(k, lit, kn); }

/* Whether a pair may be a field of its own: not a name the line already
 * has, not a repeat, and room in the table. */
static bool acceptable(const pair *p, const pair *seen, int nseen) {
    static const char *const reserved[] = {"time", "level", "module", "msg", "truncated"};
    for (size_t r = 0; r < sizeof reserved / sizeof *reserved; r++)
        if (keyeq(p->k, p->kn, reserved[r])) return false;
    for (int i = 0; i < nseen; i++)
        if (seen[i].kn == p->kn && !memcmp(seen[i].k, p->k, p->kn)) return false;
    return nseen < MAX_PAIRS;
}

/* -?(0|[1-9][0-9]{0,14}): what a shipper reads back exactly as a number. */
static bool plain_int(const char *v, size_t n) {
    size_t i = n && v[0] == '-' ? 1 : 0, d = n - i;
    if (d == 0 || d > 15 || (v[i] == '0' && d > 1)) return false;
    for (; i < n; i++)
        if (v[i] < '0' || v[i] > '9') return false;
    return true;
}

static bool is_module_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '_' || c == '-'));
}

/* The length of the module word at the start of s, or 0. */
static size_t module_len(const char *s, size_t n) {
    size_t w = 0;
    while (w < n && w <= MAX_MODULE && is_module_char(s[w], w == 0)) w++;
    if (w == 0 || w > MAX_MODULE || w >= n) return 0;
    if (s[w] == ':' && (w + 1 == n || s[w + 1] == ' ')) return w;
    pair p;
    size_t e, j = w;
    while (j < n && s[j] == ' ') j++;
    return j > w && j < n && pair_at(s, n, j, &p, &e) ? w : 0;
}

size_t logjson_line(char *out, const char *ts, const char *level, const char *msg, size_t n, bool cut) {
    writer w = {out, 0, LOG_LINE_MAX - TAIL_ROOM, false};
    put(&w, "{\"time\":\"", 9);
    put(&w, ts, strlen(ts));
    put(&w, "\",\"level\":\"", 11);
    put(&w, level, strlen(level));
    put(&w, "\"", 1);
    size_t i = 0, mod = module_len(msg, n);
    if (mod) {
        put(&w, ",\"module\":\"", 11);
        put(&w, msg, mod);
        put(&w, "\"", 1);
        i = mod + (msg[mod] == ':');
    }

    put(&w, ",\"msg\":\"", 8);
    pair pairs[MAX_PAIRS];
    int np = 0;
    bool any = false, after_pair = false;
    while (i < n && !w.full) {
        size_t gap = i;
        while (i < n && msg[i] == ' ') i++;
        if (i >= n) break;
        pair p;
        size_t end;
        bool is_pair = pair_at(msg, n, i, &p, &end);
        if (is_pair && acceptable(&p, pairs, np)) {
            pairs[np++] = p;
            after_pair = true;
            i = end;
            continue;
        }
        if (!is_pair)
            for (end = i; end < n && msg[end] != ' ';) end++;
        /* Free text keeps its own spacing; where a pair was taken out, one
         * space. */
        if (any && after_pair) put(&w, " ", 1);
        else if (any) put_text(&w, msg + gap, i - gap, false);
        put_text(&w, msg + i, end - i, false);
        any = true;
        after_pair = false;
        i = end;
    }
    close_quote(&w);

    for (int k = 0; k < np && !w.full; k++) {
        size_t mark = w.len;
        bool ok = put(&w, ",\"", 2) && put(&w, pairs[k].k, pairs[k].kn) && put(&w, "\":", 2);
        if (ok && !pairs[k].quoted && plain_int(pairs[k].v, pairs[k].vn)) {
            ok = put(&w, pairs[k].v, pairs[k].vn);
        } else if (ok && put(&w, "\"", 1)) {
            put_text(&w, pairs[k].v, pairs[k].vn, pairs[k].quoted);
            close_quote(&w);
        } else {
            ok = false;
        }
        if (!ok) w.len = mark;
    }
    if (cut || w.full) put_tail(&w, ",\"truncated\":true");
    put_tail(&w, "}\n");
    return w.len;
}
