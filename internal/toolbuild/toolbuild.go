// Package toolbuild builds third-party programs that live in their own
// modules under tools/ (outside go.work, so their dependency graphs do not
// leak into ours) into .cache/bin. The go build cache makes a rebuild of an
// unchanged tool take about a second.
package toolbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Tool is a program built from tools/<Dir>.
type Tool struct {
	Dir     string // directory under tools/
	Package string // main package to build
	Name    string // binary name
	LDFlags string // e.g. -X flags that stamp the version release builds stamp
}

// GolangciLint is the linter, pinned in tools/golangci-lint/go.mod.
var GolangciLint = Tool{Dir: "golangci-lint", Package: "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", Name: "golangci-lint"}

// Buf compiles, lints and formats the protos and drives the protoc plugins
// of `buf generate`, pinned in tools/buf/go.mod.
var Buf = Tool{Dir: "buf", Package: "github.com/bufbuild/buf/cmd/buf", Name: "buf"}

// Kratos is Ory Kratos (identity and sessions), pinned in tools/kratos/go.mod.
// Ory's release builds stamp the version with a linker flag; without it the
// binary reports "master" in its logs and /admin/version.
var Kratos = Tool{Dir: "kratos", Package: "github.com/ory/kratos", Name: "kratos",
	LDFlags: "-X github.com/ory/kratos/driver/config.Version=v1.3.1"}

// Mailpit is the local mailbox (SMTP sink with a web UI and a JSON API) that
// receives Kratos's verification and recovery mail in the local stack and
// the end-to-end tests, pinned in tools/mailpit/go.mod.
var Mailpit = Tool{Dir: "mailpit", Package: "github.com/axllent/mailpit", Name: "mailpit",
	LDFlags: "-X github.com/axllent/mailpit/config.Version=v1.33.1"}

// Build builds t and returns the binary's path.
func Build(ctx context.Context, root string, t Tool, out io.Writer) (string, error) {
	bin := filepath.Join(root, ".cache", "bin", t.Name)
	// Built beside and renamed over, so a running copy (the local stack's
	// Kratos) keeps its file and readers never see half a binary.
	tmp := bin + ".new"
	args := []string{"build", "-o", tmp}
	if t.LDFlags != "" {
		args = append(args, "-ldflags="+t.LDFlags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, t.Package)...)
	cmd.Dir = filepath.Join(root, "tools", t.Dir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s from tools/%s: %w", t.Name, t.Dir, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("install %s: %w", t.Name, err)
	}
	return bin, nil
}

// Ensure returns the tool's binary, building it only when it is missing or
// its inputs changed (go.mod, go.sum, package, linker flags, Go version):
// cheaper than Build's "go build", which still relinks a large binary.
func Ensure(ctx context.Context, root string, t Tool, out io.Writer) (string, error) {
	bin := filepath.Join(root, ".cache", "bin", t.Name)
	want, err := stamp(root, t)
	if err != nil {
		return "", err
	}
	// Several test binaries may ask for the same tool at once: one builds,
	// the others wait and then find it current.
	unlock, err := lock(bin + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if got, err := os.ReadFile(bin + ".stamp"); err == nil && bytes.Equal(got, want) {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	fmt.Fprintf(out, "building %s from tools/%s (first time: a few minutes)\n", t.Name, t.Dir)
	if _, err := Build(ctx, root, t, out); err != nil {
		return "", err
	}
	if err := os.WriteFile(bin+".stamp", want, 0o644); err != nil {
		return "", fmt.Errorf("record build of %s: %w", t.Name, err)
	}
	return bin, nil
}

// stamp identifies what a build would produce: the pinned module graph and
// the linker flags. server/internal/kratostest computes the same stamp for
// Kratos, so the test harness and mage share one cached binary.
func stamp(root string, t Tool) ([]byte, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, "tools", t.Dir, f))
		if err != nil {
			return nil, fmt.Errorf("read tools/%s/%s: %w", t.Dir, f, err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "ldflags %s\n", t.LDFlags)
	return []byte(hex.EncodeToString(h.Sum(nil)) + "\n"), nil
}

func lock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open build lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil { //nolint:gosec // G115: a file descriptor fits int
		f.Close()
		return nil, fmt.Errorf("take build lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:gosec // G115: as above
		f.Close()
	}, nil
}
