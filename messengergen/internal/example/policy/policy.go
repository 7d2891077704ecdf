// Package policy holds the example app's middlewares: authorization, which
// may stop a message, and an audit log, which records it and passes it on.
package policy

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/groundwork-dev/groundwork/messengergen/internal/example/account"
)

// NextCloseAccount forwards CloseAccount to the next receiver of its chain.
// It is the same type as messenger.NextCloseAccount and testadmin's (each
// generated as an alias of this interface literal). policy declares it
// rather than importing it because the app messenger, with direct dispatch,
// imports policy: policy importing the messenger would be an import cycle.
type NextCloseAccount = interface {
	Send(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error)
}

// ErrForbidden is returned when the caller may not do what it asked.
var ErrForbidden = errors.New("forbidden")

type actorKey struct{}

// WithActor returns a context carrying the name of the caller.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor returns the caller named by WithActor, or "".
func Actor(ctx context.Context) string {
	actor, _ := ctx.Value(actorKey{}).(string)
	return actor
}

// Authorizer lets only admins close accounts.
type Authorizer struct{ Admins map[string]bool }

// HandleCloseAccount stops the message unless the caller is an admin.
func (a *Authorizer) HandleCloseAccount(ctx context.Context, msg *account.CloseAccountRequest, next NextCloseAccount) (account.CloseAccountResult, error) {
	if !a.Admins[Actor(ctx)] {
		return account.CloseAccountResult{}, ErrForbidden
	}
	return next.Send(ctx, msg)
}

// Audit numbers every close request it sees and stamps the result with it.
type Audit struct{ seq atomic.Uint64 }

// Records returns how many requests the audit log has recorded.
func (a *Audit) Records() uint64 { return a.seq.Load() }

// HandleCloseAccount records the request, forwards it, and stamps the result.
func (a *Audit) HandleCloseAccount(ctx context.Context, msg *account.CloseAccountRequest, next NextCloseAccount) (account.CloseAccountResult, error) {
	n := a.seq.Add(1)
	res, err := next.Send(ctx, msg)
	res.AuditRecord = n
	return res, err
}
