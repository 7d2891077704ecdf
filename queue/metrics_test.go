package queue_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/queue"
)

// gather returns every sample as "name{label=value,...}" → value
// (histograms as their count).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			key := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			default:
				t.Fatalf("unexpected metric type %v", mf.GetType())
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := prometheus.NewRegistry()
	c := b.client(t, func(cfg *queue.Config) {
		cfg.Clock = nil // depth ages are measured by the database's clock
		cfg.Metrics = reg
		cfg.Queues = map[string]queue.QueueConfig{queue.QueueDefault: {MaxWorkers: 2, FetchCooldown: 5 * time.Millisecond}}
	})
	ctx := context.Background()
	_, err := c.EnqueueMany(ctx, []queue.Item{
		{Args: noteArgs{Key: "1"}}, {Args: noteArgs{Key: "2"}},
		{Args: failArgs{Msg: "retry me"}},
		{Args: failArgs{Msg: "last try"}, Opts: &queue.EnqueueOpts{MaxAttempts: 1}},
	})
	require.NoError(t, err)
	dup, err := c.Enqueue(ctx, noteArgs{Key: "u"}, &queue.EnqueueOpts{Unique: &queue.Unique{ByArgs: true}})
	require.NoError(t, err)
	_, err = c.Enqueue(ctx, noteArgs{Key: "u"}, &queue.EnqueueOpts{Unique: &queue.Unique{ByArgs: true}})
	require.NoError(t, err)
	require.False(t, dup.Duplicate)

	// Three jobs wait in another queue, which nobody works.
	_, err = c.EnqueueMany(ctx, []queue.Item{
		{Args: noteArgs{Key: "w1"}, Opts: &queue.EnqueueOpts{Queue: "waiting"}},
		{Args: noteArgs{Key: "w2"}, Opts: &queue.EnqueueOpts{Queue: "waiting"}},
		{Args: noteArgs{Key: "w3"}, Opts: &queue.EnqueueOpts{Queue: "waiting"}},
	})
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, "UPDATE river_job SET scheduled_at = now() - interval '90 seconds' WHERE queue = 'waiting'")
	require.NoError(t, err)

	require.NoError(t, c.Start(ctx))
	require.Eventually(t, func() bool {
		return b.count(t, "SELECT count(*) FROM river_job WHERE queue = 'default' AND state IN ('available', 'running')") == 0
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, c.Stop(ctx))

	got := gather(t, reg)
	l := func(name, kind, queue string) string { return fmt.Sprintf("%s{kind=%s,queue=%s}", name, kind, queue) }
	want := map[string]float64{
		l(queue.MetricEnqueued, "note", "default"):  3,
		l(queue.MetricEnqueued, "fail", "default"):  2,
		l(queue.MetricEnqueued, "note", "waiting"):  3,
		l(queue.MetricStarted, "note", "default"):   3,
		l(queue.MetricStarted, "fail", "default"):   2,
		l(queue.MetricCompleted, "note", "default"): 3,
		l(queue.MetricFailed, "fail", "default"):    2,
		l(queue.MetricRetried, "fail", "default"):   1,
		l(queue.MetricDiscarded, "fail", "default"): 1,
		l(queue.MetricDuration, "note", "default"):  3,
		l(queue.MetricDuration, "fail", "default"):  2,
		queue.MetricDepth + "{queue=waiting}":       3,
		queue.MetricDepth + "{queue=default}":       0,
		queue.MetricScrapeError + "{}":              0,
	}
	for k, v := range want {
		require.Contains(t, got, k)
		require.Equal(t, v, got[k], k)
	}
	age := got[queue.MetricOldestAge+"{queue=waiting}"]
	require.True(t, age >= 90 && age < 120, "oldest available age %v, want about 90s", age)
	require.Zero(t, got[queue.MetricOldestAge+"{queue=default}"])

	// Every registered kind has its series from the start, at zero.
	for _, name := range []string{queue.MetricEnqueued, queue.MetricFailed, queue.MetricDiscarded, queue.MetricCancelled, queue.MetricSnoozed} {
		for _, kind := range b.reg.Kinds() {
			require.Contains(t, got, l(name, kind, "default"))
		}
	}
	require.Zero(t, got[l(queue.MetricCancelled, "note", "default")])

	// Registering twice on one registry is refused with a clear error.
	_, err = queue.New(queue.Config{Pool: b.pool, Registry: b.reg, Metrics: reg})
	require.ErrorContains(t, err, "register queue metrics")
}

// A scrape whose depth query times out reports the failure and leaves the
// depth out instead of stalling.
func TestMetricsDepthTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := prometheus.NewRegistry()
	b.client(t, func(cfg *queue.Config) {
		cfg.Metrics = reg
		cfg.MetricsTimeout = time.Nanosecond
	})
	got := gather(t, reg)
	require.Equal(t, 1.0, got[queue.MetricScrapeError+"{}"])
	for k := range got {
		require.NotContains(t, k, queue.MetricDepth)
	}
	require.Contains(t, b.logs.String(), "timed out after 1ns")
}
