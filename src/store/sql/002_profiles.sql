-- 002_profiles.sql: profiles, the journal of changes, names, the outbox.
--
-- Memory is the working set, SQLite the truth (DESIGN.md §3). A request
-- that changes profiles appends one journal row (its body and the time it
-- was applied at) in the same transaction as its answer's commit; profiles
-- changed since the last checkpoint are written here in bulk later, and the
-- journal up to that point is dropped. Start-up loads `profiles` and
-- replays the journal rows after `meta.checkpoint_seq`.
CREATE TABLE profiles (
    row      INTEGER PRIMARY KEY,   -- dense row number (bitmaps use it)
    braze_id BLOB NOT NULL,         -- 12 bytes
    created  INTEGER NOT NULL,      -- seconds
    updated  INTEGER NOT NULL,      -- seconds
    flags    INTEGER NOT NULL,      -- 1 = deleted (tombstone)
    data     BLOB                   -- the encoded fields (core/profile.h)
);

-- AUTOINCREMENT: checkpoints empty the table, and a reused seq would be at
-- or below meta.checkpoint_seq, so replay would skip it.
CREATE TABLE journal (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    at   INTEGER NOT NULL,          -- ms: "now" for the replay
    kind INTEGER NOT NULL,          -- core/command.h CMD_*
    body BLOB NOT NULL              -- the request body as received
);

-- Interned attribute, event and product names; ids are never reused.
CREATE TABLE names (
    id   INTEGER PRIMARY KEY,
    name BLOB NOT NULL UNIQUE
);

-- Behaviour events for Currents, one row per request, keyed by its
-- journal sequence; events: a JSON array in Currents' field names.
CREATE TABLE outbox (
    seq    INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    events TEXT NOT NULL
);
