-- 015_email_engagement.sql: opens, clicks and unsubscribes, as the
-- tracking links of sent email report them (send/links.h).
--
-- One row per recipient, dispatch and kind: the first one makes the
-- recipient unique (unique_opens, unique_clicks), later ones only count.
CREATE TABLE email_engagement (
    braze_id    BLOB NOT NULL,
    dispatch_id TEXT NOT NULL,                -- the dispatch row's id
    kind        TEXT NOT NULL,                -- open | click | unsubscribe
    first_at    INTEGER NOT NULL,             -- ms
    count       INTEGER NOT NULL,
    PRIMARY KEY (braze_id, dispatch_id, kind)
) WITHOUT ROWID;

-- Email stats: opens by people and by machines (privacy proxies that
-- fetch every image of a message on delivery) apart, as Braze shows them.
ALTER TABLE message_stats ADD COLUMN opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_stats ADD COLUMN unique_opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_stats ADD COLUMN machine_opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_stats ADD COLUMN clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_stats ADD COLUMN unique_clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_stats ADD COLUMN unsubscribes INTEGER NOT NULL DEFAULT 0;

-- campaigns_received's engaged.opened_email / clicked_email.
ALTER TABLE received ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE received ADD COLUMN clicked INTEGER NOT NULL DEFAULT 0;
