package ociregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/dev/detached"
)

// Process is the registry run as a detached process.
type Process struct {
	// Binary is the cmd/registry executable.
	Binary string
	// Dir holds the storage, registry.pid and registry.log.
	Dir string
	// Addrs are the listen addresses; the first must be reachable from
	// this host (it is health-checked).
	Addrs []string
}

// LogFile is where the process writes its log.
func (p Process) LogFile() string { return filepath.Join(p.Dir, "registry.log") }

func (p Process) detached() *detached.Process {
	args := []string{"--dir", p.Dir}
	for _, a := range p.Addrs {
		args = append(args, "--listen", a)
	}
	d := &detached.Process{
		Name: "registry", Bin: p.Binary, Args: args, Dir: p.Dir,
		LogFile: p.LogFile(), PIDFile: filepath.Join(p.Dir, "registry.pid"),
		Ports: p.Addrs,
	}
	if len(p.Addrs) > 0 {
		d.Ready = func(ctx context.Context) error {
			if !Healthy(ctx, p.Addrs[0]) {
				return fmt.Errorf("no answer on %s", p.Addrs[0])
			}
			return nil
		}
	}
	return d
}

// Start starts the registry unless it runs already, detached from this
// process (its own session), and waits until it answers.
func (p Process) Start(ctx context.Context, out io.Writer) error {
	if len(p.Addrs) == 0 {
		return errors.New("registry: no address to listen on")
	}
	d := p.detached()
	if _, ours := d.PID(); !ours && Healthy(ctx, p.Addrs[0]) {
		return fmt.Errorf("registry: something else already answers on %s; stop it or choose another port", p.Addrs[0])
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	started, err := d.Start(ctx)
	if err != nil {
		return err
	}
	pid, _ := d.PID()
	if started {
		fmt.Fprintf(out, "registry: started on %s (pid %d, log %s)\n", strings.Join(p.Addrs, ", "), pid, p.LogFile())
	} else {
		fmt.Fprintf(out, "registry: running on %s (pid %d)\n", strings.Join(p.Addrs, ", "), pid)
	}
	return nil
}

// Stop ends the registry started by Start (by its recorded pid) and waits
// for it to exit. No registry running is not an error.
func (p Process) Stop(ctx context.Context) error {
	if err := p.detached().Stop(ctx); err != nil {
		return fmt.Errorf("registry: stop: %w", err)
	}
	return nil
}
