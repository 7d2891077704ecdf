// Package policy holds the middlewares of the request path, which run
// between an API handler and a store for every message (see routing.yaml):
//
//   - Validator checks the message against the domain's rules
//     (account.Create.Validate, ...) and stops it with an *invalid.Error, so
//     bad input never reaches the database.
//   - Authorizer checks that the authenticated caller (identity.From) may act
//     for the message's owner, and stops it with identity.ErrNone or
//     ErrForbidden otherwise.
//
// Both forward a message unchanged with next.Send. They fit the app
// messenger and every test messenger: the Next types are aliases of
// interface literals, the same type in each generated package.
package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

// ErrForbidden means the authenticated caller may not act for the owner a
// message names. The API sets the owner from the caller, so it signals a
// wiring bug (or, later, a role this policy does not grant) rather than a
// client mistake; requests for another user's account by ID never get here,
// the store answers them with NOT_FOUND.
var ErrForbidden = errors.New("caller may not act for this owner")

// actFor checks that the caller in ctx is owner.
func actFor(ctx context.Context, owner string) error {
	caller, err := identity.From(ctx)
	if err != nil {
		return fmt.Errorf("authorize: %w", err)
	}
	if caller.ID != owner {
		return fmt.Errorf("authorize caller %s for owner %s: %w", caller.ID, owner, ErrForbidden)
	}
	return nil
}
