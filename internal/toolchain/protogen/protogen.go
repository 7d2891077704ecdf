// Package protogen compiles the server's API contract: the protos under
// server/proto, their HTTP mapping (api.gateway.yaml) and the code generated
// from them under server/gen.
//
// It drives buf, built from tools/buf by toolbuild, in the buf workspace
// server/ (buf.yaml, buf.gen.yaml):
//
//   - Generate runs `buf generate`. buf.gen.yaml names the protoc plugins as
//     `go tool protoc-gen-...` commands, so their versions are the `tool`
//     directives of the root go.mod and nothing is installed globally; buf
//     deletes the plugin output directories first (clean: true), so a removed
//     proto leaves no stale file. Generate then checks that every RPC has an
//     HTTP rule: grpc-gateway skips an unmapped RPC without a word.
//   - Lint runs `buf lint` (buf's STANDARD rules) and `buf format`, and
//     reports every problem of both.
//
// Problems in proto files come back as an *Error whose Diagnostics carry
// positions relative to the repository root (server/proto/...:line:col), so
// they read the same from `go tool mage` as from an editor.
package protogen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
)

// Dir is the buf workspace, relative to the repository root.
const Dir = "server"

// Generate builds buf and regenerates server/gen from server/proto.
func Generate(ctx context.Context, root string, out io.Writer) error {
	w, err := newWorkspace(ctx, root, out)
	if err != nil {
		return err
	}
	return w.generate(ctx)
}

// Lint builds buf and checks server/proto with `buf lint` and `buf format`.
func Lint(ctx context.Context, root string, out io.Writer) error {
	w, err := newWorkspace(ctx, root, out)
	if err != nil {
		return err
	}
	return w.lint(ctx)
}

// workspace is one buf workspace and the buf binary that works on it.
type workspace struct {
	buf    string // buf binary
	goWork string // go.work that declares the protoc plugins as tools
	dir    string // buf workspace directory (holds buf.yaml)
	rel    string // dir as shown in messages, relative to the repository root
	out    io.Writer
}

func newWorkspace(ctx context.Context, root string, out io.Writer) (workspace, error) {
	bin, err := toolbuild.Ensure(ctx, root, toolbuild.Buf, out)
	if err != nil {
		return workspace{}, err
	}
	return workspace{
		buf:    bin,
		goWork: filepath.Join(root, "go.work"),
		dir:    filepath.Join(root, Dir),
		rel:    Dir,
		out:    out,
	}, nil
}

func (w workspace) generate(ctx context.Context) error {
	fmt.Fprintf(w.out, "==> %s: buf generate\n", w.rel)
	if err := w.run(ctx, "generate", "generate", "--error-format=json"); err != nil {
		return err
	}
	return w.checkHTTPRules(ctx)
}

func (w workspace) lint(ctx context.Context) error {
	fmt.Fprintf(w.out, "==> %s: buf lint, buf format\n", w.rel)
	return errors.Join(
		w.run(ctx, "lint", "lint", "--error-format=json"),
		w.run(ctx, "format", "format", "--diff", "--exit-code"),
	)
}

// run runs buf in the workspace. On failure it returns an *Error with what
// buf reported; on success it passes on whatever buf printed (warnings).
func (w workspace) run(ctx context.Context, step string, args ...string) error {
	output, err := w.output(ctx, args...)
	if err == nil {
		_, werr := w.out.Write(output)
		return werr
	}
	var diags []Diagnostic
	var rest []byte
	if step == "format" {
		diags = parseFormatDiff(output, w.rel)
		rest = output
	} else {
		diags, rest = parseAnnotations(output, w.rel)
	}
	return &Error{Step: step, Dir: w.rel, Diagnostics: diags, Output: string(bytes.TrimSpace(rest)), Err: err}
}

// output runs buf and returns stdout and stderr together.
func (w workspace) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, w.buf, args...)
	cmd.Dir = w.dir
	// The plugins run as `go tool ...` in this directory; naming go.work
	// makes them resolve the same way whatever the caller's GOWORK says.
	cmd.Env = append(os.Environ(), "GOWORK="+w.goWork)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.Bytes(), err
}
