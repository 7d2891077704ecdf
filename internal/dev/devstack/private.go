package devstack

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
)

// PrivateConfig is the stack of the repository at root with its state in
// stateDir and every port free: a second, throwaway stack for tests and
// benchmarks that never touches the developer's own.
func PrivateConfig(ctx context.Context, root, stateDir string) (Config, error) {
	keys := []string{EnvPGPort, EnvKratosPublicPort, EnvKratosAdminPort, EnvGRPCPort, EnvGatewayPort, EnvOpsPort, EnvWorkerOpsPort,
		EnvWebPort, EnvVitePort, EnvMailpitSMTPPort, EnvMailpitUIPort}
	picked, err := freeport.Distinct(ctx, len(keys))
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
