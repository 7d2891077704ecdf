// Package usercache keeps what is slow to make and the same for every clone
// of the project — built tools, control-plane binaries, providers, root
// filesystems — under the user's cache directory, one directory per
// artifact and version, so a fresh clone on the same machine (every CI run
// is one) reuses them instead of rebuilding.
//
// The layout is <Dir>/<kind>/<key>/…, where key names what the artifact was
// made from (a version, or a hash of its pins). An entry is made in a
// temporary directory beside it and renamed into place, so an entry that
// exists is complete; old keys are left for the user to delete (the whole
// directory can go at any time: everything in it is made again on demand).
package usercache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/shared/filelock"
)

// EnvDir overrides where the cache lives.
const EnvDir = "GROUNDWORK_CACHE"

// Dir is the cache's root: $GROUNDWORK_CACHE, else groundwork/ under the
// user's cache directory ($XDG_CACHE_HOME, or ~/.cache).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user's cache directory (set %s): %w", EnvDir, err)
	}
	return filepath.Join(base, "groundwork"), nil
}

// Fill returns the entry <Dir>/<kind>/<key>, calling fill to make it when it
// does not exist yet. fill writes into the directory it is given, which
// becomes the entry only when fill succeeds; a failed fill leaves no
// entry. Concurrent callers (parallel test binaries) wait for one fill.
func Fill(ctx context.Context, kind, key string, fill func(ctx context.Context, dir string) error) (string, error) {
	root, err := Dir()
	if err != nil {
		return "", err
	}
	entry := filepath.Join(root, kind, key)
	if complete(entry) {
		return entry, nil
	}
	release, err := filelock.Acquire(ctx, entry+".lock")
	if err != nil {
		return "", err
	}
	defer release()
	// Another process may have made it while this one waited.
	if complete(entry) {
		return entry, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(entry), filepath.Base(entry)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("cache %s/%s: %w", kind, key, err)
	}
	if err := fill(ctx, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, entry); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("cache %s/%s: %w", kind, key, err)
	}
	return entry, nil
}

func complete(entry string) bool {
	fi, err := os.Stat(entry)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return err == nil && fi.IsDir()
}
