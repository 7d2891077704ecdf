package detached

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
)

// The programs the tests run are this test binary itself: with helperEnv
// set, TestMain runs helperMain instead of the tests.
const helperEnv = "DETACHED_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperMain is the program under test:
//
//	listen ADDR       serve TCP on ADDR
//	spawn PIDFILE     start a child (sleep), write its pid to PIDFILE
//	sleep             nothing
//	fail              write 20 lines and "fatal: boom", exit 3
//
// Whatever it does, it exits after a minute: a test that fails to stop it
// leaves nothing behind for long.
func helperMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no mode")
		return 2
	}
	switch args[0] {
	case "listen":
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
	case "spawn":
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		child := exec.Command(exe, "sleep") // the environment (helperEnv) is inherited
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		tmp := args[1] + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		if err := os.Rename(tmp, args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
	case "sleep":
	case "fail":
		for i := 1; i <= 20; i++ {
			fmt.Printf("startup line %02d\n", i)
		}
		fmt.Fprintln(os.Stderr, "fatal: boom")
		return 3
	default:
		fmt.Fprintln(os.Stderr, "helper: unknown mode", args[0])
		return 2
	}
	time.Sleep(time.Minute)
	return 0
}

// newProcess returns a Process running the helper with args, its files in
// a fresh directory, and stops it when the test ends.
func newProcess(t *testing.T, args ...string) *Process {
	t.Helper()
	p := helperProcess(t, args...)
	t.Cleanup(func() {
		pid, ok := p.PID()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
		if ok && running(pid) { // Stop failed: do not leave the group behind
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	return p
}

// helperProcess is newProcess without the Stop when the test ends.
func helperProcess(t *testing.T, args ...string) *Process {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	return &Process{
		Name:    "helper",
		Bin:     exe,
		Args:    args,
		Env:     []string{helperEnv + "=1"},
		Dir:     dir,
		LogFile: filepath.Join(dir, "log", "helper.log"),
		PIDFile: filepath.Join(dir, "run", "helper.pid"),
	}
}

// listening returns a Process serving TCP on a free port, ready when it
// accepts connections there.
func listening(t *testing.T) *Process {
	t.Helper()
	addr := freeAddr(t)
	p := newProcess(t, "listen", addr)
	p.Ports = []string{addr}
	p.Ready = func(ctx context.Context) error { return dial(ctx, p.Ports[0]) }
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := freeport.Pick(t.Context())
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// holdPort listens on a free port until the test ends and returns its
// address. (Another process may bind a picked port first: then it picks
// another.)
func holdPort(t *testing.T) string {
	t.Helper()
	var err error
	for range 10 {
		addr := freeAddr(t)
		var l net.Listener
		if l, err = (&net.ListenConfig{}).Listen(t.Context(), "tcp", addr); err == nil {
			t.Cleanup(func() { _ = l.Close() })
			return addr
		}
	}
	require.NoError(t, err)
	return ""
}

func dial(ctx context.Context, addr string) error {
	c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// running reports whether pid names a process that has not exited (a
// zombie waiting to be reaped has).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

// gone waits for pid to exit: a killed process needs a moment to die.
func gone(t *testing.T, pid int, msgAndArgs ...any) {
	t.Helper()
	require.Eventually(t, func() bool { return !running(pid) }, 3*time.Second, 10*time.Millisecond, msgAndArgs...)
}

// startNew starts p, requiring that it starts a process, and returns its
// pid. It fails after 5 s rather than wait the minute Start would.
func startNew(t *testing.T, p *Process) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	started, err := p.Start(ctx)
	require.NoError(t, err)
	require.True(t, started, "a process was started")
	pid, ok := p.PID()
	require.True(t, ok)
	require.True(t, running(pid))
	return pid
}

// Starting an unchanged configuration again finds the running process and
// leaves it alone.
func TestStartTwiceStartsOnce(t *testing.T) {
	t.Parallel()
	p := listening(t)
	pid := startNew(t, p)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	started, err := p.Start(ctx)
	require.NoError(t, err)
	require.False(t, started, "the running process is kept")
	again, ok := p.PID()
	require.True(t, ok)
	require.Equal(t, pid, again)
	require.True(t, running(pid))
	require.NoError(t, dial(t.Context(), p.Ports[0]))
}

// A changed configuration restarts the process: the old one is stopped and
// a new one runs the new configuration.
func TestChangedConfigurationRestarts(t *testing.T) {
	t.Parallel()
	t.Run("args", func(t *testing.T) {
		t.Parallel()
		p := listening(t)
		oldPID := startNew(t, p)

		p.Ports = []string{freeAddr(t)}
		p.Args = []string{"listen", p.Ports[0]}
		newPID := startNew(t, p)

		requireReplaced(t, oldPID, newPID)
		require.NoError(t, dial(t.Context(), p.Ports[0]), "the new process serves the new address")
	})
	t.Run("env", func(t *testing.T) {
		t.Parallel()
		p := listening(t)
		oldPID := startNew(t, p)

		p.Env = append(p.Env, "EXTRA=1")
		newPID := startNew(t, p)

		requireReplaced(t, oldPID, newPID)
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", newPID))
		require.NoError(t, err)
		require.Contains(t, strings.Split(string(env), "\x00"), "EXTRA=1", "the new process has the new environment")
		require.NoError(t, dial(t.Context(), p.Ports[0]), "the new process serves the same address")
	})
}

// A restart on the same port finds it free: Stop returns only once the old
// process has closed its sockets, not when its executable link is gone
// (which happens first; the port was then held in a few restarts in a
// hundred).
func TestRestartOnTheSamePortFindsItFree(t *testing.T) {
	t.Parallel()
	p := listening(t)
	startNew(t, p)
	for i := range 15 {
		p.Env = []string{helperEnv + "=1", fmt.Sprintf("ROUND=%d", i)}
		startNew(t, p)
	}
}

func requireReplaced(t *testing.T, oldPID, newPID int) {
	t.Helper()
	require.NotEqual(t, oldPID, newPID)
	gone(t, oldPID, "the old process is stopped")
	require.True(t, running(newPID))
}

// Stop ends the process group: children the program started die with it.
func TestStopKillsTheProcessGroup(t *testing.T) {
	t.Parallel()
	p := newProcess(t)
	childFile := filepath.Join(t.TempDir(), "child.pid")
	p.Args = []string{"spawn", childFile}
	p.Ready = func(context.Context) error {
		_, err := os.Stat(childFile)
		return err
	}
	pid := startNew(t, p)
	b, err := os.ReadFile(childFile)
	require.NoError(t, err)
	child, err := strconv.Atoi(string(b))
	require.NoError(t, err)
	t.Cleanup(func() {
		if running(child) {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
	})
	require.True(t, running(child))

	require.NoError(t, p.Stop(t.Context()))

	gone(t, pid, "the program is stopped")
	gone(t, child, "the program's child is stopped")
	_, ok := p.PID()
	require.False(t, ok)
	require.NoFileExists(t, p.PIDFile)
}

// A port held by another program stops the start before anything runs.
func TestStartRefusesAPortInUse(t *testing.T) {
	t.Parallel()
	p := listening(t)
	p.Ports = []string{holdPort(t)}
	p.Args = []string{"listen", p.Ports[0]}

	started, err := p.Start(t.Context())

	require.ErrorIs(t, err, ErrPortInUse)
	require.ErrorContains(t, err, p.Ports[0])
	require.False(t, started)
	_, ok := p.PID()
	require.False(t, ok)
	require.NoFileExists(t, p.PIDFile)
	require.NoFileExists(t, p.LogFile, "the program never ran")
}

// A program that exits before it is ready is reported with the end of its
// log, not after the minute Start would wait for it.
func TestStartReportsAnExitDuringStartUp(t *testing.T) {
	t.Parallel()
	p := newProcess(t, "fail")
	p.Ready = func(context.Context) error { return errors.New("not serving") }
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	started, err := p.Start(ctx)

	require.False(t, started)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "helper exited during start-up")
	require.Contains(t, msg, "exit status 3")
	require.Contains(t, msg, p.LogFile)
	require.Contains(t, msg, "startup line 20\nfatal: boom", "the log's last lines")
	require.Contains(t, msg, "startup line 07", "the last 15 lines")
	require.NotContains(t, msg, "startup line 06", "only the last 15 lines")
	_, ok := p.PID()
	require.False(t, ok)
}

// PID names a process only while it runs the expected program.
func TestPID(t *testing.T) {
	t.Parallel()
	t.Run("after Stop", func(t *testing.T) {
		t.Parallel()
		p := newProcess(t, "sleep")
		pid := startNew(t, p)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()

		require.NoError(t, p.Stop(ctx))

		_, ok := p.PID()
		require.False(t, ok)
		require.NoFileExists(t, p.PIDFile)
		gone(t, pid)
	})
	t.Run("another binary", func(t *testing.T) {
		t.Parallel()
		// The pid file names a live process, this test's, running this
		// test binary: a Process of another binary does not own it. (No
		// Stop at the end: it would signal this test.)
		p := helperProcess(t)
		require.NoError(t, os.MkdirAll(filepath.Dir(p.PIDFile), 0o700))
		require.NoError(t, os.WriteFile(p.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600))
		pid, ok := p.PID()
		require.True(t, ok, "the pid file names a live process running Bin")
		require.Equal(t, os.Getpid(), pid)

		other := *p
		other.Bin = filepath.Join(filepath.Dir(p.Bin), "another-program")
		_, ok = other.PID()
		require.False(t, ok, "a live process running another binary")
	})
	t.Run("dead process", func(t *testing.T) {
		t.Parallel()
		p := newProcess(t)
		cmd := exec.CommandContext(t.Context(), p.Bin, "sleep")
		cmd.Env = append(os.Environ(), helperEnv+"=1")
		require.NoError(t, cmd.Start())
		pid := cmd.Process.Pid
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		require.NoError(t, os.MkdirAll(filepath.Dir(p.PIDFile), 0o700))
		require.NoError(t, os.WriteFile(p.PIDFile, []byte(strconv.Itoa(pid)+"\n"), 0o600))

		_, ok := p.PID()
		require.False(t, ok)
	})
}
