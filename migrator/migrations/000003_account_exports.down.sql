DROP INDEX users_identity_deleted_at_idx;
ALTER TABLE users DROP COLUMN identity_deleted_at;
DROP TABLE account_exports;
ALTER TABLE accounts DROP CONSTRAINT accounts_id_owner_key;
