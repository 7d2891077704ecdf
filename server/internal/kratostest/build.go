package kratostest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
)

// buildTimeout bounds a cold Kratos build (about two minutes here).
const buildTimeout = 15 * time.Minute

// RepoRoot returns the directory holding go.work, found by walking up from
// the working directory (a test runs in its package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find the repository root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the repository root: no go.work above the working directory")
		}
		dir = parent
	}
}

// Binary returns the path of the Kratos binary built from tools/kratos —
// the one the local stack runs, from the same user cache (toolbuild) —
// building it first when no clone on this machine has built these pins.
func Binary(ctx context.Context, root string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	return toolbuild.Ensure(ctx, root, toolbuild.Kratos, io.Discard)
}
