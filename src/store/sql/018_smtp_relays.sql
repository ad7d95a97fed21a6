-- 018_smtp_relays.sql: the SMTP relays email goes out through, added with
-- `brasa smtp add` or POST /admin/smtp_relays (docs/email.md). The relay
-- of --smtp-url / BRASA_SMTP_URL is not stored: it is the server's option.
--
-- The password is kept as it was given: AUTH must send it, so a one-way
-- hash (lib/secret.h) cannot serve, and encrypting it with a key kept in
-- the same data directory would hide it from nobody who can read that
-- directory (mode 0700, the operator's). It is never shown again: the
-- admin list and `brasa smtp list` show whether there is one, not what.
CREATE TABLE smtp_relays (
    name            TEXT PRIMARY KEY,     -- letters, digits, '_', '-', '.'; 1 to 64; not "default"
    url             TEXT NOT NULL,        -- smtp://host[:port] or smtps://host[:port], no user or password in it
    username        TEXT,                 -- AUTH, with password; NULL: none
    password        TEXT,
    max_connections INTEGER NOT NULL,     -- 1 to 128 SMTP sessions at once
    rate_per_second INTEGER NOT NULL,     -- messages started per second; 0: no limit
    timeout_ms      INTEGER NOT NULL,     -- per message; 0: the server's default
    enabled         INTEGER NOT NULL,     -- 0: kept, not sent through
    created_at      INTEGER NOT NULL      -- ms since epoch
) WITHOUT ROWID;
