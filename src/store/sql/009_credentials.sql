-- 009_credentials.sql: the basic-auth credentials of Connected Content
-- ({% connected_content URL :basic_auth NAME %}, docs/liquid.md), which
-- Braze keeps under Manage Settings > Connected Content.
--
-- The password is kept as it was given: the fetcher must send it. It is
-- never shown again (the admin list and the CLI show name and username
-- only); the data directory is the operator's (mode 0700). Deleting a row
-- makes every later call that names it abort, as in Braze.
CREATE TABLE basic_auth_credentials (
    name       TEXT PRIMARY KEY,     -- letters, digits, '_', '-', '.'; 1 to 64
    username   TEXT NOT NULL,
    password   TEXT NOT NULL,
    created_at INTEGER NOT NULL      -- ms since epoch
) WITHOUT ROWID;
