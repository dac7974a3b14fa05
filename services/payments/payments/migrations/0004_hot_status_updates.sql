-- Batching moves every instruction from scheduled to sent (or batched): let that update stay on its page
-- without touching the instruction's indexes (a HOT update). It needs no indexed column to change, and a
-- partial index's predicate counts as indexed: the held index is now defined by held_reason, which is set
-- exactly while an instruction is held. Half of each new page is left free for the updated row versions.
DROP INDEX IF EXISTS payment_instructions_held;
CREATE INDEX payment_instructions_held ON payment_instructions (held_reason) WHERE held_reason IS NOT NULL;
ALTER TABLE payment_instructions SET (fillfactor = 50);

-- Ready attempts have no batch yet: index only those that joined one.
DROP INDEX IF EXISTS payment_attempts_batch;
CREATE INDEX payment_attempts_batch ON payment_attempts (batch_id) WHERE batch_id IS NOT NULL;
