-- 017_email_state.sql: the global email state of addresses, spam reports
-- and subscription groups.
--
-- email_states keeps the last global state set for an address (by
-- /email/status, /email/blocklist, /users/track email_subscribe or an
-- unsubscribe link): /email/unsubscribes lists from it, and a user who
-- later gets the address takes that state (Braze keeps the state of an
-- address no user has yet). The engine holds it in memory (core/subs.h)
-- and writes what changed with each batch. Addresses lower-cased.
CREATE TABLE email_states (
    address TEXT PRIMARY KEY,
    state   TEXT NOT NULL,                  -- subscribed | unsubscribed | opted_in
    at      INTEGER NOT NULL                -- ms of the change
) WITHOUT ROWID;
CREATE INDEX email_states_state_at ON email_states(state, at);

-- Addresses that reported a message as spam (a feedback loop), until
-- /email/spam/remove lifts them.
CREATE TABLE email_spam (
    address TEXT PRIMARY KEY,
    at      INTEGER NOT NULL
) WITHOUT ROWID;

-- Subscription groups (Braze makes them in its dashboard; brasa over
-- /admin/subscription_groups). A user's state in a group is in its
-- profile (the subscription_groups attribute).
CREATE TABLE subscription_groups (
    id         TEXT PRIMARY KEY,            -- a UUID, as Braze's
    name       TEXT NOT NULL UNIQUE,
    channel    TEXT NOT NULL,               -- email | sms
    created_at INTEGER NOT NULL             -- ms
) WITHOUT ROWID;
