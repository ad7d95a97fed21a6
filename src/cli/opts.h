/* opts.h -- command-line options with BRASA_* environment fallbacks.
 *
 * Each subcommand declares a table of options; a value comes from the flag
 * (--name V or --name=V), else the environment variable, else the default.
 * The same table prints --help, so what is documented is what is parsed. */
#ifndef BR_OPTS_H
#define BR_OPTS_H
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *name; /* "port" for --port */
    const char *env;  /* "BRASA_PORT" or NULL */
    const char *def;  /* default, or NULL */
    const char *help;
    bool flag;        /* takes no value; set to "1" when given */
    bool repeat;      /* may be given several times; values joined with ',' */
    char *value;      /* result (owned by the table after opts_parse) */
} cli_opt;

/* Parses argv[0..argc) (options and positionals) into opts; positionals go
 * to pos[0..*npos). Prints usage and returns 1 for --help, prints an error
 * and returns 2 for a bad option, returns 0 otherwise. */
int opts_parse(int argc, char **argv, cli_opt *opts, const char *usage, char **pos, int *npos,
               int maxpos);
void opts_usage(FILE *f, const char *usage, const cli_opt *opts);
const char *opts_get(const cli_opt *opts, const char *name);
/* Parses an unsigned integer option; prints an error and returns -1 if bad. */
long long opts_uint(const cli_opt *opts, const char *name, long long max);
void opts_free(cli_opt *opts);
/* For commands that take a verb (`keys create`, ...): parses like
 * opts_parse and returns -1 to go on; otherwise opts are freed and the
 * return value is the exit code (0 after --help, 2 for a bad option or a
 * missing verb, with the usage on stderr). */
int opts_parse_verb(int argc, char **argv, cli_opt *opts, const char *usage, char **pos, int *npos, int maxpos);

typedef struct store store_t;
/* A command's store (--data-dir) once its arguments passed (*rc 0):
 * opened, or NULL with *rc 1 (the store logged why). With *rc set
 * already, NULL, and nothing is opened. */
store_t *opts_store(const cli_opt *opts, int *rc);
/* A command's end: its store closed (NULL: none), its options freed;
 * returns rc. */
int opts_end(cli_opt *opts, store_t *store, int rc);

struct json_object;
/* Prints o compactly on one line of stdout (for --json) and releases it. */
void opts_print_json(struct json_object *o);
/* The first line of stdin (a --password-stdin), without its newline or a
 * CR before it, into out[size]; -1 when it is longer than that. */
int opts_read_line(char *out, size_t size);

#endif
