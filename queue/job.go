package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Args are the typed arguments of one kind of job. They are stored as JSON
// (use `json` tags), so they must survive a round trip through
// encoding/json. Kind names the job kind: it is stored with every job and
// must never change once jobs of the kind exist (it is River's JobArgs, so
// River's helpers accept the same types).
type Args interface {
	Kind() string
}

// Handler runs one attempt of a job of kind T. A nil error completes the
// job; Cancel and Snooze change what happens next; any other error (or a
// panic) fails the attempt, which is retried by the kind's retry policy
// until its max attempts are used up, and then discarded.
//
// An attempt's context is cancelled when the kind's timeout elapses or when
// the client is stopped hard. A handler may be run more than once for the
// same job (a process killed mid-job is rescued and retried): make its
// effects idempotent, or write them in a transaction that also completes
// the job (CompleteTx), which makes them happen exactly once.
type Handler[T Args] func(ctx context.Context, job *Job[T]) error

// Job is one attempt of a job as its handler sees it.
type Job[T Args] struct {
	ID       int64
	Kind     string
	Queue    string
	Args     T
	Priority int
	Tags     []string
	// Attempt counts from 1; MaxAttempts is where the job is discarded.
	Attempt     int
	MaxAttempts int
	CreatedAt   time.Time
	ScheduledAt time.Time
	// Errors of the previous attempts, oldest first.
	Errors []AttemptError

	rj *river.Job[T]
}

// State is where a job is in its life.
type State string

// Job states (River's).
const (
	StateAvailable State = State(rivertype.JobStateAvailable) // waiting for a worker
	StateScheduled State = State(rivertype.JobStateScheduled) // waiting for its time
	StateRunning   State = State(rivertype.JobStateRunning)
	StateRetryable State = State(rivertype.JobStateRetryable) // failed, waiting for its next attempt
	StateCompleted State = State(rivertype.JobStateCompleted)
	StateCancelled State = State(rivertype.JobStateCancelled) // Cancel was returned or an operator cancelled it
	StateDiscarded State = State(rivertype.JobStateDiscarded) // max attempts used up
	StatePending   State = State(rivertype.JobStatePending)
)

// Final reports whether no more attempts will be made without an operator.
func (s State) Final() bool {
	return s == StateCompleted || s == StateCancelled || s == StateDiscarded
}

// AttemptError is the error of one failed attempt.
type AttemptError struct {
	At      time.Time
	Attempt int
	Error   string
	// Trace is the stack trace when the attempt panicked.
	Trace string
}

// JobInfo is a stored job as operators and tests see it.
type JobInfo struct {
	ID          int64
	Kind        string
	Queue       string
	State       State
	Priority    int
	Tags        []string
	Args        json.RawMessage
	Attempt     int
	MaxAttempts int
	Errors      []AttemptError
	CreatedAt   time.Time
	ScheduledAt time.Time
	// AttemptedAt is when the last attempt started (zero before the first).
	AttemptedAt time.Time
	// FinalizedAt is when the job reached a final state (zero before).
	FinalizedAt time.Time
}

func jobInfo(r *rivertype.JobRow) JobInfo {
	ji := JobInfo{
		ID:          r.ID,
		Kind:        r.Kind,
		Queue:       r.Queue,
		State:       State(r.State),
		Priority:    r.Priority,
		Tags:        r.Tags,
		Args:        json.RawMessage(r.EncodedArgs),
		Attempt:     r.Attempt,
		MaxAttempts: r.MaxAttempts,
		Errors:      attemptErrors(r.Errors),
		CreatedAt:   r.CreatedAt,
		ScheduledAt: r.ScheduledAt,
	}
	if r.AttemptedAt != nil {
		ji.AttemptedAt = *r.AttemptedAt
	}
	if r.FinalizedAt != nil {
		ji.FinalizedAt = *r.FinalizedAt
	}
	return ji
}

func attemptErrors(in []rivertype.AttemptError) []AttemptError {
	if len(in) == 0 {
		return nil
	}
	out := make([]AttemptError, len(in))
	for i, e := range in {
		out[i] = AttemptError{At: e.At, Attempt: e.Attempt, Error: e.Error, Trace: e.Trace}
	}
	return out
}

func newJob[T Args](rj *river.Job[T]) *Job[T] {
	return &Job[T]{
		ID:          rj.ID,
		Kind:        rj.Kind,
		Queue:       rj.Queue,
		Args:        rj.Args,
		Priority:    rj.Priority,
		Tags:        rj.Tags,
		Attempt:     rj.Attempt,
		MaxAttempts: rj.MaxAttempts,
		CreatedAt:   rj.CreatedAt,
		ScheduledAt: rj.ScheduledAt,
		Errors:      attemptErrors(rj.Errors),
		rj:          rj,
	}
}

// ErrNotRunning means CompleteTx was given a job that is not being worked
// by a handler (or was already completed).
var ErrNotRunning = errors.New("job is not running in a handler")

// CompleteTx marks job completed inside tx, so that the handler's writes in
// tx and the job's completion commit together or not at all: if the
// process dies before the commit, the job is retried and finds none of its
// writes; after the commit, it is never run again. Call it last in the
// transaction, from the handler, with the handler's context.
func CompleteTx[T Args](ctx context.Context, tx pgx.Tx, job *Job[T]) error {
	if job == nil || job.rj == nil {
		return ErrNotRunning
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job.rj); err != nil {
		if errors.Is(err, rivertype.ErrNotFound) {
			return fmt.Errorf("complete job %d in transaction: %w", job.ID, ErrNotRunning)
		}
		return fmt.Errorf("complete job %d in transaction: %w", job.ID, err)
	}
	return nil
}
