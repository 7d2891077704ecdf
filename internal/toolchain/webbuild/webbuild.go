// Package webbuild builds the browser frontend under webapp/ with npm: the
// dependencies from the lockfile (npm ci) and the production build into
// webapp/dist, each redone only when its inputs changed (stamped, so a
// current build needs neither node_modules nor Node), and CI's webapp
// check (lint, types, tests, build) with the budget on the JavaScript the
// first page loads. The local stack, the images and the Kind and prod
// targets all take webapp/dist from here.
package webbuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/filelock"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
)

// InitialJSBudget is the most JavaScript, gzip-compressed, that the first
// page may load (docs/performance.md).
const InitialJSBudget = 150 << 10

// Dir is the npm project.
func Dir(root string) string { return filepath.Join(root, "webapp") }

// Dist is the production build's output.
func Dist(root string) string { return filepath.Join(Dir(root), "dist") }

// cacheDir holds the build's stamp and lock.
func cacheDir(root string) string { return filepath.Join(root, ".cache", "webapp") }

// Ensure installs the webapp's npm dependencies when the lockfile
// changed (npm ci) and builds webapp/dist when its sources changed. Both
// are stamped, so a warm call costs a hash of the sources. A file lock makes
// concurrent callers (parallel stack tests) wait for one build. It reports
// whether it built.
func Ensure(ctx context.Context, root string, out func(format string, a ...any)) (bool, error) {
	unlock, err := filelock.Acquire(ctx, filepath.Join(cacheDir(root), "build.lock"))
	if err != nil {
		return false, err
	}
	defer unlock()
	// The stamp covers package-lock.json: a current build needs neither
	// node_modules nor Node.
	want, err := sourceStamp(Dir(root))
	if err != nil {
		return false, err
	}
	stampFile := filepath.Join(cacheDir(root), "dist.stamp")
	if got, err := os.ReadFile(stampFile); err == nil && string(got) == want {
		if _, err := os.Stat(filepath.Join(Dist(root), "index.html")); err == nil {
			return false, nil
		}
	}
	if err := EnsureNodeModules(ctx, root, out); err != nil {
		return false, err
	}
	start := time.Now()
	if err := npm(ctx, Dir(root), "run", "build"); err != nil {
		return false, fmt.Errorf("webapp: npm run build: %w", err)
	}
	if err := os.WriteFile(stampFile, []byte(want), 0o644); err != nil {
		return false, fmt.Errorf("webapp: record build: %w", err)
	}
	js, err := MeasureInitialJS(Dist(root))
	if err != nil {
		return true, err
	}
	out("webapp        built %s in %s; %s\n", Dist(root), time.Since(start).Round(100*time.Millisecond), js)
	return true, nil
}

// EnsureNodeModules runs npm ci when package-lock.json or Node changed
// since the last install.
func EnsureNodeModules(ctx context.Context, root string, out func(format string, a ...any)) error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("webapp: node is not installed: the webapp needs Node.js 20.19 or newer with npm (https://nodejs.org, or your distribution's nodejs package if it is new enough): %w", err)
	}
	// Node's identity without running it (a warm dev:up stays fast): an
	// upgraded Node is another file.
	fi, err := os.Stat(node)
	if err != nil {
		return fmt.Errorf("webapp: %w", err)
	}
	ver := fmt.Appendf(nil, "%s %d %d\n", node, fi.Size(), fi.ModTime().UnixNano())
	lock, err := os.ReadFile(filepath.Join(Dir(root), "package-lock.json"))
	if err != nil {
		return fmt.Errorf("webapp: %w", err)
	}
	sum := sha256.Sum256(append(append([]byte{}, ver...), lock...))
	want := hex.EncodeToString(sum[:]) + "\n"
	stampFile := filepath.Join(Dir(root), "node_modules", ".groundwork-npm-ci")
	if got, err := os.ReadFile(stampFile); err == nil && string(got) == want {
		return nil
	}
	start := time.Now()
	if err := npm(ctx, Dir(root), "ci", "--no-audit", "--no-fund"); err != nil {
		return fmt.Errorf("webapp: npm ci: %w", err)
	}
	out("webapp        npm ci (package-lock.json changed) in %s\n", time.Since(start).Round(100*time.Millisecond))
	return os.WriteFile(stampFile, []byte(want), 0o644) //nolint:gosec // G703: a path under the repository's webapp/, from the stack's configuration
}

func npm(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_UPDATE_NOTIFIER=1", "npm_config_update_notifier=false")
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, lastlines.Of(string(outb), 30))
	}
	return nil
}

// sourceStamp hashes what the build reads: the webapp's files outside
// node_modules, dist, nginx and e2e.
func sourceStamp(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case "node_modules", "dist", "nginx", "e2e":
				return filepath.SkipDir
			}
			return nil
		}
		if e.Type().IsRegular() && !strings.Contains(e.Name(), ".test.") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("webapp: hash sources: %w", err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("webapp: hash sources: %w", err)
		}
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)) + "\n", nil
}

// InitialJS is the JavaScript the first page loads: the entry script and
// the modules index.html preloads, with their gzip sizes.
type InitialJS struct {
	Files     []string
	GzipBytes int
}

func (j InitialJS) String() string {
	return fmt.Sprintf("initial JS: %.1f KB gzip (budget %d KB)", float64(j.GzipBytes)/1024, InitialJSBudget>>10)
}

// OverBudget reports whether it exceeds InitialJSBudget.
func (j InitialJS) OverBudget() bool { return j.GzipBytes > InitialJSBudget }

var scriptRefs = regexp.MustCompile(`<(?:script[^>]*\bsrc|link[^>]*\brel="modulepreload"[^>]*\bhref)="(/[^"]+\.js)"`)

// MeasureInitialJS reads dist/index.html and gzips (level 9, as a CDN or
// nginx with a high level would) every script it loads up front.
func MeasureInitialJS(dist string) (InitialJS, error) {
	html, err := os.ReadFile(filepath.Join(dist, "index.html"))
	if err != nil {
		return InitialJS{}, fmt.Errorf("measure initial JS: %w", err)
	}
	var j InitialJS
	for _, m := range scriptRefs.FindAllStringSubmatch(string(html), -1) {
		b, err := os.ReadFile(filepath.Join(dist, filepath.FromSlash(strings.TrimPrefix(m[1], "/")))) //nolint:gosec // G703: our own build's index.html names the file
		if err != nil {
			return InitialJS{}, fmt.Errorf("measure initial JS: index.html loads %s: %w", m[1], err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		j.Files = append(j.Files, m[1])
		j.GzipBytes += buf.Len()
	}
	if len(j.Files) == 0 {
		return InitialJS{}, errors.New("measure initial JS: index.html loads no script")
	}
	return j, nil
}

// Check is CI's webapp step: dependencies from the lockfile (npm ci
// when stale), ESLint, the TypeScript compiler and the Vitest tests, then
// the production build, whose initial JavaScript must stay in its budget.
func Check(ctx context.Context, root string, out io.Writer) error {
	printf := func(format string, a ...any) { fmt.Fprintf(out, format, a...) }
	if err := EnsureNodeModules(ctx, root, printf); err != nil {
		return err
	}
	for _, script := range []string{"lint", "typecheck", "test"} {
		fmt.Fprintf(out, "==> webapp: npm run %s\n", script)
		start := time.Now()
		if err := npm(ctx, Dir(root), "run", script); err != nil {
			return fmt.Errorf("webapp: npm run %s: %w", script, err)
		}
		fmt.Fprintf(out, "    ok (%s)\n", time.Since(start).Round(100*time.Millisecond))
	}
	fmt.Fprintln(out, "==> webapp: production build")
	if _, err := Ensure(ctx, root, printf); err != nil {
		return err
	}
	js, err := MeasureInitialJS(Dist(root))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, js.String())
	if js.OverBudget() {
		return fmt.Errorf("webapp: %s: over budget (see docs/performance.md)", js)
	}
	return nil
}
