-- 019_currents.sql: Currents connectors (docs/currents.md), their durable
-- cursors into the two outboxes, their counters, and the dead letter.
--
-- A cursor names the next event to deliver in each outbox: event number
-- out_idx of outbox row out_seq (then the rows after it), and event
-- msg_idx of message_outbox row msg_id. It only advances once the
-- destination accepted (and, for files, made durable) everything before
-- it: after a crash delivery resumes there, so an event may go twice
-- (destinations dedupe on its stable id) but is never skipped.
CREATE TABLE currents (
    id            TEXT PRIMARY KEY,          -- 24 lowercase hex digits
    name          TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,             -- custom_http, amplitude, mixpanel, files
    config        TEXT NOT NULL,             -- the settings as given (secrets included: never shown)
    paused        INTEGER NOT NULL DEFAULT 0,
    gen           INTEGER NOT NULL DEFAULT 0, -- bumped by a replay: the runner takes the cursor again
    out_seq       INTEGER NOT NULL,
    out_idx       INTEGER NOT NULL,
    msg_id        INTEGER NOT NULL,
    msg_idx       INTEGER NOT NULL,
    sent          INTEGER NOT NULL DEFAULT 0, -- events accepted by the destination
    batches       INTEGER NOT NULL DEFAULT 0, -- requests (or file writes) accepted
    retries       INTEGER NOT NULL DEFAULT 0, -- attempts that failed and were retried
    errors        TEXT NOT NULL DEFAULT '{}', -- failed attempts by status: {"503": 2, "0": 1}
    last_error    TEXT,
    last_error_at INTEGER,                    -- ms
    last_sent_at  INTEGER,                    -- ms
    created_at    INTEGER NOT NULL            -- ms
);

-- Events a destination refused on their own (a 400, or a 413 for one
-- event): kept for the operator to read and send again.
CREATE TABLE currents_dead (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    connector  TEXT NOT NULL,                -- currents.id
    event_id   TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event      TEXT NOT NULL,                -- the flat record, as the outbox held it
    status     INTEGER NOT NULL,             -- the destination's answer
    error      TEXT NOT NULL,
    at         INTEGER NOT NULL,             -- ms
    replay     INTEGER NOT NULL DEFAULT 0,   -- 1: the operator asked to send it again
    UNIQUE (connector, event_id)
);
