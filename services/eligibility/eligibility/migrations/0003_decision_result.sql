-- What a decision grants besides money (e.g. the title level one may apply for), and grant attributes.
ALTER TABLE decisions ADD COLUMN result jsonb NOT NULL DEFAULT '{}'::jsonb;
