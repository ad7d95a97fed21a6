-- 001_keys.sql: REST API keys and server metadata.
-- A key is stored only as the SHA-256 of its text; the text is shown once,
-- at creation. Permissions and the IP allowlist are fixed for the key's
-- life, as in Braze: to change them, create a new key and revoke the old.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    permissions  TEXT NOT NULL,            -- comma-separated permission names
    allow_ips    TEXT NOT NULL DEFAULT '', -- comma-separated CIDRs; '' = any
    created_at   INTEGER NOT NULL,         -- ms since epoch
    last_used_at INTEGER,
    revoked_at   INTEGER
);
