-- users mirrors the identities kept by Ory Kratos. Kratos is the source of
-- truth; rows are upserted by its web hooks, on a user's first request and by
-- the periodic reconciliation job, so no uniqueness is enforced here that
-- Kratos already enforces (a transient duplicate email during a rename must
-- not block the mirror).
CREATE TABLE users (
    id           uuid        PRIMARY KEY, -- the Kratos identity id
    email        text        NOT NULL CHECK (email <> ''),
    display_name text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Look-ups by email are case-insensitive.
CREATE INDEX users_email_idx ON users (lower(email));
