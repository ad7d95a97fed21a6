-- profiles/001_checkpoint.sql: profiles.db, the checkpoint file.
--
-- The state as of one journal seq S (meta checkpoint_seq), written in one
-- transaction by the checkpoint thread (engine/ckpt.c): the profiles and
-- cohorts changed since the previous checkpoint, and S. The columns are
-- those of brasa.db's tables of the same names (sql/001, 002, 003), so one
-- loader reads both (a data directory from before profiles.db kept its
-- checkpoint in brasa.db). IF NOT EXISTS: files written before this file
-- had migrations already hold these tables.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS profiles (
    row      INTEGER PRIMARY KEY,
    braze_id BLOB NOT NULL,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    flags    INTEGER NOT NULL,
    data     BLOB
);

CREATE TABLE IF NOT EXISTS cohorts (
    partner          TEXT NOT NULL,
    cohort_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    size             INTEGER NOT NULL,
    import_at        INTEGER,
    import_added     INTEGER NOT NULL DEFAULT 0,
    import_removed   INTEGER NOT NULL DEFAULT 0,
    import_unchanged INTEGER NOT NULL DEFAULT 0,
    import_unmatched INTEGER NOT NULL DEFAULT 0,
    members          BLOB,
    PRIMARY KEY (partner, cohort_id)
);
