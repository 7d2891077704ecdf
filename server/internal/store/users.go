package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/user"
)

// Users is the repository of the users table, a mirror of the Kratos
// identities: the UserStore receiver of the messenger, and the Upsert the
// auth layer calls.
type Users struct {
	db DB
}

// NewUsers returns the users repository over db.
func NewUsers(db DB) *Users { return &Users{db: db} }

// HandleGetUser returns the user with the ID, or user.ErrNotFound.
func (s *Users) HandleGetUser(ctx context.Context, msg user.Get) (user.User, error) {
	var u user.User
	err := s.db.QueryRow(ctx,
		`SELECT id, email, display_name, created_at, updated_at FROM users WHERE id = $1`, msg.ID,
	).Scan(&u.ID, &u.Email, &u.DisplayName, &u.CreateTime, &u.UpdateTime)
	if errors.Is(err, pgx.ErrNoRows) {
		err = user.ErrNotFound
	}
	if err != nil {
		return user.User{}, fmt.Errorf("get user %s: %w", msg.ID, err)
	}
	return u, nil
}

// Upsert makes the users row of u match the identity: it inserts it, or
// updates its email and display name. The update time changes only when one
// of them does, so calling Upsert on every request costs no write (it does
// take the row's lock for the statement). The ID must be a UUID and the
// email non-empty (the identity schema requires one). A row marked as
// deleted in Kratos (identity_deleted_at, set by the reconciliation job) is
// unmarked: the identity exists again.
//
// The auth interceptor calls it before the request path runs, and the Kratos
// web hook when an identity changes.
func (s *Users) Upsert(ctx context.Context, u identity.User) error {
	if u.Email == "" {
		return fmt.Errorf("upsert user %s: the identity has no email", u.ID)
	}
	if _, err := s.db.Exec(ctx, upsertOneSQL, u.ID, u.Email, u.DisplayName); err != nil {
		return fmt.Errorf("upsert user %s: %w", u.ID, err)
	}
	return nil
}

// A users row changes, and its update time moves, only when the email or
// display name differ, or when it was marked as deleted in Kratos (the
// identity is evidently back).
const upsertConflict = `
	ON CONFLICT (id) DO UPDATE
		SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, updated_at = now(), identity_deleted_at = NULL
		WHERE (users.email, users.display_name) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.display_name)
			OR users.identity_deleted_at IS NOT NULL`

// upsertOneSQL upserts one user (id, email, display name); upsertSQL
// many, from three parallel arrays.
const (
	upsertOneSQL = `INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)` + upsertConflict
	upsertSQL    = `INSERT INTO users (id, email, display_name)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])` + upsertConflict
)

// UpsertMany is Upsert for many identities in one statement (the
// reconciliation job's page of identities). It returns how many rows were
// inserted or changed. Every identity needs a UUID ID and an email; IDs
// must not repeat.
func (s *Users) UpsertMany(ctx context.Context, us []identity.User) (int64, error) {
	if len(us) == 0 {
		return 0, nil
	}
	ids, emails, names := make([]string, len(us)), make([]string, len(us)), make([]string, len(us))
	for i, u := range us {
		if u.Email == "" {
			return 0, fmt.Errorf("upsert users: identity %s has no email", u.ID)
		}
		ids[i], emails[i], names[i] = u.ID, u.Email, u.DisplayName
	}
	tag, err := s.db.Exec(ctx, upsertSQL, ids, emails, names)
	if err != nil {
		return 0, fmt.Errorf("upsert %d users: %w", len(us), err)
	}
	return tag.RowsAffected(), nil
}

// Now returns the database's clock (the clock of created_at).
func (s *Users) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := s.db.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("read the database's clock: %w", err)
	}
	return now, nil
}

// MarkIdentitiesDeleted sets identity_deleted_at on every users row whose
// ID is not in present, that was created before since, and is not marked
// yet: the identities Kratos no longer has, given present, the complete
// list of identities Kratos returned in a listing that started at since.
// (A row created after since may belong to an identity created during the
// listing, which the listing may have missed.) It returns the IDs it
// marked.
func (s *Users) MarkIdentitiesDeleted(ctx context.Context, present []string, since time.Time) ([]string, error) {
	if present == nil {
		present = []string{}
	}
	rows, err := s.db.Query(ctx,
		`UPDATE users SET identity_deleted_at = now()
		WHERE identity_deleted_at IS NULL AND created_at < $2 AND NOT (id = ANY ($1::uuid[]))
		RETURNING id`, present, since)
	if err != nil {
		return nil, fmt.Errorf("mark users deleted in Kratos: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("mark users deleted in Kratos: %w", err)
	}
	return ids, nil
}
