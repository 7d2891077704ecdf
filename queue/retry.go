package queue

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
)

// RetryPolicy decides how long a failed job waits before its next attempt.
type RetryPolicy interface {
	// Delay is the wait after the failure number failures (1 for the first
	// failure; snoozes are not failures). It must not be negative.
	Delay(failures int) time.Duration
}

// Backoff is exponential backoff with jitter, the default retry policy:
//
//	delay(n) = min(Max, Base·2^(n−1)) · (1 − Jitter + 2·Jitter·r),  r uniform in [0, 1)
//
// so with DefaultBackoff (Base 1s, Max 1h, Jitter 0.2) the waits are about
// 1s, 2s, 4s, … 34m, then 1h each, every one within ±20%. Jitter spreads
// the retries of jobs that failed together (a database restart, a partner
// outage) so they do not return as one wave.
type Backoff struct {
	Base   time.Duration // the first delay; must be positive
	Max    time.Duration // the cap before jitter; must be ≥ Base
	Jitter float64       // the fraction of the delay that is random, in [0, 1)
	// Rand returns r in [0, 1); nil means math/rand/v2. Tests inject it.
	Rand func() float64
}

// DefaultBackoff returns the policy used when neither the kind nor the
// client sets one.
func DefaultBackoff() Backoff {
	return Backoff{Base: time.Second, Max: time.Hour, Jitter: 0.2}
}

// Delay implements RetryPolicy.
func (b Backoff) Delay(failures int) time.Duration {
	n := max(failures, 1)
	d := float64(b.Max)
	// 2^(n-1) overflows float64 only past n≈1024; cap the exponent early.
	if n-1 < 62 {
		d = math.Min(float64(b.Base)*math.Pow(2, float64(n-1)), float64(b.Max))
	}
	if b.Jitter > 0 {
		r := rand.Float64() //nolint:gosec // jitter needs no cryptographic randomness
		if b.Rand != nil {
			r = b.Rand()
		}
		d *= 1 - b.Jitter + 2*b.Jitter*r
	}
	return time.Duration(d)
}

func (b Backoff) validate() error {
	switch {
	case b.Base <= 0:
		return fieldErr("Base", "must be positive, got %v", b.Base)
	case b.Max < b.Base:
		return fieldErr("Max", "(%v) must be at least Base (%v)", b.Max, b.Base)
	case b.Jitter < 0 || b.Jitter >= 1 || math.IsNaN(b.Jitter):
		return fieldErr("Jitter", "must be in [0, 1), got %v", b.Jitter)
	}
	return nil
}

func validateRetry(p RetryPolicy) error {
	if b, ok := p.(Backoff); ok {
		return b.validate()
	}
	if b, ok := p.(*Backoff); ok {
		if b == nil {
			return errors.New("nil *Backoff")
		}
		return b.validate()
	}
	return nil
}

// Cancel wraps err so that the job is cancelled instead of retried: return
// it for failures that another attempt cannot fix (the record is gone, the
// input is invalid). The job records err as its last error, prefixed
// "JobCancelError: " by River.
func Cancel(err error) error {
	if err == nil {
		err = errors.New("cancelled by handler")
	}
	return river.JobCancel(err)
}

// Snooze makes the job try again after d without using up an attempt: for
// "not yet" rather than "failed" (a resource is still being prepared).
// A negative d is treated as zero.
func Snooze(d time.Duration) error {
	return river.JobSnooze(max(d, 0))
}
