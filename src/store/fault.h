/* fault.h -- fault injection at the store boundary, SQLite's way: a VFS
 * shim in front of the real one that fails chosen reads, writes or fsyncs.
 *
 * Only test builds have it (-DBR_FAULT_INJECTION: build/test/brasa and the
 * unit runner); in a release build these are no-ops, so no setting can
 * make a production server fail its own disk on purpose.
 *
 * A spec is a comma-separated list of rules "OP:FILE:NTH[:COUNT[:ERR]]":
 *   OP     read | write | sync
 *   FILE   the rule applies to files whose path ends with this
 *          ("brasa.db-wal", "profiles.db", ...)
 *   NTH    the first matching operation that fails, counted from 1 since
 *          the rule was set
 *   COUNT  how many fail from there (0 or absent: every one after)
 *   ERR    io (default) | full: a write that fails as a full disk
 * e.g. "sync:brasa.db-wal:40" (the 40th fsync of the journal's WAL and all
 * after fail), "write:profiles.db-wal:1:3" (three checkpoint writes fail).
 * Servers read it from $BRASA_FAULT at the first database open; unit tests
 * call store_fault_set(). */
#ifndef BR_STORE_FAULT_H
#define BR_STORE_FAULT_H
#include <stdbool.h>

/* Installs the shim as SQLite's default VFS if $BRASA_FAULT is set (test
 * builds; once per process). */
void store_fault_init(void);
/* Replaces the rules (NULL or "" clears them). Returns false for a spec
 * that does not parse, or in a release build. */
bool store_fault_set(const char *spec);
/* How many operations the rules have failed so far. */
unsigned store_fault_hits(void);

#endif
