-- 014_email.sql: the email channel's state.
--
-- Addresses a relay refused for good (SMTP 5xx: a hard bounce) are never
-- sent to again until the operator lifts them (/email/bounce/remove); the
-- address is the key, lower-cased, as several users may share one.
CREATE TABLE email_bounces (
    address TEXT PRIMARY KEY,
    at      INTEGER NOT NULL,               -- ms
    reason  TEXT NOT NULL                   -- the relay's answer
) WITHOUT ROWID;
CREATE INDEX email_bounces_at ON email_bounces(at);

-- Email stats: messages the relay accepted count in sent (Braze's
-- delivered), soft bounces in errors, hard bounces here.
ALTER TABLE message_stats ADD COLUMN bounces INTEGER NOT NULL DEFAULT 0;
