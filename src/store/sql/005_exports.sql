-- 005_exports.sql: segment export jobs (POST /users/export/segment).
--
-- A job is inserted in the transaction that acknowledges the request, so
-- an answered export is never forgotten. The exporter (engine/exporter.c)
-- runs jobs oldest first, one at a time; a row still 'running' when the
-- server starts was cut short (crash, kill -9, stop) and is run again from
-- the start. The file is <data dir>/exports/<name>, served by
-- GET /exports/<name> until it expires (--export-ttl).
CREATE TABLE exports (
    id              INTEGER PRIMARY KEY,
    prefix          TEXT NOT NULL UNIQUE,      -- object_prefix: <uuid>-<unix seconds>
    segment_id      TEXT NOT NULL,
    fields          TEXT NOT NULL,             -- fields_to_export, a JSON array
    callback        TEXT,                      -- callback_endpoint, NULL when none
    format          TEXT NOT NULL,             -- 'zip' or 'gzip'
    name            TEXT NOT NULL,             -- file name: <prefix>.zip or <prefix>.json.gz
    url             TEXT NOT NULL,             -- the download URL the request was answered with
    state           TEXT NOT NULL DEFAULT 'queued', -- queued, running, done, failed
    created_at      INTEGER NOT NULL,          -- ms since epoch
    started_at      INTEGER NOT NULL DEFAULT 0,
    finished_at     INTEGER NOT NULL DEFAULT 0,
    users           INTEGER NOT NULL DEFAULT 0, -- users written
    error           TEXT,                      -- why it failed
    callback_status INTEGER                    -- callback's HTTP status; 0 = no answer; NULL = none sent
);
-- The exporter's next job, and the one-export-per-segment check.
CREATE INDEX exports_by_state ON exports (state, segment_id);
