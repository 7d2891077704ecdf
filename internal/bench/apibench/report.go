package apibench

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/machine"
)

// Target is the throughput the full stack should keep of the baseline's.
const Target = 0.85

// Plan is how much load each measurement gets.
type Plan struct {
	Load
	Connections int // gRPC connections per side; the workers share them
	Rounds      int // measurements per side and RPC, the sides alternating
	// Settle is how long each side runs an RPC, unrecorded, before that
	// RPC's first round (see DefaultPlan).
	Settle time.Duration
	// ClientProcs is the load generator's GOMAXPROCS while it measures
	// (ghz's --cpus); 0 leaves it alone. See DefaultPlan.
	ClientProcs int
}

// DefaultPlan measures for 108 s: 2 RPCs × 2 sides × (3 s settling + 8
// rounds × 3 s). The rounds alternate which side goes first (full,
// baseline | baseline, full | ...); an even number makes each side go
// first equally often, so that whatever the machine carries over from the
// previous measurement (the other RPC's aftermath, a checkpoint) does not
// fall on one side more.
//
// Many short rounds rather than a few long ones: what disturbs a shared
// two-core machine (the hypervisor taking CPU, a checkpoint, a neighbour)
// lasts seconds, and the more often the sides take turns, the more evenly
// it falls on both. With four rounds of 6 s the last round's ratio was
// above the first's in all eight runs looked at (GetAccount's round means
// 0.85, 0.87, 0.90, 0.93), so the first rounds were also still settling
// after the previous RPC: each side now runs every RPC for Settle,
// unrecorded, before its first round. Half a second of warm-up per round is
// a few thousand requests, enough for a process that idled through the
// other side's turn.
//
// The load generator gets one P. With one per core it shares the two cores
// with the server and PostgreSQL, and its own CPU per request depended on
// the side it loaded: its idle threads parked and woke more often against
// the side with the longer latency (73 against 123 µs per GetAccount in
// one run), so the ratio measured the Go scheduler's parking as much as
// the server's layers. One P needs well under one core at these rates and
// costs both sides alike.
var DefaultPlan = Plan{
	Load:        Load{Concurrency: 32, Warmup: 500 * time.Millisecond, Duration: 2500 * time.Millisecond},
	Connections: 4,
	Rounds:      8,
	Settle:      3 * time.Second,
	ClientProcs: 1,
}

// Machine describes where the numbers come from.
type Machine struct {
	CPU          string
	Cores        int
	OS, Arch, Go string
}

// ThisMachine describes the running machine.
func ThisMachine() Machine {
	return Machine{CPU: machine.CPUModel(), Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
}

// Result is one RPC measured on both sides.
type Result struct {
	RPC            string
	Full, Baseline Stats
	// RoundRatios are the ratios of each round's two measurements, taken
	// one after the other: their spread shows how noisy the machine was.
	RoundRatios []float64
}

func (r Result) sides() []struct {
	name string
	s    Stats
} {
	return []struct {
		name string
		s    Stats
	}{{"full", r.Full}, {"baseline", r.Baseline}}
}

// Ratio is the full stack's throughput over the baseline's.
func (r Result) Ratio() float64 { return ratio(r.Full, r.Baseline) }

// Interval is a 95 % confidence interval around Ratio, from the spread of
// the round ratios (Student's t with one degree of freedom fewer than
// rounds): how far this run's ratio may be from what the same code would
// measure over many runs on this machine. ok is false with fewer than two
// rounds.
//
// The rounds are paired (each compares two measurements taken one after
// the other), so what moves both sides alike drops out of a round's ratio,
// and the spread that remains is what the machine did to one side and not
// the other.
func (r Result) Interval() (lo, hi float64, ok bool) {
	n := len(r.RoundRatios)
	if n < 2 {
		return 0, 0, false
	}
	var mean float64
	for _, x := range r.RoundRatios {
		mean += x
	}
	mean /= float64(n)
	var ss float64
	for _, x := range r.RoundRatios {
		ss += (x - mean) * (x - mean)
	}
	half := tQuantile975(n-1) * math.Sqrt(ss/float64(n-1)/float64(n))
	return r.Ratio() - half, r.Ratio() + half, true
}

// tQuantile975 is the 97.5th percentile of Student's t distribution with
// df degrees of freedom (two-sided 95 %).
func tQuantile975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	switch {
	case df < 1:
		return math.Inf(1)
	case df <= len(table):
		return table[df-1]
	case df <= 60:
		return 2.000
	default:
		return 1.960
	}
}

// Verdict compares the ratio with Target. With an interval it says "met"
// only when the whole interval is at or above the target and "NOT MET"
// only when it is all below; otherwise the run could not tell ("not
// resolved": more rounds narrow the interval). With one round it goes by
// the ratio alone.
func (r Result) Verdict() string {
	lo, hi, ok := r.Interval()
	if !ok {
		lo, hi = r.Ratio(), r.Ratio()
	}
	switch {
	case lo >= Target:
		return "met"
	case hi < Target:
		return "NOT MET"
	default:
		return "not resolved"
	}
}

func ratio(full, baseline Stats) float64 {
	if baseline.RPS() == 0 {
		return 0
	}
	return full.RPS() / baseline.RPS()
}

// Report is everything Print prints.
type Report struct {
	Machine Machine
	// LoadBefore is the 1, 5 and 15-minute load averages before the measurements
	// (afterwards it would count the benchmark itself).
	LoadBefore string
	Plan       Plan
	Results    []Result
}

// Print writes the machine, the load and a table of the results.
func Print(out io.Writer, r Report) {
	m, p := r.Machine, r.Plan
	fmt.Fprintf(out, "machine: %s, %d cores, %s/%s, %s; load average %s (1, 5, 15 min) before the measurements\n",
		m.CPU, m.Cores, m.OS, m.Arch, m.Go, r.LoadBefore)
	fmt.Fprintf(out, "load: closed loop, %d requests in flight over %d mTLS connections per side, loopback; "+
		"per RPC and side %s settling, then %d × (%s warm-up + %s measured), sides alternating; load generator GOMAXPROCS %s\n\n",
		p.Concurrency, p.Connections, p.Settle, p.Rounds, p.Warmup, p.Duration, clientProcs(p.ClientProcs))
	fmt.Fprintf(out, "%-14s %-9s %9s %9s %10s %10s\n", "rpc", "side", "requests", "req/s", "p50", "p99")
	for _, res := range r.Results {
		for _, side := range res.sides() {
			fmt.Fprintf(out, "%-14s %-9s %9d %9.1f %10s %10s\n", res.RPC, side.name, side.s.Requests, side.s.RPS(),
				ms(side.s.P50), ms(side.s.P99))
		}
	}
	fmt.Fprintf(out, "\nCPU time per request, warm-up included\n%-14s %-9s %9s %9s %9s %9s %9s %9s\n",
		"rpc", "side", "server", "postgres", "srv+pg", "client", "rest", "machine")
	for _, res := range r.Results {
		for _, side := range res.sides() {
			c := side.s.CPUPerRequest
			fmt.Fprintf(out, "%-14s %-9s %9s %9s %9s %9s %9s %9s\n", res.RPC, side.name,
				us(c.Server), us(c.Postgres), us(c.Server+c.Postgres), us(c.Client), us(c.Rest()), us(c.Machine))
		}
		f, b := res.Full.CPUPerRequest, res.Baseline.CPUPerRequest
		fmt.Fprintf(out, "%-14s %-9s %9s %9s %9s %9s %9s %9s\n", res.RPC, "base/full",
			cpuRatio(b.Server, f.Server), cpuRatio(b.Postgres, f.Postgres), cpuRatio(b.Server+b.Postgres, f.Server+f.Postgres),
			cpuRatio(b.Client, f.Client), "", cpuRatio(b.Machine, f.Machine))
	}
	fmt.Fprintln(out, "server: the serving process (server, or baseline); client: the load generator; "+
		"rest: the machine's other busy time (kernel, the stack's other processes, neighbours)")
	fmt.Fprintln(out, "base/full: the baseline's CPU per request over the full stack's. With the CPUs saturated, "+
		"machine predicts the throughput ratio; srv+pg leaves the load generator out (as if it ran on another machine)")
	// Wide enough for the longest list of round ratios.
	width := 20
	for _, res := range r.Results {
		width = max(width, 5*len(res.RoundRatios))
	}
	fmt.Fprintf(out, "\n%-14s %14s  %-12s  %-*s %s\n", "rpc", "full/baseline", "95% interval", width, "rounds", "target")
	for _, res := range r.Results {
		interval := "-"
		if lo, hi, ok := res.Interval(); ok {
			interval = fmt.Sprintf("%.2f-%.2f", lo, hi)
		}
		rounds := make([]string, len(res.RoundRatios))
		for i, x := range res.RoundRatios {
			rounds[i] = fmt.Sprintf("%.2f", x)
		}
		fmt.Fprintf(out, "%-14s %13.2fx  %-12s  %-*s %-7s %s\n", res.RPC, res.Ratio(), interval, width,
			strings.Join(rounds, " "), fmt.Sprintf("≥ %.2f", Target), res.Verdict())
	}
	fmt.Fprintln(out, "met / NOT MET: the whole interval is above / below the target; "+
		"not resolved: the run cannot tell (APIBENCH_ROUNDS=16 or more narrows the interval)")
}

func clientProcs(n int) string {
	if n <= 0 {
		return strconv.Itoa(runtime.GOMAXPROCS(0))
	}
	return strconv.Itoa(n)
}

// cpuRatio formats base/full, or "-" when either was not measured.
func cpuRatio(base, full time.Duration) string {
	if base <= 0 || full <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(base)/float64(full))
}

// ms formats a latency in milliseconds with microsecond resolution.
func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

// us formats a CPU time in whole microseconds.
func us(d time.Duration) string {
	return fmt.Sprintf("%dµs", d.Round(time.Microsecond).Microseconds())
}

// PlanFromEnv is DefaultPlan with the load changed by the environment:
// APIBENCH_CONCURRENCY (requests in flight per side) and APIBENCH_ROUNDS
// (measurements per side and RPC). The ratio depends on the load's shape
// (docs/performance.md shows it at two concurrencies), so it can be
// measured at others without editing code.
func PlanFromEnv(getenv func(string) string) (Plan, error) {
	p := DefaultPlan
	for _, v := range []struct {
		name string
		dst  *int
		max  int
	}{
		{"APIBENCH_CONCURRENCY", &p.Concurrency, 4096},
		{"APIBENCH_ROUNDS", &p.Rounds, 100},
	} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > v.max {
			return Plan{}, fmt.Errorf("%s=%q: want a whole number from 1 to %d", v.name, s, v.max)
		}
		*v.dst = n
	}
	return p, nil
}
