-- What payments really did with each granted instalment (from payments.status-changed), so that caps and
-- exclusivity count money paid or still on its way, not money that failed, came back or was cancelled.

CREATE TABLE grant_payments (
    instruction_id  text        PRIMARY KEY,       -- the instalment's stable payment id
    decision_id     uuid        NOT NULL,
    attempt         int         NOT NULL,
    status          text        NOT NULL,          -- the latest: scheduled | held | batched | sent | settled | failed | returned | cancelled
    amount          numeric(15, 2) NOT NULL,
    reason_code     text,
    changed_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grant_payments_decision ON grant_payments (decision_id);

ALTER TABLE grants ADD COLUMN paid_amount numeric(15, 2) NOT NULL DEFAULT 0;      -- settled
ALTER TABLE grants ADD COLUMN unpaid_amount numeric(15, 2) NOT NULL DEFAULT 0;    -- failed, returned or cancelled
ALTER TABLE grants ADD COLUMN unpaid_instalments int NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN payment_status text;  -- null: nothing reported; paid | partly_paid | unpaid | in_progress
