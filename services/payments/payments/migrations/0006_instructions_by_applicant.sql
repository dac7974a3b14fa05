-- A corrected payee account (registration.payee-account-registered) is matched to the owner's failed and
-- returned payments by applicant id (account_changes.py). The index is on the applicant alone: applicant_id never
-- changes, so status updates stay HOT (a partial index on status would make every batching update rewrite it).
CREATE INDEX payment_instructions_applicant ON payment_instructions (applicant_id);
