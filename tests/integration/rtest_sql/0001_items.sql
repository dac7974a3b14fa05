-- Tables of the in-process test service used by tests/integration/test_runtime_plumbing.py.
CREATE TABLE items (
    application_id uuid PRIMARY KEY,
    reason         text NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now()
);
