// Package queuebench is `go tool mage bench:queue`: pgqueue against River
// used directly, with the same settings, in one run on one machine,
// printed as ratios (target: pgqueue/River ≥ 0.95).
//
// It starts its own PostgreSQL (the system's binaries, TLS, certificate
// logins, the migrated schema, the server role; durability off), and
// gives every measurement a fresh database cloned from a migrated
// template, dropped after it. Both sides run the same no-op job kind, the
// same queue settings and connection pool size; pgqueue runs as users run
// it, with metrics on. Three modes:
//
//   - batch: insert Plan.BatchJobs jobs in batches of 1000, then start a
//     worker and time it until every job is completed in the database;
//   - continuous: Plan.Producers goroutines enqueue one job at a time while
//     the worker works, for Plan.Duration after a short warm-up; the rate is
//     jobs worked per second in that window;
//   - latency: an idle worker, Plan.LatencyJobs single jobs a few
//     milliseconds apart; latency is from before the enqueue call to the
//     handler's start (one process, one clock).
//
// Beside rates, the batch and continuous modes report the CPU time of this
// process per job (user + system, from getrusage): the Go side's cost,
// queue library included, which a busy machine disturbs less than rates.
//
// Each mode runs Plan.Rounds times per side, alternating which side goes
// first (AB, BA, AB, ...), so that drift on a shared machine hits both.
// The table shows medians (latency percentiles over all samples) and every
// round's own ratio, which makes the noise visible.
package queuebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/shared/machine"
)

const (
	sidePgqueue = "pgqueue"
	sideRiver   = "river"
)

// Plan sizes a run.
type Plan struct {
	Rounds      int
	BatchJobs   int
	Producers   int
	Duration    time.Duration // continuous mode's measured window
	Warmup      time.Duration
	LatencyJobs int
	// Queue settings and pool size, the same for both sides.
	MaxWorkers    int
	FetchCooldown time.Duration
	FetchPoll     time.Duration
	PoolConns     int32
}

// DefaultPlan takes about two minutes on a 2-core machine: many short
// rounds rather than a few long ones, because on a shared machine the
// median of many interleaved rounds moves less than a few long ones. An
// even number of rounds lets each side go first equally often.
var DefaultPlan = Plan{
	Rounds:        8,
	BatchJobs:     5_000,
	Producers:     4,
	Duration:      1500 * time.Millisecond,
	Warmup:        300 * time.Millisecond,
	LatencyJobs:   150,
	MaxWorkers:    50,
	FetchCooldown: 5 * time.Millisecond,
	FetchPoll:     100 * time.Millisecond,
	PoolConns:     20,
}

// Run measures with DefaultPlan and prints the table to out.
func Run(ctx context.Context, out io.Writer) error { return RunPlan(ctx, out, DefaultPlan) }

// RunPlan is Run with another plan.
func RunPlan(ctx context.Context, out io.Writer, p Plan) error {
	if p.Rounds < 1 || p.BatchJobs < 1 || p.Producers < 1 || p.Duration <= 0 || p.LatencyJobs < 1 || p.MaxWorkers < 1 || p.PoolConns < 2 {
		return fmt.Errorf("queuebench plan: every size must be positive (PoolConns ≥ 2): %+v", p)
	}
	fmt.Fprintln(out, "starting a private PostgreSQL ...")
	c, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(out, "PostgreSQL %s, %d CPUs, %s, load average %s; %d rounds per mode, sides alternating\n",
		c.serverVersion(ctx), runtime.NumCPU(), runtime.Version(), machine.LoadAverage(), p.Rounds)
	fmt.Fprintf(out, "settings (both sides): MaxWorkers %d, FetchCooldown %v, FetchPollInterval %v, pool %d connections\n\n",
		p.MaxWorkers, p.FetchCooldown, p.FetchPoll, p.PoolConns)

	b := &bench{c: c, p: p, s: settings{maxWorkers: p.MaxWorkers, fetchCooldown: p.FetchCooldown, fetchPoll: p.FetchPoll},
		samples: map[string][]time.Duration{}}
	var rows []row
	for _, m := range []struct {
		name, unit string
		higher     bool
		run        func(context.Context, string) (map[string]float64, error)
	}{
		{"batch: insert", "jobs/s", true, nil},
		{"batch: work", "jobs/s", true, nil},
		{"batch: work CPU/job", "µs", false, nil},
		{"continuous: work", "jobs/s", true, nil},
		{"continuous: enqueue", "jobs/s", true, nil},
		{"continuous: CPU/job", "µs", false, nil},
		{"latency p50", "ms", false, nil},
		{"latency p99", "ms", false, nil},
	} {
		rows = append(rows, row{name: m.name, unit: m.unit, higherIsBetter: m.higher, values: map[string][]float64{}})
	}
	modes := []func(context.Context, string) (map[string]float64, error){b.batch, b.continuous, b.latency}
	for mi, mode := range modes {
		for r := range p.Rounds {
			order := []string{sidePgqueue, sideRiver}
			if r%2 == 1 {
				order = []string{sideRiver, sidePgqueue}
			}
			for _, sd := range order {
				res, err := mode(ctx, sd)
				if err != nil {
					return fmt.Errorf("%s, round %d: %w", sd, r+1, err)
				}
				for i := range rows {
					if v, ok := res[rows[i].name]; ok {
						rows[i].values[sd] = append(rows[i].values[sd], v)
					}
				}
			}
			fmt.Fprintf(out, "  mode %d/%d round %d/%d done\n", mi+1, len(modes), r+1, p.Rounds)
		}
	}
	// Latency percentiles over every sample of every round.
	for i := range rows {
		q := map[string]float64{"latency p50": 0.50, "latency p99": 0.99}[rows[i].name]
		if q > 0 {
			rows[i].overall = map[string]float64{sidePgqueue: percentile(b.samples[sidePgqueue], q), sideRiver: percentile(b.samples[sideRiver], q)}
		}
	}
	fmt.Fprintf(out, "\nload average after: %s\n\n", machine.LoadAverage())
	return writeTable(out, rows)
}

type bench struct {
	c       *cluster
	p       Plan
	s       settings
	samples map[string][]time.Duration // latency samples per side, all rounds
}

// prepare gives a side a fresh database, once the server is quiet; onJob
// runs in its handler. done releases the database.
func (b *bench) prepare(ctx context.Context, name string, onJob func(benchArgs)) (sd side, pool *pgxpool.Pool, done func(), err error) {
	b.c.settle(ctx)
	pool, done, err = b.c.freshPool(ctx, b.p.PoolConns)
	if err != nil {
		return nil, nil, nil, err
	}
	sd, err = newSide(name, pool, b.s, onJob)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return sd, pool, done, nil
}

func (b *bench) batch(ctx context.Context, name string) (map[string]float64, error) {
	var worked atomic.Int64
	sd, pool, done, err := b.prepare(ctx, name, func(benchArgs) { worked.Add(1) })
	if err != nil {
		return nil, err
	}
	defer done()
	args := make([]benchArgs, 1000)
	begin := time.Now()
	for n := 0; n < b.p.BatchJobs; n += len(args) {
		if err := sd.insertMany(ctx, args[:min(len(args), b.p.BatchJobs-n)]); err != nil {
			return nil, fmt.Errorf("insert: %w", err)
		}
	}
	insert := time.Since(begin)

	begin, cpu0 := time.Now(), processCPU()
	if err := sd.start(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = sd.stop(context.Background()) }()
	if err := waitCompleted(ctx, pool, b.p.BatchJobs); err != nil {
		return nil, err
	}
	work, cpu := time.Since(begin), processCPU()-cpu0
	return map[string]float64{
		"batch: insert":       float64(b.p.BatchJobs) / insert.Seconds(),
		"batch: work":         float64(b.p.BatchJobs) / work.Seconds(),
		"batch: work CPU/job": float64(cpu.Microseconds()) / float64(b.p.BatchJobs),
	}, nil
}

// waitCompleted polls until n jobs are completed: River completes jobs in
// batches after their handlers return, and the work is done when that is.
func waitCompleted(ctx context.Context, pool *pgxpool.Pool, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var done int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&done); err != nil {
			return fmt.Errorf("count completed jobs: %w", err)
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d jobs completed after 5 minutes", done, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *bench) continuous(ctx context.Context, name string) (map[string]float64, error) {
	var worked, enqueued atomic.Int64
	sd, _, done, err := b.prepare(ctx, name, func(benchArgs) { worked.Add(1) })
	if err != nil {
		return nil, err
	}
	defer done()
	if err := sd.start(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = sd.stop(context.Background()) }()

	pctx, stopProducers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make([]error, b.p.Producers)
	for i := range b.p.Producers {
		wg.Go(func() {
			for pctx.Err() == nil {
				if err := sd.insertOne(pctx, benchArgs{}); err != nil {
					if pctx.Err() == nil {
						errs[i] = err
					}
					return
				}
				enqueued.Add(1)
			}
		})
	}
	time.Sleep(b.p.Warmup)
	w0, e0, t0, cpu0 := worked.Load(), enqueued.Load(), time.Now(), processCPU()
	time.Sleep(b.p.Duration)
	w1, e1, el, cpu := worked.Load(), enqueued.Load(), time.Since(t0), processCPU()-cpu0
	stopProducers()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return map[string]float64{
		"continuous: work":    float64(w1-w0) / el.Seconds(),
		"continuous: enqueue": float64(e1-e0) / el.Seconds(),
		// Per job enqueued and worked: the Go side's whole cost of a job.
		"continuous: CPU/job": float64(cpu.Microseconds()) / float64(max(w1-w0, 1)),
	}, nil
}

func (b *bench) latency(ctx context.Context, name string) (map[string]float64, error) {
	started := make(chan time.Duration, 1)
	sd, _, done, err := b.prepare(ctx, name, func(a benchArgs) {
		started <- time.Duration(time.Now().UnixNano() - a.SentAt)
	})
	if err != nil {
		return nil, err
	}
	defer done()
	if err := sd.start(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = sd.stop(context.Background()) }()
	time.Sleep(200 * time.Millisecond) // let the worker settle into idle
	lat := make([]time.Duration, 0, b.p.LatencyJobs)
	for range b.p.LatencyJobs {
		if err := sd.insertOne(ctx, benchArgs{SentAt: time.Now().UnixNano()}); err != nil {
			return nil, fmt.Errorf("enqueue: %w", err)
		}
		select {
		case d := <-started:
			lat = append(lat, d)
		case <-time.After(10 * time.Second):
			return nil, errors.New("a job did not start within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.samples[name] = append(b.samples[name], lat...)
	return map[string]float64{"latency p50": percentile(lat, 0.50), "latency p99": percentile(lat, 0.99)}, nil
}

// processCPU is the CPU time this process has used (user and system):
// the cost of the Go side, queue library included; PostgreSQL runs in
// other processes. On a busy shared machine it moves much less than rates.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile returns the q-quantile of samples in milliseconds.
func percentile(samples []time.Duration, q float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(q*float64(len(s))))]) / float64(time.Millisecond)
}

type row struct {
	name, unit     string
	higherIsBetter bool
	values         map[string][]float64 // per side, per round
	overall        map[string]float64   // per side, when not the median of values
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeTable prints medians per side and pgqueue/River ratios. For rates
// the ratio is pgqueue/River (≥ 0.95 is the target); for latencies it is
// River/pgqueue, so that above 1 means pgqueue is as good or better in
// every row.
func writeTable(out io.Writer, rows []row) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-28s %10s %10s %7s   %s\n", "measure", "pgqueue", "river", "ratio", "ratio per round")
	for _, r := range rows {
		pq, rv := r.values[sidePgqueue], r.values[sideRiver]
		ratio := func(a, b float64) float64 {
			if r.higherIsBetter {
				return a / b
			}
			return b / a
		}
		var per []string
		for i := range min(len(pq), len(rv)) {
			per = append(per, fmt.Sprintf("%.3f", ratio(pq[i], rv[i])))
		}
		a, b := median(pq), median(rv)
		if r.overall != nil {
			a, b = r.overall[sidePgqueue], r.overall[sideRiver]
		}
		fmt.Fprintf(&sb, "%-28s %10s %10s %7.3f   %s\n", r.name+" ("+r.unit+")", format(a), format(b), ratio(a, b), strings.Join(per, " "))
	}
	sb.WriteString("\nrates: median of the rounds; latencies: percentiles of all rounds' samples together\n")
	sb.WriteString("ratio: pgqueue/river for rates, river/pgqueue for latencies (above 1: pgqueue ahead); target ≥ 0.95\n")
	_, err := io.WriteString(out, sb.String())
	return err
}

func format(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
