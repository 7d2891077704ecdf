package devstack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now,
// chosen below the kernel's ephemeral range. A port from the ephemeral
// range (what listening on port 0 gives) can be taken by any outgoing
// connection between the moment it is picked and the moment a component
// of a private stack binds it — the stack's own connections to PostgreSQL
// and Kratos included — and a stack starts its components one after
// another.
func FreePort(ctx context.Context) (int, error) {
	lo, hi := privatePortRange()
	var lastErr error
	for range 50 {
		port := lo + rand.IntN(hi-lo) //nolint:gosec // G404: spreading test ports, nothing secret
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("find a free port in %d-%d: %w", lo, hi, lastErr)
}

// privatePortRange is where FreePort picks from: from 10000 up to the start
// of the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range; Linux's
// default starts at 32768), avoiding the stack's own default ports.
func privatePortRange() (lo, hi int) {
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

// distinctPorts picks n different ports with free. FreePort closes the
// port it tried, so two calls can return the same one; for the eleven
// ports of a stack that happened about once in 400 stacks, and two of its
// components then fought over one port.
func distinctPorts(ctx context.Context, n int, free func(context.Context) (int, error)) ([]int, error) {
	seen := make(map[int]bool, n)
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries >= 50*n {
			return nil, fmt.Errorf("find %d different free ports: only %d after %d tries", n, len(ports), tries)
		}
		p, err := free(ctx)
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

// PrivateConfig is the stack of the repository at root with its state in
// stateDir and every port free: a second, throwaway stack for tests and
// benchmarks that never touches the developer's own.
func PrivateConfig(ctx context.Context, root, stateDir string) (Config, error) {
	keys := []string{EnvPGPort, EnvKratosPublicPort, EnvKratosAdminPort, EnvGRPCPort, EnvGatewayPort, EnvOpsPort, EnvWorkerOpsPort,
		EnvWebPort, EnvVitePort, EnvMailpitSMTPPort, EnvMailpitUIPort}
	picked, err := distinctPorts(ctx, len(keys), FreePort)
	if err != nil {
		return Config{}, err
	}
	ports := map[string]string{}
	for i, k := range keys {
		ports[k] = fmt.Sprint(picked[i])
	}
	cfg, err := ConfigFromEnv(root, func(k string) string { return ports[k] })
	if err != nil {
		return cfg, err
	}
	cfg.State = filepath.Join(stateDir, ".dev")
	return cfg, nil
}
