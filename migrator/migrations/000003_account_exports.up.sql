-- account_exports are requests to export an account as a JSON document, and
-- their results. CreateAccountExport inserts a row in state 'pending' and
-- enqueues the export job in the same transaction; the worker moves it to
-- 'running', then 'succeeded' (content set) or, once the job's attempts are
-- exhausted, 'failed' (error set). Rows go with their account (the purge job
-- hard-deletes accounts).
-- The target of account_exports_account_fkey: an account's id with its
-- owner (id alone is already unique; the pair lets the export rows repeat
-- the owner without being able to disagree with it).
ALTER TABLE accounts ADD CONSTRAINT accounts_id_owner_key UNIQUE (id, owner_id);

CREATE TABLE account_exports (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid        NOT NULL,
    -- The account's owner, repeated so that every query is scoped by owner
    -- like the accounts queries; the foreign key below keeps it equal to
    -- accounts.owner_id.
    owner_id     uuid        NOT NULL,
    state        text        NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    -- Attempts the worker has started (River's job attempts, mirrored).
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz, -- first attempt
    completed_at timestamptz, -- succeeded or failed
    error        text        NOT NULL DEFAULT '',
    -- The export document, UTF-8 JSON, byte for byte as the worker wrote it
    -- (bytea, not jsonb: jsonb would reorder keys and drop whitespace).
    content      bytea,
    CONSTRAINT account_exports_account_fkey FOREIGN KEY (account_id, owner_id)
        REFERENCES accounts (id, owner_id) ON DELETE CASCADE,
    CONSTRAINT account_exports_content_check CHECK ((state = 'succeeded') = (content IS NOT NULL)),
    CONSTRAINT account_exports_completed_check CHECK ((state IN ('succeeded', 'failed')) = (completed_at IS NOT NULL))
);

-- Exports of an account, newest first (look-ups by account; the cascade of
-- an account's purge).
CREATE INDEX account_exports_account_idx ON account_exports (account_id, created_at DESC);

-- users mirrors Kratos. The reconciliation job marks a row whose identity
-- Kratos no longer has (deleted by an operator or through the admin API)
-- instead of deleting it and, by cascade, the user's accounts: a mistaken
-- or partial listing must not destroy data. The mark is cleared when the
-- identity shows up again (a request, the web hook, the next run).
ALTER TABLE users ADD COLUMN identity_deleted_at timestamptz;

CREATE INDEX users_identity_deleted_at_idx ON users (identity_deleted_at)
    WHERE identity_deleted_at IS NOT NULL;
