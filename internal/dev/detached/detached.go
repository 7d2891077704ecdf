// Package detached runs programs in the background that outlive the
// command that started them — the local stack's components, the local
// image registry: started in their own session (so that mage exiting or
// Ctrl-C in the terminal does not stop them), output appended to a log
// file, pid recorded, restarted when their binary, arguments or
// environment change, and stopped by process group.
package detached

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
)

// ErrPortInUse means another program holds one of a process's ports.
var ErrPortInUse = freeport.ErrInUse

// Process is a program run in the background.
type Process struct {
	Name    string   // for messages
	Bin     string   // the executable
	Args    []string // its arguments
	Env     []string // added to this process's environment, KEY=VALUE
	Dir     string   // working directory
	LogFile string   // stdout and stderr are appended here
	PIDFile string   // the pid; PIDFile + ".fingerprint" the configuration
	Ports   []string // addresses it listens on; checked free before start
	// Ready reports whether the started process serves; nil: at once.
	Ready func(ctx context.Context) error
}

// PID returns the recorded pid when that process is still alive and runs
// the expected binary.
func (p *Process) PID() (int, bool) {
	b, err := os.ReadFile(p.PIDFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || filepath.Base(strings.TrimSuffix(exe, " (deleted)")) != filepath.Base(p.Bin) {
		return 0, false
	}
	return pid, true
}

// fingerprint identifies what the process runs: binary, arguments and
// environment. A running process with another fingerprint is restarted.
func (p *Process) fingerprint() string {
	h := sha256.New()
	if fi, err := os.Stat(p.Bin); err == nil {
		fmt.Fprintf(h, "%s %d %d\n", p.Bin, fi.Size(), fi.ModTime().UnixNano())
	}
	for _, a := range p.Args {
		fmt.Fprintf(h, "arg %s\n", a)
	}
	for _, e := range p.Env {
		fmt.Fprintf(h, "env %s\n", e)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (p *Process) fingerprintFile() string { return p.PIDFile + ".fingerprint" }

// Start launches the process unless it runs already with the same binary,
// arguments and environment, then waits until it is ready. A process whose
// configuration changed is restarted. It reports whether it started one.
func (p *Process) Start(ctx context.Context) (bool, error) {
	fp := p.fingerprint()
	if _, ok := p.PID(); ok {
		if old, err := os.ReadFile(p.fingerprintFile()); err == nil && string(old) == fp {
			return false, p.waitReady(ctx, 30*time.Second)
		}
		if err := p.Stop(ctx); err != nil {
			return false, fmt.Errorf("%s: restart with the new configuration: %w", p.Name, err)
		}
	}
	for _, addr := range p.Ports {
		if err := freeport.CheckFree(ctx, addr); err != nil {
			return false, fmt.Errorf("%s: %w: stop it or choose another port", p.Name, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(p.LogFile), 0o711); err != nil {
		return false, fmt.Errorf("%s: create log directory: %w", p.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(p.PIDFile), 0o700); err != nil {
		return false, fmt.Errorf("%s: create run directory: %w", p.Name, err)
	}
	log, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return false, fmt.Errorf("%s: open log: %w", p.Name, err)
	}
	defer log.Close()
	// Not CommandContext: the process outlives this command.
	cmd := exec.Command(p.Bin, p.Args...) //nolint:noctx // detached on purpose
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("%s: start %s: %w", p.Name, p.Bin, err)
	}
	if err := os.WriteFile(p.PIDFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return false, fmt.Errorf("%s: record pid: %w", p.Name, err)
	}
	if err := os.WriteFile(p.fingerprintFile(), []byte(fp), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return false, fmt.Errorf("%s: record configuration: %w", p.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := p.waitReadyOrExit(ctx, 60*time.Second, exited); err != nil {
		_ = p.Stop(context.Background())
		return false, err
	}
	return true, nil
}

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	return p.waitReadyOrExit(ctx, timeout, nil)
}

func (p *Process) waitReadyOrExit(ctx context.Context, timeout time.Duration, exited <-chan error) error {
	if p.Ready == nil {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		err := p.Ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready after %s: %w (see %s)", p.Name, timeout, err, p.LogFile)
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("%s exited during start-up (%w); last lines of %s:\n%s", p.Name, werr, p.LogFile, tailFile(p.LogFile, 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM to the process group and waits up to 20 s, then kills.
// It returns once the process has exited, not merely once its executable
// is gone from /proc: the kernel drops that link before it closes the
// process's files, and a restart on the same port would find it held.
func (p *Process) Stop(ctx context.Context) error {
	pid, ok := p.PID()
	if !ok {
		_ = os.Remove(p.PIDFile)
		return nil
	}
	_, started, _ := procState(pid)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if exited(pid, started) {
			return os.Remove(p.PIDFile)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !exited(pid, started) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	if err := os.Remove(p.PIDFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// exited reports whether the process pid, which started at the given
// clock tick, has exited with all its threads: its /proc entry is gone, or
// the pid now names a process that started at another time, or it is a
// zombie whose other threads are gone too. A zombie leader alone is not
// enough: the files (the listening sockets) are closed by the last thread
// to exit, which can be a moment later; and whoever inherited the process
// may reap it much later, or never.
func exited(pid int, started string) bool {
	state, now, ok := procState(pid)
	if !ok || now != started {
		return true
	}
	if state != 'Z' && state != 'X' {
		return false
	}
	threads, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return err != nil || len(threads) <= 1
}

// procState reads a process's state and start time (fields 3 and 22 of
// /proc/<pid>/stat; the name in field 2 may hold spaces and parentheses,
// so the fields are counted after its last ')').
func procState(pid int) (state byte, started string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, "", false
	}
	return f[0][0], f[19], true
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastlines.Of(string(b), n)
}
