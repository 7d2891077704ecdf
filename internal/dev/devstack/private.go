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
	return privateConfig(ctx, root, stateDir, components)
}

func privateConfig(ctx context.Context, root, stateDir string, comps []Component) (Config, error) {
	var keys []string
	for _, p := range portsOf(comps) {
		keys = append(keys, p.Env)
	}
	picked, err := freeport.Distinct(ctx, len(keys))
	if err != nil {
		return Config{}, err
	}
	ports := map[string]string{}
	for i, k := range keys {
		ports[k] = fmt.Sprint(picked[i])
	}
	cfg, err := configFromEnv(root, func(k string) string { return ports[k] }, comps)
	if err != nil {
		return cfg, err
	}
	cfg.State = filepath.Join(stateDir, ".dev")
	return cfg, nil
}
