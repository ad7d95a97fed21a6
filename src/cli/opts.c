/* opts.c -- option parsing and usage (see opts.h). */
#include "opts.h"
#include "../lib/mem.h"
#include "../store/store.h"

#include <json-c/json.h>

#include <stdlib.h>
#include <string.h>

static cli_opt *find(cli_opt *opts, const char *name, size_t len) {
    for (cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && memcmp(o->name, name, len) == 0) return o;
    return NULL;
}

static void set(cli_opt *o, const char *v) {
    if (o->repeat && o->value) {
        char *j = xmalloc(strlen(o->value) + strlen(v) + 2);
        sprintf(j, "%s,%s", o->value, v);
        free(o->value);
        o->value = j;
        return;
    }
    free(o->value);
    o->value = xstrdup(v);
}

int opts_parse(int argc, char **argv, cli_opt *opts, const char *usage, char **pos, int *npos,
               int maxpos) {
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            opts_usage(stdout, usage, opts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (*npos == maxpos) {
                fprintf(stderr, "brasa: unexpected argument '%s'\n", a);
                return 2;
            }
            pos[(*npos)++] = argv[i];
            continue;
        }
        const char *eq = strchr(a + 2, '=');
        cli_opt *o = find(opts, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
        if (!o) {
            fprintf(stderr, "brasa: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (o->flag) {
            set(o, "1");
        } else if (eq) {
            set(o, eq + 1);
        } else if (i + 1 < argc) {
            set(o, argv[++i]);
        } else {
            fprintf(stderr, "brasa: option --%s needs a value\n", o->name);
            return 2;
        }
    }
    for (cli_opt *o = opts; o->name; o++) {
        const char *e = o->env ? getenv(o->env) : NULL;
        if (!o->value && e && *e) o->value = xstrdup(e);
        if (!o->value && o->def) o->value = xstrdup(o->def);
    }
    return 0;
}

void opts_usage(FILE *f, const char *usage, const cli_opt *opts) {
    fprintf(f, "%s\n", usage);
    if (opts->name) fprintf(f, "\nOptions:\n");
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->name, o->flag ? "" : " V");
        fprintf(f, "  %-24s %s", left, o->help);
        if (o->def && *o->def) fprintf(f, " (default: %s)", o->def);
        if (o->env) fprintf(f, " [$%s]", o->env);
        fprintf(f, "\n");
    }
}

const char *opts_get(const cli_opt *opts, const char *name) {
    for (const cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name)) return o->value;
    return NULL;
}

long long opts_uint(const cli_opt *opts, const char *name, long long max) {
    const char *v = opts_get(opts, name);
    char *end;
    long long n = v ? strtoll(v, &end, 10) : -1;
    if (!v || end == v || *end || n < 0 || n > max) {
        fprintf(stderr, "brasa: --%s must be an integer from 0 to %lld (got '%s')\n", name, max,
                v ? v : "");
        return -1;
    }
    return n;
}

void opts_free(cli_opt *opts) {
    for (cli_opt *o = opts; o->name; o++) {
        free(o->value);
        o->value = NULL;
    }
}

int opts_parse_verb(int argc, char **argv, cli_opt *opts, const char *usage, char **pos, int *npos, int maxpos) {
    int rc = opts_parse(argc, argv, opts, usage, pos, npos, maxpos);
    if (!rc && *npos > 0) return -1;
    if (!rc) opts_usage(stderr, usage, opts);
    opts_free(opts);
    return rc == 1 ? 0 : 2;
}

store_t *opts_store(const cli_opt *opts, int *rc) {
    store_t *store = NULL;
    if (*rc == 0 && store_open(opts_get(opts, "data-dir"), &store) < 0) *rc = 1, store = NULL;
    return store;
}

int opts_end(cli_opt *opts, store_t *store, int rc) {
    if (store) store_close(store);
    opts_free(opts);
    return rc;
}

void opts_print_json(json_object *o) {
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

int opts_read_line(char *out, size_t size) {
    size_t n = 0;
    int ch;
    while ((ch = getchar()) != EOF && ch != '\n') {
        if (n + 1 >= size) return -1;
        out[n++] = (char)ch;
    }
    if (n && out[n - 1] == '\r') n--;
    out[n] = '\0';
    return 0;
}

