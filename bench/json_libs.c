/* bench/json_libs.c -- which packaged JSON library should brasa use?
 *
 * Build and run (also what `make bench` runs):
 *
 *   cc -O2 -std=c11 -Wall -Wextra -Wshadow -Werror bench/json_libs.c \
 *      $(pkg-config --cflags --libs json-c jansson libcjson) -o build/bench/json_libs
 *   build/bench/json_libs [seconds-scale, default 1.0]
 *
 * Every /users/track request is parsed, walked into C structs and, for
 * exports and Currents, JSON is written back out. So the cost that matters
 * is parse + walk + serialise of a realistic body, and the output must be
 * faithful: Braze clients send 17-digit ids, prices such as 132.6, URLs and
 * non-ASCII names, and expect to get the same bytes back from exports.
 *
 * The body is generated here from a fixed-seed PRNG so that the run is
 * reproducible without data files. The input buffer is deliberately not
 * NUL-terminated (it is followed by junk) because libmicrohttpd hands us a
 * pointer and a length, never a C string. Each library is used the way
 * the server would use it: the flags chosen are the ones that give the most
 * faithful compact output and reject junk after the body.
 *
 * json-c and jansson cannot share a translation unit (both define the
 * json_type and json_object names) and both libraries export
 * json_object_iter_next. Only this file ever links both: the jansson header
 * is included with its clashing names renamed, and jansson's two iterator
 * functions are fetched by symbol version with dlvsym(). */

#define _GNU_SOURCE /* dlvsym(), clock_gettime() */

#define json_type jansson_json_type
#define json_object jansson_json_object
#define json_object_get jansson_json_object_get
#define json_object_iter jansson_json_object_iter
#define json_object_iter_next jansson_json_object_iter_next
#include <jansson.h>
#undef json_type
#undef json_object
#undef json_object_get
#undef json_object_iter
#undef json_object_iter_next

#include <json.h> /* json-c */
#include <cJSON.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_FULL_SECS 1.5  /* parse+walk+serialise, per row */
#define DEFAULT_PARSE_SECS 1.0 /* parse only, per row */

/* ------------------------------------------------------------------------
 * Small helpers.
 * --------------------------------------------------------------------- */

static void die(const char *msg) {
    fprintf(stderr, "bench_json_libs: %s\n", msg);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True if buf[0..len) holds only JSON whitespace: a body may end in "\n". */
static int only_space(const char *buf, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\r' && buf[i] != '\t') return 0;
    return 1;
}

/* Growable string, used only to generate the body. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) die("out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) die("sb_printf overflow");
    sb_add(b, tmp, (size_t)n);
}

/* splitmix64 with a fixed seed: the same body on every machine. */
static uint64_t rng_state = 0x6272617361ULL; /* "brasa" */

static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(unsigned n) { return (unsigned)(rng() % n); }

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rng_below((unsigned)COUNT(a))])

/* ------------------------------------------------------------------------
 * The /users/track body.
 *
 * Written compact and in canonical form (shortest numbers, raw UTF-8, no
 * needless escapes), so that a faithful library prints it back byte for
 * byte. The first attribute, event and purchase carry the values the
 * correctness checks look for.
 * --------------------------------------------------------------------- */

#define N_ATTRIBUTES 20
#define N_EVENTS 20
#define N_PURCHASES 10

#define BIG_ID "12345678901234567" /* 17 digits: above 2^53, not a double */
#define TITLE0 "日本茶セット 🍵 😀"

static const char *first_names[] = {"Zoé",    "José",  "Jürgen", "Siobhán", "Ana",   "Mei",
                                    "Léa",    "Chloé", "Mateo",  "Ingrid",  "Çağan", "Łukasz",
                                    "陽菜", "さくら", "Noah",   "Olivia"};
static const char *last_names[] = {"Müller", "García", "Núñez",    "Smith", "Dubois",
                                   "佐藤", "Kowalski", "O'Brien", "Nguyen"};
static const char *cities[] = {"Paris",  "São Paulo", "東京",    "Zürich",
                               "Kraków", "New York",  "Montréal", "Reykjavík"};
static const char *countries[] = {"FR", "BR", "JP", "CH", "PL", "US", "CA", "IS"};
static const char *genres[] = {"jazz", "rock", "k-pop", "classical", "hip-hop", "folk", "électro"};
static const char *event_names[] = {"viewed_product", "added_to_cart", "started_checkout",
                                    "searched",       "shared_item",   "rated_app"};
static const char *titles[] = {"Café crème 250 g", "Trail shoes – waterproof", "日本茶セット",
                               "Gift card 🎁",    "Smörgåsbord plate",        "Linen shirt"};
static const char *currencies[] = {"USD", "EUR", "JPY", "GBP"};
static const char *sizes[] = {"S", "M", "L", "XL"};
static const char *colors[] = {"black", "navy", "sand", "rouge"};

/* A price with two decimals in its shortest form: 13260 -> 132.6. */
static void put_money(sbuf *b, unsigned cents) { sb_printf(b, "%.15g", cents / 100.0); }

static void put_time(sbuf *b, unsigned day, unsigned secs, unsigned ms) {
    sb_printf(b, "\"2024-05-%02uT%02u:%02u:%02u.%03uZ\"", day, secs / 3600, secs / 60 % 60,
              secs % 60, ms);
}

static void put_user(sbuf *b, unsigned user) { sb_printf(b, "\"external_id\":\"user-%06u\"", user); }

static void put_attribute(sbuf *b, int i) {
    unsigned user = 100000 + rng_below(900000);
    unsigned c = rng_below((unsigned)COUNT(countries));
    sb_puts(b, "{");
    put_user(b, user);
    sb_printf(b, ",\"first_name\":\"%s\"", i == 0 ? "Zoé" : PICK(first_names));
    sb_printf(b, ",\"last_name\":\"%s\"", PICK(last_names));
    sb_printf(b, ",\"email\":\"u%u@example.com\"", user);
    sb_printf(b, ",\"country\":\"%s\"", countries[c]);
    sb_printf(b, ",\"home_city\":\"%s\"", i == 0 ? "東京" : cities[c]);
    if (i == 0)
        sb_puts(b, ",\"crm_id\":" BIG_ID);
    else
        sb_printf(b, ",\"crm_id\":%llu",
                  10000000000000000ULL + (unsigned long long)(rng() % 89999999999999999ULL));
    sb_puts(b, ",\"lifetime_value\":");
    put_money(b, rng_below(200000));
    sb_printf(b, ",\"visits\":%u", rng_below(5000));
    sb_printf(b, ",\"is_vip\":%s", rng_below(4) == 0 ? "true" : "false");
    sb_puts(b, ",\"favorite_genres\":[");
    for (unsigned g = 0, n = 1 + rng_below(3); g < n; g++)
        sb_printf(b, "%s\"%s\"", g ? "," : "", PICK(genres));
    sb_printf(b, "],\"avatar_url\":\"https://cdn.example.com/u/%u/avatar.png\"", user);
    sb_puts(b, ",\"login_count\":{\"inc\":1}");
    if (rng_below(3) == 0) sb_puts(b, ",\"promo_code\":null");
    sb_puts(b, "}");
}

static void put_event(sbuf *b, int i) {
    unsigned sku = rng_below(10000);
    unsigned items = 1 + rng_below(6);
    sb_puts(b, "{");
    put_user(b, 100000 + rng_below(900000));
    sb_printf(b, ",\"app_id\":\"%08x-%04x-4%03x-a%03x-%012llx\"", (unsigned)rng(),
              (unsigned)rng() & 0xffff, (unsigned)rng() & 0xfff, (unsigned)rng() & 0xfff,
              (unsigned long long)(rng() & 0xffffffffffffULL));
    sb_printf(b, ",\"name\":\"%s\",\"time\":", PICK(event_names));
    put_time(b, 14, rng_below(86400), rng_below(1000));
    sb_printf(b, ",\"properties\":{\"sku\":\"SKU-%04u\",\"title\":\"%s\"", sku,
              i == 0 ? TITLE0 : PICK(titles));
    sb_printf(b, ",\"url\":\"https://shop.example.com/p/%04u?ref=app\"", sku);
    sb_puts(b, ",\"amount\":");
    put_money(b, rng_below(50000));
    sb_printf(b, ",\"items\":%u,\"first_time\":%s", items, rng_below(2) ? "true" : "false");
    if (i % 5 == 0) sb_puts(b, ",\"note\":\"said \\\"wow\\\"\\non launch\"");
    sb_printf(b, ",\"cart\":{\"id\":\"c-%u\",\"items\":%u,\"total\":", (unsigned)(rng() % 1000000),
              items);
    put_money(b, rng_below(90000));
    sb_puts(b, ",\"tags\":[\"sale\",\"spring\"]}}}");
}

static void put_purchase(sbuf *b, int i) {
    sb_puts(b, "{");
    put_user(b, 100000 + rng_below(900000));
    sb_printf(b, ",\"product_id\":\"SKU-%04u\",\"currency\":\"%s\",\"price\":", rng_below(10000),
              PICK(currencies));
    put_money(b, i == 0 ? 13260 : rng_below(100000));
    sb_printf(b, ",\"quantity\":%u,\"time\":", 1 + rng_below(4));
    put_time(b, 15, rng_below(86400), rng_below(1000));
    sb_printf(b, ",\"properties\":{\"size\":\"%s\",\"color\":\"%s\",\"gift\":%s}}", PICK(sizes),
              PICK(colors), rng_below(5) == 0 ? "true" : "false");
}

static sbuf make_body(void) {
    sbuf b = {0};
    sb_puts(&b, "{\"attributes\":[");
    for (int i = 0; i < N_ATTRIBUTES; i++) {
        if (i) sb_puts(&b, ",");
        put_attribute(&b, i);
    }
    sb_puts(&b, "],\"events\":[");
    for (int i = 0; i < N_EVENTS; i++) {
        if (i) sb_puts(&b, ",");
        put_event(&b, i);
    }
    sb_puts(&b, "],\"purchases\":[");
    for (int i = 0; i < N_PURCHASES; i++) {
        if (i) sb_puts(&b, ",");
        put_purchase(&b, i);
    }
    sb_puts(&b, "]}");
    return b;
}

/* ------------------------------------------------------------------------
 * Library adapters. Each walk visits every value the way the request
 * decoder will, and tallies what it saw so the optimiser cannot drop it
 * and so the libraries can be checked to agree on the tree.
 * --------------------------------------------------------------------- */

typedef struct tally {
    uint64_t values;   /* every value, containers included */
    uint64_t numbers;  /* integers and reals */
    uint64_t strbytes; /* bytes of all strings and keys */
    double numsum;
} tally;

typedef struct jsonlib {
    const char *name;
    const char *flags; /* how it is called, for the report */
    int primary;       /* 0: a variant shown for comparison, never chosen */
    void *(*parse)(const char *buf, size_t len);
    void (*walk)(void *tree, tally *t);
    const char *(*dump)(void *tree, size_t *len);
    void (*dump_free)(const char *s);
    void (*free_tree)(void *tree);
} jsonlib;

/* --- json-c ----------------------------------------------------------- */

/* One tokener per thread in the server; reset is cheaper than new. */
static struct json_tokener *jc_tok_strict, *jc_tok_lax;

static void *jc_parse_with(struct json_tokener *tok, const char *buf, size_t len) {
    if (len > INT32_MAX) return NULL; /* json_tokener_parse_ex takes an int */
    json_tokener_reset(tok);
    json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
    if (o == NULL) return NULL; /* error, or json_tokener_continue: truncated */
    /* Strict mode already refuses junk after the value; lax mode stops at
     * the end of the value and leaves the check to us. */
    size_t end = json_tokener_get_parse_end(tok);
    if (!only_space(buf + end, len - end)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static void *jc_parse_strict(const char *buf, size_t len) {
    return jc_parse_with(jc_tok_strict, buf, len);
}

static void *jc_parse_lax(const char *buf, size_t len) { return jc_parse_with(jc_tok_lax, buf, len); }

static void jc_walk(void *tree, tally *t) {
    json_object *o = tree;
    t->values++;
    switch (json_object_get_type(o)) {
    case json_type_object: {
        for (struct lh_entry *e = lh_table_head(json_object_get_object(o)); e; e = lh_entry_next(e)) {
            t->strbytes += strlen((const char *)lh_entry_k(e));
            jc_walk((json_object *)lh_entry_v(e), t);
        }
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++) jc_walk(json_object_array_get_idx(o, i), t);
        break;
    }
    case json_type_string: t->strbytes += (uint64_t)json_object_get_string_len(o); break;
    case json_type_int:
        t->numbers++;
        t->numsum += (double)json_object_get_int64(o);
        break;
    case json_type_double:
        t->numbers++;
        t->numsum += json_object_get_double(o);
        break;
    case json_type_boolean:
    case json_type_null: break;
    }
}

#define JC_DUMP_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* The string lives in the object and goes away with it. */
static const char *jc_dump(void *tree, size_t *len) {
    return json_object_to_json_string_length(tree, JC_DUMP_FLAGS, len);
}

static void jc_dump_free(const char *s) { (void)s; }

static void jc_free(void *tree) { json_object_put(tree); }

/* --- jansson ---------------------------------------------------------- */

/* jansson's own iterator functions, by symbol version (see top of file). */
static void *(*jt_iter)(json_t *object);
static void *(*jt_iter_next)(json_t *object, void *iter);

/* json_loadb() takes a length and refuses junk after the value itself. */
static void *jt_parse(const char *buf, size_t len) { return json_loadb(buf, len, 0, NULL); }

static void jt_walk(void *tree, tally *t) {
    json_t *j = tree;
    t->values++;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        for (void *it = jt_iter(j); it; it = jt_iter_next(j, it)) {
            t->strbytes += json_object_iter_key_len(it);
            jt_walk(json_object_iter_value(it), t);
        }
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n; i++) jt_walk(json_array_get(j, i), t);
        break;
    }
    case JSON_STRING: t->strbytes += json_string_length(j); break;
    case JSON_INTEGER:
        t->numbers++;
        t->numsum += (double)json_integer_value(j);
        break;
    case JSON_REAL:
        t->numbers++;
        t->numsum += json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL: break;
    }
}

static const char *jt_dump(void *tree, size_t *len) {
    char *s = json_dumps(tree, JSON_COMPACT);
    if (s) *len = strlen(s);
    return s;
}

static void jt_dump_free(const char *s) { free((void *)s); }

static void jt_free(void *tree) { json_decref(tree); }

/* --- cJSON ------------------------------------------------------------ */

/* cJSON accepts junk after the value unless asked for a NUL inside the
 * length, which a (pointer, length) body does not have: check ourselves. */
static void *cj_parse(const char *buf, size_t len) {
    const char *end = NULL;
    cJSON *c = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (c == NULL) return NULL;
    if (!only_space(end, len - (size_t)(end - buf))) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static void cj_walk(void *tree, tally *t) {
    cJSON *c = tree;
    t->values++;
    if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
        int is_object = cJSON_IsObject(c);
        for (cJSON *k = c->child; k; k = k->next) {
            if (is_object) t->strbytes += strlen(k->string);
            cj_walk(k, t);
        }
    } else if (cJSON_IsString(c)) {
        t->strbytes += strlen(c->valuestring);
    } else if (cJSON_IsNumber(c)) {
        t->numbers++;
        t->numsum += c->valuedouble;
    }
}

static const char *cj_dump(void *tree, size_t *len) {
    char *s = cJSON_PrintUnformatted(tree);
    if (s) *len = strlen(s);
    return s;
}

static void cj_dump_free(const char *s) { cJSON_free((void *)s); }

static void cj_free(void *tree) { cJSON_Delete(tree); }

static const jsonlib libs[] = {
    {"json-c", "tokener STRICT|VALIDATE_UTF8; to_string PLAIN|NOSLASHESCAPE", 1,
     jc_parse_strict, jc_walk, jc_dump, jc_dump_free, jc_free},
    {"jansson", "json_loadb(flags 0); json_dumps(JSON_COMPACT)", 1, jt_parse, jt_walk, jt_dump,
     jt_dump_free, jt_free},
    {"cJSON", "ParseWithLengthOpts + end check; PrintUnformatted", 1, cj_parse, cj_walk, cj_dump,
     cj_dump_free, cj_free},
    {"json-c lax", "tokener flags 0 (no strict, no UTF-8 check); same output", 0, jc_parse_lax,
     jc_walk, jc_dump, jc_dump_free, jc_free},
};
#define N_LIBS COUNT(libs)

/* ------------------------------------------------------------------------
 * Correctness checks. Each is 1 when the library does the right thing for
 * a Braze-compatible server.
 * --------------------------------------------------------------------- */

typedef struct checks {
    int int17;     /* the 17-digit id comes back unchanged */
    int price;     /* 132.6 comes back as 132.6 */
    int unicode;   /* raw UTF-8 comes back byte for byte */
    int escapes;   /* \uXXXX and surrogate pairs decode to the right UTF-8 */
    int slash;     /* "/" is not escaped on output */
    int identical; /* the whole body comes back byte for byte */
    int length;    /* parses from (pointer, length) with junk after length */
    int junk;      /* junk after the body is refused, a trailing newline is not */
    int badutf8;   /* invalid UTF-8 in a string is refused */
    tally t;
} checks;

/* Parse, serialise and return a malloc'ed copy of the output, or NULL. */
static char *roundtrip(const jsonlib *L, const char *buf, size_t len, tally *t) {
    void *tree = L->parse(buf, len);
    if (tree == NULL) return NULL;
    if (t) L->walk(tree, t);
    size_t n = 0;
    const char *s = L->dump(tree, &n);
    char *copy = s ? strndup(s, n) : NULL;
    if (s) L->dump_free(s);
    L->free_tree(tree);
    return copy;
}

static int parses(const jsonlib *L, const char *s) {
    void *tree = L->parse(s, strlen(s));
    if (tree) L->free_tree(tree);
    return tree != NULL;
}

static void check_lib(const jsonlib *L, const char *body, size_t len, checks *c) {
    memset(c, 0, sizeof(*c));
    char *out = roundtrip(L, body, len, &c->t);
    if (out) {
        c->length = 1;
        c->int17 = strstr(out, "\"crm_id\":" BIG_ID ",") != NULL;
        c->price = strstr(out, "\"price\":132.6,") != NULL;
        c->unicode = strstr(out, "\"first_name\":\"Zoé\"") && strstr(out, "\"home_city\":\"東京\"") &&
                     strstr(out, "\"title\":\"" TITLE0 "\"");
        c->slash = strstr(out, "\"url\":\"https://shop.example.com/p/") != NULL;
        c->identical = strlen(out) == len && memcmp(out, body, len) == 0;
        free(out);
    }

    static const char esc_in[] = "{\"s\":\"\\u65e5\\u672c \\ud83d\\ude00 \\u00e9 \\/\"}";
    char *esc = roundtrip(L, esc_in, strlen(esc_in), NULL);
    c->escapes = esc && strcmp(esc, "{\"s\":\"日本 😀 é /\"}") == 0;
    free(esc);

    c->junk = !parses(L, "{\"a\":1} x") && !parses(L, "{\"a\":1}{}") && parses(L, "{\"a\":1}\r\n");
    c->badutf8 = !parses(L, "{\"a\":\"\xff\xfe\"}") && !parses(L, "{\"a\":\"\xc3\"}");
}

/* ------------------------------------------------------------------------
 * Timing.
 * --------------------------------------------------------------------- */

static volatile uint64_t sink; /* results land here so no work is elided */

typedef struct result {
    double full_per_s, parse_per_s;
} result;

static double run_full(const jsonlib *L, const char *buf, size_t len, double secs) {
    uint64_t n = 0;
    double t0 = now_s(), el;
    do {
        void *tree = L->parse(buf, len);
        if (tree == NULL) die("parse failed in timed loop");
        tally t = {0};
        L->walk(tree, &t);
        size_t olen = 0;
        const char *s = L->dump(tree, &olen);
        if (s == NULL) die("serialise failed in timed loop");
        sink += t.values + t.strbytes + olen + (uint64_t)t.numsum;
        L->dump_free(s);
        L->free_tree(tree);
        n++;
    } while ((el = now_s() - t0) < secs);
    return (double)n / el;
}

static double run_parse(const jsonlib *L, const char *buf, size_t len, double secs) {
    uint64_t n = 0;
    double t0 = now_s(), el;
    do {
        void *tree = L->parse(buf, len);
        if (tree == NULL) die("parse failed in timed loop");
        sink += (uintptr_t)tree & 1;
        L->free_tree(tree);
        n++;
    } while ((el = now_s() - t0) < secs);
    return (double)n / el;
}

static const char *yn(int ok) { return ok ? "yes" : "NO"; }

int main(int argc, char **argv) {
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(scale > 0)) scale = 1.0;

    jt_iter = (void *(*)(json_t *))dlvsym(RTLD_DEFAULT, "json_object_iter", "libjansson.so.4");
    jt_iter_next = (void *(*)(json_t *, void *))dlvsym(RTLD_DEFAULT, "json_object_iter_next",
                                                       "libjansson.so.4");
    if (jt_iter == NULL || jt_iter_next == NULL) die("cannot find jansson's iterator symbols");
    jc_tok_strict = json_tokener_new();
    jc_tok_lax = json_tokener_new();
    if (jc_tok_strict == NULL || jc_tok_lax == NULL) die("json_tokener_new failed");
    json_tokener_set_flags(jc_tok_strict, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

    /* The body, followed by junk and no NUL: a library that reads past the
     * length it was given fails the parse. */
    sbuf gen = make_body();
    size_t len = gen.len;
    static const char junk[] = "\"}]xx";
    char *body = malloc(len + sizeof(junk) - 1);
    if (body == NULL) die("out of memory");
    memcpy(body, gen.p, len);
    memcpy(body + len, junk, sizeof(junk) - 1);
    free(gen.p);

    printf("brasa JSON library bench: /users/track body of %zu bytes "
           "(%d attributes, %d events, %d purchases), not NUL-terminated\n",
           len, N_ATTRIBUTES, N_EVENTS, N_PURCHASES);
    printf("json-c %s, jansson %s, cJSON %s; single thread, %.1f s + %.1f s per row\n\n",
           json_c_version(), jansson_version_str(), cJSON_Version(), DEFAULT_FULL_SECS * scale,
           DEFAULT_PARSE_SECS * scale);

    checks ck[N_LIBS];
    result res[N_LIBS];
    for (size_t i = 0; i < N_LIBS; i++) {
        check_lib(&libs[i], body, len, &ck[i]);
        if (!ck[i].length) {
            res[i].full_per_s = res[i].parse_per_s = 0;
            continue;
        }
        run_full(&libs[i], body, len, 0.1 * scale); /* warm caches and malloc */
        res[i].full_per_s = run_full(&libs[i], body, len, DEFAULT_FULL_SECS * scale);
        res[i].parse_per_s = run_parse(&libs[i], body, len, DEFAULT_PARSE_SECS * scale);
    }

    double mb = (double)len / 1e6;
    printf("%-11s | %-22s | %-22s\n", "", "parse+walk+serialise", "parse only");
    printf("%-11s | %10s %11s | %10s %11s\n", "library", "bodies/s", "MB/s", "bodies/s", "MB/s");
    printf("------------+------------------------+-----------------------\n");
    for (size_t i = 0; i < N_LIBS; i++)
        printf("%-11s | %10.0f %11.1f | %10.0f %11.1f\n", libs[i].name, res[i].full_per_s,
               res[i].full_per_s * mb, res[i].parse_per_s, res[i].parse_per_s * mb);

    printf("\ncorrectness    int17 132.6 utf8 \\u-esc  '/'-raw identical len-only junk-refused "
           "bad-utf8-refused same-tree\n");
    for (size_t i = 0; i < N_LIBS; i++) {
        const checks *c = &ck[i];
        int same = c->t.values == ck[0].t.values && c->t.numbers == ck[0].t.numbers &&
                   c->t.strbytes == ck[0].t.strbytes;
        printf("%-14s %-5s %-5s %-4s %-7s %-7s %-9s %-8s %-12s %-16s %s\n", libs[i].name,
               yn(c->int17), yn(c->price), yn(c->unicode), yn(c->escapes), yn(c->slash),
               yn(c->identical), yn(c->length), yn(c->junk), yn(c->badutf8), yn(same));
    }
    printf("(tree: %llu values, %llu numbers, %llu string bytes)\n\n",
           (unsigned long long)ck[0].t.values, (unsigned long long)ck[0].t.numbers,
           (unsigned long long)ck[0].t.strbytes);

    printf("flags used:\n");
    for (size_t i = 0; i < N_LIBS; i++) printf("  %-11s %s\n", libs[i].name, libs[i].flags);

    /* What the API contract needs is the byte-identical echo (it implies
     * exact ids, short floats, raw UTF-8 and unescaped '/'), decoded \u
     * escapes and refused junk. Among libraries that pass, speed decides. */
    int best = -1;
    for (size_t i = 0; i < N_LIBS; i++) {
        const checks *c = &ck[i];
        if (!libs[i].primary || !c->identical || !c->escapes || !c->junk || !c->length) continue;
        if (best < 0 || res[i].full_per_s > res[best].full_per_s) best = (int)i;
    }
    if (best >= 0)
        printf("\nchosen: %s -- %.0f bodies/s, %.1f MB/s parse+walk+serialise; the fastest "
               "library whose output is byte-identical to the input\n",
               libs[best].name, res[best].full_per_s, res[best].full_per_s * mb);
    else
        printf("\nchosen: none -- no library passed the fidelity checks\n");

    free(body);
    json_tokener_free(jc_tok_strict);
    json_tokener_free(jc_tok_lax);
    return 0;
}
