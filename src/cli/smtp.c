/* smtp.c -- `brasa smtp test`: one message through the relay the server
 * would use (--smtp-url / BRASA_SMTP_URL, as `brasa serve` takes it), so an
 * operator sees the relay's own answer before a campaign does. */
#include "cli.h"
#include "opts.h"
#include "../lib/httpc.h"
#include "../send/smtp.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: brasa smtp test --from ADDRESS --to ADDRESS [--smtp-url URL]\n"
    "\n"
    "Sends one short message through the relay (the same --smtp-url,\n"
    "--smtp-user and --smtp-password as `brasa serve`, or their BRASA_SMTP_*\n"
    "variables) and prints the outcome: exit 0 when the relay accepted it,\n"
    "1 with its answer when it did not.";

int cli_smtp(int argc, char **argv) {
    cli_opt opts[] = {
        {"smtp-url", "BRASA_SMTP_URL", NULL, "the relay: smtp://host:port or smtps://host:port", false, false, NULL},
        {"smtp-user", "BRASA_SMTP_USER", NULL, "the relay's AUTH user", false, false, NULL},
        {"smtp-password", "BRASA_SMTP_PASSWORD", NULL, "the relay's AUTH password", false, false, NULL},
        {"from", NULL, NULL, "the envelope sender and From address", false, false, NULL},
        {"to", NULL, NULL, "the recipient", false, false, NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char *pos[1];
    int npos = 0, rc = opts_parse_verb(argc, argv, opts, usage, pos, &npos, 1);
    if (rc >= 0) return rc;
    const char *url = opts_get(opts, "smtp-url"), *from = opts_get(opts, "from"), *to = opts_get(opts, "to");
    if (strcmp(pos[0], "test")) {
        fprintf(stderr, "brasa: unknown smtp command '%s'\n", pos[0]);
        rc = 2;
    } else if (!url || !from || !to) {
        fprintf(stderr, "brasa: smtp test needs --smtp-url (or BRASA_SMTP_URL), --from and --to\n");
        rc = 2;
    } else {
        httpc_global_init();
        smtp_opts o = {.url = url, .user = opts_get(opts, "smtp-user"), .password = opts_get(opts, "smtp-password")};
        char why[300];
        if (smtp_probe(&o, from, to, why, sizeof why) == 0) {
            printf("the relay at %s accepted a message from %s to %s\n", url, from, to);
            rc = 0;
        } else {
            fprintf(stderr, "brasa: the relay at %s did not take the message: %s\n", url, why);
            rc = 1;
        }
    }
    opts_free(opts);
    return rc;
}
