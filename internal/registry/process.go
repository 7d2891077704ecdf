package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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

func (p Process) pidFile() string { return filepath.Join(p.Dir, "registry.pid") }

// LogFile is where the process writes its log.
func (p Process) LogFile() string { return filepath.Join(p.Dir, "registry.log") }

// Start starts the registry unless one answers already, detached from
// this process (its own session), and waits until it answers.
func (p Process) Start(ctx context.Context, out io.Writer) error {
	if len(p.Addrs) == 0 {
		return errors.New("registry: no address to listen on")
	}
	if Healthy(ctx, p.Addrs[0]) {
		if pid, err := p.pid(); err == nil && alive(pid) {
			fmt.Fprintf(out, "registry: running on %s (pid %d)\n", strings.Join(p.Addrs, ", "), pid)
			return nil
		}
		return fmt.Errorf("registry: something else already answers on %s; stop it or choose another port", p.Addrs[0])
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(p.LogFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"--dir", p.Dir}
	for _, a := range p.Addrs {
		args = append(args, "--listen", a)
	}
	// Not cancelled with ctx: the registry outlives this process.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), p.Binary, args...) //nolint:gosec // G204: our own binary and flags
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("registry: starting %s: %w", p.Binary, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(p.pidFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	_ = cmd.Process.Release()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if Healthy(ctx, p.Addrs[0]) {
			fmt.Fprintf(out, "registry: started on %s (pid %d, log %s)\n", strings.Join(p.Addrs, ", "), pid, p.LogFile())
			return nil
		}
		if !alive(pid) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	tail, _ := os.ReadFile(p.LogFile())
	return fmt.Errorf("registry: did not start on %s; its log (%s) ends with:\n%s", p.Addrs[0], p.LogFile(), lastLines(string(tail), 10))
}

// Stop ends the registry started by Start (by its recorded pid) and waits
// for it to exit. No registry running is not an error.
func (p Process) Stop(ctx context.Context) error {
	pid, err := p.pid()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer os.Remove(p.pidFile())
	if !alive(pid) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("registry: stopping pid %d: %w", pid, err)
	}
	for range 100 {
		if !alive(pid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("registry: pid %d did not stop", pid)
}

func (p Process) pid() (int, error) {
	b, err := os.ReadFile(p.pidFile())
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("registry: %s: %w", p.pidFile(), err)
	}
	return pid, nil
}

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc (macOS): the signal test is all we have
	}
	f := strings.Fields(string(b))
	return len(f) < 3 || f[2] != "Z"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
