// Package export is the account export domain: an Export (a request to
// export one account as a JSON document, and its progress), the messages the
// API sends about exports (Create, Get, Download), their validation rules,
// the document's format, and the errors callers branch on.
//
// Like package account it knows nothing of gRPC, protobuf or SQL. The
// export's life:
//
//	Create (API)     → pending    the row is inserted and the export job enqueued, in one transaction
//	job starts       → running    an attempt of the job is writing it
//	job succeeds     → succeeded  Content holds the document; Download returns it
//	attempts used up → failed     Error says why
//
// A failed attempt that will be retried puts the export back to pending.
// Every message carries the Owner it acts for; exports are reached only
// through a live account of the owner, so another user's export, or one of
// a deleted account, is ErrNotFound.
package export

import (
	"errors"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/invalid"
)

// State is where an export is.
type State string

// The states, as stored in account_exports.state.
const (
	StatePending   State = "pending"   // waiting for a worker
	StateRunning   State = "running"   // a worker is writing it
	StateSucceeded State = "succeeded" // Content is ready
	StateFailed    State = "failed"    // given up; Error says why
)

// Done reports whether the export will not change any more.
func (s State) Done() bool { return s == StateSucceeded || s == StateFailed }

var (
	// ErrNotFound means no export with the ID belongs to a live account of
	// the owner with the account ID.
	ErrNotFound = errors.New("account export not found")
	// ErrNotReady means the export has no content to download: it has not
	// succeeded (yet). The error is a *NotReadyError naming the state.
	ErrNotReady = errors.New("account export not ready")
)

// NotReadyError is ErrNotReady with the export's state.
type NotReadyError struct {
	State State
}

func (e *NotReadyError) Error() string {
	switch e.State {
	case StateFailed:
		return "the export failed and has no content; create a new export"
	case StatePending, StateRunning:
		return fmt.Sprintf("the export is %s; download it once GetAccountExport reports STATE_SUCCEEDED", e.State)
	default:
		return fmt.Sprintf("the export is %s and has no content", e.State)
	}
}

// Is makes errors.Is(err, ErrNotReady) hold.
func (e *NotReadyError) Is(target error) bool { return target == ErrNotReady }

// Export is one export of an account.
type Export struct {
	ID         string // a UUID, assigned by the database
	AccountID  string
	OwnerID    string
	State      State
	Attempts   int // attempts the worker has started
	CreateTime time.Time
	// StartTime is when the first attempt started; zero before.
	StartTime time.Time
	// CompleteTime is when it succeeded or failed; zero before.
	CompleteTime time.Time
	// Error says why it failed; empty unless State is StateFailed.
	Error string
}

// Content is a finished export's document, ready to download.
type Content struct {
	Filename    string // e.g. account-<id>-export.json
	ContentType string // ContentType
	Data        []byte // the document, UTF-8 JSON
}

// ContentType is the media type of every export document.
const ContentType = "application/json"

// Filename is the suggested file name of an account's export.
func Filename(accountID string) string { return "account-" + accountID + "-export.json" }

// Create asks for a new export of Owner's live account AccountID.
type Create struct {
	Owner     string
	AccountID string
}

// Validate checks the account ID.
func (c Create) Validate() error {
	var vs invalid.Violations
	checkID(&vs, "account_id", c.AccountID)
	return vs.Err()
}

// Get asks for the export ID of Owner's live account AccountID.
type Get struct {
	Owner     string
	AccountID string
	ID        string
}

// Validate checks both IDs, reporting both if both are wrong.
func (g Get) Validate() error {
	var vs invalid.Violations
	checkID(&vs, "account_id", g.AccountID)
	checkID(&vs, "id", g.ID)
	return vs.Err()
}

// Download asks for the content of the export ID of Owner's live account
// AccountID. The response is the Content, or a *NotReadyError.
type Download struct {
	Owner     string
	AccountID string
	ID        string
}

// Validate checks both IDs as Get does.
func (d Download) Validate() error { return Get(d).Validate() }

// checkID records what is wrong with an ID in field.
func checkID(vs *invalid.Violations, field, id string) {
	switch {
	case id == "":
		vs.Add(field, "must not be empty")
	case !account.ValidID(id):
		vs.Add(field, "must be a UUID such as 9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40")
	}
}
