// Package account is the account domain: the Account type, the commands and
// queries the API sends about accounts (Create, Get, List, Update, Delete),
// their validation rules, the opaque page token of List, and the errors
// callers branch on.
//
// It knows nothing of gRPC, protobuf or SQL: the api package translates
// requests into these messages, the generated messenger routes them through
// the policy middlewares, and the store package executes them.
//
// Every message carries the Owner it acts for (the authenticated user's ID,
// set by the api package and checked by policy.Authorizer). The store scopes
// every query by Owner, so an account of another owner is ErrNotFound, the
// same as one that does not exist.
package account

import (
	"errors"
	"time"

	"github.com/groundwork-dev/groundwork/server/internal/invalid"
)

// Limits of the API contract (server/proto/groundwork/v1/account.proto).
const (
	MaxNameLength   = 100 // characters (Unicode code points), as char_length in PostgreSQL
	DefaultPageSize = 20  // page size when the request asks for 0
	MaxPageSize     = 100 // larger page sizes are lowered to this
)

var (
	// ErrNotFound means no live account with the ID belongs to the owner:
	// it does not exist, was deleted, or belongs to someone else.
	ErrNotFound = errors.New("account not found")
	// ErrAlreadyExists means the owner already has a live account with the
	// name (compared case-insensitively).
	ErrAlreadyExists = errors.New("account name already in use")
)

// Account is a named workspace owned by one user.
type Account struct {
	ID         string // a UUID, assigned by the database
	OwnerID    string // the owning user's ID
	Name       string
	CreateTime time.Time
	UpdateTime time.Time // equals CreateTime until the first update
}

// Create asks to create an account named Name for Owner.
type Create struct {
	Owner string
	Name  string
}

// Validate checks the name.
func (c Create) Validate() error {
	var vs invalid.Violations
	checkName(&vs, c.Name)
	return vs.Err()
}

// Get asks for Owner's live account with ID.
type Get struct {
	Owner string
	ID    string
}

// Validate checks the ID.
func (g Get) Validate() error {
	var vs invalid.Violations
	checkID(&vs, g.ID)
	return vs.Err()
}

// List asks for one page of Owner's live accounts, oldest first (by
// CreateTime, ties broken by ID).
type List struct {
	Owner string
	// PageSize is the most accounts to return: 0 means DefaultPageSize,
	// more than MaxPageSize means MaxPageSize, negative is invalid.
	PageSize int
	// PageToken continues the listing after the page that returned it;
	// empty for the first page.
	PageToken string
}

// Validate checks the page size and that the page token is one this server
// issued for Owner.
func (l List) Validate() error {
	var vs invalid.Violations
	if l.PageSize < 0 {
		vs.Add("page_size", "must not be negative")
	}
	if l.PageToken != "" {
		if _, problem := decodePageToken(l.Owner, l.PageToken); problem != "" {
			vs.Add("page_token", problem)
		}
	}
	return vs.Err()
}

// Limit is the number of accounts to return: PageSize with the default and
// the maximum applied.
func (l List) Limit() int {
	switch {
	case l.PageSize <= 0:
		return DefaultPageSize
	case l.PageSize > MaxPageSize:
		return MaxPageSize
	default:
		return l.PageSize
	}
}

// After returns the position to continue after, decoded from PageToken; ok
// is false for the first page. An invalid token is an *invalid.Error for
// field page_token, as from Validate.
func (l List) After() (c Cursor, ok bool, err error) {
	if l.PageToken == "" {
		return Cursor{}, false, nil
	}
	c, problem := decodePageToken(l.Owner, l.PageToken)
	if problem != "" {
		return Cursor{}, false, invalid.Field("page_token", problem)
	}
	return c, true, nil
}

// Page is one page of a listing.
type Page struct {
	Accounts []Account
	// NextPageToken continues the listing; empty on the last page.
	NextPageToken string
}

// Update asks to rename Owner's live account ID to Name.
type Update struct {
	Owner string
	ID    string
	Name  string
}

// Validate checks the ID and the name, reporting both if both are wrong.
func (u Update) Validate() error {
	var vs invalid.Violations
	checkID(&vs, u.ID)
	checkName(&vs, u.Name)
	return vs.Err()
}

// Delete asks to soft-delete Owner's live account ID. The response is the
// account as it was.
type Delete struct {
	Owner string
	ID    string
}

// Validate checks the ID.
func (d Delete) Validate() error {
	var vs invalid.Violations
	checkID(&vs, d.ID)
	return vs.Err()
}
