package queue

import (
	"sync/atomic"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Clock tells the time. Config.Clock replaces the wall clock in tests (see
// queuetest.Clock): retry times, scheduled times and the times River
// stores and compares against (what is due, when a job finished) all come
// from it, so a test can advance time instead of sleeping. Durations that
// guard the process itself (timeouts, leadership, rescue of stuck jobs)
// stay on the wall clock.
type Clock interface {
	Now() time.Time
}

// runtime is what a client's workers share: settled defaults, the clock
// and the metrics.
type runtime struct {
	clock       Clock
	jobTimeout  time.Duration
	retry       RetryPolicy
	maxAttempts int
	metrics     *metrics
	// hardStop is set once running jobs' contexts are being cancelled by
	// Stop, so that their context errors count as interruptions, not
	// failures.
	hardStop atomic.Bool
}

func (rt *runtime) now() time.Time {
	if rt.clock == nil {
		return time.Now()
	}
	return rt.clock.Now()
}

// riverTime hands an injected clock to River (Config.Test.Time). NowOrNil
// returning the time makes River's queries compare against it instead of
// the database's now().
type riverTime struct{ c Clock }

var _ rivertype.TimeGenerator = riverTime{}

func (g riverTime) Now() time.Time { return g.c.Now() }

func (g riverTime) NowOrNil() *time.Time {
	t := g.c.Now().UTC()
	return &t
}
