-- 020_postbacks.sql: transactional email's delivery postbacks
-- (send/postback.h). Each is written in the transaction that records the
-- outcome it reports, and deleted once its URL answered: a restart
-- resends what was not answered, it never loses one.
CREATE TABLE postbacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- a dispatch's posts go in id order, one at a time
    dispatch_id TEXT NOT NULL,
    url         TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,                  -- ms
    attempts    INTEGER NOT NULL DEFAULT 0,        -- deliveries that failed (each after the channel's own retries)
    next_at     INTEGER NOT NULL DEFAULT 0         -- ms: not before
);
CREATE INDEX postbacks_by_dispatch ON postbacks (dispatch_id, id);
