package terraform

import (
	"context"
	"fmt"
	"io"
)

// Settings are what the infra:* targets read from the environment.
type Settings struct {
	Env     string // INFRA_ENV: terraform/envs/<env>, default prod
	Force   bool   // FORCE=1: apply and destroy without asking
	Offline bool   // INFRA_OFFLINE=1: the provider from the local build, not the registry
}

// SettingsFromEnv parses the infra:* settings once.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{Env: getenv("INFRA_ENV")}
	if s.Env == "" {
		s.Env = "prod"
	}
	for name, dst := range map[string]*bool{"FORCE": &s.Force, "INFRA_OFFLINE": &s.Offline} {
		switch v := getenv(name); v {
		case "", "0":
		case "1":
			*dst = true
		default:
			return s, fmt.Errorf("%s=%q: set 1 or leave it unset", name, v)
		}
	}
	if !envName.MatchString(s.Env) {
		return s, fmt.Errorf("INFRA_ENV=%q: a name of lower-case letters, digits and hyphens", s.Env)
	}
	return s, nil
}

// Open is the Project the infra:* targets run: the user's terraform,
// their CLI configuration unless s.Offline (then the local provider
// mirror, built first when needed).
func Open(ctx context.Context, root string, s Settings, out io.Writer, in io.Reader) (Project, error) {
	bin, err := Binary()
	if err != nil {
		return Project{}, err
	}
	p := Project{Root: root, Bin: bin, Out: out, In: in}
	if s.Offline {
		if p.CLIConfig, err = Mirror(ctx, root, out); err != nil {
			return Project{}, err
		}
	}
	return p, nil
}
