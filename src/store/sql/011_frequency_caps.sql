-- 011_frequency_caps.sql: workspace frequency capping.
--
-- The rules (at most max_messages per user per period, on one channel or
-- any) and what each user was delivered, by time, which the dispatcher
-- counts before sending a campaign that obeys the rules. Deliveries older
-- than the longest period a rule may have (30 days) are trimmed.
CREATE TABLE frequency_caps (
    id           INTEGER PRIMARY KEY,
    channel      TEXT NOT NULL,        -- webhook | email | any
    max_messages INTEGER NOT NULL,
    period_hours INTEGER NOT NULL
);

CREATE TABLE deliveries (
    braze_id BLOB NOT NULL,
    channel  TEXT NOT NULL,
    at       INTEGER NOT NULL          -- ms
);
CREATE INDEX deliveries_user ON deliveries(braze_id, at);
