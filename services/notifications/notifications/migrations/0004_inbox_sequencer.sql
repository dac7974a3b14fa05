-- The inbox cursor in commit order. A sequence drawn at insert time can become visible out of order (a
-- transaction that drew 10 commits after one that drew 11, and a reader already past 11 never sees 10). Inbox
-- rows are now written without a cursor; one sequencer at a time (advisory lock) gives committed rows their
-- cursor in its own transaction, so every cursor a reader can see is higher than every cursor it saw before.
ALTER TABLE messages ALTER COLUMN inbox_seq DROP DEFAULT;
UPDATE messages SET inbox_seq = NULL WHERE channel <> 'inbox';
CREATE INDEX messages_inbox_unsequenced ON messages (created_at) WHERE channel = 'inbox' AND inbox_seq IS NULL;
