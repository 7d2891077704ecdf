// Package invalid describes bad input: which fields of a request break which
// rule. Domain packages return an *Error from their Validate methods; the
// grpcerr package turns it into INVALID_ARGUMENT with a
// google.rpc.BadRequest detail listing every violation.
//
// Field names are the API's (proto) field names, such as "name" or
// "page_token", so that the client can point at the offending input.
package invalid

import "strings"

// Violation is one broken rule of one field.
type Violation struct {
	Field       string // the proto field name, e.g. "page_token"
	Description string // what is wrong, e.g. "must not be empty"
}

// Error is bad input: one or more violations, in the order they were found.
type Error struct {
	Violations []Violation
}

// Error returns the violations as "field: description", joined by "; ".
func (e *Error) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return strings.Join(parts, "; ")
}

// Field returns an error with a single violation.
func Field(field, description string) *Error {
	return &Error{Violations: []Violation{{Field: field, Description: description}}}
}

// Violations collects the violations of one request. The zero value is
// ready to use.
type Violations []Violation

// Add records that field breaks a rule.
func (vs *Violations) Add(field, description string) {
	*vs = append(*vs, Violation{Field: field, Description: description})
}

// Err returns an *Error listing the violations, or nil if there are none.
func (vs Violations) Err() error {
	if len(vs) == 0 {
		return nil
	}
	return &Error{Violations: vs}
}
