-- Mirrors migrations/sqlite/0003_public_seq.sql on PostgreSQL. The backfill
-- below is the same SQL: `UPDATE … FROM` with a window function and a
-- correlated subquery mean the same on both databases.
--
-- Customers get their own gap-free message sequence.
--
-- `messages.seq` numbers every message of a conversation, private notes
-- included; a customer who saw seq 4 and then 6 would know the team wrote
-- something about them in between. So every message a customer may see
-- (texts and system messages, never notes) also takes the conversation's
-- next `public_seq`, in the same transaction and under the same row lock as
-- `seq`: customers' seqs have no gaps and follow commit order, like staff's.
-- Notes have none (NULL). Every answer to a customer speaks `public_seq`;
-- staff keep `seq`. Read markers stay in `seq` and are translated at the
-- customer-facing edge (backend::conversations).

ALTER TABLE messages ADD COLUMN public_seq BIGINT;
-- The newest public_seq; 0 before the first visible message.
ALTER TABLE conversations ADD COLUMN last_public_seq BIGINT NOT NULL DEFAULT 0;

-- Number what is already there: visible messages in seq order, per conversation.
UPDATE messages SET public_seq = numbered.n
FROM (
    SELECT id, ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY seq) AS n
    FROM messages WHERE kind <> 'note'
) AS numbered
WHERE messages.id = numbered.id;

UPDATE conversations SET last_public_seq = COALESCE(
    (SELECT MAX(m.public_seq) FROM messages m WHERE m.conversation_id = conversations.id), 0);

-- A customer's history pages ("before public seq N") and replay ("after
-- public seq N") are range scans on this index, as staff's are on
-- (conversation_id, seq); it also makes a public seq unique in its
-- conversation, and finds the message a customer's read marker points at.
-- Partial: notes have no public seq and need no entry.
CREATE UNIQUE INDEX messages_conversation_public_seq_idx
    ON messages (conversation_id, public_seq) WHERE public_seq IS NOT NULL;
