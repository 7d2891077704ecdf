// Package nopchain holds handlers that do no work, for the dispatch
// benchmarks in package example: two middlewares that only forward and a
// repository that only answers. Its routing.yaml routes CloseAccount through
// them (Authorize → Audit → AccountRepo, as in the example app) and generates
// the same messenger twice: direct (dispatch: direct, holding these types)
// and iface (dispatch: interface). The hand-written baseline in
// ../dispatch_bench_test.go calls the same types in the same order.
package nopchain

//go:generate go run ../../../cmd/messengergen -spec routing.yaml

import (
	"context"

	"github.com/groundwork-dev/groundwork/messengergen/internal/example/account"
)

// NextCloseAccount is the generated messengers' NextCloseAccount: an alias
// of the same interface literal, declared here because messenger direct
// imports this package.
type NextCloseAccount = interface {
	Send(ctx context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error)
}

// Caller stands for the source in routing.yaml; the benchmarks call the
// messengers' SendCloseAccount themselves.
type Caller struct{}

// Middleware forwards every message unchanged.
type Middleware struct{}

// HandleCloseAccount forwards msg.
func (*Middleware) HandleCloseAccount(ctx context.Context, msg *account.CloseAccountRequest, next NextCloseAccount) (account.CloseAccountResult, error) {
	return next.Send(ctx, msg)
}

// Repo answers every message without storing anything.
type Repo struct{}

// HandleCloseAccount returns a result naming msg.ID.
func (*Repo) HandleCloseAccount(_ context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	return account.CloseAccountResult{ID: msg.ID}, nil
}
