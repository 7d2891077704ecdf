// Package queuetest helps test code that enqueues and works pgqueue jobs,
// against a real database (see migrator/pgtest):
//
//   - RequireEnqueued and RequireNotEnqueued check what a transaction (or
//     the database) holds, e.g. that a handler enqueued its job in the
//     same transaction as its write;
//   - WorkOne and Drain run jobs now, through River's real executor, and
//     return when they are done, so a test needs no sleeps and no
//     background worker;
//   - Clock is a manual clock for queue.Config.Clock: advance it to make
//     retries and scheduled jobs due.
package queuetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/groundwork-dev/groundwork/queue"
)

// Clock is a manual clock; the zero value is not usable, use NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

var _ queue.Clock = (*Clock)(nil)

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Querier runs a query: a pgx.Tx (to see what an open transaction wrote),
// a *pgxpool.Pool or a *pgx.Conn.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Want describes a job; zero fields match anything.
type Want struct {
	// Args, when set, must equal the job's args as JSON (pass the args
	// struct, or a map for a subset is not supported: all fields compare).
	Args        queue.Args
	Queue       string
	Priority    int
	MaxAttempts int
	State       queue.State
	Tags        []string
	// ScheduledAt is compared to the microsecond (PostgreSQL's precision).
	ScheduledAt time.Time
}

// RequireEnqueued fails the test unless exactly one job of kind that
// matches want is visible to q, and returns it.
func RequireEnqueued(t testing.TB, q Querier, kind string, want *Want) queue.JobInfo {
	t.Helper()
	jobs, why := find(t, q, kind, want)
	switch len(jobs) {
	case 1:
		return jobs[0]
	case 0:
		t.Fatalf("queuetest: no %s job matches %s%s", kind, describe(want), why)
	default:
		t.Fatalf("queuetest: %d %s jobs match %s, want exactly 1: IDs %v", len(jobs), kind, describe(want), ids(jobs))
	}
	return queue.JobInfo{}
}

// RequireNotEnqueued fails the test if a job of kind that matches want is
// visible to q.
func RequireNotEnqueued(t testing.TB, q Querier, kind string, want *Want) {
	t.Helper()
	jobs, _ := find(t, q, kind, want)
	if len(jobs) > 0 {
		t.Fatalf("queuetest: want no %s job matching %s, found %d: IDs %v", kind, describe(want), len(jobs), ids(jobs))
	}
}

const selectJobs = `
SELECT id, kind, queue, state::text, priority, tags, args, attempt, max_attempts,
       created_at, scheduled_at, attempted_at, finalized_at, errors
  FROM river_job`

func find(t testing.TB, q Querier, kind string, want *Want) (match []queue.JobInfo, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all, err := queryJobs(ctx, q, selectJobs+" WHERE kind = $1 ORDER BY id", kind)
	if err != nil {
		t.Fatalf("queuetest: list %s jobs: %v", kind, err)
	}
	var misses []string
	for _, j := range all {
		if diff := mismatch(t, j, want); diff != "" {
			misses = append(misses, fmt.Sprintf("job %d: %s", j.ID, diff))
			continue
		}
		match = append(match, j)
	}
	if len(all) == 0 {
		return match, " (no job of that kind at all)"
	}
	return match, " (near misses: " + strings.Join(misses, "; ") + ")"
}

func mismatch(t testing.TB, j queue.JobInfo, w *Want) string {
	t.Helper()
	if w == nil {
		return ""
	}
	var d []string
	if w.Args != nil {
		b, err := json.Marshal(w.Args)
		if err != nil {
			t.Fatalf("queuetest: encode Want.Args: %v", err)
		}
		if !jsonEqual(b, j.Args) {
			d = append(d, fmt.Sprintf("args %s, want %s", j.Args, b))
		}
	}
	if w.Queue != "" && w.Queue != j.Queue {
		d = append(d, fmt.Sprintf("queue %q, want %q", j.Queue, w.Queue))
	}
	if w.Priority != 0 && w.Priority != j.Priority {
		d = append(d, fmt.Sprintf("priority %d, want %d", j.Priority, w.Priority))
	}
	if w.MaxAttempts != 0 && w.MaxAttempts != j.MaxAttempts {
		d = append(d, fmt.Sprintf("max attempts %d, want %d", j.MaxAttempts, w.MaxAttempts))
	}
	if w.State != "" && w.State != j.State {
		d = append(d, fmt.Sprintf("state %s, want %s", j.State, w.State))
	}
	if w.Tags != nil && !slices.Equal(w.Tags, j.Tags) {
		d = append(d, fmt.Sprintf("tags %v, want %v", j.Tags, w.Tags))
	}
	if !w.ScheduledAt.IsZero() && !w.ScheduledAt.Truncate(time.Microsecond).Equal(j.ScheduledAt.Truncate(time.Microsecond)) {
		d = append(d, fmt.Sprintf("scheduled at %v, want %v", j.ScheduledAt, w.ScheduledAt))
	}
	return strings.Join(d, ", ")
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func describe(w *Want) string {
	if w == nil {
		return "anything"
	}
	return fmt.Sprintf("%+v", *w)
}

func ids(jobs []queue.JobInfo) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func queryJobs(ctx context.Context, q Querier, sql string, args ...any) ([]queue.JobInfo, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.JobInfo, error) {
		var (
			j          queue.JobInfo
			state      string
			attempted  *time.Time
			finalized  *time.Time
			errorsJSON [][]byte
		)
		if err := r.Scan(&j.ID, &j.Kind, &j.Queue, &state, &j.Priority, &j.Tags, &j.Args, &j.Attempt, &j.MaxAttempts,
			&j.CreatedAt, &j.ScheduledAt, &attempted, &finalized, &errorsJSON); err != nil {
			return j, err
		}
		j.State = queue.State(state)
		if attempted != nil {
			j.AttemptedAt = *attempted
		}
		if finalized != nil {
			j.FinalizedAt = *finalized
		}
		for _, e := range errorsJSON {
			var ae rivertype.AttemptError
			if err := json.Unmarshal(e, &ae); err != nil {
				return j, fmt.Errorf("decode attempt error of job %d: %w", j.ID, err)
			}
			j.Errors = append(j.Errors, queue.AttemptError{At: ae.At, Attempt: ae.Attempt, Error: ae.Error, Trace: ae.Trace})
		}
		return j, nil
	})
}
