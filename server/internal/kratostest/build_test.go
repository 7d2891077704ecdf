package kratostest_test

import (
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
