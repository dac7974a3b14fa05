-- E-mail and inbox channels, the sending state machine, delivery receipts, dead letters and reminder state.
--
-- A message moves pending -> sending (claimed, claimed_at set) -> sent (the channel accepted it)
-- -> delivered (receipt); a transient failure puts it back to pending with a later not_before; a permanent
-- one (or too many attempts) makes it dead, with a row in message_dead_letters. A row left in sending by a
-- crash is claimed again after the lease and re-sent with the same client message id, which the SMS
-- gateway de-duplicates.

ALTER TABLE applications
    ADD COLUMN applicant_id   uuid,
    ADD COLUMN correlation_id uuid,
    ADD COLUMN submitted_at   timestamptz;

UPDATE messages SET status = 'dead' WHERE status = 'failed';  -- the first version's permanent failures
ALTER TABLE messages
    ADD COLUMN subject        text,
    ADD COLUMN urgent         boolean     NOT NULL DEFAULT false,
    ADD COLUMN segments       int,
    ADD COLUMN jurisdiction   text,
    ADD COLUMN claimed_at     timestamptz,
    ADD COLUMN delivered_at   timestamptz,
    ADD COLUMN inbox_seq      bigint,  -- the inbox cursor (every message draws one; only inbox rows are read)
    ADD CONSTRAINT messages_status CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'dead'));

DROP INDEX messages_pending;
CREATE INDEX messages_due ON messages (channel, priority, created_at) WHERE status IN ('pending', 'sending');
CREATE INDEX messages_recipient ON messages (channel, recipient);  -- the per-recipient rate limit
CREATE INDEX messages_gateway ON messages (gateway_id) WHERE gateway_id IS NOT NULL;
-- The inbox the provincial platforms read: a gap-free-enough cursor per message, in the order written.
CREATE SEQUENCE inbox_seq;
ALTER TABLE messages ALTER COLUMN inbox_seq SET DEFAULT nextval('inbox_seq');
CREATE UNIQUE INDEX messages_inbox ON messages (inbox_seq) WHERE channel = 'inbox';
CREATE INDEX messages_inbox_jurisdiction ON messages (jurisdiction, inbox_seq) WHERE channel = 'inbox';

CREATE TABLE message_dead_letters (
    id               bigserial PRIMARY KEY,
    message_id       uuid        NOT NULL UNIQUE REFERENCES messages (id),
    channel          text        NOT NULL,
    template         text        NOT NULL,
    recipient_masked text        NOT NULL,
    application_id   uuid,
    reason           text        NOT NULL,
    attempts         int         NOT NULL,
    failed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_dead_letters_failed_at ON message_dead_letters (failed_at);

-- What reminders need to know about each decision (the reminder loop reads only this).
CREATE TABLE decisions (
    decision_id    uuid PRIMARY KEY,
    application_id uuid        NOT NULL,
    outcome        text        NOT NULL,
    amount         numeric(15, 2) NOT NULL,
    schedule_kind  text,
    instalments    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    period_end     date,
    missing        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    decided_at     timestamptz NOT NULL,
    revised_at     timestamptz
);
CREATE INDEX decisions_application ON decisions (application_id);
CREATE INDEX decisions_period_end ON decisions (period_end) WHERE outcome = 'eligible';
CREATE INDEX decisions_review ON decisions (decided_at) WHERE outcome = 'needs_review';
