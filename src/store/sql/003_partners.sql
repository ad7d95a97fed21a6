-- 003_partners.sql: technology partners' data import keys and the cohorts
-- they import (Braze's Partner Cohort Import, docs/api.md).
--
-- A data import key is stored only as the SHA-256 of its text, like a REST
-- key. A key is valid while expires_at is NULL or in the future: rotating
-- sets the old keys' expires_at to the end of the overlap window,
-- invalidating sets it to now. The partner name is the lower-case path
-- segment of /partners/{partner}/...
CREATE TABLE partner_keys (
    id         INTEGER PRIMARY KEY,
    partner    TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,          -- ms since epoch
    expires_at INTEGER                    -- ms; NULL = until rotated or invalidated
);
CREATE INDEX partner_keys_by_partner ON partner_keys (partner);

-- Per-partner settings. partner_api_key_hash: the SHA-256 of the
-- partner_api_key the operator expects from that partner; NULL (or no row)
-- accepts any value, since Braze issues that key to the partner and brasa
-- cannot know it.
CREATE TABLE partners (
    name                 TEXT PRIMARY KEY,
    partner_api_key_hash BLOB,
    updated_at           INTEGER NOT NULL
) WITHOUT ROWID;

-- Cohorts, in the engine's working set (engine.h). The metadata columns are
-- written in the transaction of every command that changes them, so this
-- table is always current for `brasa cohorts list`; `members` (a roaring
-- bitmap over profile rows, portable format) is written at checkpoints, and
-- start-up replays the journal over it. Rows are never deleted: rowid is the
-- creation order.
CREATE TABLE cohorts (
    partner          TEXT NOT NULL,
    cohort_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,    -- ms, as the partner sent it
    updated_at       INTEGER NOT NULL,    -- ms, last change by a partner call (name or members)
    size             INTEGER NOT NULL,    -- members
    import_at        INTEGER,             -- ms of the last users call; NULL = none yet
    import_added     INTEGER NOT NULL DEFAULT 0,
    import_removed   INTEGER NOT NULL DEFAULT 0,
    import_unchanged INTEGER NOT NULL DEFAULT 0,
    import_unmatched INTEGER NOT NULL DEFAULT 0,
    members          BLOB,                -- NULL until the first checkpoint
    PRIMARY KEY (partner, cohort_id)
);
