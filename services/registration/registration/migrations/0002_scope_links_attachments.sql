-- Who may see a person or an enterprise: every integration that registered it (as well as integrations
-- whose jurisdiction covers its region); and attachment metadata of applications.

CREATE TABLE person_links (
    person_id      uuid NOT NULL REFERENCES persons (id),
    integration_id text NOT NULL,
    linked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, integration_id)
);
INSERT INTO person_links (person_id, integration_id) SELECT id, created_by FROM persons;

CREATE TABLE enterprise_links (
    enterprise_id  uuid NOT NULL REFERENCES enterprises (id),
    integration_id text NOT NULL,
    linked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, integration_id)
);
INSERT INTO enterprise_links (enterprise_id, integration_id) SELECT id, created_by FROM enterprises;

CREATE TABLE attachments (
    id              uuid PRIMARY KEY,
    application_id  uuid        NOT NULL REFERENCES applications (id),
    kind            text        NOT NULL,       -- e.g. labour_contract, graduation_certificate, business_licence
    file_name       text        NOT NULL,
    content_type    text        NOT NULL,
    size_bytes      bigint      NOT NULL CHECK (size_bytes > 0),
    sha256          text        NOT NULL,
    storage_uri     text        NOT NULL,       -- where the integration keeps the file; the platform stores metadata only
    added_by        text        NOT NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (application_id, sha256)
);
