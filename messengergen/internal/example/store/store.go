// Package store holds the example app's repository, an in-memory map. It is
// the final receiver of every message, so it needs no messenger type.
package store

import (
	"context"
	"strconv"
	"sync"

	"github.com/groundwork-dev/groundwork/messengergen/internal/example/account"
)

// Accounts stores accounts in memory.
type Accounts struct {
	mu       sync.RWMutex
	accounts map[string]account.Account
	lastID   int
}

// NewAccounts returns an empty repository.
func NewAccounts() *Accounts { return &Accounts{accounts: map[string]account.Account{}} }

// HandleOpenAccount stores a new account.
func (s *Accounts) HandleOpenAccount(_ context.Context, msg *account.OpenAccountRequest) (account.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	acc := account.Account{ID: "acc-" + strconv.Itoa(s.lastID), Owner: msg.Owner}
	s.accounts[acc.ID] = acc
	return acc, nil
}

// HandleGetAccount returns a stored account.
func (s *Accounts) HandleGetAccount(_ context.Context, msg *account.GetAccountRequest) (account.Account, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	acc, ok := s.accounts[msg.ID]
	if !ok {
		return account.Account{}, account.ErrNotFound
	}
	return acc, nil
}

// HandleCloseAccount marks an account closed; closing it again is a no-op.
func (s *Accounts) HandleCloseAccount(_ context.Context, msg *account.CloseAccountRequest) (account.CloseAccountResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, ok := s.accounts[msg.ID]
	if !ok {
		return account.CloseAccountResult{}, account.ErrNotFound
	}
	wasOpen := !acc.Closed
	if wasOpen {
		acc.Closed = true
		s.accounts[msg.ID] = acc
	}
	return account.CloseAccountResult{ID: msg.ID, WasOpen: wasOpen}, nil
}
