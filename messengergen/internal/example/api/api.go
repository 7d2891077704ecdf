// Package api holds the example app's sources: handlers that turn requests
// into messages and send them through a messenger. Each depends only on the
// generated sender interface listing what it may send.
package api

import (
	"context"
	"fmt"

	"github.com/groundwork-dev/groundwork/messengergen/internal/example/account"
	"github.com/groundwork-dev/groundwork/messengergen/internal/example/messenger"
)

// Accounts serves the public account API.
type Accounts struct{ send messenger.AccountAPISender }

// NewAccounts returns the account API, sending through send (the app's
// messenger, or a test messenger such as testaccount).
func NewAccounts(send messenger.AccountAPISender) *Accounts { return &Accounts{send: send} }

// Open opens an account for owner and returns its ID.
func (a *Accounts) Open(ctx context.Context, owner string) (string, error) {
	acc, err := a.send.SendOpenAccount(ctx, &account.OpenAccountRequest{Owner: owner})
	if err != nil {
		return "", fmt.Errorf("opening account: %w", err)
	}
	return acc.ID, nil
}

// Get returns the account with id.
func (a *Accounts) Get(ctx context.Context, id string) (account.Account, error) {
	acc, err := a.send.SendGetAccount(ctx, &account.GetAccountRequest{ID: id})
	if err != nil {
		return account.Account{}, fmt.Errorf("getting account %s: %w", id, err)
	}
	return acc, nil
}

// Admin serves the admin API.
type Admin struct{ send messenger.AdminAPISender }

// NewAdmin returns the admin API, sending through send.
func NewAdmin(send messenger.AdminAPISender) *Admin { return &Admin{send: send} }

// Close closes the account with id.
func (a *Admin) Close(ctx context.Context, id, reason string) (account.CloseAccountResult, error) {
	res, err := a.send.SendCloseAccount(ctx, &account.CloseAccountRequest{ID: id, Reason: reason})
	if err != nil {
		return res, fmt.Errorf("closing account %s: %w", id, err)
	}
	return res, nil
}
