-- Bulk intake (Kafka topic registration.intake.v1 and `registration import`): the result given for each
-- record, keyed by the integration's own source reference, so a redelivered batch or record gets the
-- original answer back; a record that was refused may be sent again corrected (its content hash differs).

CREATE TABLE intake_results (
    integration_id   text        NOT NULL,
    source_reference text        NOT NULL,
    request_hash     text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('accepted', 'duplicate_application', 'rejected')),
    application_id   uuid,
    errors           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    batch_id         text        NOT NULL,
    processed_at     timestamptz NOT NULL,
    PRIMARY KEY (integration_id, source_reference)
);
