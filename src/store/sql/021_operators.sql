-- 021_operators.sql: the dashboard's operators, their sessions and the
-- audit log (dash/). Passwords are Argon2id strings (libsodium's
-- crypto_pwhash_str); a session is stored as the SHA-256 of its cookie, so
-- a copy of this file opens no session.
CREATE TABLE operators (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'marketer', 'read-only')),
    pwhash        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,           -- ms
    last_login_at INTEGER NOT NULL DEFAULT 0  -- ms; 0: never
);
CREATE TABLE operator_sessions (
    hash        BLOB PRIMARY KEY,             -- SHA-256 of the cookie's value
    operator_id INTEGER NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,             -- ms
    expires_at  INTEGER NOT NULL              -- ms
) WITHOUT ROWID;
CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id);
-- Every change made through the admin routes or by an operator: who (an
-- operator or a key, by name), from where, what (method, route path) and
-- the status it was answered with.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,                  -- ms
    who    TEXT NOT NULL,                     -- "operator:NAME" or "key:NAME"
    ip     TEXT NOT NULL,
    method TEXT NOT NULL,
    path   TEXT NOT NULL,
    status INTEGER NOT NULL
);
