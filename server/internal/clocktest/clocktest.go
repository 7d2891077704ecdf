// Package clocktest is a manual clock for tests: the code under test reads
// its Now (as tlsfiles.Options.Now or auth.WithClock), and the test moves
// it with Advance or Set instead of sleeping.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a manual clock, safe for concurrent use; make one with New.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock set to the real time.
func New() *Clock { return &Clock{now: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
