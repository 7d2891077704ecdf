package kratostest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

func TestRepoRoot(t *testing.T) {
	t.Parallel()
	root, err := kratostest.RepoRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.work"))
	require.FileExists(t, filepath.Join(root, "tools", "kratos", "go.mod"))
}

// A build that cannot succeed fails with the command, the reason and what
// to do, and leaves nothing in the cache.
func TestBinaryBuildFailureIsExplained(t *testing.T) {
	root := t.TempDir()
	cache := t.TempDir()
	t.Setenv(kratostest.EnvCache, cache)
	tool := filepath.Join(root, "tools", "kratos")
	require.NoError(t, os.MkdirAll(tool, 0o755))
	// A module that does not provide Kratos: go build fails at once, offline.
	require.NoError(t, os.WriteFile(filepath.Join(tool, "go.mod"), []byte("module example.com/broken\n\ngo 1.26\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(tool, "go.sum"), nil, 0o644))

	_, err := kratostest.Binary(t.Context(), root)
	require.ErrorContains(t, err, "build Ory Kratos")
	require.ErrorContains(t, err, "GOWORK=off go build")
	require.ErrorContains(t, err, "github.com/ory/kratos")
	require.ErrorContains(t, err, kratostest.EnvCache)
	require.NoFileExists(t, filepath.Join(cache, "bin", "kratos"))
	require.NoFileExists(t, filepath.Join(cache, "bin", "kratos.stamp"))
}
