-- Funds and their yearly budgets, payment attempts (re-issues), bank batches with control totals, bank
-- reports (idempotency), reconciliation breaks and receivables (追回).

CREATE TABLE funds (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    account_name    text NOT NULL,
    account_number  text NOT NULL,
    bank_code       text NOT NULL
);

CREATE TABLE fund_budgets (
    fund_code  text    NOT NULL REFERENCES funds (code),
    year       int     NOT NULL,
    budget     numeric(15, 2) NOT NULL CHECK (budget >= 0),
    reserved   numeric(15, 2) NOT NULL DEFAULT 0,   -- scheduled, batched or sent, not yet settled
    paid       numeric(15, 2) NOT NULL DEFAULT 0,   -- settled by the bank
    PRIMARY KEY (fund_code, year),
    CHECK (reserved >= 0 AND paid >= 0 AND reserved + paid <= budget)
);

ALTER TABLE payment_instructions RENAME COLUMN end_to_end_id TO instruction_id;
ALTER TABLE payment_instructions ADD COLUMN budget_year int;
ALTER TABLE payment_instructions ADD COLUMN held_reason text;
ALTER TABLE payment_instructions ADD COLUMN attempt int NOT NULL DEFAULT 1;
ALTER TABLE payment_instructions ADD COLUMN reserved boolean NOT NULL DEFAULT false;
ALTER TABLE payment_instructions ADD COLUMN failure_code text;
ALTER TABLE payment_instructions ADD COLUMN failure_text text;
ALTER TABLE payment_instructions ADD COLUMN settled_at timestamptz;
CREATE INDEX payment_instructions_held ON payment_instructions (held_reason) WHERE status = 'held';

CREATE TABLE payment_attempts (
    end_to_end_id   text PRIMARY KEY,
    instruction_id  text        NOT NULL REFERENCES payment_instructions (instruction_id),
    attempt         int         NOT NULL,
    payee           jsonb       NOT NULL,            -- account snapshot this attempt pays to
    bank_code       text        NOT NULL,            -- the payee's bank: batches are per bank
    fund_code       text        NOT NULL,
    amount          numeric(15, 2) NOT NULL CHECK (amount > 0),
    due_on          date        NOT NULL,
    status          text        NOT NULL,            -- ready | batched | sent | settled | failed | returned | cancelled
    batch_id        text,
    reason_code     text,
    reason_text     text,
    bank_reference  text,
    value_date      date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (instruction_id, attempt)
);
CREATE INDEX payment_attempts_ready ON payment_attempts (bank_code, fund_code, due_on) WHERE status = 'ready';
CREATE INDEX payment_attempts_batch ON payment_attempts (batch_id);
CREATE INDEX payment_attempts_sent ON payment_attempts (updated_at) WHERE status = 'sent';

CREATE TABLE payment_batches (
    batch_id                  text PRIMARY KEY,
    bank_code                 text        NOT NULL,
    fund_code                 text        NOT NULL,
    requested_execution_date  date        NOT NULL,
    number_of_transactions    int         NOT NULL CHECK (number_of_transactions > 0),
    control_sum               numeric(17, 2) NOT NULL,
    status                    text        NOT NULL,  -- awaiting_approval | approved | sent | cancelled
    channel                   text        NOT NULL,  -- kafka | file
    maker                     text        NOT NULL,
    checker                   text,
    approved_at               timestamptz,
    sent_at                   timestamptz,
    file_name                 text,
    cancelled_by              text,
    cancel_reason             text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    CHECK (checker IS NULL OR checker <> maker)      -- maker-checker: never the same party
);
CREATE INDEX payment_batches_status ON payment_batches (status);

CREATE TABLE bank_reports (
    bank_code    text        NOT NULL,
    report_id    text        NOT NULL,
    source       text        NOT NULL,               -- kafka | pain.002 | camt.054
    entries      int         NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank_code, report_id, source)
);

CREATE TABLE reconciliation_breaks (
    id               uuid PRIMARY KEY,
    kind             text        NOT NULL,           -- unmatched_result | amount_mismatch | no_result | unexpected_status
    end_to_end_id    text,
    bank_code        text,
    report_id        text,
    expected_amount  numeric(15, 2),
    reported_amount  numeric(15, 2),
    detail           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status           text        NOT NULL DEFAULT 'open',  -- open | assigned | resolved | written_off
    assignee         text,
    resolution       text,
    reason           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX reconciliation_breaks_once ON reconciliation_breaks (kind, coalesce(end_to_end_id, ''), coalesce(report_id, ''));
CREATE INDEX reconciliation_breaks_open ON reconciliation_breaks (status, created_at) WHERE status IN ('open', 'assigned');

CREATE TABLE receivables (
    id                     uuid PRIMARY KEY,
    payee_id               uuid        NOT NULL,
    programme_id           text        NOT NULL,
    kind                   text        NOT NULL CHECK (kind IN ('overpayment', 'fraud')),
    amount                 numeric(15, 2) NOT NULL CHECK (amount > 0),
    repaid                 numeric(15, 2) NOT NULL DEFAULT 0,
    reason                 text        NOT NULL,
    blocks_programme       boolean     NOT NULL,
    status                 text        NOT NULL DEFAULT 'open',   -- open | repaid | written_off
    source_instruction_id  text,
    created_by             text        NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    closed_at              timestamptz,
    CHECK (repaid <= amount)
);
CREATE INDEX receivables_block ON receivables (payee_id, programme_id) WHERE status = 'open' AND blocks_programme;

CREATE TABLE receivable_repayments (
    id             uuid PRIMARY KEY,
    receivable_id  uuid        NOT NULL REFERENCES receivables (id),
    amount         numeric(15, 2) NOT NULL CHECK (amount > 0),
    reference      text        NOT NULL,
    recorded_by    text        NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (receivable_id, reference)
);
