-- An instruction's first attempt pays the account the instruction holds: it no longer keeps a copy of it
-- (NULL), which halves what creating and batching a payment writes for the payee. The instruction's payee
-- changes only with a re-issue, which first copies it onto the attempts that rely on it (instructions.reissue),
-- so coalesce(a.payee, i.payee) is always the account an attempt pays.
ALTER TABLE payment_attempts ALTER COLUMN payee DROP NOT NULL;
