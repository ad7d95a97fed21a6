/* main.c -- argv -> subcommand.
 *
 * brasa is one binary: the server and the operator's tools share the store
 * code, so what the CLI writes the server reads with the same rules. */
#include "cli/cli.h"
#include "lib/log.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", cli_serve, "run the server (Braze REST API)"},
    {"keys", cli_keys, "create, list and revoke REST API keys"},
    {"operators", cli_operators, "the people who sign in to the dashboard, and their roles"},
    {"partners", cli_partners, "technology partners' data import keys (cohort import)"},
    {"cohorts", cli_cohorts, "list the cohorts partners imported"},
    {"segments", cli_segments, "create, list and size segments"},
    {"campaigns", cli_campaigns, "create, update, archive, list and show campaigns"},
    {"apps", cli_apps, "create and list the workspace's apps"},
    {"liquid", cli_liquid, "render a Liquid template against a user (preview)"},
    {"credentials", cli_credentials, "basic-auth credentials for connected_content"},
    {"smtp", cli_smtp, "the SMTP relays email goes out through; a test message"},
    {"currents", cli_currents, "Currents connectors: stream events to partners and files"},
    {"import", cli_import, "create or update users from a CSV or NDJSON file, resumable"},
    {"backup", cli_backup, "write a consistent backup of a data directory, while the server runs"},
    {"restore", cli_restore, "restore a backup into a new data directory, checked first"},
    {"check", cli_check, "verify a data directory: integrity, journal, a load as at start"},
};

static void usage(FILE *f) {
    fprintf(f, "brasa %s -- a self-hosted, Braze-compatible customer engagement server\n\n"
               "usage: brasa COMMAND [options]    (brasa COMMAND --help for its options)\n\n"
               "Commands:\n", BRASA_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "  %-12s %s\n", "version", "print the version");
    fprintf(f, "\nEvery option can also be set with its BRASA_* environment variable.\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("brasa %s\n", BRASA_VERSION);
        return 0;
    }
    /* serve has --log-format (a flag overrides the variable); the other
     * commands log little (the store's warnings) but a shipper reading them
     * wants the same format, so they take the variable alone. */
    const char *lf = getenv("BRASA_LOG_FORMAT");
    if (lf && *lf && strcmp(argv[1], "serve")) {
        int f = log_parse_format(lf);
        if (f < 0) {
            fprintf(stderr, "brasa: unknown BRASA_LOG_FORMAT '%s' (text or json)\n", lf);
            return 2;
        }
        log_set_format((log_format)f);
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "brasa: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
