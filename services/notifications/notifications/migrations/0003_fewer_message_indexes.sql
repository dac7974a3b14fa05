-- Open work moves to a narrow queue table, so that each state change is cheap.
--
-- Every index on a row is paid on each update that changes an indexed column (or a column of a partial
-- index's predicate): with status in the predicate of the "due" index, claiming and marking rewrote every
-- index of the wide messages row twice per message. Now:
-- - outgoing holds one narrow row per message still to send: claiming it (claimed_at, attempts) and
--   rescheduling it (not_before) touch no indexed column, so PostgreSQL updates it in place (HOT);
-- - messages keeps what was sent; marking it sent / delivered / dead changes no indexed column either
--   (fillfactor leaves room on the page for the in-place update).
-- A message is "sending" while its outgoing row is claimed (claimed_at set): messages.status stays pending
-- until the channel's answer is marked, and a claim older than the lease is taken to be abandoned.

CREATE TABLE outgoing (
    message_id  uuid PRIMARY KEY REFERENCES messages (id),
    channel     text        NOT NULL,
    recipient   text        NOT NULL,
    priority    int         NOT NULL,
    urgent      boolean     NOT NULL,
    created_at  timestamptz NOT NULL,
    not_before  timestamptz NOT NULL,
    claimed_at  timestamptz,
    attempts    int         NOT NULL DEFAULT 0
) WITH (fillfactor = 70);
CREATE INDEX outgoing_due ON outgoing (channel, priority, created_at);
CREATE INDEX outgoing_recipient ON outgoing (recipient);
-- The queue churns (insert, then delete when sent): vacuum it by a fixed number of dead rows.
ALTER TABLE outgoing SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                          autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000);

INSERT INTO outgoing (message_id, channel, recipient, priority, urgent, created_at, not_before, claimed_at, attempts)
SELECT id, channel, recipient, priority, urgent, created_at, not_before, claimed_at, attempts
FROM messages WHERE status IN ('pending', 'sending');
UPDATE messages SET status = 'pending' WHERE status = 'sending';

DROP INDEX messages_due;
DROP INDEX messages_gateway;  -- receipts find messages by id (the client message id)
DROP INDEX messages_inbox;    -- the inbox pages by (jurisdiction, inbox_seq)
ALTER TABLE messages SET (fillfactor = 80);
