package devstack

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(ctx context.Context) (int, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PrivateConfig is the stack of the repository at root with its state in
// stateDir and every port free: a second, throwaway stack for tests and
// benchmarks that never touches the developer's own.
func PrivateConfig(ctx context.Context, root, stateDir string) (Config, error) {
	ports := map[string]string{}
	for _, k := range []string{EnvPGPort, EnvKratosPublicPort, EnvKratosAdminPort, EnvGRPCPort, EnvGatewayPort, EnvOpsPort, EnvWorkerOpsPort,
		EnvWebPort, EnvVitePort, EnvMailpitSMTPPort, EnvMailpitUIPort} {
		p, err := FreePort(ctx)
		if err != nil {
			return Config{}, err
		}
		ports[k] = fmt.Sprint(p)
	}
	cfg, err := ConfigFromEnv(root, func(k string) string { return ports[k] })
	if err != nil {
		return cfg, err
	}
	cfg.State = filepath.Join(stateDir, ".dev")
	return cfg, nil
}
