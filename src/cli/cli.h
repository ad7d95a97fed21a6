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
int cli_import(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_operators(int argc, char **argv);

/* datadir.c. Takes the lock `brasa serve` holds on dir for as long as it
 * runs (dir/brasa.lock, created if missing): the fd to close to let go,
 * or -1 with errno (EWOULDBLOCK: a server, or another command, holds it).
 * The file is emptied: serve then writes its URL there, for the commands
 * that send to it (brasa import). */
int cli_lock_dir(const char *dir);
/* Removes dir and everything under it (a staging directory of ours). */
void cli_rm_rf(const char *dir);

#endif
