-- Plumbing tables every service has in its own schema (created by the shared runtime).

-- Transactional outbox: rows written in the same transaction as the state they announce; the relay
-- publishes them in id order and deletes them once Kafka has acknowledged (acks=all).
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    key         text,
    event_type  text,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    value       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The table churns (insert then delete): vacuum it by a fixed number of dead rows, not a fraction.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000);

-- Inbox: one row per message a consumer has applied, written in the same transaction as its effects,
-- so a redelivered message is recognised and skipped.
CREATE TABLE inbox (
    consumer      text        NOT NULL,
    message_id    text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX inbox_processed_at ON inbox (processed_at);

-- Local copy of what went to the dead-letter topic, for the operators' HTTP view.
CREATE TABLE dead_letters (
    id                 bigserial PRIMARY KEY,
    consumer           text        NOT NULL,
    failure            text        NOT NULL,
    reason             text        NOT NULL,
    error_class        text,
    original_topic     text        NOT NULL,
    original_partition int         NOT NULL,
    original_offset    bigint      NOT NULL,
    event_id           text,
    event_type         text,
    record             jsonb       NOT NULL,
    failed_at          timestamptz NOT NULL DEFAULT now(),
    replayed_at        timestamptz
);
CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at);
