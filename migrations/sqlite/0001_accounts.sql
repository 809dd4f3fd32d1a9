-- Accounts. Timestamps everywhere are milliseconds since the Unix epoch (UTC)
-- in a 64-bit integer: the one representation SQLite and Postgres share
-- without type mapping, and what the wire carries.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    -- Stored trimmed and lower-cased (see parley::validate::Email), so the
    -- plain UNIQUE constraint is the case-insensitive uniqueness we want.
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('customer', 'agent', 'admin')),
    -- argon2id PHC string: algorithm, parameters and salt travel with the hash.
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- The admin's user list and the staff list read users by role.
CREATE INDEX users_role_idx ON users (role, id);
