-- Mirrors migrations/sqlite/0004_deactivation.sql on PostgreSQL.
--
-- An admin can deactivate an account instead of deleting it: the row stays,
-- because messages, assignments and audit rows name it, but the account
-- cannot sign in, its sessions stop counting, and it leaves the staff lists.
-- NULL: active. Milliseconds since the Unix epoch, like every timestamp.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
