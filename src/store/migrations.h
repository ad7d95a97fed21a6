/* migrations.h -- the schemas, as numbered SQL files embedded at build time.
 *
 * The Makefile turns src/store/sql/NNN_name.sql (brasa.db) and
 * src/store/sql/profiles/NNN_name.sql (profiles.db, the checkpoint file)
 * into build/gen/migrations.c (scripts/embed-sql.sh); store_open_file()
 * applies those with a number above the database's, each in its own
 * transaction, in order. */
#ifndef BR_MIGRATIONS_H
#define BR_MIGRATIONS_H

typedef struct store_migration {
    int version;
    const char *name;
    const char *sql;
} store_migration;

extern const store_migration store_migrations[];
extern const int store_migrations_count;
extern const store_migration store_profiles_migrations[];
extern const int store_profiles_migrations_count;

#endif
