/* command.h -- the kinds of profile-changing commands.
 *
 * The number is what the journal stores (engine.h), so a value never
 * changes meaning once written. */
#ifndef BR_COMMAND_H
#define BR_COMMAND_H

enum { CMD_TRACK = 1, CMD_ALIAS_NEW, CMD_IDENTIFY, CMD_DELETE, CMD_RENAME, CMD_REMOVE };
/* Partner cohort import (core/cohort.h). */
enum { CMD_COHORT_NAME = 7, CMD_COHORT_USERS = 8 };

#endif
