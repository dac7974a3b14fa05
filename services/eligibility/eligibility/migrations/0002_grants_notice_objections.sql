-- Earlier grants (for caps and exclusivity across programmes), 公示 bookkeeping and objections.

CREATE TABLE grants (
    decision_id   uuid PRIMARY KEY REFERENCES decisions (id),
    programme_id  text        NOT NULL,
    subject_id    uuid        NOT NULL,          -- the person (or enterprise) the grant is about
    household_id  text,
    granted_on    date        NOT NULL,
    start_on      date,
    end_on        date,
    amount        numeric(15, 2) NOT NULL,
    status        text        NOT NULL CHECK (status IN ('approved', 'paid', 'cancelled')),
    attributes    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grants_subject ON grants (subject_id);
CREATE INDEX grants_household ON grants (household_id) WHERE household_id IS NOT NULL;

ALTER TABLE decisions ADD COLUMN event_id uuid;               -- the decision-made event, cause of follow-ups
ALTER TABLE decisions ADD COLUMN notice_started_on date;
ALTER TABLE decisions ADD COLUMN notice_days int;
ALTER TABLE decisions ADD COLUMN notice_working_days boolean;
ALTER TABLE decisions ADD COLUMN reviewed_by text;
ALTER TABLE decisions ADD COLUMN review_reason text;
ALTER TABLE decisions ADD COLUMN final_outcome text;
ALTER TABLE decisions ADD COLUMN final_amount numeric(15, 2);
CREATE INDEX decisions_notice_due ON decisions (public_notice_until) WHERE status = 'public_notice';

CREATE TABLE objections (
    id            uuid PRIMARY KEY,
    decision_id   uuid        NOT NULL REFERENCES decisions (id),
    raised_by     text        NOT NULL,
    reason        text        NOT NULL,
    raised_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX objections_decision ON objections (decision_id);
