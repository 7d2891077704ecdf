package queue

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

type overheadArgs struct {
	N int `json:"n"`
}

func (overheadArgs) Kind() string { return "overhead" }

// BenchmarkWork is what pgqueue adds around a handler (job conversion,
// timeout and retry plumbing, metrics) next to River's own WorkFunc
// calling the same no-op, in one run:
//
//	go test -run '^$' -bench 'Work|InsertParams' -benchmem .
func BenchmarkWork(b *testing.B) {
	ctx := context.Background()
	rj := &river.Job[overheadArgs]{JobRow: &rivertype.JobRow{Kind: "overhead", Queue: "default", Attempt: 1, MaxAttempts: 5}}
	b.Run("river", func(b *testing.B) {
		w := river.WorkFunc(func(context.Context, *river.Job[overheadArgs]) error { return nil })
		for b.Loop() {
			_ = w.Work(ctx, rj)
		}
	})
	b.Run("pgqueue", func(b *testing.B) {
		m, err := newMetrics(prometheus.NewRegistry(), nil, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		w := newWorker("overhead", func(context.Context, *Job[overheadArgs]) error { return nil }, KindOptions{}, &runtime{metrics: m, retry: DefaultBackoff()})
		for b.Loop() {
			_ = w.Work(ctx, rj)
		}
	})
}

// BenchmarkInsertParams is pgqueue's validation and defaults per enqueued
// job, before River's own insert.
func BenchmarkInsertParams(b *testing.B) {
	reg := NewRegistry()
	if err := Register(reg, func(context.Context, *Job[overheadArgs]) error { return nil }, KindOptions{}); err != nil {
		b.Fatal(err)
	}
	c := &Client{reg: reg, rt: &runtime{maxAttempts: DefaultMaxAttempts}}
	for b.Loop() {
		if _, err := c.insertParams(overheadArgs{N: 1}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
