package store

import (
	"context"
	"errors"
	"fmt"

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
// email non-empty (the identity schema requires one).
//
// The auth interceptor calls it before the request path runs, and the Kratos
// web hook when an identity changes.
func (s *Users) Upsert(ctx context.Context, u identity.User) error {
	if u.Email == "" {
		return fmt.Errorf("upsert user %s: the identity has no email", u.ID)
	}
	_, err := s.db.Exec(ctx,
		`INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE
			SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, updated_at = now()
			WHERE (users.email, users.display_name) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.display_name)`,
		u.ID, u.Email, u.DisplayName)
	if err != nil {
		return fmt.Errorf("upsert user %s: %w", u.ID, err)
	}
	return nil
}
