package queuebench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/groundwork-dev/groundwork/queue"
)

// benchArgs is the job of every mode: a no-op that carries when it was
// enqueued, for the latency mode.
type benchArgs struct {
	SentAt int64 `json:"sent_at"`
}

func (benchArgs) Kind() string { return "bench" }

// side is one implementation under test, with a fresh database: pgqueue,
// or River used directly with the same settings.
type side interface {
	insertMany(ctx context.Context, args []benchArgs) error
	insertOne(ctx context.Context, args benchArgs) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

// settings are shared by both sides.
type settings struct {
	maxWorkers    int
	fetchCooldown time.Duration
	fetchPoll     time.Duration
}

// newSide builds the named side on pool; onJob runs in every job's handler.
func newSide(name string, pool *pgxpool.Pool, s settings, onJob func(benchArgs)) (side, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch name {
	case sidePgqueue:
		reg := queue.NewRegistry()
		if err := queue.Register(reg, func(_ context.Context, j *queue.Job[benchArgs]) error {
			onJob(j.Args)
			return nil
		}, queue.KindOptions{}); err != nil {
			return nil, err
		}
		c, err := queue.New(queue.Config{
			Pool:     pool,
			Registry: reg,
			Queues: map[string]queue.QueueConfig{queue.QueueDefault: {
				MaxWorkers: s.maxWorkers, FetchCooldown: s.fetchCooldown, FetchPollInterval: s.fetchPoll,
			}},
			FetchCooldown:     s.fetchCooldown,
			FetchPollInterval: s.fetchPoll,
			// What a user runs: metrics on.
			Metrics:                prometheus.NewRegistry(),
			Logger:                 log,
			StartMaintenanceAtOnce: true,
		})
		if err != nil {
			return nil, err
		}
		return pgqueueSide{c}, nil
	case sideRiver:
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, river.WorkFunc(func(_ context.Context, j *river.Job[benchArgs]) error {
			onJob(j.Args)
			return nil
		})); err != nil {
			return nil, err
		}
		c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
			Queues: map[string]river.QueueConfig{river.QueueDefault: {
				MaxWorkers: s.maxWorkers, FetchCooldown: s.fetchCooldown, FetchPollInterval: s.fetchPoll,
			}},
			Workers:           workers,
			FetchCooldown:     s.fetchCooldown,
			FetchPollInterval: s.fetchPoll,
			// pgqueue's defaults, so that both store the same rows.
			MaxAttempts:       queue.DefaultMaxAttempts,
			ReindexerSchedule: river.NeverSchedule(),
			Logger:            log,
			TestOnly:          true, // = StartMaintenanceAtOnce
		})
		if err != nil {
			return nil, err
		}
		return riverSide{c}, nil
	}
	return nil, fmt.Errorf("unknown side %q", name)
}

type pgqueueSide struct{ c *queue.Client }

func (p pgqueueSide) insertMany(ctx context.Context, args []benchArgs) error {
	items := make([]queue.Item, len(args))
	for i, a := range args {
		items[i] = queue.Item{Args: a}
	}
	_, err := p.c.EnqueueMany(ctx, items)
	return err
}

func (p pgqueueSide) insertOne(ctx context.Context, a benchArgs) error {
	_, err := p.c.Enqueue(ctx, a, nil)
	return err
}

func (p pgqueueSide) start(ctx context.Context) error { return p.c.Start(ctx) }
func (p pgqueueSide) stop(ctx context.Context) error  { return p.c.Stop(ctx) }

type riverSide struct{ c *river.Client[pgx.Tx] }

func (r riverSide) insertMany(ctx context.Context, args []benchArgs) error {
	ps := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		ps[i] = river.InsertManyParams{Args: a}
	}
	_, err := r.c.InsertMany(ctx, ps)
	return err
}

func (r riverSide) insertOne(ctx context.Context, a benchArgs) error {
	_, err := r.c.Insert(ctx, a, nil)
	return err
}

func (r riverSide) start(ctx context.Context) error { return r.c.Start(ctx) }
func (r riverSide) stop(ctx context.Context) error  { return r.c.Stop(ctx) }
