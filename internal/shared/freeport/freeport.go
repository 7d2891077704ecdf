// Package freeport picks TCP ports on 127.0.0.1 for the throwaway servers
// of tests, benchmarks and private stacks.
//
// A port is chosen below the kernel's ephemeral range. A port from the
// ephemeral range (what listening on port 0 gives) can be taken by any
// outgoing connection between the moment it is picked and the moment the
// server binds it — the caller's own connections to PostgreSQL or Kratos
// included — and that race failed CI runs before every picker used this
// one.
//
// A picked port is also reserved for the picking process until it exits:
// a lock file per port in a directory every process shares, so that two
// test processes never get the same port while the first has not bound it
// yet (a private stack binds its last port seconds after picking it, and
// `go test` runs a test binary per package side by side).
package freeport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/groundwork-dev/groundwork/internal/shared/filelock"
)

// ErrInUse means another program listens on an address that was to be
// free.
var ErrInUse = errors.New("port in use")

// CheckFree fails with ErrInUse, naming addr, when something listens on
// addr (host:port): the check every server of the local stack makes before
// it starts, so that the error names the port instead of the server's own
// bind error, which would come later and less clearly.
func CheckFree(ctx context.Context, addr string) error {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is held by another program: %w", addr, ErrInUse)
	}
	return l.Close()
}

// Pick returns a TCP port on 127.0.0.1 that nothing listens on now, below
// the ephemeral range. It closes the port it tried: the caller binds it,
// and should try another when that fails (another process may pick the
// same port meanwhile).
func Pick(ctx context.Context) (int, error) {
	lo, hi := Range()
	return pick(ctx, lo, hi)
}

func pick(ctx context.Context, lo, hi int) (int, error) {
	var lastErr error
	for range 200 {
		port := lo + rand.IntN(hi-lo) //nolint:gosec // G404: spreading test ports, nothing secret
		if !reserve(port) {
			lastErr = fmt.Errorf("port %d: reserved by another process", port)
			continue
		}
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			continue
		}
		_ = l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("find a free port in %d-%d: %w", lo, hi, lastErr)
}

// reservations are the ports this process picked, each with its lock held
// until the process exits (the kernel then drops the locks).
var (
	mu           sync.Mutex
	reservations = map[int]func(){}
)

// reserveDir holds a lock file per picked port. It is shared by every
// user's processes, as /tmp is: world-writable with the sticky bit.
var reserveDir = filepath.Join(os.TempDir(), "groundwork-freeport")

// reserve takes port for this process; false when this process or another
// one has it already. Where the lock cannot be taken at all (a read-only
// temporary directory) the port goes unreserved: the bind check still
// holds, only the race between processes comes back.
func reserve(port int) bool {
	mu.Lock()
	defer mu.Unlock()
	if _, mine := reservations[port]; mine {
		return false
	}
	if err := os.MkdirAll(reserveDir, 0o777); err == nil {
		_ = os.Chmod(reserveDir, 0o777|os.ModeSticky) //nolint:gosec // G302: shared by every user, as /tmp
	}
	release, err := filelock.TryAcquire(filepath.Join(reserveDir, strconv.Itoa(port)))
	switch {
	case errors.Is(err, filelock.ErrHeld):
		return false
	case err != nil:
		release = func() {}
	}
	reservations[port] = release
	return true
}

// Distinct picks n ports with Pick: different ones, since a process never
// gets a port it already reserved.
func Distinct(ctx context.Context, n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		p, err := Pick(ctx)
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// Range is where Pick picks from: from 10000 up to the start of the
// ephemeral range (/proc/sys/net/ipv4/ip_local_port_range; Linux's default
// starts at 32768), which keeps clear of the local stack's default ports
// below 10000.
func Range() (lo, hi int) {
	lo, hi = 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if start, err := strconv.Atoi(f[0]); err == nil && start > lo+1000 {
				hi = start
			}
		}
	}
	return lo, hi
}
