package apibench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// Load is the shape of one measurement: a closed loop of Concurrency
// workers, each sending its next request as soon as the last one answered,
// first for Warmup (not recorded), then for Duration (recorded).
type Load struct {
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
}

// Call sends request number n of a measurement (0, 1, 2, ... across all
// workers, so it can make unique names) over conn.
type Call func(ctx context.Context, conn grpc.ClientConnInterface, n uint64) error

// Sample is what one measurement recorded.
type Sample struct {
	// Latencies holds one entry per request that started inside the
	// measured window, from just before the call to its answer.
	Latencies []time.Duration
	// Elapsed runs from the window's start to the last recorded answer.
	Elapsed time.Duration
	// Sent counts every request, warm-up included.
	Sent int
	// CPU is the CPU time spent over the whole run, warm-up included; the
	// caller measures it (zero: not measured).
	CPU CPU
}

// callTimeout bounds a request that started before the window closed; a
// server that hangs fails the measurement instead of stalling it.
const callTimeout = 30 * time.Second

// measure runs call under l over conns (worker i uses conns[i%len(conns)])
// and returns the window's latencies. Any failed request fails the whole
// measurement: an error path that answers fast would inflate the numbers.
func measure(ctx context.Context, conns []grpc.ClientConnInterface, l Load, call Call) (Sample, error) {
	if l.Concurrency < 1 || l.Duration <= 0 || l.Warmup < 0 || len(conns) == 0 {
		return Sample{}, fmt.Errorf("measure: want Concurrency ≥ 1, Duration > 0, Warmup ≥ 0 and a connection, got %+v and %d connections", l, len(conns))
	}
	start := time.Now()
	from := start.Add(l.Warmup)
	until := from.Add(l.Duration)
	// One deadline for the whole run, not one per call: no timer per
	// request, and both sides see the same grpc-timeout header.
	ctx, cancelDeadline := context.WithDeadline(ctx, until.Add(callTimeout))
	defer cancelDeadline()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var next atomic.Uint64
	recorded := make([][]time.Duration, l.Concurrency)
	last := make([]time.Time, l.Concurrency)
	sent := make([]int, l.Concurrency)
	var wg sync.WaitGroup
	for w := range l.Concurrency {
		conn := conns[w%len(conns)]
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				n := next.Add(1) - 1
				sent[w]++
				if err := call(ctx, conn, n); err != nil {
					cancel(fmt.Errorf("request %d: %w", n, err))
					break
				}
				t1 := time.Now()
				if !t0.Before(from) {
					lat = append(lat, t1.Sub(t0))
					last[w] = t1
				}
			}
			recorded[w] = lat
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return Sample{}, err
	}
	var s Sample
	end := from
	for w := range recorded {
		s.Latencies = append(s.Latencies, recorded[w]...)
		s.Sent += sent[w]
		if last[w].After(end) {
			end = last[w]
		}
	}
	if len(s.Latencies) == 0 {
		return Sample{}, errors.New("no request started and finished in the measured window")
	}
	s.Elapsed = end.Sub(from)
	return s, nil
}

// Stats summarizes one or more samples of the same kind.
type Stats struct {
	Requests int
	Elapsed  time.Duration
	P50, P99 time.Duration
	// CPUPerRequest is the CPU time per request sent, warm-up included;
	// zero when not measured.
	CPUPerRequest CPU
}

// RPS is the throughput: requests per second of measured time.
func (s Stats) RPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

// summarize merges samples (the rounds of one side and RPC): the requests
// and the time add up, and the percentiles are over every latency.
//
// Percentiles are exact, not estimated: every latency is kept (8 bytes a
// request; a bounded run records at most a few hundred thousand) and
// sorted, as ghz's own reporter does. An HDR histogram would bound memory
// for unbounded runs at the price of ~0.1% rounding; these runs are bounded.
func summarize(samples ...Sample) Stats {
	var st Stats
	var all []time.Duration
	var sent int
	var cpu CPU
	for _, s := range samples {
		st.Requests += len(s.Latencies)
		st.Elapsed += s.Elapsed
		all = append(all, s.Latencies...)
		sent += s.Sent
		cpu = cpu.add(s.CPU)
	}
	if sent > 0 {
		st.CPUPerRequest = cpu.per(sent)
	}
	slices.Sort(all)
	st.P50 = percentile(all, 50)
	st.P99 = percentile(all, 99)
	return st
}

// percentile returns the nearest-rank p-th percentile of sorted latencies:
// the smallest value such that at least p% of them are at most it. Zero
// for no latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// p·n before the division keeps whole-number ranks exact (99·100/100).
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
