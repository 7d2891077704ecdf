package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/queue"
	"github.com/groundwork-dev/groundwork/queue/queuetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Job kinds used across the tests.

type noteArgs struct {
	Key string `json:"key"`
}

func (noteArgs) Kind() string { return "note" }

type failArgs struct {
	Msg string `json:"msg"`
}

func (failArgs) Kind() string { return "fail" }

type testBundle struct {
	db    *pgtest.DB
	pool  *pgxpool.Pool
	reg   *queue.Registry
	clock *queuetest.Clock
	logs  *logtest.Buffer
	// notes records the keys noteArgs handlers saw, in order.
	mu    sync.Mutex
	notes []string
}

func (b *testBundle) noted() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.notes...)
}

// t0 is the tests' injected "now": a fixed, round time makes expected
// timestamps readable.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// setup gives a test its own database, a registry with the note and fail
// kinds, and a manual clock at t0.
func setup(t *testing.T) *testBundle {
	t.Helper()
	db := pgtest.New(t)
	b := &testBundle{db: db, pool: db.Pool, reg: queue.NewRegistry(), clock: queuetest.NewClock(t0), logs: &logtest.Buffer{}}
	require.NoError(t, queue.Register(b.reg, func(_ context.Context, j *queue.Job[noteArgs]) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.notes = append(b.notes, j.Args.Key)
		return nil
	}, queue.KindOptions{}))
	require.NoError(t, queue.Register(b.reg, func(_ context.Context, j *queue.Job[failArgs]) error {
		return errors.New(j.Args.Msg)
	}, queue.KindOptions{MaxAttempts: 3, Retry: queue.Backoff{Base: 10 * time.Second, Max: time.Hour}}))
	return b
}

// client builds a client on the bundle's database and clock; edit adjusts
// the config first.
func (b *testBundle) client(t *testing.T, edit func(*queue.Config)) *queue.Client {
	t.Helper()
	cfg := queue.Config{
		Pool: b.pool, Registry: b.reg, Clock: b.clock,
		Logger: slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := queue.New(cfg)
	require.NoError(t, err)
	return c
}

// ownerSQL runs sql as the schema owner (the migrator role): the server
// role may not create tables, so test tables are made this way and granted.
func ownerSQL(t testing.TB, db *pgtest.DB, sql string) {
	t.Helper()
	ctx := context.Background()
	pool, err := dbconn.Connect(ctx, db.MigratorURL, nil)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, sql)
	require.NoError(t, err)
}

func (b *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func inTx(t *testing.T, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	t.Helper()
	return pgx.BeginFunc(context.Background(), pool, fn)
}

var errRollback = fmt.Errorf("roll back on purpose")

// loggerTo logs at info and above to w, as text.
func loggerTo(w *logtest.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
