// Package filelock serializes work between processes with an exclusive
// flock(2) on a file: parallel test binaries and mage commands that would
// otherwise build the same tool, webapp or binary at once. The kernel
// drops the lock when its holder dies, so a crashed build never leaves a
// stale lock behind.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// pollInterval is how often a waiting Acquire tries again. flock has no
// timed wait, and a blocking one could not be ended by ctx.
const pollInterval = 100 * time.Millisecond

// Acquire takes an exclusive lock on path, creating the file and its
// directory if needed, and waits for another holder to release it until
// ctx ends. The returned function releases it.
func Acquire(ctx context.Context, path string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	fd := int(f.Fd()) //nolint:gosec // G115: a file descriptor fits int
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for the lock %s (another process holds it): %w", path, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
