-- Unread counts without counting. A list row's unread count was a COUNT
-- over every message after the viewer's read marker: at 100 messages a
-- conversation and a viewer who never opened most of them, a 30-row page
-- counted ~3,000 index entries. Now each conversation keeps a tally of the
-- messages that count as unread — for staff texts and notes, for its
-- customer texts (system messages never count) — and each message and each
-- read marker the tallies as they stood at that message. Unread is the
-- conversation's tally minus the marker's: one subtraction per row.
-- (Senders never see their own messages as unread: every send moves the
-- sender's marker to it, so nothing of theirs is ever after their marker.)
--
-- `staff_tally` / `public_tally`: on messages, the conversation's tallies
-- up to and including this message; on conversations, in all; on
-- read_markers, at the marker's seq. Kept by the write path in the same
-- transaction as the message (`insert_message`, `advance_marker`).

ALTER TABLE messages ADD COLUMN staff_tally INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN public_tally INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN staff_tally INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN public_tally INTEGER NOT NULL DEFAULT 0;
ALTER TABLE read_markers ADD COLUMN staff_tally INTEGER NOT NULL DEFAULT 0;
ALTER TABLE read_markers ADD COLUMN public_tally INTEGER NOT NULL DEFAULT 0;

-- Existing data: running sums in seq order, per conversation.
UPDATE messages SET staff_tally = w.staff_tally, public_tally = w.public_tally
FROM (
    SELECT id,
           SUM(CASE WHEN kind IN ('text', 'note') THEN 1 ELSE 0 END)
               OVER (PARTITION BY conversation_id ORDER BY seq) AS staff_tally,
           SUM(CASE WHEN kind = 'text' THEN 1 ELSE 0 END)
               OVER (PARTITION BY conversation_id ORDER BY seq) AS public_tally
    FROM messages
) AS w
WHERE messages.id = w.id;

UPDATE conversations SET
    staff_tally = COALESCE((SELECT m.staff_tally FROM messages m
        WHERE m.conversation_id = conversations.id ORDER BY m.seq DESC LIMIT 1), 0),
    public_tally = COALESCE((SELECT m.public_tally FROM messages m
        WHERE m.conversation_id = conversations.id ORDER BY m.seq DESC LIMIT 1), 0);

UPDATE read_markers SET
    staff_tally = COALESCE((SELECT m.staff_tally FROM messages m
        WHERE m.conversation_id = read_markers.conversation_id AND m.seq <= read_markers.last_read_seq
        ORDER BY m.seq DESC LIMIT 1), 0),
    public_tally = COALESCE((SELECT m.public_tally FROM messages m
        WHERE m.conversation_id = read_markers.conversation_id AND m.seq <= read_markers.last_read_seq
        ORDER BY m.seq DESC LIMIT 1), 0);
