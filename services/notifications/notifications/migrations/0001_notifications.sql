-- Notifications' schema: who to tell about each application, and every message, keyed so it exists once.

CREATE TABLE applications (
    application_id  uuid PRIMARY KEY,
    programme_id    text   NOT NULL,
    jurisdiction    text   NOT NULL,
    payee_masked    text   NOT NULL,
    subject_key     text   NOT NULL
);

CREATE TABLE recipients (
    application_id  uuid   NOT NULL,
    role            text   NOT NULL,
    name            text   NOT NULL,
    mobile          text,
    email           text,
    PRIMARY KEY (application_id, role, name)
);

CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    event_id        uuid        NOT NULL,
    template        text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('sms', 'email', 'inbox')),
    recipient       text        NOT NULL,          -- mobile number, e-mail address or inbox owner
    recipient_role  text        NOT NULL,
    application_id  uuid,
    subject_key     text        NOT NULL,
    correlation_id  uuid        NOT NULL,
    content         text        NOT NULL,
    priority        int         NOT NULL DEFAULT 5,  -- lower is sent first
    status          text        NOT NULL DEFAULT 'pending',
    attempts        int         NOT NULL DEFAULT 0,
    not_before      timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    gateway_id      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (event_id, template, channel, recipient)   -- never the same message twice
);
CREATE INDEX messages_pending ON messages (channel, priority, not_before) WHERE status = 'pending';
CREATE INDEX messages_application ON messages (application_id);
