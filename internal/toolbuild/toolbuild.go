// Package toolbuild builds third-party programs that live in their own
// modules under tools/ (outside go.work, so their dependency graphs do not
// leak into ours) into .cache/bin. The go build cache makes a rebuild of an
// unchanged tool take about a second.
package toolbuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

// Build builds t and returns the binary's path.
func Build(ctx context.Context, root string, t Tool, out io.Writer) (string, error) {
	bin := filepath.Join(root, ".cache", "bin", t.Name)
	args := []string{"build", "-o", bin}
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
	return bin, nil
}
