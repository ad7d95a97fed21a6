-- 004_segments.sql: segments (docs/segments.md) and their daily sizes.
--
-- A segment is a named definition (JSON, core/segment.h) over the profiles.
-- Rows are never deleted: archiving hides a segment from /segments/list and
-- from new references, like Braze, and keeps its history. The id has
-- Braze's segment id shape, a UUID. `size`/`size_at` are the last size the
-- server computed (for the CLI and the dashboard while the server runs).
CREATE TABLE segments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    definition  TEXT NOT NULL,               -- JSON
    description TEXT NOT NULL DEFAULT '',    -- the user's text (Braze's text_description)
    created_at  INTEGER NOT NULL,            -- ms since epoch
    updated_at  INTEGER NOT NULL,
    archived_at INTEGER NOT NULL DEFAULT 0,  -- 0 = live
    size        INTEGER,                     -- NULL until computed
    size_at     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX segments_by_created ON segments (created_at);

-- One size per segment per UTC day (days since the epoch), taken by the
-- server (GET /segments/data_series).
CREATE TABLE segment_sizes (
    segment_id TEXT NOT NULL,
    day        INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    PRIMARY KEY (segment_id, day)
) WITHOUT ROWID;
