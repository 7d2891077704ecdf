// Package identity carries the authenticated user of a request through its
// context. The auth interceptor puts it there after verifying the Kratos
// session; handlers and middleware read it. Nothing else may create one.
package identity

import (
	"context"
	"errors"
)

// User is who a request acts for: a Kratos identity.
type User struct {
	ID          string // the Kratos identity id (a UUID)
	Email       string
	DisplayName string
	SessionID   string // the Kratos session that authenticated the request
}

type ctxKey struct{}

// ErrNone means the context carries no authenticated user: the request did
// not pass the auth interceptor, which is a wiring bug for every RPC but
// health.
var ErrNone = errors.New("no authenticated user in context")

// With returns a context that carries u.
func With(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// From returns the user a context carries.
func From(ctx context.Context) (User, error) {
	u, ok := ctx.Value(ctxKey{}).(User)
	if !ok || u.ID == "" {
		return User{}, ErrNone
	}
	return u, nil
}
