-- Registration's own schema: the people and enterprises it knows, their facts and accounts, and the
-- applications submitted by integrations, with a timeline built from the other services' events.

CREATE TABLE persons (
    id              uuid PRIMARY KEY,
    id_number       text        NOT NULL UNIQUE,
    name            text        NOT NULL,
    birth_date      date        NOT NULL,
    sex             text        NOT NULL CHECK (sex IN ('male', 'female')),
    region_code     text        NOT NULL,
    mobile          text,
    email           text,
    guardian_name   text,
    guardian_mobile text,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE enterprises (
    id              uuid PRIMARY KEY,
    credit_code     text        NOT NULL UNIQUE,
    name            text        NOT NULL,
    region_code     text        NOT NULL,
    size            text        NOT NULL CHECK (size IN ('micro', 'small', 'medium', 'large')),
    contact_name    text        NOT NULL,
    contact_mobile  text        NOT NULL,
    contact_email   text,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE facts (
    id           uuid PRIMARY KEY,
    subject_id   uuid        NOT NULL,
    kind         text        NOT NULL,
    payload      jsonb       NOT NULL,
    recorded_by  text        NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX facts_subject ON facts (subject_id);

CREATE TABLE payee_accounts (
    id              uuid PRIMARY KEY,
    owner_id        uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('social_security_card', 'enterprise_basic')),
    account_number  text        NOT NULL,
    holder_name     text        NOT NULL,
    bank_code       text        NOT NULL,
    bank_name       text        NOT NULL,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_id, kind, account_number)
);

CREATE TABLE applications (
    id                uuid PRIMARY KEY,
    programme_id      text        NOT NULL,
    applicant_kind    text        NOT NULL,
    applicant_id      uuid        NOT NULL,
    beneficiary_id    uuid,
    period_start      date,
    period_end        date,
    payee_account_id  uuid        NOT NULL REFERENCES payee_accounts (id),
    jurisdiction      text        NOT NULL,
    integration_id    text        NOT NULL,
    source_reference  text,
    idempotency_key   text,
    request_hash      text        NOT NULL,
    commitment        boolean     NOT NULL DEFAULT false,
    proxy             jsonb,
    contacts          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    status            text        NOT NULL,
    dedup_key         text        NOT NULL,
    correlation_id    uuid        NOT NULL,
    submitted_at      timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    decision          jsonb
);
CREATE UNIQUE INDEX applications_idempotency ON applications (integration_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX applications_source_reference ON applications (integration_id, source_reference)
    WHERE source_reference IS NOT NULL;
-- One live application per applicant, programme, beneficiary and period.
CREATE UNIQUE INDEX applications_dedup ON applications (dedup_key) WHERE status <> 'withdrawn';
CREATE INDEX applications_applicant ON applications (applicant_id);
CREATE INDEX applications_listing ON applications (integration_id, submitted_at DESC, id);

CREATE TABLE application_timeline (
    id              bigserial PRIMARY KEY,
    application_id  uuid        NOT NULL REFERENCES applications (id),
    event_id        uuid        NOT NULL UNIQUE,
    kind            text        NOT NULL,
    at              timestamptz NOT NULL,
    summary         text        NOT NULL,
    detail          jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX application_timeline_app ON application_timeline (application_id, at, id);
