-- 008_content_blocks.sql: Braze's Content Blocks (core/content_block.h,
-- store/content_blocks.h).
--
-- A block is named Liquid that messages include by name. Rows are never
-- deleted: an archived block (archived_at set; no API route archives, as
-- Braze archives in its dashboard) leaves /content_blocks/list, answers
-- "deleted" on /content_blocks/info, stops resolving at send time, and
-- keeps its name taken. The id has Braze's shape, a UUID. A rowid table
-- (not WITHOUT ROWID): content runs to 50 KB a row.
CREATE TABLE content_blocks (
    id           TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL UNIQUE,        -- [A-Za-z0-9_-]{1,99}, compared exactly
    description  TEXT NOT NULL DEFAULT '',
    content      TEXT NOT NULL,               -- Liquid that compiles
    content_type TEXT NOT NULL,               -- 'html' | 'text', from content
    state        TEXT NOT NULL,               -- 'active' | 'draft'
    tags         TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    created_at   INTEGER NOT NULL,            -- ms since epoch
    updated_at   INTEGER NOT NULL,            -- Braze's last_edited
    archived_at  INTEGER NOT NULL DEFAULT 0   -- 0 = live
);
CREATE INDEX content_blocks_by_updated ON content_blocks (updated_at);
