// Package cli is the messengergen command: it parses flags, reads the spec,
// and writes or checks the generated files. Generation itself is the pure
// function messengergen.Generate.
package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/groundwork-dev/groundwork/messengergen"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // illegal spec, stale files, or an I/O error
	exitUsage = 2
)

const usage = `usage: messengergen [-spec routing.yaml] [-graph] [-check]

messengergen generates the messengers declared in a routing spec. Output
paths in the spec are relative to the spec's directory.

`

// config is the validated command line.
type config struct {
	spec  string
	graph bool
	check bool
}

// Run runs messengergen with args (without the program name) and returns the
// process exit code. Problems in the spec are printed to stderr as
// file:line:col: message, one per line. Nothing is printed to stdout:
// like other generators, messengergen is quiet when it succeeds.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if err := run(ctx, cfg, stderr); err != nil {
		var diags messengergen.Diagnostics
		if errors.As(err, &diags) {
			for _, d := range diags {
				fmt.Fprintln(stderr, d)
			}
		} else {
			fmt.Fprintf(stderr, "messengergen: %v\n", err)
		}
		return exitFail
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("messengergen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.spec, "spec", "routing.yaml", "the routing spec `file`")
	fs.BoolVar(&cfg.graph, "graph", false, "also write a Mermaid diagram (.mmd) beside each messenger")
	fs.BoolVar(&cfg.check, "check", false, "write nothing; exit 1 if any generated file on disk is missing or differs")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "messengergen: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return cfg, errors.New("unexpected arguments")
	}
	if cfg.spec == "" {
		fmt.Fprintln(stderr, "messengergen: -spec must not be empty")
		return cfg, errors.New("empty -spec")
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config, stderr io.Writer) error {
	src, err := os.ReadFile(cfg.spec)
	if err != nil {
		return fmt.Errorf("reading spec: %w", err)
	}
	files, err := messengergen.Generate(src, cfg.spec, messengergen.Options{Graph: cfg.graph})
	if err != nil {
		return err
	}
	dir := filepath.Dir(cfg.spec)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if cfg.check {
		return checkFiles(dir, paths, files, stderr)
	}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("writing generated files: %w", err)
		}
		if err := writeIfChanged(filepath.Join(dir, filepath.FromSlash(p)), files[p]); err != nil {
			return err
		}
	}
	return nil
}

// checkFiles reports every generated file that is missing or differs on disk.
func checkFiles(dir string, paths []string, files map[string][]byte, stderr io.Writer) error {
	stale := 0
	for _, p := range paths {
		name := filepath.Join(dir, filepath.FromSlash(p))
		got, err := os.ReadFile(name)
		switch {
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(stderr, "messengergen: %s is missing\n", name)
			stale++
		case err != nil:
			return fmt.Errorf("checking generated files: %w", err)
		case !bytes.Equal(got, files[p]):
			fmt.Fprintf(stderr, "messengergen: %s is out of date\n", name)
			stale++
		}
	}
	if stale > 0 {
		return fmt.Errorf("%d generated file(s) not current; regenerate with go generate or go tool mage generate", stale)
	}
	return nil
}

// writeIfChanged writes content to name unless it already holds it, so that
// regenerating an unchanged spec leaves files (and their mtimes) alone.
func writeIfChanged(name string, content []byte) error {
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	// name is the spec's directory joined with an output path that Generate
	// checked stays inside it; generated source is world-readable like any source.
	if err := os.WriteFile(name, content, 0o644); err != nil { //nolint:gosec // see above
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
