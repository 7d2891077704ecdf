package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a component the stack runs in the background: started
// detached (its own session, so mage exiting or Ctrl-C in the terminal
// does not stop it), output appended to its log, pid recorded.
type process struct {
	name    string
	bin     string
	args    []string
	env     []string
	dir     string
	logFile string
	pidFile string
	ports   []string // addresses it listens on; checked free before start
	ready   func(ctx context.Context) error
}

// pid returns the recorded pid when that process is still alive and runs
// the expected binary.
func (p *process) pid() (int, bool) {
	b, err := os.ReadFile(p.pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || filepath.Base(strings.TrimSuffix(exe, " (deleted)")) != filepath.Base(p.bin) {
		return 0, false
	}
	return pid, true
}

// fingerprint identifies what the process runs: binary, arguments and
// environment. A running process with another fingerprint is restarted.
func (p *process) fingerprint() string {
	h := sha256.New()
	if fi, err := os.Stat(p.bin); err == nil {
		fmt.Fprintf(h, "%s %d %d\n", p.bin, fi.Size(), fi.ModTime().UnixNano())
	}
	for _, a := range p.args {
		fmt.Fprintf(h, "arg %s\n", a)
	}
	for _, e := range p.env {
		fmt.Fprintf(h, "env %s\n", e)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (p *process) fingerprintFile() string { return p.pidFile + ".fingerprint" }

// start launches the process unless it runs already with the same binary,
// arguments and environment, then waits until it is ready. A process whose
// configuration changed is restarted. It reports whether it started one.
func (p *process) start(ctx context.Context) (bool, error) {
	fp := p.fingerprint()
	if _, ok := p.pid(); ok {
		if old, err := os.ReadFile(p.fingerprintFile()); err == nil && string(old) == fp {
			return false, p.waitReady(ctx, 30*time.Second)
		}
		if err := p.stop(ctx); err != nil {
			return false, fmt.Errorf("%s: restart with the new configuration: %w", p.name, err)
		}
	}
	for _, addr := range p.ports {
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			return false, fmt.Errorf("%s: %s is held by another program: stop it or choose another port: %w", p.name, addr, ErrPortInUse)
		}
		_ = l.Close()
	}
	if err := os.MkdirAll(filepath.Dir(p.logFile), 0o711); err != nil {
		return false, fmt.Errorf("%s: create log directory: %w", p.name, err)
	}
	if err := os.MkdirAll(filepath.Dir(p.pidFile), 0o700); err != nil {
		return false, fmt.Errorf("%s: create run directory: %w", p.name, err)
	}
	log, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return false, fmt.Errorf("%s: open log: %w", p.name, err)
	}
	defer log.Close()
	// Not CommandContext: the process outlives this command.
	cmd := exec.Command(p.bin, p.args...) //nolint:noctx // detached on purpose
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("%s: start %s: %w", p.name, p.bin, err)
	}
	if err := os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return false, fmt.Errorf("%s: record pid: %w", p.name, err)
	}
	if err := os.WriteFile(p.fingerprintFile(), []byte(fp), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return false, fmt.Errorf("%s: record configuration: %w", p.name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := p.waitReadyOrExit(ctx, 60*time.Second, exited); err != nil {
		_ = p.stop(context.Background())
		return false, err
	}
	return true, nil
}

func (p *process) waitReady(ctx context.Context, timeout time.Duration) error {
	return p.waitReadyOrExit(ctx, timeout, nil)
}

func (p *process) waitReadyOrExit(ctx context.Context, timeout time.Duration, exited <-chan error) error {
	if p.ready == nil {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		err := p.ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready after %s: %w (see %s)", p.name, timeout, err, p.logFile)
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("%s exited during start-up (%w); last lines of %s:\n%s", p.name, werr, p.logFile, tailFile(p.logFile, 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to the process group and waits up to 20 s, then kills.
func (p *process) stop(ctx context.Context) error {
	pid, ok := p.pid()
	if !ok {
		_ = os.Remove(p.pidFile)
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := p.pid(); !ok {
			return os.Remove(p.pidFile)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if err := os.Remove(p.pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(b, n)
}
