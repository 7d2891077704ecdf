package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Checker is one dependency that must work for the process to be ready:
// the database, Kratos, ...
type Checker interface {
	// Name identifies the check in /readyz and in logs.
	Name() string
	// Check returns nil when the dependency works. It must honour ctx.
	Check(ctx context.Context) error
}

// Check makes a Checker of a function.
func Check(name string, fn func(ctx context.Context) error) Checker { return checkFunc{name, fn} }

type checkFunc struct {
	name string
	fn   func(context.Context) error
}

func (c checkFunc) Name() string                    { return c.name }
func (c checkFunc) Check(ctx context.Context) error { return c.fn(ctx) }

// DefaultCheckTimeout bounds each check of a readiness evaluation.
const DefaultCheckTimeout = 2 * time.Second

// Readiness decides whether the process should receive traffic: it is
// serving (started and not shutting down) and every check passes.
type Readiness struct {
	checks  []Checker
	timeout time.Duration
	serving atomic.Bool
}

// NewReadiness returns a Readiness over checks, not serving until
// SetServing(true). A timeout of 0 means DefaultCheckTimeout.
func NewReadiness(timeout time.Duration, checks ...Checker) *Readiness {
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	return &Readiness{checks: checks, timeout: timeout}
}

// SetServing marks the process as started (true) or shutting down (false).
// While not serving, the process is not ready whatever the checks say.
func (r *Readiness) SetServing(serving bool) { r.serving.Store(serving) }

// Result is the outcome of one check.
type Result struct {
	Name string
	Err  error
}

// Report is one readiness evaluation.
type Report struct {
	Serving bool
	Results []Result // in the order of the checks; empty when not serving
}

// Ready reports whether the process is serving and all checks passed.
func (rep Report) Ready() bool {
	if !rep.Serving {
		return false
	}
	for _, res := range rep.Results {
		if res.Err != nil {
			return false
		}
	}
	return true
}

// Err summarizes why the process is not ready, or nil.
func (rep Report) Err() error {
	if !rep.Serving {
		return errors.New("not serving (starting or shutting down)")
	}
	var errs []error
	for _, res := range rep.Results {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", res.Name, res.Err))
		}
	}
	return errors.Join(errs...)
}

// Evaluate runs every check concurrently, each with the timeout, unless the
// process is not serving.
func (r *Readiness) Evaluate(ctx context.Context) Report {
	rep := Report{Serving: r.serving.Load()}
	if !rep.Serving {
		return rep
	}
	rep.Results = make([]Result, len(r.checks))
	var wg sync.WaitGroup
	for i, c := range r.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.timeout)
			defer cancel()
			rep.Results[i] = Result{Name: c.Name(), Err: c.Check(cctx)}
		})
	}
	wg.Wait()
	return rep
}

// Watch evaluates readiness every interval until ctx ends and calls
// onChange with the first result and with every change, logging each
// change. The gRPC health service follows readiness this way.
func (r *Readiness) Watch(ctx context.Context, interval time.Duration, log *slog.Logger, onChange func(ready bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	first := true
	var last bool
	for {
		rep := r.Evaluate(ctx)
		if ready := rep.Ready(); first || ready != last {
			switch {
			case ready:
				log.Info("ready")
			case !rep.Serving:
				log.Info("not ready: not serving")
			default:
				log.Warn("not ready", "reason", rep.Err())
			}
			first, last = false, ready
			onChange(ready)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
