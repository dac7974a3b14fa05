-- Payments' schema: one instruction per approved entitlement instalment.

CREATE TABLE payment_instructions (
    end_to_end_id      text PRIMARY KEY,              -- from (decision id, instalment number); ISO 20022 EndToEndId
    decision_id        uuid        NOT NULL,
    instalment_number  int         NOT NULL,
    application_id     uuid        NOT NULL,
    applicant_id       uuid        NOT NULL,
    programme_id       text        NOT NULL,
    fund_code          text        NOT NULL,
    amount             numeric(15, 2) NOT NULL CHECK (amount > 0),
    due_on             date        NOT NULL,
    payee              jsonb       NOT NULL,          -- account snapshot at approval; a change needs a re-issue
    status             text        NOT NULL,
    correlation_id     uuid        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (decision_id, instalment_number)           -- never two payments for one instalment
);
CREATE INDEX payment_instructions_status ON payment_instructions (status, fund_code);
