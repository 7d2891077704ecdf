// Package workspace runs the go command over every module of the go.work
// workspace. `go test ./...` stops at module boundaries, so test, vet and
// lint loop over the modules that `go list -m` reports.
package workspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Module is one module of the workspace.
type Module struct {
	Path string
	Dir  string
}

// Modules lists the workspace's modules, in go.work order.
func Modules(ctx context.Context, root string) ([]Module, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-json")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var mods []Module
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m Module
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list -m output: %w", err)
		}
		mods = append(mods, m)
	}
	return mods, nil
}

// Runner runs go commands in each module and streams their output.
type Runner struct {
	Root string
	Out  io.Writer
	Env  []string // extra environment, KEY=VALUE
}

// Each runs `go args...` in every module, all of them even after a failure,
// and reports which failed.
func (r Runner) Each(ctx context.Context, args ...string) error {
	mods, err := Modules(ctx, r.Root)
	if err != nil {
		return err
	}
	var failed []string
	for _, m := range mods {
		rel, _ := filepath.Rel(r.Root, m.Dir)
		fmt.Fprintf(r.Out, "==> %s: go %s\n", rel, strings.Join(args, " "))
		if err := r.Go(ctx, m.Dir, args...); err != nil {
			failed = append(failed, rel)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("go %s failed in: %s", args[0], strings.Join(failed, ", "))
	}
	return nil
}

// Go runs one go command in dir.
func (r Runner) Go(ctx context.Context, dir string, args ...string) error {
	return r.Run(ctx, dir, "go", args...)
}

// Run runs a program in dir with the runner's output and environment.
func (r Runner) Run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = r.Out, r.Out
	cmd.Env = append(os.Environ(), r.Env...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// skipDir reports directories that hold no source of ours.
func skipDir(name string) bool {
	switch name {
	case ".git", ".dev", ".cache", "node_modules", "dist":
		return true
	}
	return false
}

// GoFiles lists the .go files under root, outside skipped directories and
// testdata (whose files are inputs and golden outputs, formatted or not on
// purpose).
func GoFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (skipDir(d.Name()) || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// Gofmt fails listing the files gofmt would change.
func (r Runner) Gofmt(ctx context.Context) error {
	files, err := GoFiles(r.Root)
	if err != nil {
		return fmt.Errorf("list Go files: %w", err)
	}
	cmd := exec.CommandContext(ctx, "gofmt", append([]string{"-l"}, files...)...)
	cmd.Dir = r.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gofmt: %w: %s", err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		return fmt.Errorf("gofmt would change these files (run gofmt -w):\n%s", out)
	}
	fmt.Fprintf(r.Out, "gofmt: %d files formatted\n", len(files))
	return nil
}

// Snapshot hashes every file under root outside skipped directories, to
// tell afterwards which files a generator changed — independent of git, so
// uncommitted work does not count as a change.
func Snapshot(root string) (map[string]string, error) {
	sums := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p) //nolint:gosec // G122: our own source tree, not untrusted input
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		sums[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", root, err)
	}
	return sums, nil
}

// Changed lists the files added, removed or modified between two snapshots.
func Changed(before, after map[string]string) []string {
	var out []string
	for p, h := range after {
		if before[p] != h {
			out = append(out, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// CheckGenerated runs generate and fails if it changed any file: generated
// code must be committed current.
func CheckGenerated(ctx context.Context, root string, generate func(context.Context) error) error {
	before, err := Snapshot(root)
	if err != nil {
		return err
	}
	if err := generate(ctx); err != nil {
		return err
	}
	after, err := Snapshot(root)
	if err != nil {
		return err
	}
	if ch := Changed(before, after); len(ch) > 0 {
		return fmt.Errorf("generated files were stale (now regenerated; review and commit them):\n  %s", strings.Join(ch, "\n  "))
	}
	return nil
}
