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

// ErrHeld means another holder has the lock (TryAcquire).
var ErrHeld = errors.New("held by another process")

// Acquire takes an exclusive lock on path, creating the file and its
// directory if needed, and waits for another holder to release it until
// ctx ends. The returned function releases it.
func Acquire(ctx context.Context, path string) (release func(), err error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	for {
		release, err := try(f)
		if !errors.Is(err, ErrHeld) {
			return release, err
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for the lock %s (another process holds it): %w", path, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// TryAcquire takes the lock on path if nobody holds it, and fails with
// ErrHeld at once if somebody does.
func TryAcquire(path string) (release func(), err error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	release, err = try(f)
	if errors.Is(err, ErrHeld) {
		_ = f.Close()
	}
	return release, err
}

// open opens (creating) the lock file. Read access is enough for flock, so
// a lock file another user created can be locked too.
func open(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// try takes the lock on f without waiting; on success the returned
// function releases it and closes f. ErrHeld leaves f open.
func try(f *os.File) (func(), error) {
	fd := int(f.Fd()) //nolint:gosec // G115: a file descriptor fits int
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return func() {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return nil, fmt.Errorf("lock %s: %w", f.Name(), ErrHeld)
		default:
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
}
