package cli_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/internal/cli"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParse(t *testing.T) {
	t.Parallel()
	const flagURL = "postgres://flag"
	const envURL = "postgres://env"
	withEnv := env(map[string]string{"DATABASE_URL": envURL})
	noEnv := env(nil)

	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		want   cli.Config
	}{
		{"Up", []string{"--database-url", flagURL, "up"}, noEnv,
			cli.Config{DatabaseURL: flagURL, Command: "up", ServerRole: "server"}},
		{"FlagAfterCommand", []string{"up", "--database-url", flagURL}, noEnv,
			cli.Config{DatabaseURL: flagURL, Command: "up", ServerRole: "server"}},
		{"FlagWithEquals", []string{"--database-url=" + flagURL, "version"}, noEnv,
			cli.Config{DatabaseURL: flagURL, Command: "version", ServerRole: "server"}},
		{"SingleDashFlag", []string{"-database-url", flagURL, "version"}, noEnv,
			cli.Config{DatabaseURL: flagURL, Command: "version", ServerRole: "server"}},
		{"EnvFallback", []string{"up"}, withEnv,
			cli.Config{DatabaseURL: envURL, Command: "up", ServerRole: "server"}},
		{"FlagBeatsEnv", []string{"up", "--database-url", flagURL}, withEnv,
			cli.Config{DatabaseURL: flagURL, Command: "up", ServerRole: "server"}},
		{"NoURLIsNotAUsageError", []string{"up"}, noEnv,
			cli.Config{Command: "up", ServerRole: "server"}},
		{"ServerRole", []string{"--server-role", "api", "up"}, noEnv,
			cli.Config{Command: "up", ServerRole: "api"}},
		{"Down", []string{"down", "2"}, noEnv, cli.Config{Command: "down", Arg: 2, ServerRole: "server"}},
		{"Goto", []string{"goto", "1"}, noEnv, cli.Config{Command: "goto", Arg: 1, ServerRole: "server"}},
		{"GotoZero", []string{"goto", "0"}, noEnv, cli.Config{Command: "goto", Arg: 0, ServerRole: "server"}},
		{"Force", []string{"force", "2"}, noEnv, cli.Config{Command: "force", Arg: 2, ServerRole: "server"}},
		{"ForceNone", []string{"force", "-1"}, noEnv, cli.Config{Command: "force", Arg: -1, ServerRole: "server"}},
		{"ForceNoneThenFlag", []string{"force", "-1", "--database-url", flagURL}, noEnv,
			cli.Config{DatabaseURL: flagURL, Command: "force", Arg: -1, ServerRole: "server"}},
		{"ForceAfterDoubleDash", []string{"--", "force", "-1"}, noEnv, cli.Config{Command: "force", Arg: -1, ServerRole: "server"}},
		{"Create", []string{"create", "add_widgets", "--dir", "db/migrations"}, noEnv,
			cli.Config{Command: "create", Name: "add_widgets", Dir: "db/migrations", ServerRole: "server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cli.Parse(tt.args, tt.getenv)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"Nothing", nil, "no command given"},
		{"OnlyFlags", []string{"--database-url", "postgres://x"}, "no command given"},
		{"UnknownCommand", []string{"migrate"}, `unknown command "migrate"`},
		{"UnknownFlag", []string{"--verbose", "up"}, "flag provided but not defined: -verbose"},
		{"FlagWithoutValue", []string{"up", "--database-url"}, "flag needs an argument: -database-url"},
		{"UpWithArgument", []string{"up", "3"}, "up takes 0 argument(s), got 1"},
		{"VersionWithArgument", []string{"version", "now"}, "version takes 0 argument(s), got 1"},
		{"DownWithoutN", []string{"down"}, "down takes 1 argument(s), got 0"},
		{"DownTwoArguments", []string{"down", "1", "2"}, "down takes 1 argument(s), got 2"},
		{"GotoWithoutV", []string{"goto"}, "goto takes 1 argument(s), got 0"},
		{"CreateWithoutName", []string{"create"}, "create takes 1 argument(s), got 0"},
		{"CreateTwoNames", []string{"create", "a", "b"}, "create takes 1 argument(s), got 2"},
		{"DownNotANumber", []string{"down", "all"}, `down: "all" is not a number`},
		{"GotoNotANumber", []string{"goto", "v2"}, `goto: "v2" is not a number`},
		{"ForceNotANumber", []string{"force", "1.5"}, `force: "1.5" is not a number`},
		{"DownZero", []string{"down", "0"}, "down: 0 is out of range"},
		{"DownNegative", []string{"down", "-2"}, "down: -2 is out of range"},
		{"GotoNegative", []string{"goto", "-1"}, "goto: -1 is out of range"},
		{"ForceBelowNone", []string{"force", "-2"}, "force: -2 is out of range"},
		{"Overflow", []string{"goto", "99999999999999999999"}, `goto: "99999999999999999999" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := cli.Parse(tt.args, env(nil))
			require.EqualError(t, err, tt.want)
		})
	}
}
