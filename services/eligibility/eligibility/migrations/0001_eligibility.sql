-- Eligibility's schema: decisions with their full explanation and input snapshot.

CREATE TABLE decisions (
    id                   uuid PRIMARY KEY,
    application_id       uuid        NOT NULL UNIQUE,   -- exactly one decision per application
    applicant_id         uuid        NOT NULL,
    beneficiary_id       uuid,
    programme_id         text        NOT NULL,
    rule_pack_version    text        NOT NULL,
    outcome              text        NOT NULL CHECK (outcome IN ('eligible', 'ineligible', 'needs_review')),
    amount               numeric(15, 2) NOT NULL,
    schedule_kind        text,
    instalments          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    conditions           jsonb       NOT NULL,
    legal_basis          jsonb       NOT NULL,
    input_snapshot       jsonb       NOT NULL,
    evaluated_on         date        NOT NULL,
    fund_code            text,
    public_notice_until  date,
    status               text        NOT NULL,          -- decided | public_notice | released | withdrawn | objected
    correlation_id       uuid        NOT NULL,
    decided_at           timestamptz NOT NULL,
    released_at          timestamptz
);
CREATE INDEX decisions_applicant ON decisions (applicant_id);
CREATE INDEX decisions_programme_outcome ON decisions (programme_id, outcome);
