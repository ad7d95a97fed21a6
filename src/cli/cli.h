/* cli.h -- the subcommands of the brasa binary, one file each. */
#ifndef BR_CLI_H
#define BR_CLI_H

#define CLI_DATA_DIR_OPT \
    {"data-dir", "BRASA_DATA_DIR", "./brasa-data", "data directory (SQLite store)", false, false, NULL}

/* Each takes the arguments after its name; returns the process exit code. */
int cli_serve(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_partners(int argc, char **argv);
int cli_cohorts(int argc, char **argv);
int cli_segments(int argc, char **argv);
int cli_campaigns(int argc, char **argv);
int cli_apps(int argc, char **argv);
int cli_liquid(int argc, char **argv);
int cli_credentials(int argc, char **argv);
int cli_smtp(int argc, char **argv);
int cli_currents(int argc, char **argv);

#endif
