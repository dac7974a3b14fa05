-- Request nonces (replay protection of signed requests) and the append-only audit trail of writes.

CREATE TABLE request_nonces (
    integration_id text        NOT NULL,
    nonce          text        NOT NULL,
    request_ts     timestamptz NOT NULL,
    seen_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, nonce)
);
CREATE INDEX request_nonces_seen_at ON request_nonces (seen_at);

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    integration_id text        NOT NULL,
    request_id     text        NOT NULL,
    action         text        NOT NULL,      -- e.g. person.register, application.submit
    entity         text        NOT NULL,
    entity_id      text,
    detail         jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only: rows can be added, never changed or removed (not even by the owning role).
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
