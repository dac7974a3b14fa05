-- Status changes rewrite every index on the row: keep only the indexes that reads need. Payments are looked
-- up by application (the API, caseworkers) and held ones by reason; nothing scans instructions by status.
DROP INDEX IF EXISTS payment_instructions_status;
CREATE INDEX payment_instructions_application ON payment_instructions (application_id);
