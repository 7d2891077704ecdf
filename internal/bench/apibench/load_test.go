package apibench

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

func ms1(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms1(i + 1)
	}
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i+1) * time.Microsecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"no latencies", nil, 50, 0},
		{"one latency is every percentile", []time.Duration{ms1(7)}, 99, ms1(7)},
		{"p50 of 1..100", hundred, 50, ms1(50)},
		{"p99 of 1..100 exactly, no float rounding up", hundred, 99, ms1(99)},
		{"p100 is the maximum", hundred, 100, ms1(100)},
		{"p0 is the minimum", hundred, 0, ms1(1)},
		{"p99 of 1..1000", thousand, 99, 990 * time.Microsecond},
		{"p50 of two rounds up to the first", []time.Duration{ms1(1), ms1(2)}, 50, ms1(1)},
		{"p99 of three is the last", []time.Duration{ms1(1), ms1(2), ms1(30)}, 99, ms1(30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, percentile(tc.sorted, tc.p))
		})
	}
}

func TestSummarizeMergesRounds(t *testing.T) {
	t.Parallel()
	a := Sample{Latencies: []time.Duration{ms1(3), ms1(1), ms1(2)}, Elapsed: 2 * time.Second, Sent: 5, CPU: CPU{Server: ms1(5), Machine: ms1(8)}}
	b := Sample{Latencies: []time.Duration{ms1(100)}, Elapsed: time.Second, Sent: 3, CPU: CPU{Server: ms1(11), Machine: ms1(16)}}
	st := summarize(a, b)
	require.Equal(t, 4, st.Requests)
	require.Equal(t, 3*time.Second, st.Elapsed)
	require.InDelta(t, 4.0/3.0, st.RPS(), 1e-9)
	require.Equal(t, ms1(2), st.P50, "sorted across rounds: 1 2 3 100")
	require.Equal(t, ms1(100), st.P99)
	require.Equal(t, CPU{Server: ms1(2), Machine: ms1(3)}, st.CPUPerRequest, "16 ms and 24 ms over 8 requests sent, warm-up included")
	require.Equal(t, []time.Duration{ms1(3), ms1(1), ms1(2)}, a.Latencies, "the samples are not reordered")

	require.Zero(t, summarize().RPS(), "nothing measured: zero, not NaN")
}

func TestMeasureRecordsEveryRequestOnceWithUniqueNumbers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[uint64]int{}
	conns := []grpc.ClientConnInterface{nil, nil}
	call := func(ctx context.Context, _ grpc.ClientConnInterface, n uint64) error {
		mu.Lock()
		seen[n]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return ctx.Err()
	}
	s, err := measure(context.Background(), conns, Load{Concurrency: 4, Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond}, call)
	require.NoError(t, err)
	require.NotEmpty(t, s.Latencies)
	require.Positive(t, s.Elapsed)
	for n, c := range seen {
		require.Equal(t, 1, c, "request number %d used %d times", n, c)
	}
	require.Equal(t, len(seen), s.Sent, "Sent counts every request")
	require.Less(t, len(s.Latencies), s.Sent, "warm-up requests are sent but not recorded")
	for _, l := range s.Latencies {
		require.GreaterOrEqual(t, l, time.Millisecond, "a latency spans the whole call")
	}
}

func TestMeasureFailsOnTheFirstFailedRequest(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	call := func(_ context.Context, _ grpc.ClientConnInterface, n uint64) error {
		if n == 3 {
			return boom
		}
		return nil
	}
	_, err := measure(context.Background(), []grpc.ClientConnInterface{nil}, Load{Concurrency: 2, Duration: time.Minute}, call)
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "request 3: boom")
}

func TestMeasureStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	call := func(ctx context.Context, _ grpc.ClientConnInterface, n uint64) error {
		if n == 10 {
			cancel()
		}
		return ctx.Err()
	}
	_, err := measure(ctx, []grpc.ClientConnInterface{nil}, Load{Concurrency: 1, Duration: time.Minute}, call)
	require.ErrorIs(t, err, context.Canceled)
}

func TestMeasureRejectsABadLoad(t *testing.T) {
	t.Parallel()
	nop := func(context.Context, grpc.ClientConnInterface, uint64) error { return nil }
	one := []grpc.ClientConnInterface{nil}
	for _, tc := range []struct {
		name  string
		load  Load
		conns []grpc.ClientConnInterface
	}{
		{"no workers", Load{Duration: time.Second}, one},
		{"no duration", Load{Concurrency: 1}, one},
		{"negative warm-up", Load{Concurrency: 1, Duration: time.Second, Warmup: -1}, one},
		{"no connection", Load{Concurrency: 1, Duration: time.Second}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := measure(context.Background(), tc.conns, tc.load, nop)
			require.ErrorContains(t, err, "measure: want")
		})
	}
}
