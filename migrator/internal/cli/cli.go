// Package cli is the migrator command: argument parsing, one line per
// outcome, and exit codes (0 done, 1 failed, 2 usage).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/migrator/schema"
)

const usage = `usage: migrator [--database-url URL] <command> [args]

commands:
  up            apply River's schema, every pending app migration, and the grants
  down N        roll back the last N app migrations
  goto V        migrate the app schema up or down to version V (0: roll back every app migration)
  version       print the app schema's version
  force V       record version V (-1: none) as applied, without running anything
  create NAME   add an empty NNNNNN_NAME.up.sql/.down.sql pair to --dir

The database URL comes from --database-url or DATABASE_URL and must use a
client certificate: sslmode=verify-full&sslrootcert=...&sslcert=...&sslkey=...
`

// Config is the parsed command line.
type Config struct {
	DatabaseURL string
	Command     string
	Arg         int // N or V
	Name        string
	Dir         string // for create
	ServerRole  string
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Parse reads the command line; getenv supplies the environment fallback.
func Parse(args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("migrator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	fs.StringVar(&c.Dir, "dir", "", "migrations directory for create (default ./migrations or ./migrator/migrations)")
	fs.StringVar(&c.ServerRole, "server-role", "server", "role granted DML on the tables by up and goto")
	// Flags may stand before or after the command. A negative number is an
	// argument (force -1), not a flag; after "--" everything is.
	var rest []string
	for len(args) > 0 {
		if args[0] == "--" {
			rest = append(rest, args[1:]...)
			break
		}
		if n, err := strconv.Atoi(args[0]); err == nil && n < 0 {
			rest = append(rest, args[0])
			args = args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			return c, usageError{err.Error()}
		}
		if consumed := len(args) - len(fs.Args()); consumed > 0 && args[consumed-1] == "--" {
			rest = append(rest, fs.Args()...)
			break
		}
		args = fs.Args()
		if len(args) > 0 {
			rest = append(rest, args[0])
			args = args[1:]
		}
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = getenv(dbconn.EnvVar)
	}
	if len(rest) == 0 {
		return c, usageError{"no command given"}
	}
	c.Command = rest[0]
	want := map[string]int{"up": 0, "version": 0, "down": 1, "goto": 1, "force": 1, "create": 1}
	n, ok := want[c.Command]
	if !ok {
		return c, usageError{fmt.Sprintf("unknown command %q", c.Command)}
	}
	if len(rest)-1 != n {
		return c, usageError{fmt.Sprintf("%s takes %d argument(s), got %d", c.Command, n, len(rest)-1)}
	}
	switch c.Command {
	case "down", "goto", "force":
		v, err := strconv.Atoi(rest[1])
		if err != nil {
			return c, usageError{fmt.Sprintf("%s: %q is not a number", c.Command, rest[1])}
		}
		if (c.Command == "down" && v <= 0) || (c.Command == "goto" && v < 0) || (c.Command == "force" && v < -1) {
			return c, usageError{fmt.Sprintf("%s: %d is out of range", c.Command, v)}
		}
		c.Arg = v
	case "create":
		c.Name = rest[1]
	}
	return c, nil
}

// Run executes the command line and returns the exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := Parse(args, getenv)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "migrator: %v\n\n%s", err, usage)
		return 2
	}
	if err := run(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "migrator: %v\n", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, cfg Config, stdout io.Writer) error {
	if cfg.Command == "create" {
		dir, err := migrationsDir(cfg.Dir)
		if err != nil {
			return err
		}
		paths, err := schema.Create(dir, cfg.Name)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintln(stdout, "created", p)
		}
		return nil
	}
	m, err := schema.Open(ctx, cfg.DatabaseURL, schema.Options{ServerRole: cfg.ServerRole, Log: stdout})
	if err != nil {
		return err
	}
	defer m.Close()
	switch cfg.Command {
	case "up":
		res, err := m.Up(ctx)
		if err != nil {
			return err
		}
		if !res.Changed() {
			fmt.Fprintf(stdout, "schema is up to date at version %d (%s)\n", res.AppTo, res.Duration.Round(1e6))
		} else {
			fmt.Fprintf(stdout, "schema migrated to version %d (%s)\n", res.AppTo, res.Duration.Round(1e6))
		}
		return nil
	case "down":
		return m.Down(ctx, cfg.Arg)
	case "goto":
		return m.Goto(ctx, uint(cfg.Arg))
	case "force":
		return m.Force(ctx, cfg.Arg)
	case "version":
		v, dirty, err := m.Version(ctx)
		if err != nil {
			return err
		}
		latest, err := m.Latest()
		if err != nil {
			return err
		}
		state := "clean"
		if dirty {
			state = "dirty"
		}
		vs := "none"
		if v >= 0 {
			vs = strconv.Itoa(v)
		}
		fmt.Fprintf(stdout, "version %s (%s), latest available %d\n", vs, state, latest)
		return nil
	}
	return fmt.Errorf("unhandled command %q", cfg.Command)
}

func migrationsDir(flagDir string) (string, error) {
	if flagDir != "" {
		return flagDir, nil
	}
	for _, d := range []string{"migrations", "migrator/migrations"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d, nil
		}
	}
	return "", errors.New("create: no migrations directory here; run it from the repository root or migrator/, or pass --dir")
}
