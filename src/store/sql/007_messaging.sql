-- 007_messaging.sql: apps, campaigns, send ids, schedules, dispatches,
-- per-day send statistics, what each user received, and the messaging
-- events waiting for Currents.
--
-- Campaigns are documents (the admin API's JSON, normalised) with the
-- columns listings filter on beside them. A dispatch is one send: its
-- audience fixed when it was made (a roaring bitmap of profile rows), the
-- message it carries, and a progress cursor over the audience that the
-- dispatcher advances only after the messages below it were delivered
-- (send/dispatch.h), which is what makes a crash re-send only what was in
-- flight.
CREATE TABLE apps (
    app_id     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    platform   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE campaigns (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- creation order
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,                     -- api | api_triggered
    archived   INTEGER NOT NULL DEFAULT 0,
    doc        TEXT NOT NULL,                     -- core/campaign.h
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    first_sent INTEGER,
    last_sent  INTEGER
);

CREATE TABLE send_ids (
    campaign_id TEXT NOT NULL,
    send_id     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, send_id)
);

-- A schedule becomes a dispatch when its time comes, in one transaction
-- that marks it fired: it fires once.
CREATE TABLE schedules (
    id          TEXT PRIMARY KEY,
    campaign_id TEXT,
    send_id     TEXT,
    request     TEXT NOT NULL,                    -- the checked request (send/request.h)
    at          INTEGER NOT NULL,                 -- ms, UTC (the first zone for in_local_time)
    state       INTEGER NOT NULL,                 -- 0 pending, 1 fired, 2 deleted
    dispatch_id TEXT NOT NULL,                    -- given at creation, as Braze answers it
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules(state, at);

CREATE TABLE dispatches (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    campaign_id TEXT,
    send_id     TEXT,
    request     TEXT NOT NULL,
    audience    BLOB NOT NULL,                    -- roaring bitmap of rows (portable serialisation)
    total       INTEGER NOT NULL,
    cursor      INTEGER NOT NULL DEFAULT 0,       -- audience positions below it are done
    state       INTEGER NOT NULL DEFAULT 0,       -- 0 sending, 1 done
    sent        INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    aborted     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER
);
CREATE INDEX dispatches_state ON dispatches(state);

-- Counters per campaign x send id x variation x channel x day ('' when a
-- send has no send id / variation).
CREATE TABLE message_stats (
    campaign_id  TEXT NOT NULL,
    send_id      TEXT NOT NULL,
    variation_id TEXT NOT NULL,
    channel      TEXT NOT NULL,
    day          INTEGER NOT NULL,                -- days since the epoch, UTC
    sent         INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    enrolled     INTEGER NOT NULL DEFAULT 0,      -- control group
    unique_recipients INTEGER NOT NULL DEFAULT 0,
    conversions  INTEGER NOT NULL DEFAULT 0,
    conversions1 INTEGER NOT NULL DEFAULT 0,
    conversions2 INTEGER NOT NULL DEFAULT 0,
    conversions3 INTEGER NOT NULL DEFAULT 0,
    revenue      REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, send_id, variation_id, channel, day)
);

-- The last message of each campaign a user received (users export's
-- campaigns_received), by braze_id, which outlives row numbers.
CREATE TABLE received (
    braze_id     BLOB NOT NULL,
    campaign_id  TEXT NOT NULL,
    variation_id TEXT NOT NULL,
    channel      TEXT NOT NULL,
    in_control   INTEGER NOT NULL,
    at           INTEGER NOT NULL,                -- ms
    PRIMARY KEY (braze_id, campaign_id)
) WITHOUT ROWID;

-- Currents events of messaging (users.messages.*, users.campaigns.*), in
-- the outbox's shape: a JSON array of events per row.
CREATE TABLE message_outbox (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    events TEXT NOT NULL
);
