// Package gobin builds the project's own Go programs that run outside the
// go command — the server the local stack runs, the one-origin proxy —
// into <root>/.cache/bin, only when their sources changed since the last
// build: a warm `mage dev:up` hashes the sources and pays for no link.
package gobin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/shared/filelock"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
)

// Program is one main package of the workspace.
type Program struct {
	Name string // binary name under <root>/.cache/bin
	// Dir is where go build runs, relative to the root: the main package's
	// module.
	Dir     string
	Package string // the main package, relative to Dir (./cmd/server)
	// Sources are the directories, relative to the root, of every
	// workspace package the program is built from: their Go files (tests
	// excepted), module files and SQL files make up the stamp.
	Sources []string
}

// Path is where p's binary is.
func Path(root, name string) string { return filepath.Join(root, ".cache", "bin", name) }

// Ensure builds p when its sources changed since the last build and
// returns the binary's path and whether it built. Concurrent callers
// (parallel private stacks) wait for one build. The binary is built beside
// and renamed over the old one, so a running copy keeps its file.
func Ensure(ctx context.Context, root string, p Program) (bin string, built bool, err error) {
	bin = Path(root, p.Name)
	unlock, err := filelock.Acquire(ctx, bin+".lock")
	if err != nil {
		return "", false, err
	}
	defer unlock()
	want, err := Stamp(root, p.Sources...)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", p.Name, err)
	}
	if got, err := os.ReadFile(bin + ".stamp"); err == nil && string(got) == want {
		if _, err := os.Stat(bin); err == nil {
			return bin, false, nil
		}
	}
	tmp := bin + ".new"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, p.Package)
	cmd.Dir = filepath.Join(root, p.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("%s: build: %w\n%s", p.Name, err, lastlines.Of(string(out), 20))
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", false, fmt.Errorf("%s: install binary: %w", p.Name, err)
	}
	if err := os.WriteFile(bin+".stamp", []byte(want), 0o644); err != nil {
		return "", false, fmt.Errorf("%s: record build: %w", p.Name, err)
	}
	return bin, true, nil
}

// Stamp hashes the non-test Go files, module files and SQL files under
// dirs (relative to root), and go.work.
func Stamp(root string, dirs ...string) (string, error) {
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && (e.Name() == "testdata" || e.Name() == "node_modules") {
				return filepath.SkipDir
			}
			name := e.Name()
			if !e.IsDir() && ((strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" || strings.HasSuffix(name, ".sql")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hash %s sources: %w", d, err)
		}
	}
	files = append(files, filepath.Join(root, "go.work"))
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("hash sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)) + "\n", nil
}
