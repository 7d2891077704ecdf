package kratostest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// EnvCache names the directory that holds built tools instead of the
// repository's .cache; the Kratos binary goes to $GROUNDWORK_CACHE/bin/kratos.
const EnvCache = "GROUNDWORK_CACHE"

// The exact build of Ory's release, as internal/toolbuild.Kratos does it.
const (
	kratosPackage = "github.com/ory/kratos"
	kratosLDFlags = "-X github.com/ory/kratos/driver/config.Version=v1.3.1"
	buildTimeout  = 15 * time.Minute
)

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

// Binary returns the path of a Kratos binary built from tools/kratos,
// building it first when the cache has none for the current pins
// (tools/kratos/go.mod and go.sum). A file lock makes concurrent test
// processes wait for one build instead of each running their own. A cold
// build takes about two minutes and needs the Go module proxy; a cached one
// is a stat.
func Binary(ctx context.Context, root string) (string, error) {
	cacheDir := filepath.Join(root, ".cache")
	if dir := os.Getenv(EnvCache); dir != "" {
		cacheDir = dir
	}
	binDir := filepath.Join(cacheDir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil { //nolint:gosec // G703: the developer's own GROUNDWORK_CACHE
		return "", fmt.Errorf("create %s: %w", binDir, err)
	}
	// Everything below happens inside bin/.
	dir, err := os.OpenRoot(binDir)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", binDir, err)
	}
	defer dir.Close()
	const name, stampName = "kratos", "kratos.stamp"
	bin := filepath.Join(binDir, name)
	toolDir := filepath.Join(root, "tools", "kratos")
	stamp, err := buildStamp(toolDir)
	if err != nil {
		return "", err
	}
	if upToDate(dir, name, stampName, stamp) {
		return bin, nil
	}

	unlock, err := lockFile(ctx, dir, name+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have built it while this one waited.
	if upToDate(dir, name, stampName, stamp) {
		return bin, nil
	}

	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	tmpName := fmt.Sprintf("%s.tmp%d", name, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags="+kratosLDFlags, "-o", filepath.Join(binDir, tmpName), kratosPackage) //nolint:gosec // G702: a fixed program and flags; -o is in the developer's own GROUNDWORK_CACHE
	cmd.Dir = toolDir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = dir.Remove(tmpName)
		return "", fmt.Errorf("build Ory Kratos (cd %s && GOWORK=off go build -ldflags=%q -o %s %s): %w\n"+
			"The first build on a machine downloads Kratos's modules from the Go module proxy (GOPROXY) and takes "+
			"about two minutes: run it once with network access; later builds work offline from the module and "+
			"build caches. %s may point at another cache directory.\n%s",
			toolDir, kratosLDFlags, bin, kratosPackage, err, EnvCache, tail(out.String(), 40))
	}
	// A rename keeps Kratos processes that run the old binary undisturbed.
	if err := dir.Rename(tmpName, name); err != nil {
		return "", fmt.Errorf("install the Kratos binary: %w", err)
	}
	if err := dir.WriteFile(stampName, []byte(stamp), 0o644); err != nil {
		return "", fmt.Errorf("record the Kratos build: %w", err)
	}
	return bin, nil
}

// buildStamp identifies what a build would produce: the pinned module graph
// and the flags.
func buildStamp(toolDir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(toolDir, name))
		if err != nil {
			return "", fmt.Errorf("read the Kratos pins: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "ldflags %s\n", kratosLDFlags)
	return hex.EncodeToString(h.Sum(nil)) + "\n", nil
}

func upToDate(dir *os.Root, bin, stampName, stamp string) bool {
	fi, err := dir.Stat(bin)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return false
	}
	b, err := dir.ReadFile(stampName)
	return err == nil && string(b) == stamp
}

// lockFile takes an exclusive flock on name in dir, polling so that ctx
// can end the wait. The lock is released by the returned function (or when
// the process dies).
func lockFile(ctx context.Context, dir *os.Root, name string) (func(), error) {
	f, err := dir.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open build lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for another process building Kratos (%s): %w", f.Name(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
