package usercache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDirFollowsTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	got, err := Dir()
	require.NoError(t, err)
	require.Equal(t, dir, got)

	t.Setenv(EnvDir, "")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "xdg"))
	got, err = Dir()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "xdg", "groundwork"), got)
}

// An entry is made once, by one of many concurrent callers, and reused
// afterwards.
func TestFillMakesOnceAndReuses(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	var made atomic.Int32
	fill := func(_ context.Context, dir string) error {
		made.Add(1)
		return os.WriteFile(filepath.Join(dir, "tool"), []byte("built"), 0o755)
	}
	var wg sync.WaitGroup
	entries := make([]string, 8)
	for i := range entries {
		wg.Go(func() {
			e, err := Fill(t.Context(), "tools/x", "v1", fill)
			require.NoError(t, err)
			entries[i] = e
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, made.Load())
	for _, e := range entries {
		require.Equal(t, entries[0], e)
	}
	b, err := os.ReadFile(filepath.Join(entries[0], "tool"))
	require.NoError(t, err)
	require.Equal(t, "built", string(b))

	// Another key is another entry.
	other, err := Fill(t.Context(), "tools/x", "v2", fill)
	require.NoError(t, err)
	require.NotEqual(t, entries[0], other)
	require.EqualValues(t, 2, made.Load())
}

// A failed make leaves nothing behind that a later call would take for
// complete.
func TestFillFailureLeavesNoEntry(t *testing.T) {
	root := t.TempDir()
	t.Setenv(EnvDir, root)
	boom := errors.New("compiler on fire")
	_, err := Fill(t.Context(), "tools/x", "v1", func(_ context.Context, dir string) error {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "half"), nil, 0o644))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.NoDirExists(t, filepath.Join(root, "tools", "x", "v1"))
	left, err := filepath.Glob(filepath.Join(root, "tools", "x", "v1.tmp-*"))
	require.NoError(t, err)
	require.Empty(t, left)

	e, err := Fill(t.Context(), "tools/x", "v1", func(context.Context, string) error { return nil })
	require.NoError(t, err)
	require.DirExists(t, e)
}
