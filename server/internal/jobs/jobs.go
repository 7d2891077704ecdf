// Package jobs holds the background jobs of the server: their arguments
// (the stored, versioned contract between the process that enqueues and the
// one that works), their handlers, their kind options, and the one function
// that registers them all, which both processes call:
//
//	account.export    ExportArgs           write an account's export document (CreateAccountExport)
//	account.purge     PurgeArgs            hard-delete a soft-deleted account after its grace period (DeleteAccount)
//	users.reconcile   ReconcileUsersArgs   mirror Kratos's identities into users (periodic)
//	exports.sweep     SweepExportsArgs     fail exports whose job can no longer run (periodic, every 10 min)
//
// `server serve` registers them to enqueue (NewRegistry with Deps whose
// Identities may be nil: it works no jobs); `server worker` registers them
// to work them. Handlers are idempotent: a job may run more than once (a
// killed worker's job is rescued and retried). See docs/worker.md.
package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/server/internal/store"
)

// Job kinds. A kind is stored with every job: never rename one that has
// jobs in the database.
const (
	KindExport         = "account.export"
	KindPurge          = "account.purge"
	KindReconcileUsers = "users.reconcile"
	KindSweepExports   = "exports.sweep"
)

// Deps are what the handlers use.
type Deps struct {
	// DB reaches PostgreSQL as the server role (the pool).
	DB store.DB
	// Identities lists Kratos's identities for the reconciliation; nil in
	// a process that works no jobs (serve).
	Identities IdentityLister
	// Logger receives one summary line per reconciliation and purge.
	Logger *slog.Logger
	// Now is the clock of the export document's exported_at; nil: time.Now.
	Now func() time.Time
}

// Kind options. The export and purge jobs are unique by their arguments,
// so a repeated enqueue of the same export or deletion is a no-op; the
// reconciliation runs one at a time.
var (
	exportOptions = queue.KindOptions{
		MaxAttempts: 5,
		Timeout:     2 * time.Minute,
		Unique:      &queue.Unique{ByArgs: true},
		Tags:        []string{"export"},
	}
	purgeOptions = queue.KindOptions{
		MaxAttempts: 25,
		Timeout:     time.Minute,
		Unique:      &queue.Unique{ByArgs: true},
		Tags:        []string{"purge"},
	}
	sweepOptions = queue.KindOptions{
		MaxAttempts: 3,
		Timeout:     time.Minute,
		Unique:      &queue.Unique{ByArgs: true, IgnoreCompleted: true}, // args are empty: one at a time
		Tags:        []string{"sweep"},
	}
	reconcileOptions = queue.KindOptions{
		MaxAttempts: 3,
		Timeout:     10 * time.Minute,
		Unique:      &queue.Unique{ByArgs: true, IgnoreCompleted: true}, // args are empty: one at a time
		Tags:        []string{"reconcile"},
	}
)

// NewRegistry registers every job kind with its handler over d.
func NewRegistry(d Deps) (*queue.Registry, error) {
	if d.DB == nil {
		return nil, errors.New("jobs: Deps.DB is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	reg := queue.NewRegistry()
	if err := queue.Register(reg, exporter{d}.work, exportOptions); err != nil {
		return nil, fmt.Errorf("jobs: register %s: %w", KindExport, err)
	}
	if err := queue.Register(reg, purger{d}.work, purgeOptions); err != nil {
		return nil, fmt.Errorf("jobs: register %s: %w", KindPurge, err)
	}
	if err := queue.Register(reg, reconciler{d}.work, reconcileOptions); err != nil {
		return nil, fmt.Errorf("jobs: register %s: %w", KindReconcileUsers, err)
	}
	if err := queue.Register(reg, sweeper{d}.work, sweepOptions); err != nil {
		return nil, fmt.Errorf("jobs: register %s: %w", KindSweepExports, err)
	}
	return reg, nil
}

// Periodic returns the periodic jobs of the worker: the user
// reconciliation on schedule (a cron expression), none when schedule is
// "off". The first run is at the first scheduled time after a worker
// becomes the leader.
func Periodic(schedule string) []queue.PeriodicJob {
	jobs := []queue.PeriodicJob{{Name: "sweep-exports", Schedule: sweepSchedule, Args: SweepExportsArgs{}}}
	if schedule == "off" {
		return jobs
	}
	return append(jobs, queue.PeriodicJob{Name: "reconcile-users", Schedule: schedule, Args: ReconcileUsersArgs{}})
}

// sweepSchedule runs the exports sweep every ten minutes: an abandoned
// export is rare (a worker dying in the job's last attempt), and ten
// minutes is soon enough for the user waiting on it.
const sweepSchedule = "*/10 * * * *"
