package queuebench

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunPlanRejectsBadPlan(t *testing.T) {
	t.Parallel()
	p := DefaultPlan
	p.Rounds = 0
	err := RunPlan(context.Background(), io.Discard, p)
	require.ErrorContains(t, err, "every size must be positive")
}

func TestStatistics(t *testing.T) {
	t.Parallel()
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	var ms []time.Duration
	for i := 1; i <= 100; i++ {
		ms = append(ms, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 51.0, percentile(ms, 0.50))
	require.Equal(t, 100.0, percentile(ms, 0.99))
	require.Zero(t, percentile(nil, 0.5))
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	require.NoError(t, writeTable(&sb, []row{
		{name: "batch: work", unit: "jobs/s", higherIsBetter: true, values: map[string][]float64{
			sidePgqueue: {900, 1100}, sideRiver: {1000, 1000},
		}},
		{name: "latency p50", unit: "ms", values: map[string][]float64{
			sidePgqueue: {2, 4}, sideRiver: {4, 4},
		}, overall: map[string]float64{sidePgqueue: 2, sideRiver: 4}},
	}))
	out := sb.String()
	require.Contains(t, out, "batch: work (jobs/s)               1000       1000   1.000   0.900 1.100")
	require.Contains(t, out, "latency p50 (ms)                   2.00       4.00   2.000   2.000 1.000")
}
