// Package user is the user domain: the User type (a mirror of an Ory
// Kratos identity kept in PostgreSQL), the Get query and its errors.
//
// Users are created and changed by the identity provider; the server
// upserts the mirror (store.Users.Upsert) when Kratos reports a change and
// when a user makes a request. The API only reads them.
package user

import (
	"errors"
	"time"
)

// ErrNotFound means there is no user with the ID.
var ErrNotFound = errors.New("user not found")

// User is a person who can sign in.
type User struct {
	ID          string // the Kratos identity ID, a UUID
	Email       string
	DisplayName string // may be empty
	CreateTime  time.Time
	UpdateTime  time.Time // equals CreateTime until the first change
}

// Get asks for the user with ID.
type Get struct {
	ID string
}
