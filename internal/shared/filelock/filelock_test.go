package filelock

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAcquireCreatesTheDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "build.lock")
	release, err := Acquire(t.Context(), path)
	require.NoError(t, err)
	release()
	_, err = os.Stat(path)
	require.NoError(t, err)
}

// A second holder waits until the first releases; the wait ends with ctx.
func TestAcquireWaitsForTheHolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	release, err := Acquire(t.Context(), path)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = Acquire(ctx, path)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "another process holds it")

	got := make(chan error, 1)
	go func() {
		r, err := Acquire(t.Context(), path)
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("took a held lock: %v", err)
	case <-time.After(250 * time.Millisecond):
	}
	release()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after the holder released the lock")
	}
}

// The lock holds between processes, which is what it is for: flock on
// another open file description of the same file, from a child process.
func TestAcquireExcludesAnotherProcess(t *testing.T) {
	t.Parallel()
	flock, err := exec.LookPath("flock") // util-linux, essential on Debian
	require.NoError(t, err, "this case needs flock(1) from util-linux as the second process")
	path := filepath.Join(t.TempDir(), "x.lock")
	release, err := Acquire(t.Context(), path)
	require.NoError(t, err)
	out, err := exec.CommandContext(t.Context(), flock, "--nonblock", path, "true").CombinedOutput()
	require.Error(t, err, "another process took the lock: %s", out)
	release()
	out, err = exec.CommandContext(t.Context(), flock, "--nonblock", path, "true").CombinedOutput()
	require.NoError(t, err, strings.TrimSpace(string(out)))
}

func TestTryAcquireDoesNotWait(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	release, err := TryAcquire(path)
	require.NoError(t, err)
	_, err = TryAcquire(path)
	require.ErrorIs(t, err, ErrHeld)
	release()
	again, err := TryAcquire(path)
	require.NoError(t, err)
	again()
}
