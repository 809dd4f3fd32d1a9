-- Conversations, their messages, read markers, the audit trail, canned
-- responses and staff availability.

CREATE TABLE conversations (
    id                     INTEGER PRIMARY KEY,
    customer_id            INTEGER NOT NULL REFERENCES users (id),
    subject                TEXT,
    -- The subject, or the first words of the first message: what lists show.
    title                  TEXT    NOT NULL,
    status                 TEXT    NOT NULL CHECK (status IN ('open', 'active', 'resolved', 'closed')),
    assignee_id            INTEGER REFERENCES users (id),
    -- The newest message's seq. A message takes last_seq + 1 in the same
    -- transaction that inserts it (the UPDATE is the first statement, so it
    -- orders writers on this row): seqs have no gaps and never go back.
    last_seq               INTEGER NOT NULL DEFAULT 0,
    -- The list previews: the newest text or note (staff lists) and the newest
    -- text (customer lists); system messages are not previewed. One join per
    -- page, not a subquery per row.
    last_message_id        INTEGER,
    last_public_message_id INTEGER,
    -- Sort keys: staff lists by any activity, customer lists by what they
    -- see (texts and system messages, never notes).
    last_activity_at       INTEGER NOT NULL,
    last_public_at         INTEGER NOT NULL,
    -- 1 while the newest text message is the customer's ("unanswered").
    awaiting_reply         INTEGER NOT NULL DEFAULT 1,
    created_at             INTEGER NOT NULL
);

-- The staff inbox, newest activity first, keyset-paged on (last_activity_at, id).
CREATE INDEX conversations_activity_idx ON conversations (last_activity_at DESC, id DESC);
-- "Mine" and "Unassigned" tabs.
CREATE INDEX conversations_assignee_idx ON conversations (assignee_id, last_activity_at DESC, id DESC);
-- The status filter.
CREATE INDEX conversations_status_idx ON conversations (status, last_activity_at DESC, id DESC);
-- A customer's own list, and the "earlier conversations" panel.
CREATE INDEX conversations_customer_idx ON conversations (customer_id, last_public_at DESC, id DESC);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL,
    -- NULL only for system messages with no human actor.
    sender_id       INTEGER REFERENCES users (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('text', 'system', 'note')),
    body            TEXT    NOT NULL,
    -- The sender's idempotency key (see the unique index below).
    client_id       TEXT,
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER,
    deleted_at      INTEGER
);

-- History pages ("before seq N"), replay ("after seq N") and unread counts
-- ("after my marker") are all range scans on this one index. It also makes
-- a seq unique within its conversation. (Paging by seq replaces the brief's
-- (conversation_id, id) index: the same order, without gaps.)
CREATE UNIQUE INDEX messages_conversation_seq_idx ON messages (conversation_id, seq);
-- Resending with the same client_id finds the stored message instead of
-- inserting a second one.
CREATE UNIQUE INDEX messages_client_id_idx ON messages (sender_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE read_markers (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    -- Everything up to and including this seq has been seen by the user.
    last_read_seq   INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations (id),
    actor_id        INTEGER REFERENCES users (id),
    action          TEXT    NOT NULL,
    from_value      TEXT,
    to_value        TEXT,
    created_at      INTEGER NOT NULL
);

-- A conversation's audit trail, in order.
CREATE INDEX audit_events_conversation_idx ON audit_events (conversation_id, id);

CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    shortcut   TEXT    NOT NULL UNIQUE,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE staff_availability (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id),
    availability TEXT    NOT NULL CHECK (availability IN ('online', 'away', 'offline')),
    updated_at   INTEGER NOT NULL
);

-- The "Unanswered" filter and the staff badge: only conversations waiting
-- for the team are in this index, so both stay cheap however many are done.
CREATE INDEX conversations_waiting_idx ON conversations (last_activity_at DESC, id DESC)
    WHERE awaiting_reply = 1 AND status IN ('open', 'active');
