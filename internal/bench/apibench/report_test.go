package apibench

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/machine"
)

func TestRatioIsFullOverBaselineThroughput(t *testing.T) {
	t.Parallel()
	r := Result{
		Full:     Stats{Requests: 900, Elapsed: time.Second},
		Baseline: Stats{Requests: 2000, Elapsed: 2 * time.Second},
	}
	require.InDelta(t, 0.9, r.Ratio(), 1e-9)
	require.Zero(t, Result{Full: r.Full}.Ratio(), "no baseline: zero, not Inf")
}

func TestIntervalAndVerdict(t *testing.T) {
	t.Parallel()
	// Full and baseline sums give Ratio; the rounds give the spread.
	result := func(ratio float64, rounds ...float64) Result {
		return Result{
			Full:        Stats{Requests: int(ratio * 10000), Elapsed: 10 * time.Second},
			Baseline:    Stats{Requests: 10000, Elapsed: 10 * time.Second},
			RoundRatios: rounds,
		}
	}

	steady := result(0.9, 0.9, 0.9, 0.9, 0.9)
	lo, hi, ok := steady.Interval()
	require.True(t, ok)
	require.InDelta(t, 0.9, lo, 1e-9)
	require.InDelta(t, 0.9, hi, 1e-9)
	require.Equal(t, "met", steady.Verdict())

	// Sample standard deviation 0.0231 over 4 rounds: ±3.182·0.0231/2.
	spread := result(0.88, 0.86, 0.86, 0.90, 0.90)
	lo, hi, ok = spread.Interval()
	require.True(t, ok)
	require.InDelta(t, 0.88-0.03674, lo, 1e-4)
	require.InDelta(t, 0.88+0.03674, hi, 1e-4)
	require.Equal(t, "not resolved", spread.Verdict(), "0.843–0.917 contains 0.85")

	require.Equal(t, "met", result(0.95, 0.94, 0.95, 0.96, 0.95).Verdict())
	require.Equal(t, "NOT MET", result(0.75, 0.74, 0.75, 0.76, 0.75).Verdict())

	// One round: no interval, the ratio decides.
	_, _, ok = result(0.9, 0.9).Interval()
	require.False(t, ok)
	require.Equal(t, "met", result(0.9, 0.9).Verdict())
	require.Equal(t, "NOT MET", result(0.8, 0.8).Verdict())
	require.Equal(t, "NOT MET", result(0.8).Verdict(), "no rounds recorded either")
}

func TestTQuantile(t *testing.T) {
	t.Parallel()
	require.InDelta(t, 12.706, tQuantile975(1), 1e-9)
	require.InDelta(t, 2.365, tQuantile975(7), 1e-9)
	require.InDelta(t, 2.042, tQuantile975(30), 1e-9)
	require.InDelta(t, 1.960, tQuantile975(1000), 1e-9)
	require.True(t, math.IsInf(tQuantile975(0), 1))
}

func TestPrint(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	Print(&out, Report{
		Machine:    Machine{CPU: "Test CPU 3000", Cores: 2, OS: "linux", Arch: "amd64", Go: "go1.26.8"},
		LoadBefore: "0.50 0.40 0.30",
		Plan:       Plan{Load: Load{Concurrency: 32, Warmup: time.Second, Duration: 5 * time.Second}, Connections: 4, Rounds: 2, Settle: 3 * time.Second, ClientProcs: 1},
		Results: []Result{
			{
				RPC:         "CreateAccount",
				Full:        Stats{Requests: 9000, Elapsed: 10 * time.Second, P50: 1500 * time.Microsecond, P99: 12345678 * time.Nanosecond, CPUPerRequest: CPU{Server: 412400 * time.Nanosecond, Postgres: 100 * time.Microsecond, Client: 150 * time.Microsecond, Machine: 700 * time.Microsecond}},
				Baseline:    Stats{Requests: 10000, Elapsed: 10 * time.Second, P50: time.Millisecond, P99: 10 * time.Millisecond, CPUPerRequest: CPU{Server: 250 * time.Microsecond, Postgres: 90 * time.Microsecond, Client: 140 * time.Microsecond, Machine: 500 * time.Microsecond}},
				RoundRatios: []float64{0.891, 0.909, 0.900},
			},
			{
				RPC:         "GetAccount",
				Full:        Stats{Requests: 8000, Elapsed: 10 * time.Second, P50: 250 * time.Microsecond, P99: 2 * time.Millisecond},
				Baseline:    Stats{Requests: 10000, Elapsed: 10 * time.Second, P50: 200 * time.Microsecond, P99: time.Millisecond},
				RoundRatios: []float64{0.79, 0.80, 0.81},
			},
		},
	})
	want := `machine: Test CPU 3000, 2 cores, linux/amd64, go1.26.8; load average 0.50 0.40 0.30 (1, 5, 15 min) before the measurements
load: closed loop, 32 requests in flight over 4 mTLS connections per side, loopback; per RPC and side 3s settling, then 2 × (1s warm-up + 5s measured), sides alternating; load generator GOMAXPROCS 1

rpc            side       requests     req/s        p50        p99
CreateAccount  full           9000     900.0    1.500ms   12.346ms
CreateAccount  baseline      10000    1000.0    1.000ms   10.000ms
GetAccount     full           8000     800.0    0.250ms    2.000ms
GetAccount     baseline      10000    1000.0    0.200ms    1.000ms

CPU time per request, warm-up included
rpc            side         server  postgres    srv+pg    client      rest   machine
CreateAccount  full          412µs     100µs     512µs     150µs      38µs     700µs
CreateAccount  baseline      250µs      90µs     340µs     140µs      20µs     500µs
CreateAccount  base/full      0.61      0.90      0.66      0.93                0.71
GetAccount     full            0µs       0µs       0µs       0µs       0µs       0µs
GetAccount     baseline        0µs       0µs       0µs       0µs       0µs       0µs
GetAccount     base/full         -         -         -         -                   -
server: the serving process (server, or baseline); client: the load generator; rest: the machine's other busy time (kernel, the stack's other processes, neighbours)
base/full: the baseline's CPU per request over the full stack's. With the CPUs saturated, machine predicts the throughput ratio; srv+pg leaves the load generator out (as if it ran on another machine)

rpc             full/baseline  95% interval  rounds               target
CreateAccount           0.90x  0.88-0.92     0.89 0.91 0.90       ≥ 0.85  met
GetAccount              0.80x  0.78-0.82     0.79 0.80 0.81       ≥ 0.85  NOT MET
met / NOT MET: the whole interval is above / below the target; not resolved: the run cannot tell (APIBENCH_ROUNDS=16 or more narrows the interval)
`
	require.Equal(t, want, out.String())
}

func TestThisMachineNamesTheCPUAndGo(t *testing.T) {
	t.Parallel()
	m := ThisMachine()
	require.NotEmpty(t, m.CPU)
	require.Positive(t, m.Cores)
	require.Contains(t, m.Go, "go")
	require.NotEmpty(t, machine.LoadAverage())
}

func TestPlanFromEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	p, err := PlanFromEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultPlan, p)

	p, err = PlanFromEnv(env(map[string]string{"APIBENCH_CONCURRENCY": "64", "APIBENCH_ROUNDS": "5"}))
	require.NoError(t, err)
	require.Equal(t, 64, p.Concurrency)
	require.Equal(t, 5, p.Rounds)
	require.Equal(t, DefaultPlan.Connections, p.Connections, "the rest stays")

	for _, bad := range []map[string]string{
		{"APIBENCH_CONCURRENCY": "0"}, {"APIBENCH_CONCURRENCY": "lots"}, {"APIBENCH_ROUNDS": "-1"}, {"APIBENCH_ROUNDS": "1000"},
	} {
		_, err := PlanFromEnv(env(bad))
		require.ErrorContains(t, err, "want a whole number", "%v", bad)
	}
}
