package queue

import (
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"
)

// PeriodicJob is a job enqueued on a schedule. Only the elected leader
// among the running clients enqueues periodic jobs, so each run happens
// once however many worker processes there are. The leader keeps the
// schedule in memory: when leadership moves (the leader stops or dies),
// the new leader starts the schedule afresh and a run that fell in the
// gap is skipped, unless RunOnStart.
type PeriodicJob struct {
	// Name identifies the periodic job; unique among a client's.
	Name string
	// Schedule is a cron expression (see ParseSchedule).
	Schedule string
	// Args of every enqueued job; the kind must be registered.
	Args Args
	// Opts of every enqueued job; In and At are not allowed.
	Opts *EnqueueOpts
	// RunOnStart also enqueues a job when a client becomes leader.
	RunOnStart bool
}

// Schedule returns the next run time after a given time.
type Schedule interface {
	Next(after time.Time) time.Time
}

// ParseSchedule parses a cron expression: five fields (minute, hour, day of
// month, month, day of week; e.g. "*/15 * * * *", "0 3 * * MON-FRI"),
// one of @yearly @monthly @weekly @daily @hourly, or "@every <duration>"
// (e.g. "@every 30s"; at least one second). Times are UTC unless the
// expression starts with CRON_TZ=<zone>.
func ParseSchedule(expr string) (Schedule, error) {
	// The cron package rounds "@every" durations to whole seconds, at
	// least one; refuse what it would silently change instead.
	if d, ok := strings.CutPrefix(expr, "@every "); ok {
		every, err := time.ParseDuration(d)
		if err == nil && (every < time.Second || every%time.Second != 0) {
			return nil, fmt.Errorf("cron schedule %q: @every needs whole seconds, at least 1s", expr)
		}
	}
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("cron schedule %q: %w", expr, err)
	}
	return utcSchedule{s}, nil
}

// utcSchedule evaluates plain five-field expressions in UTC whatever the
// process's local zone, so that a schedule means the same on every
// machine.
type utcSchedule struct{ s cron.Schedule }

func (u utcSchedule) Next(t time.Time) time.Time { return u.s.Next(t.UTC()) }

func (c *Client) periodicJobs() ([]*river.PeriodicJob, error) {
	seen := map[string]bool{}
	var out []*river.PeriodicJob
	for i, p := range c.cfg.Periodic {
		where := fmt.Sprintf("Periodic[%d] %q", i, p.Name)
		if !kindRE.MatchString(p.Name) {
			return nil, fmt.Errorf("%s: Name must be 2 or more word characters or -[]<>/.·:+", where)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: Name used twice", where)
		}
		seen[p.Name] = true
		sched, err := ParseSchedule(p.Schedule)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if p.Opts != nil && (p.Opts.In != 0 || !p.Opts.At.IsZero()) {
			return nil, fmt.Errorf("%s: Opts.In and Opts.At do not apply to periodic jobs", where)
		}
		params, err := c.insertParams(p.Args, p.Opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		kind, queue := params.Args.Kind(), params.InsertOpts.Queue
		out = append(out, river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
			// Counted when built: River inserts what the constructor returns.
			c.rt.metrics.enqueued(kind, queue)
			opts := *params.InsertOpts
			return params.Args, &opts
		}, &river.PeriodicJobOpts{ID: p.Name, RunOnStart: p.RunOnStart}))
	}
	return out, nil
}
