// Package childproc runs programs that must not outlive the process that
// started them — the servers a test starts (Kratos, a control plane) and
// stops at its end: each child is in its own process group (stopped as a
// whole) and is killed by the kernel when this process dies, even by
// SIGKILL or a test timeout, so no orphan keeps a port or a directory.
// Their output is kept in memory, the last part of it, for error messages.
package childproc

import (
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a started child.
type Process struct {
	cmd      *exec.Cmd
	logs     *ringBuffer
	exited   chan struct{} // closed when the process has exited
	waitErr  error         // set before exited is closed
	stopOnce sync.Once
}

// LogLimit is how much of a child's output (stdout and stderr together) is
// kept: the last 256 KiB.
const LogLimit = 256 << 10

// Start starts cmd as a child that dies with this process. cmd's Stdout and
// Stderr are replaced by the kept log.
func Start(cmd *exec.Cmd) (*Process, error) {
	logs := &ringBuffer{limit: LogLimit}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Own process group (stopped as a whole); SIGKILL when this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	p := &Process{cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Logs returns the last LogLimit bytes of the child's output.
func (p *Process) Logs() string { return p.logs.String() }

// Exited is closed once the child has exited; Err then says how.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is the child's exit status once Exited is closed.
func (p *Process) Err() error {
	<-p.exited
	return p.waitErr
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM to the child's process group and, after grace, SIGKILL;
// it returns once the child has exited. Stopping twice is a no-op.
func (p *Process) Stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
	})
}

// Pdeathsig fires when the OS thread that started the child exits, not the
// process, and the Go runtime may retire threads. Children are therefore
// started from one goroutine locked to its thread for the life of the
// process.
var spawner = sync.OnceValue(func() chan func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for f := range ch {
			f()
		}
	}()
	return ch
})

func spawn(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	spawner() <- func() { done <- cmd.Start() }
	return <-done
}

// ringBuffer keeps the last limit bytes written to it.
type ringBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	// Trim in batches: copying on every write would be quadratic.
	if len(r.buf) > 2*r.limit {
		r.buf = slices.Clone(r.buf[len(r.buf)-r.limit:])
	}
	return len(p), nil
}

func (r *ringBuffer) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf[max(0, len(r.buf)-r.limit):])
}
