package schema_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
)

// noopArgs is a job that does nothing.
type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// logRecorder keeps every record River logs.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// lines returns the records at level or above as "LEVEL message key=value ...".
func (l *logRecorder) lines(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level < level {
			continue
		}
		var b strings.Builder
		b.WriteString(r.Level.String() + " " + r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.String())
			return true
		})
		out = append(out, b.String())
	}
	return out
}

func (l *logRecorder) has(msg string) bool {
	for _, line := range l.lines(slog.LevelDebug) {
		if strings.Contains(line, msg) {
			return true
		}
	}
	return false
}

// riverClient starts a River client working the default queue as the
// server role, with every maintenance service running at once (TestOnly
// skips their random start delay) and the reindexer scheduled every 200ms
// over indexNames (nil: River's default list). It is stopped at the end of
// the test.
func riverClient(t *testing.T, pool *pgxpool.Pool, indexNames []string) *logRecorder {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	rec := &logRecorder{}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   "privileges-test",
		Logger:               slog.New(rec),
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		TestOnly:             true,
		FetchPollInterval:    100 * time.Millisecond,
		RescueStuckJobsAfter: time.Hour,
		ReindexerSchedule:    river.PeriodicInterval(200 * time.Millisecond),
		ReindexerIndexNames:  indexNames,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) {
				return noopArgs{}, &river.InsertOpts{Tags: []string{"periodic"}}
			},
			&river.PeriodicJobOpts{ID: "noop", RunOnStart: true})},
	})
	require.NoError(t, err)
	require.NoError(t, rc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, rc.Stop(ctx))
	})
	return rec
}

// TestRiverMaintenanceAsServer runs a River client as the server role, as
// the worker does, with work for every maintenance service: the leader
// elector, the job cleaner, the queue cleaner, the job rescuer, the job
// scheduler, the periodic job enqueuer and the reindexer. Each must do its
// work and nothing may log a warning or an error: DML on River's tables is
// all they need, except the reindexer (below).
func TestRiverMaintenanceAsServer(t *testing.T) {
	t.Parallel()
	pgtest.RequireRoles(t)
	ctx := context.Background()

	t.Run("EveryServiceWithTheReindexerOff", func(t *testing.T) {
		t.Parallel()
		b := setupUp(t)
		srv := b.asServer(t)
		var ids struct{ cleaned, stuck, scheduled int64 }
		for _, seed := range []struct {
			id  *int64
			sql string
		}{
			// Completed two days ago: past the 24h retention, the cleaner deletes it.
			{&ids.cleaned, `INSERT INTO river_job (args, kind, max_attempts, state, attempt, attempted_at, created_at, scheduled_at, finalized_at)
				VALUES ('{}', 'noop', 5, 'completed', 1, now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', now() - interval '2 days') RETURNING id`},
			// Running for two hours: its worker is presumed dead, the rescuer retries it.
			{&ids.stuck, `INSERT INTO river_job (args, kind, max_attempts, state, attempt, attempted_at, attempted_by, created_at, scheduled_at)
				VALUES ('{}', 'noop', 5, 'running', 1, now() - interval '2 hours', '{dead-worker}', now() - interval '2 hours', now() - interval '2 hours') RETURNING id`},
			// Scheduled in the past: the scheduler makes it available, then it runs.
			{&ids.scheduled, `INSERT INTO river_job (args, kind, max_attempts, state, scheduled_at)
				VALUES ('{}', 'noop', 5, 'scheduled', now() - interval '1 minute') RETURNING id`},
		} {
			require.NoError(t, srv.QueryRow(ctx, seed.sql).Scan(seed.id))
		}
		// A queue no client has reported for two days: the queue cleaner deletes it.
		_, err := srv.Exec(ctx, `INSERT INTO river_queue (name, created_at, updated_at) VALUES ('gone', now() - interval '2 days', now() - interval '2 days')`)
		require.NoError(t, err)

		// The worker's setting: an empty list turns the reindexer's work off.
		rec := riverClient(t, srv, []string{})

		state := func(id int64) string {
			var s string
			err := srv.QueryRow(ctx, `SELECT coalesce((SELECT state::text FROM river_job WHERE id = $1), 'deleted')`, id).Scan(&s)
			require.NoError(t, err)
			return s
		}
		count := func(sql string) int {
			var n int
			require.NoError(t, srv.QueryRow(ctx, sql).Scan(&n))
			return n
		}
		require.Eventually(t, func() bool {
			return state(ids.cleaned) == "deleted" &&
				state(ids.stuck) != "running" &&
				state(ids.scheduled) == "completed" &&
				count(`SELECT count(*) FROM river_queue WHERE name = 'gone'`) == 0 &&
				count(`SELECT count(*) FROM river_job WHERE 'periodic' = ANY (tags) AND state = 'completed'`) == 1 &&
				count(`SELECT count(*) FROM river_leader WHERE leader_id = 'privileges-test'`) == 1 &&
				rec.has("Reindexer: Ran successfully")
		}, 20*time.Second, 50*time.Millisecond, "every maintenance service did its work; River logged:\n%s", strings.Join(rec.lines(slog.LevelDebug), "\n"))
		for _, msg := range []string{"JobCleaner: Ran successfully", "JobRescuer: Ran successfully", "JobScheduler: Ran successfully", "QueueCleaner: Ran successfully", "Elector: Gained leadership", "Inserted RunOnStart jobs"} {
			require.True(t, rec.has(msg), "River logged %q", msg)
		}
		require.Empty(t, rec.lines(slog.LevelWarn), "River logged problems")
	})

	t.Run("TheReindexerNeedsOwnership", func(t *testing.T) {
		t.Parallel()
		// River's default: REINDEX INDEX CONCURRENTLY on its job indexes.
		// PostgreSQL (before 17, which adds the MAINTAIN privilege) lets
		// only an index's owner reindex it, and owning River's tables would
		// let the server alter and drop them. So the worker turns the
		// reindexer off; this shows why.
		b := setupUp(t)
		rec := riverClient(t, b.asServer(t), nil)
		require.Eventually(t, func() bool {
			for _, line := range rec.lines(slog.LevelError) {
				if strings.Contains(line, "Reindexer: Error reindexing") && strings.Contains(line, "must be owner of index") {
					return true
				}
			}
			return false
		}, 20*time.Second, 50*time.Millisecond, "the reindexer fails as the server role")

		// The owner can, as docs/database.md tells operators to.
		_, err := b.m.Pool().Exec(ctx, "REINDEX INDEX CONCURRENTLY river_job_prioritized_fetching_index")
		require.NoError(t, err)
	})
}
