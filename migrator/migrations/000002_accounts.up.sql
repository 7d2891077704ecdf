-- accounts belong to one user. Deleting an account sets deleted_at (soft
-- delete); a background job purges the row after a grace period.
CREATE TABLE accounts (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

-- Listing an owner's live accounts, newest first, paginated by the cursor
-- (created_at, id): an index-only range scan.
CREATE INDEX accounts_owner_live_idx ON accounts (owner_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

-- An owner cannot have two live accounts with the same name (ignoring case).
CREATE UNIQUE INDEX accounts_owner_name_key ON accounts (owner_id, lower(name))
    WHERE deleted_at IS NULL;

-- The purge job finds soft-deleted accounts past their grace period.
CREATE INDEX accounts_deleted_at_idx ON accounts (deleted_at)
    WHERE deleted_at IS NOT NULL;
