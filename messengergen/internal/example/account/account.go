// Package account holds the example app's messages and responses. It imports
// no handler and no messenger, so every package can import it.
package account

import "errors"

// ErrNotFound is returned for an account that does not exist.
var ErrNotFound = errors.New("account not found")

// OpenAccountRequest asks to open an account for Owner.
type OpenAccountRequest struct{ Owner string }

// GetAccountRequest asks for the account with ID.
type GetAccountRequest struct{ ID string }

// CloseAccountRequest asks to close the account with ID.
type CloseAccountRequest struct {
	ID     string
	Reason string
}

// Account is an account as stored.
type Account struct {
	ID     string
	Owner  string
	Closed bool
}

// CloseAccountResult reports a closed account.
type CloseAccountResult struct {
	ID          string
	WasOpen     bool
	AuditRecord uint64 // the sequence number the audit log gave the request
}
