/* migrations.h -- the schema, as numbered SQL files embedded at build time.
 *
 * The Makefile turns src/store/sql/NNN_name.sql into build/gen/migrations.c
 * (scripts/embed-sql.sh); store.c applies those with a number above the
 * database's, each in its own transaction, in order. */
#ifndef BR_MIGRATIONS_H
#define BR_MIGRATIONS_H

typedef struct {
    int version;
    const char *name;
    const char *sql;
} store_migration;

extern const store_migration store_migrations[];
extern const int store_migrations_count;

#endif
