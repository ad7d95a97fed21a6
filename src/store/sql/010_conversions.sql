-- 010_conversions.sql: campaign conversions (send/convert.h).
--
-- The converter tails the outbox (002_profiles.sql) after a durable
-- cursor; each batch advances it, records the conversions it found, their
-- counters (message_stats) and Currents events (message_outbox) in one
-- transaction, so a crash neither loses nor counts twice.
CREATE TABLE conversion_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 0),
    seq INTEGER NOT NULL                              -- the last outbox seq processed
);

-- A user converts at most once per behaviour (its index in the campaign's
-- conversion_events) per message received (received.at).
CREATE TABLE conversions (
    braze_id     BLOB NOT NULL,
    campaign_id  TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,                    -- ms, the received row's at
    at           INTEGER NOT NULL,                    -- ms, the converting event's time
    PRIMARY KEY (braze_id, campaign_id, idx, received_at)
) WITHOUT ROWID;
