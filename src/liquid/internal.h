/* internal.h -- types shared by the files of the Liquid engine (not public).
 *
 * The pipeline is: lexer.c cuts the source into text, output and tag tokens
 * and tokenises markup; parser.c and expr.c build the tree below;
 * render.c/eval.c walk it against a liq_ctx; filters*.c implement filters;
 * tags_braze.c the Braze tags; value.c/num.c the Ruby-compatible value
 * semantics Liquid inherits (truthiness, ==, <=>, to_s, Integer vs
 * BigDecimal arithmetic); datetime.c and tz.c the date support. */
#ifndef LIQ_INTERNAL_H
#define LIQ_INTERNAL_H
#include "liquid.h"

#include <stdarg.h>

/* memmem without relying on _GNU_SOURCE. */
static inline const char *liq_memmem(const char *h, size_t hn, const char *nd, size_t nn) {
    if (nn == 0) return h;
    while (hn >= nn) {
        const char *q = (const char *)__builtin_memchr(h, nd[0], hn - nn + 1);
        if (!q) return NULL;
        if (__builtin_memcmp(q, nd, nn) == 0) return q;
        hn -= (size_t)(q - h) + 1;
        h = q + 1;
    }
    return NULL;
}

/* ------------------------------------------------------------------ arena */

typedef struct liq_chunk liq_chunk;

/* Bump allocator. Everything a compile or a render allocates lives here and
 * goes at once; `limit` bounds the bytes asked for since the last reset (a
 * grown block counts its growth; copies left behind by growth at most
 * double the real footprint) so a template cannot grow memory without
 * bound: past it, allocation returns NULL. */
typedef struct {
    liq_chunk *cur;   /* chunk being filled; older ones follow via ->next */
    size_t used;      /* bytes accounted since reset */
    size_t limit;     /* 0: unlimited */
    size_t chunk;     /* usual chunk size */
} liq_arena;

void liq_arena_init(liq_arena *a, size_t limit, size_t chunk);
void *liq_arena_alloc(liq_arena *a, size_t n);
/* Extends the most recent allocation p (old bytes) to n bytes in place when
 * possible, else copies it; NULL when over the limit. */
void *liq_arena_grow(liq_arena *a, void *p, size_t old, size_t n);
char *liq_arena_dup(liq_arena *a, const char *s, size_t n);
/* Forgets every allocation; keeps one chunk for the next use. */
void liq_arena_reset(liq_arena *a);
void liq_arena_free(liq_arena *a);

/* ----------------------------------------------------------------- values */

enum {
    LV_NIL,
    LV_BOOL,
    LV_INT,
    LV_FLOAT,
    LV_STR,
    LV_ARR,     /* array built during the render (arena) */
    LV_JSON,    /* json object or array from the context or connected_content */
    LV_RANGE,
    LV_TIME,
    LV_EMPTY,   /* the `empty` literal */
    LV_BLANK,   /* the `blank` literal */
    LV_LOOP,    /* forloop / tablerowloop drop */
};

typedef struct liq_time {
    int64_t sec;     /* since the epoch, UTC */
    int32_t nsec;
    int32_t off;     /* seconds east of UTC */
    bool utc;        /* Ruby's Time#utc?: prints "UTC" instead of "+0000" */
    char abbr[15];   /* zone abbreviation for %Z */
} liq_time;

struct liq_frame;

typedef struct liq_val {
    uint8_t t;
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s;
        struct { struct liq_val *v; size_t n; } a;
        json_object *j;
        struct { int64_t lo, hi; } r;
        const liq_time *tm;
        const struct liq_frame *loop;
    } u;
} liq_val;

#define LIQ_NIL ((liq_val){.t = LV_NIL})

static inline liq_val liq_str(const char *p, size_t n) {
    liq_val v = {.t = LV_STR};
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}
static inline liq_val liq_int(int64_t i) {
    liq_val v = {.t = LV_INT};
    v.u.i = i;
    return v;
}
static inline liq_val liq_float(double f) {
    liq_val v = {.t = LV_FLOAT};
    v.u.f = f;
    return v;
}
static inline liq_val liq_bool(bool b) {
    liq_val v = {.t = LV_BOOL};
    v.u.b = b;
    return v;
}

/* ------------------------------------------------------------------- tree */

typedef struct liq_expr liq_expr;
typedef struct liq_node liq_node;
typedef struct liq_filter_def liq_filter_def;

enum { SEG_KEY, SEG_INDEX, SEG_EXPR };

typedef struct {
    uint8_t kind;
    bool dot;          /* written .name: size/first/last apply */
    const char *key;   /* SEG_KEY, NUL-terminated */
    size_t klen;
    unsigned long jhash; /* json-c's hash of key (liq_json_hash) */
    int64_t idx;       /* SEG_INDEX */
    liq_expr *e;       /* SEG_EXPR */
} liq_seg;

typedef struct {
    const liq_filter_def *def;
    uint32_t pos;
    int nargs;
    liq_expr **args;
    const char **kw;   /* kw[i]: keyword of args[i], or NULL */
    size_t *kwlen;
} liq_fcall;

enum { EX_LIT, EX_VAR, EX_RANGE, EX_FILTERED, EX_BLOCK };

/* EX_VAR flags */
#define VAR_CTX 1      /* ${...} form: straight to the user object, never a local */
/* EX_RANGE flags */
#define RANGE_LIT 2    /* both bounds are literals: Liquid applies to_i ((1.5..4.2) is 1..4) */

struct liq_expr {
    uint8_t kind;
    uint8_t flags;
    uint32_t pos;
    union {
        liq_val lit;
        struct {
            const char *name;     /* name as locals see it */
            uint32_t len, hash;
            const char *cname;    /* name in the context object */
            uint32_t clen;
            unsigned long cjhash; /* json-c's hash of cname */
            uint32_t nseg;
            liq_seg *seg;
        } var;
        struct { liq_expr *lo, *hi; } range;
        struct { liq_expr *base; int nf; liq_fcall *f; } filt;
        struct { const char *name; size_t len; } block;
    } u;
};

enum { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_CONTAINS };
enum { C_EXPR, C_CMP, C_AND, C_OR };

typedef struct liq_cond {
    uint8_t kind, op;
    uint32_t pos;
    liq_expr *l, *r;             /* C_EXPR: l; C_CMP: l op r */
    struct liq_cond *a, *b;      /* C_AND / C_OR: a and/or b */
} liq_cond;

typedef struct {
    liq_node **n;
    uint32_t count;
} liq_body;

typedef struct {
    liq_cond *cond;   /* NULL: else */
    bool negate;      /* the first branch of unless */
    liq_body body;
} liq_branch;

typedef struct {
    liq_expr **vals;
    int nv;
    bool is_else;     /* an {% else %} block (vals unused) */
    liq_body body;
} liq_when;

typedef struct liq_cc liq_cc;  /* connected_content (tags_braze.c) */

/* N_RAW prints like N_TEXT and N_NOP (a comment) prints nothing, but both
 * are tags as far as a pending break is concerned (liq_render_body). */
enum {
    N_TEXT, N_OUTPUT, N_IF, N_CASE, N_FOR, N_TABLEROW, N_ASSIGN, N_CAPTURE, N_INCR, N_DECR,
    N_CYCLE, N_BREAK, N_CONTINUE, N_IFCHANGED, N_ABORT, N_CC, N_BLOCK, N_RAW, N_NOP,
};

typedef struct {
    const char *p;
    uint32_t len, hash;
} liq_name;

struct liq_node {
    uint8_t kind;
    uint32_t pos;
    union {
        struct { const char *p; size_t n; } text;
        liq_expr *out;
        struct { liq_branch *b; int nb; } ifs;
        struct { liq_expr *subject; liq_when *w; int nw; } cas;
        struct {
            liq_name var;
            liq_expr *coll, *limit, *offset, *cols;
            bool reversed, offset_continue;
            const char *reg;      /* "var-collection" key for offset:continue */
            size_t reglen;
            liq_body body;
            liq_body *els;
        } loop;
        struct { liq_name var; liq_expr *val; } assign;
        struct { liq_name var; liq_body body; } capture;
        liq_name counter;
        struct { const char *key; size_t klen; liq_expr *group; liq_expr **vals; int nv; } cycle;
        liq_body ifchanged;
        struct { const char *reason; size_t len; } abort;
        liq_cc *cc;
        struct { const char *name; size_t len; } block;
    } u;
};

struct liq_template {
    char *src;        /* NUL-terminated copy; tokens and literals point into it */
    size_t len;
    liq_arena arena;  /* the tree */
    liq_body body;
};

/* ------------------------------------------------------------ render state */

/* A for or tablerow loop in progress (on the C stack). */
typedef struct liq_frame {
    liq_name var;
    liq_val item;
    bool tablerow;
    int64_t index0, length, cols;
    const char *lname;   /* forloop.name */
    size_t lnamelen;
    struct liq_frame *parent;
} liq_frame;

typedef struct {
    const char *name;
    uint32_t len, hash, gen;
    liq_val v;
} liq_slot;

/* Open-addressing name -> value table; `gen` makes reset O(1). */
typedef struct {
    liq_slot *s;
    uint32_t cap, count, gen;
} liq_table;

typedef struct liq_blockc liq_blockc;  /* compiled content block cache entry */

struct liq_renderer {
    liq_arena arena;
    char *out;
    size_t len, cap;
    liq_table vars, counters, regs, cycles, roots;
    buf_t fetched;
    liq_blockc *blocks;      /* content block cache */
    int nblocks;
    uint64_t renders;        /* render counter, for the cache's LRU */
    liq_template **retired;  /* replaced blocks, freed at the next render */
    size_t nretired;
    json_object **owned;     /* connected_content results to put at the end */
    size_t nowned, capowned;
};

enum { INT_NONE, INT_BREAK, INT_CONTINUE };

typedef struct liq_ctx {
    liq_renderer *r;
    const liq_render_opts *o;
    const liq_template *tpl;   /* template whose nodes run now (positions) */
    const char *srcname;       /* "" or "content_blocks.NAME" */
    liq_frame *frames;
    /* Pending break/continue (INT_*), innermost last: Liquid keeps them on
     * a stack, which for loops pop one at a time (see liq_render_body). */
    uint8_t *istack;
    uint32_t ilen, icap;
    int depth;                 /* content block nesting */
    int fetches;
    uint64_t steps, max_steps;
    size_t max_output;
    int64_t deadline_us;
    int64_t now_ms;
    const char *changed;       /* last ifchanged output */
    size_t changed_len;
    bool has_changed;
    liq_error *err;
} liq_ctx;

/* Sets c->err (position pos in c->tpl) and returns code. */
int liq_fail(liq_ctx *c, int code, uint32_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Counts n steps; checks the step and (every 1024 steps) the time budget. */
int liq_step_slow(liq_ctx *c, uint64_t before, uint32_t pos);
static inline int liq_step(liq_ctx *c, uint64_t n, uint32_t pos) {
    uint64_t before = c->steps;
    c->steps += n;
    if (__builtin_expect(c->steps > c->max_steps || (before >> 10) != (c->steps >> 10), 0))
        return liq_step_slow(c, before, pos);
    return 0;
}
/* Decimal digits of v into buf (>= 24 bytes); returns the length. */
size_t liq_itoa(int64_t v, char *buf);
/* Appends to the output, failing when over the output budget. */
int liq_out(liq_ctx *c, uint32_t pos, const char *p, size_t n);
/* Appends v as Liquid prints it (to_s); same budget. */
int liq_out_val(liq_ctx *c, uint32_t pos, const liq_val *v);
/* Scratch memory for the render; NULL only past the memory budget. */
void *liq_alloc(liq_ctx *c, size_t n);
/* Fails the render with the memory-budget error at pos; returns its code. */
int liq_oom(liq_ctx *c, uint32_t pos);

/* 1-based line and column (in characters) of byte offset pos. */
void liq_linecol(const char *src, size_t len, size_t pos, int *line, int *col);
/* FNV-1a of p[0..n): names in the engine's own tables. */
uint32_t liq_hash(const char *p, size_t n);

/* Name tables (render.c). get: the slot or NULL. put: inserts or
 * overwrites; name must outlive the render (template text or arena).
 * reset: empties in O(1). */
liq_slot *liq_table_get(liq_table *t, const char *name, size_t len, uint32_t hash);
int liq_table_put(liq_table *t, const char *name, size_t len, uint32_t hash, const liq_val *v);
void liq_table_reset(liq_table *t);
void liq_table_free(liq_table *t);

/* Renders the nodes of b in order, as Liquid's BlockBody does: stops on an
 * error, or after a tag or output when a break/continue is pending (left
 * on c->istack for the enclosing loop); text always prints, so a body
 * entered with one pending prints its leading text and its first tag. */
int liq_render_body(liq_ctx *c, const liq_body *b);
/* Renders b and returns what it wrote as a string (arena), writing nothing. */
int liq_capture(liq_ctx *c, const liq_body *b, uint32_t pos, liq_val *out);

/* Evaluates an expression (filters applied) / a condition; 0 or an error
 * already recorded in c->err. */
int liq_eval(liq_ctx *c, const liq_expr *e, liq_val *out);
int liq_eval_cond(liq_ctx *c, const liq_cond *k, bool *out);
/* The user object's value for a top-level name (or the resolver's, or
 * nil): what a name is when no local shadows it. */
int liq_context_root(liq_ctx *c, const char *name, size_t len, uint32_t pos, liq_val *out);
/* assign/capture: sets a render-wide variable. */
int liq_set_var(liq_ctx *c, const liq_name *n, const liq_val *v);
/* v[key] / v[i] as Liquid looks them up; `dot` allows size/first/last. */
int liq_lookup_key(liq_ctx *c, const liq_val *v, const char *key, size_t klen, bool dot,
                   liq_val *out);
void liq_lookup_index(const liq_val *v, int64_t i, liq_val *out);

/* ------------------------------------------------------------------ values */

/* Sets *v to the value of a json node (strings and containers are
 * borrowed). Field by field and inline: this is the hottest path, and
 * building a temporary then copying it whole stalls store forwarding. */
static inline void liq_set_json(liq_val *v, json_object *j) {
    switch (json_object_get_type(j)) {
    case json_type_boolean: v->t = LV_BOOL; v->u.b = json_object_get_boolean(j); return;
    case json_type_int: v->t = LV_INT; v->u.i = json_object_get_int64(j); return;
    case json_type_double: v->t = LV_FLOAT; v->u.f = json_object_get_double(j); return;
    case json_type_string:
        v->t = LV_STR;
        v->u.s.n = (size_t)json_object_get_string_len(j);
        v->u.s.p = json_object_get_string(j);
        return;
    case json_type_object:
    case json_type_array: v->t = LV_JSON; v->u.j = j; return;
    default: v->t = LV_NIL; return;
    }
}

static inline liq_val liq_from_json(json_object *j) {
    liq_val v;
    liq_set_json(&v, j);
    return v;
}

/* json-c's hash of a key, computed once at compile time so that lookups
 * during renders skip hashing (json-c hashes every key with one process-wide
 * function; brasa never changes it with json_global_set_string_hash). */
unsigned long liq_json_hash(const char *key);
/* obj[key] for a json object, with key's precomputed hash; NULL if absent. */
json_object *liq_json_get(json_object *obj, const char *key, unsigned long h, bool *found);
/* Only nil and false are false. */
bool liq_truthy(const liq_val *v);
/* Ruby ==. */
bool liq_equal(const liq_val *a, const liq_val *b);
/* Condition equality: handles the empty/blank literals. */
bool liq_cond_equal(const liq_val *a, const liq_val *b);
/* Ruby <=>: 0 and *res when comparable; 1 when not comparable (nil from
 * <=>); callers turn that into nil or an error as Liquid does. */
int liq_compare(const liq_val *a, const liq_val *b, int *res);
/* Ruby class name, for error messages. */
const char *liq_type_name(const liq_val *v);
/* How Ruby's "comparison of X with Y failed" names Y (rb_cmperr): the value
 * itself for numbers, nil, true and false, else its class. buf >= 32. */
const char *liq_cmp_name(const liq_val *v, char *buf);
/* Ruby's empty? (strings, arrays, hashes) and ActiveSupport's blank?. */
bool liq_is_empty(const liq_val *v);
bool liq_is_blank(const liq_val *v);
/* Length of an array-like value (arrays, json arrays, ranges), -1 otherwise. */
int64_t liq_arr_len(const liq_val *v);
/* Element i (0 <= i < liq_arr_len) of an array-like value (liq_arr_get
 * writes it in place, for hot loops). */
liq_val liq_arr_at(const liq_val *v, int64_t i);
void liq_arr_get(const liq_val *v, int64_t i, liq_val *out);
/* The string form Liquid prints (to_s). Strings are returned as they are;
 * other values are formatted into the arena. */
int liq_to_str(liq_ctx *c, const liq_val *v, const char **p, size_t *n);
/* Ruby's Float#to_s into buf (>= 32 bytes); returns the length. */
size_t liq_fmt_float(double d, char *buf);
/* Appends Ruby's inspect of v to the string builder. */
struct liq_sb;
void liq_inspect(struct liq_sb *sb, const liq_val *v, int depth);
/* Flattens an array-like input the way Liquid's InputIterator does (nil
 * -> [], scalar -> [scalar], nested arrays flattened, hash -> [hash]). */
int liq_iter_input(liq_ctx *c, const liq_val *in, uint32_t pos, liq_val **items, size_t *n);

/* String builder on the render arena. */
typedef struct liq_sb {
    liq_ctx *c;
    char *p;
    size_t len, cap;
    bool fail;
} liq_sb;
void liq_sb_init(liq_sb *sb, liq_ctx *c, size_t hint);
void liq_sb_add(liq_sb *sb, const char *p, size_t n);
void liq_sb_addc(liq_sb *sb, char ch);
void liq_sb_printf(liq_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Finishes: 0 and *out a string value, or the memory-budget error. */
int liq_sb_done(liq_sb *sb, uint32_t pos, liq_val *out);

/* ----------------------------------------------------------------- numbers */

/* Liquid's Utils.to_number: an Integer, or a BigDecimal (kept as an exact
 * decimal m * 10^e when it fits, else as a double). */
typedef struct {
    bool is_int;
    bool exact;       /* !is_int: m/e valid */
    int64_t i;
    __int128 m;
    int32_t e;
    double f;
} liq_num;

void liq_to_number(const liq_val *v, liq_num *n);
/* Ruby's to_i, which tablerow applies to its options and Liquid to
 * literal range bounds: nil 0, a Float truncated, a String's leading
 * integer ("2.5" and "2x" are 2, "x" is 0). -1 for values without a to_i
 * (true, arrays, hashes) and non-finite floats. Clamped to 64 bits. */
int liq_to_i(const liq_val *v, int64_t *out);
/* Result of a number as a value: Integer stays Integer, BigDecimal becomes
 * Float (Liquid's `result.is_a?(BigDecimal) ? result.to_f : result`). */
liq_val liq_num_val(const liq_num *n);
double liq_num_double(const liq_num *n);
/* a op b for op in + - * / %; 0, or 1 for an Integer division or any
 * modulo by zero (Ruby's ZeroDivisionError; a BigDecimal division by zero
 * gives Infinity or NaN instead). */
int liq_num_arith(char op, const liq_num *a, const liq_num *b, liq_num *out);
/* -1, 0, 1 as a < b, a == b, a > b (exact when both are exact). */
int liq_num_cmp(const liq_num *a, const liq_num *b);
/* round / ceil / floor of a BigDecimal-or-Integer (digits for round). */
void liq_num_round(const liq_num *a, int64_t digits, liq_num *out);
void liq_num_ceil_floor(const liq_num *a, bool ceil, liq_num *out);
/* Shortest decimal that reads back as d: digits (no sign), exponent such
 * that d = 0.DIGITS * 10^exp10. Returns the digit count. */
int liq_shortest(double d, char digits[32], int *exp10);

/* ----------------------------------------------------------------- lexing */

enum {
    T_END, T_IDENT, T_BRAZE, T_STR, T_INT, T_FLOAT, T_DOT, T_DOTDOT, T_LBRACK, T_RBRACK,
    T_LPAREN, T_RPAREN, T_PIPE, T_COLON, T_COMMA, T_CMP, T_OPEN2, T_CLOSE2, T_ASSIGN,
    T_AND, T_OR, T_ERR,
};

typedef struct {
    uint8_t t;
    uint8_t op;       /* T_CMP: OP_* */
    const char *p;    /* T_IDENT, T_BRAZE (name), T_STR (contents) */
    size_t n;
    uint32_t pos;
    int64_t i;
    double f;
} liq_tok;

typedef struct {
    const char *src;   /* whole template */
    size_t pos, end;   /* markup being tokenised */
    liq_tok peeked;
    bool has_peek;
    const char *errmsg;
    uint32_t errpos;
} liq_lexer;

/* Tokenises src[start..end); next consumes a token, peek looks at the next
 * one. A bad token is T_ERR with errmsg/errpos set. */
void liq_lex_init(liq_lexer *lx, const char *src, size_t start, size_t end);
liq_tok liq_lex_next(liq_lexer *lx);
liq_tok liq_lex_peek(liq_lexer *lx);

enum { RT_TEXT, RT_OUTPUT, RT_TAG };

typedef struct {
    uint8_t kind;
    bool trim_l, trim_r;   /* {{- / -}} */
    bool raw;              /* RT_TEXT from {% raw %} */
    bool inline_liquid;    /* RT_TAG from a {% liquid %} line */
    uint32_t pos;          /* start of the token */
    uint32_t start, end;   /* text, or markup (after the tag name) */
    uint32_t name, namelen;/* RT_TAG */
} liq_rawtok;

typedef struct {
    liq_rawtok *t;
    size_t n, cap;
} liq_rawtoks;

/* Cuts src into tokens (whitespace control applied to text tokens).
 * Returns 0, or LIQ_ESYNTAX with *errpos and *errmsg set. */
int liq_scan(const char *src, size_t len, liq_rawtoks *out, uint32_t *errpos, const char **errmsg);
/* Finds the end of {{ ... }} markup that starts at i: returns the offset of
 * the closing "}}" (depth-aware, quote-aware), or -1. */
long liq_scan_output_end(const char *src, size_t len, size_t i);

/* ---------------------------------------------------------------- parsing */

typedef struct {
    liq_template *tpl;
    const char *src;
    liq_rawtoks toks;
    size_t i;
    int depth;        /* block nesting */
    int edepth;       /* expression nesting */
    uint32_t errpos;
    char errmsg[256];
} liq_parser;

/* Records the first syntax error (at byte pos) and returns LIQ_ESYNTAX. */
int liq_perr(liq_parser *p, uint32_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Zeroed memory in the template's arena (never NULL). */
void *liq_palloc(liq_parser *p, size_t n);
/* Expression (filters allowed) / primary / condition parsing over a lexer. */
liq_expr *liq_parse_filtered(liq_parser *p, liq_lexer *lx);
liq_expr *liq_parse_primary(liq_parser *p, liq_lexer *lx);
liq_cond *liq_parse_cond(liq_parser *p, liq_lexer *lx);
/* Fails unless the lexer is at the end of its markup. */
int liq_expect_end(liq_parser *p, liq_lexer *lx, const char *what);
/* Parses a text-with-{{ }} fragment src[start..end) into a body. */
int liq_parse_fragment(liq_parser *p, uint32_t start, uint32_t end, liq_body *out);
/* A name with its hash, for the variable tables. */
liq_name liq_mkname(const char *p, size_t n);

/* Braze tags (tags_braze.c): parse a tag token into a node; render it. */
int liq_parse_abort(liq_parser *p, const liq_rawtok *t, liq_node **out);
int liq_parse_cc(liq_parser *p, const liq_rawtok *t, liq_node **out);
int liq_parse_block_tag(liq_parser *p, const liq_rawtok *t, liq_node **out);
int liq_render_cc(liq_ctx *c, const liq_node *n);
/* Renders content block `name` into the output, or (capture) into *out. */
int liq_render_block(liq_ctx *c, const char *name, size_t len, uint32_t pos, bool capture,
                     liq_val *out);
/* The renderer's block cache: freed with the renderer; trimmed (and blocks
 * replaced during the last render freed) when a render begins. */
void liq_blocks_free(liq_renderer *r);
void liq_blocks_begin(liq_renderer *r);

/* Braze ${...} names (braze_vars.c): context key for a ${name} at the root,
 * and for a namespace like custom_attribute. */
void liq_braze_root(const char *name, size_t len, const char **cname, size_t *clen);
bool liq_braze_namespace(const char *name, size_t len, const char **cname, size_t *clen);
/* subscribed_state.${email_global} -> "email_subscribe" (push_global too); NULL otherwise. */
const char *liq_braze_subscription(const char *key, size_t len);

/* ---------------------------------------------------------------- filters */

typedef int (*liq_filter_fn)(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args,
                             int nargs, liq_val *out);

struct liq_filter_def {
    const char *name;
    liq_filter_fn fn;
    uint8_t min, max;
};

/* The filter called name, or NULL. */
const liq_filter_def *liq_filter_find(const char *name, size_t len);
/* Per-area tables, each ending with a {NULL} entry. */
extern const liq_filter_def liq_filters_str[];
extern const liq_filter_def liq_filters_array[];
extern const liq_filter_def liq_filters_math[];
extern const liq_filter_def liq_filters_date[];
extern const liq_filter_def liq_filters_encode[];

/* Keyword argument kw of call f, or NULL. */
const liq_val *liq_kwarg(const liq_fcall *f, liq_val *args, int nargs, const char *kw);
/* Positional argument i (keywords skipped), or NULL. */
const liq_val *liq_arg(const liq_fcall *f, liq_val *args, int nargs, int i);
/* Liquid's Utils.to_integer: Integer, or a string that Integer() accepts. */
int liq_to_integer(liq_ctx *c, const liq_val *v, uint32_t pos, int64_t *out);

/* ------------------------------------------------------------------- dates */

typedef struct {
    int64_t year;
    int mon, mday, hour, min, sec, wday, yday; /* mon 1-12, wday 0=Sunday, yday 1-366 */
} liq_tm;

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t liq_days_from_civil(int64_t y, int m, int d);
void liq_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
/* Local calendar fields of t (its instant shifted by its offset). */
void liq_breakdown(const liq_time *t, liq_tm *tm);
/* Ruby's Time#strftime. */
void liq_strftime(liq_sb *sb, const char *fmt, size_t n, const liq_time *t);
/* Ruby's Time.parse, for the formats people store dates in; zone-less
 * times are UTC. 0, or -1 when s is not a date. */
int liq_parse_time(const char *s, size_t n, int64_t now_sec, liq_time *out);
/* Liquid's Utils.to_date: 0 and *out, or -1 when v is not a date. */
int liq_to_time(liq_ctx *c, const liq_val *v, liq_time *out);


/* Case mapping of UTF-8 text (utf8.c), as Ruby's downcase, upcase and
 * capitalize: Unicode's full mappings, unconditional ones only. */
void liq_case(liq_sb *sb, const char *p, size_t n, int mode); /* 0 down, 1 up, 2 capitalize */

/* Case tables (casemap.c, generated by scripts/gen-casemap.py). A range
 * maps cp in [lo, hi] with (cp - lo) % step == 0 to cp + delta; a full
 * mapping gives the UTF-8 of a code point that maps to several (ß upcases
 * to SS) or that SpecialCasing maps otherwise. Both sorted by code point. */
typedef struct {
    uint32_t lo, hi;
    int32_t delta;
    uint32_t step;
} liq_case_range;
typedef struct {
    uint32_t cp;
    const char *to;
} liq_case_full;
typedef struct {
    const liq_case_range *r;
    size_t nr;
    const liq_case_full *f;
    size_t nf;
} liq_case_table;
/* [0] lowercase, [1] uppercase, [2] titlecase where it is not uppercase. */
extern const liq_case_table liq_case_tables[3];
/* Characters in p[0..n) (an invalid byte counts as one). */
size_t liq_utf8_len(const char *p, size_t n);
/* Byte offset of character index ci (clamped to n). */
size_t liq_utf8_off(const char *p, size_t n, size_t ci);

#endif
