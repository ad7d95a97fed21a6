/* relin.c -- a Thompson-NFA regex engine (see relin.h).
 *
 * pattern --parse--> tree --compile--> program --simulate--> match.
 * The simulation keeps the set of program counters alive at the current
 * byte; each byte moves every state at most once, so the work per byte is
 * bounded by the program size, which compile() caps. */
#include "relin.h"
#include "mem.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tree ---------------------------------------------------------------- */

enum { N_EMPTY, N_CLASS, N_BOL, N_EOL, N_CAT, N_ALT, N_REP };

typedef struct {
    int type;
    int a, b;         /* children (node indexes) */
    int min, max;     /* N_REP; max -1 = unbounded */
    uint8_t cls[32];  /* N_CLASS: bytes accepted */
} node;

typedef struct {
    const char *p;
    node *n;
    int nn, cap;
    char *why;
    size_t whylen;
    bool err;
} parser;

static int fail(parser *ps, const char *msg) {
    if (!ps->err) snprintf(ps->why, ps->whylen, "%s", msg);
    ps->err = true;
    return -1;
}

static int mk(parser *ps, int type, int a, int b) {
    if (ps->nn == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 64;
        ps->n = xrealloc(ps->n, (size_t)ps->cap * sizeof *ps->n);
    }
    node *x = &ps->n[ps->nn];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->a = a;
    x->b = b;
    return ps->nn++;
}

static void set(uint8_t *c, int ch) { c[ch >> 3] |= (uint8_t)(1u << (ch & 7)); }
static bool has(const uint8_t *c, int ch) { return c[ch >> 3] >> (ch & 7) & 1; }

static void fold(uint8_t *c) {
    for (int ch = 'a'; ch <= 'z'; ch++)
        if (has(c, ch) || has(c, ch - 32)) set(c, ch), set(c, ch - 32);
}

/* \d \w \s (and capitals: complements) into c; false if not one. */
static bool perl_class(int e, uint8_t *c) {
    uint8_t t[32] = {0};
    int lo = tolower(e);
    if (lo != 'd' && lo != 'w' && lo != 's') return false;
    for (int ch = 0; ch < 256; ch++) {
        bool in = lo == 'd' ? (ch >= '0' && ch <= '9')
                  : lo == 'w' ? (isalnum(ch) && ch < 128) || ch == '_'
                              : ch == ' ' || (ch >= '\t' && ch <= '\r');
        if (in != (e != lo)) set(t, ch);
    }
    for (int i = 0; i < 32; i++) c[i] |= t[i];
    return true;
}

static int control_escape(int e) {
    switch (e) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    }
    return -1;
}

/* An escaped byte (after '\'); -1 with an error set when not allowed. */
static int escaped_literal(parser *ps, int e) {
    if (e >= '1' && e <= '9') return fail(ps, "backreferences (\\1...) are not supported: they cannot be matched in linear time");
    int c = control_escape(e);
    if (c >= 0) return c;
    if (e == 'b' || e == 'B') return fail(ps, "word boundaries (\\b, \\B) are not supported");
    if (isalnum(e) || !e) return fail(ps, "unknown escape sequence");
    return e;
}

static int parse_alt(parser *ps);

static int parse_class(parser *ps) {
    int x = mk(ps, N_CLASS, -1, -1);
    uint8_t c[32] = {0};
    bool neg = false;
    ps->p++; /* '[' */
    if (*ps->p == '^') neg = true, ps->p++;
    bool first = true;
    while (*ps->p && (*ps->p != ']' || first)) {
        first = false;
        int lo = (unsigned char)*ps->p++;
        if (lo == '\\') {
            int e = (unsigned char)*ps->p;
            if (!e) break;
            ps->p++;
            if (perl_class(e, c)) continue;
            if ((lo = escaped_literal(ps, e)) < 0) return -1;
        }
        int hi = lo;
        if (ps->p[0] == '-' && ps->p[1] && ps->p[1] != ']') {
            ps->p++;
            hi = (unsigned char)*ps->p++;
            if (hi == '\\') {
                int e = (unsigned char)*ps->p;
                if (!e) break;
                ps->p++;
                if ((hi = escaped_literal(ps, e)) < 0) return -1;
            }
            if (hi < lo) return fail(ps, "invalid range in a character class (end before start)");
        }
        for (int ch = lo; ch <= hi; ch++) set(c, ch);
    }
    if (*ps->p != ']') return fail(ps, "unterminated character class: missing ']'");
    ps->p++;
    fold(c);
    for (int i = 0; i < 32; i++) ps->n[x].cls[i] = neg ? (uint8_t)~c[i] : c[i];
    return x;
}

static int parse_atom(parser *ps) {
    int ch = (unsigned char)*ps->p;
    if (ch == '(') {
        ps->p++;
        if (*ps->p == '?') {
            if (ps->p[1] != ':') return fail(ps, "lookaround and (?...) groups are not supported (only (?:...))");
            ps->p += 2;
        }
        int x = parse_alt(ps);
        if (x < 0) return -1;
        if (*ps->p != ')') return fail(ps, "unbalanced parenthesis: missing ')'");
        ps->p++;
        return x;
    }
    if (ch == '[') return parse_class(ps);
    if (ch == '*' || ch == '+' || ch == '?' || ch == '{') return fail(ps, "a repetition operator has nothing to repeat");
    ps->p++;
    if (ch == '^') return mk(ps, N_BOL, -1, -1);
    if (ch == '$') return mk(ps, N_EOL, -1, -1);
    int x = mk(ps, N_CLASS, -1, -1);
    uint8_t *c = ps->n[x].cls;
    if (ch == '.') {
        memset(c, 0xff, 32);
        return x;
    }
    if (ch == '\\') {
        int e = (unsigned char)*ps->p;
        if (e) ps->p++;
        if (perl_class(e, c)) return x;
        if ((ch = escaped_literal(ps, e)) < 0) return -1;
    }
    set(c, ch);
    fold(c);
    return x;
}

static int number(parser *ps, int *v) {
    if (!isdigit((unsigned char)*ps->p)) return -1;
    long n = 0;
    while (isdigit((unsigned char)*ps->p)) {
        n = n * 10 + (*ps->p++ - '0');
        if (n > 1000) n = 1001;
    }
    *v = (int)n;
    return 0;
}

static int parse_rep(parser *ps) {
    int x = parse_atom(ps);
    while (x >= 0) {
        int ch = *ps->p, min, max;
        if (ch == '*') min = 0, max = -1;
        else if (ch == '+') min = 1, max = -1;
        else if (ch == '?') min = 0, max = 1;
        else if (ch == '{') {
            ps->p++;
            if (number(ps, &min) < 0) return fail(ps, "invalid repetition: expected {m}, {m,} or {m,n}");
            max = min;
            if (*ps->p == ',') {
                ps->p++;
                max = -1;
                if (*ps->p != '}' && number(ps, &max) < 0) return fail(ps, "invalid repetition: expected {m}, {m,} or {m,n}");
            }
            if (*ps->p != '}') return fail(ps, "invalid repetition: expected {m}, {m,} or {m,n}");
            if ((max >= 0 && max < min)) return fail(ps, "invalid repetition: {m,n} with n < m");
            if (min > 100 || max > 100) return fail(ps, "repetition counts above 100 are not supported");
        } else break;
        ps->p++;
        int r = mk(ps, N_REP, x, -1);
        ps->n[r].min = min;
        ps->n[r].max = max;
        x = r;
    }
    return x;
}

static int parse_cat(parser *ps) {
    int x = mk(ps, N_EMPTY, -1, -1);
    while (*ps->p && *ps->p != '|' && *ps->p != ')') {
        int y = parse_rep(ps);
        if (y < 0) return -1;
        x = mk(ps, N_CAT, x, y);
    }
    return x;
}

static int parse_alt(parser *ps) {
    int x = parse_cat(ps);
    while (x >= 0 && *ps->p == '|') {
        ps->p++;
        int y = parse_cat(ps);
        if (y < 0) return -1;
        x = mk(ps, N_ALT, x, y);
    }
    return x;
}

/* ---- program ------------------------------------------------------------- */

enum { I_CLASS, I_SPLIT, I_JMP, I_BOL, I_EOL, I_MATCH };

typedef struct {
    uint8_t op;
    int x, y;
    uint8_t cls[32];
} instr;

struct relin {
    instr *prog;
    int n;
};

typedef struct {
    const node *t;
    instr *prog;
    int n;
    bool over;
} compiler;

static int emit(compiler *c, int op) {
    if (c->n >= RELIN_MAX_STATES) {
        c->over = true;
        return RELIN_MAX_STATES - 1; /* keep writing in bounds; the result is discarded */
    }
    memset(&c->prog[c->n], 0, sizeof *c->prog);
    c->prog[c->n].op = (uint8_t)op;
    return c->n++;
}

static void gen(compiler *c, int i) {
    if (c->over) return;
    const node *x = &c->t[i];
    int l;
    switch (x->type) {
    case N_EMPTY: break;
    case N_CLASS:
        l = emit(c, I_CLASS);
        memcpy(c->prog[l].cls, x->cls, 32);
        break;
    case N_BOL: emit(c, I_BOL); break;
    case N_EOL: emit(c, I_EOL); break;
    case N_CAT:
        gen(c, x->a);
        gen(c, x->b);
        break;
    case N_ALT: {
        int s = emit(c, I_SPLIT);
        c->prog[s].x = c->n;
        gen(c, x->a);
        int j = emit(c, I_JMP);
        c->prog[s].y = c->n;
        gen(c, x->b);
        c->prog[j].x = c->n;
        break;
    }
    case N_REP:
        for (int k = 0; k < x->min && !c->over; k++) gen(c, x->a);
        if (x->max < 0) {
            int s = emit(c, I_SPLIT);
            c->prog[s].x = c->n;
            gen(c, x->a);
            int j = emit(c, I_JMP);
            c->prog[j].x = s;
            c->prog[s].y = c->n;
        } else {
            for (int k = x->min; k < x->max && !c->over; k++) {
                int s = emit(c, I_SPLIT);
                c->prog[s].x = c->n;
                gen(c, x->a);
                c->prog[s].y = c->n;
            }
        }
        break;
    }
}

relin_t *relin_compile(const char *pattern, char *why, size_t whylen) {
    if (strlen(pattern) > RELIN_MAX_PATTERN) {
        snprintf(why, whylen, "the pattern is longer than %d bytes", RELIN_MAX_PATTERN);
        return NULL;
    }
    parser ps = {.p = pattern, .why = why, .whylen = whylen};
    int root = parse_alt(&ps);
    if (root >= 0 && *ps.p == ')') root = fail(&ps, "unbalanced parenthesis: unexpected ')'");
    if (root < 0) {
        free(ps.n);
        return NULL;
    }
    compiler c = {.t = ps.n, .prog = xmalloc(RELIN_MAX_STATES * sizeof(instr))};
    gen(&c, root);
    emit(&c, I_MATCH);
    free(ps.n);
    if (c.over) {
        free(c.prog);
        snprintf(why, whylen, "the pattern is too costly: more than %d states once repetitions are expanded",
                 RELIN_MAX_STATES);
        return NULL;
    }
    relin_t *re = xmalloc(sizeof *re);
    re->prog = xrealloc(c.prog, (size_t)c.n * sizeof(instr));
    re->n = c.n;
    return re;
}

size_t relin_states(const relin_t *re) { return (size_t)re->n; }

void relin_free(relin_t *re) {
    if (!re) return;
    free(re->prog);
    free(re);
}

/* ---- simulation ---------------------------------------------------------- */

typedef struct {
    int *pc;
    int n;
} tlist;

/* Adds pc and every state reachable from it without consuming a byte.
 * mark[] holds the step number a state was last added at, so each state is
 * added once per step (this also ends empty loops such as (a*)*). Returns
 * true when MATCH is reachable. */
static bool add(const relin_t *re, tlist *l, int pc0, size_t pos, size_t n, unsigned *mark, unsigned step, int *stack) {
    int sp = 0;
    stack[sp++] = pc0;
    bool matched = false;
    while (sp) {
        int pc = stack[--sp];
        if (mark[pc] == step) continue;
        mark[pc] = step;
        const instr *in = &re->prog[pc];
        switch (in->op) {
        case I_JMP: stack[sp++] = in->x; break;
        case I_SPLIT:
            stack[sp++] = in->y;
            stack[sp++] = in->x;
            break;
        case I_BOL:
            if (pos == 0) stack[sp++] = pc + 1;
            break;
        case I_EOL:
            if (pos == n) stack[sp++] = pc + 1;
            break;
        case I_MATCH: matched = true; break;
        case I_CLASS: l->pc[l->n++] = pc; break;
        }
    }
    return matched;
}

bool relin_match(const relin_t *re, const char *s, size_t n) {
    int small[2][64], stk[2 * 64 + 8];
    unsigned smark[64];
    bool heap = re->n > 64;
    int *a = heap ? xmalloc(sizeof(int) * ((size_t)re->n * 4 + 8)) : small[0];
    int *b = heap ? a + re->n : small[1];
    int *stack = heap ? a + 2 * re->n : stk; /* 2n + 1 pushes at most per add() */
    unsigned *mark = heap ? xcalloc((size_t)re->n, sizeof *mark) : smark;
    if (!heap) memset(smark, 0, sizeof smark);
    tlist cur = {a, 0}, next = {b, 0};
    unsigned step = 1;
    bool matched = add(re, &cur, 0, 0, n, mark, step, stack);
    for (size_t i = 0; i < n && !matched; i++) {
        unsigned char ch = (unsigned char)s[i];
        step++;
        next.n = 0;
        for (int k = 0; k < cur.n && !matched; k++) {
            const instr *in = &re->prog[cur.pc[k]];
            if (has(in->cls, ch)) matched = add(re, &next, cur.pc[k] + 1, i + 1, n, mark, step, stack);
        }
        /* A search: a match may also start at the next byte. */
        if (!matched) matched = add(re, &next, 0, i + 1, n, mark, step, stack);
        tlist t = cur;
        cur = next;
        next = t;
    }
    if (heap) {
        free(a);
        free(mark);
    }
    return matched;
}
