// Package freeport picks TCP ports on 127.0.0.1 for the throwaway servers
// of tests, benchmarks and private stacks.
//
// A port is chosen below the kernel's ephemeral range. A port from the
// ephemeral range (what listening on port 0 gives) can be taken by any
// outgoing connection between the moment it is picked and the moment the
// server binds it — the caller's own connections to PostgreSQL or Kratos
// included — and that race failed CI runs before every picker used this
// one.
package freeport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
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
	var lastErr error
	for range 50 {
		port := lo + rand.IntN(hi-lo) //nolint:gosec // G404: spreading test ports, nothing secret
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

// Distinct picks n different ports with Pick. Pick closes the port it
// tried, so two calls can return the same one; for the eleven ports of a
// private stack that happened about once in 400 stacks, and two of its
// components then fought over one port.
func Distinct(ctx context.Context, n int) ([]int, error) {
	return distinct(ctx, n, Pick)
}

func distinct(ctx context.Context, n int, pick func(context.Context) (int, error)) ([]int, error) {
	seen := make(map[int]bool, n)
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries >= 50*n {
			return nil, fmt.Errorf("find %d different free ports: only %d after %d tries", n, len(ports), tries)
		}
		p, err := pick(ctx)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
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
