//go:build mage

// The project's entry points. Each target is a thin call into a tested
// package under internal/; `go tool mage -l` lists them.
package main

import (
	"context"
	"os"

	"github.com/magefile/mage/mg"

	"github.com/groundwork-dev/groundwork/internal/apibench"
	"github.com/groundwork-dev/groundwork/internal/checks"
	"github.com/groundwork-dev/groundwork/internal/devbench"
	"github.com/groundwork-dev/groundwork/internal/devstack"
	"github.com/groundwork-dev/groundwork/internal/sysdeps"
)

// Dev runs the local stack under .dev/.
type Dev mg.Namespace

// DB works with the local stack's database.
type DB mg.Namespace

// Bench runs the performance harnesses.
type Bench mg.Namespace

func stack() (*devstack.Stack, error) {
	cfg, err := devstack.ConfigFromEnv(".", os.Getenv)
	if err != nil {
		return nil, err
	}
	return devstack.New(cfg, os.Stdout, sysdeps.New(os.Stdout)), nil
}

func projectChecks() checks.Checks {
	root, _ := os.Getwd()
	return checks.Checks{Root: root, Out: os.Stdout, Deps: sysdeps.New(os.Stdout)}
}

// Up starts the whole local stack in the background, healthy, and prints where each part is; idempotent.
func (Dev) Up(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Up(ctx)
}

// Down stops the local stack and keeps its data.
func (Dev) Down(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Down(ctx)
}

// Reset stops the local stack and deletes .dev/ (data, certificates, logs).
func (Dev) Reset(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Reset(ctx)
}

// Status prints one line per component: state, address, health.
func (Dev) Status(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Status(ctx)
}

// Env prints shell export lines with each role's database URL: eval "$(go tool mage dev:env)".
func (Dev) Env() error {
	s, err := stack()
	if err != nil {
		return err
	}
	s.Env()
	return nil
}

// Logs follows every component's log until interrupted.
func (Dev) Logs(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Logs(ctx)
}

// Shell opens psql on the app database as the schema owner, with its certificate.
func (DB) Shell(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Shell(ctx, os.Stdin, os.Stdout, os.Stderr)
}

// Migrate applies pending migrations (River's and the app's) to the local database.
func (DB) Migrate(ctx context.Context) error {
	s, err := stack()
	if err != nil {
		return err
	}
	return s.Migrate(ctx)
}

// Test runs every module's tests against real PostgreSQL.
func Test(ctx context.Context) error { return projectChecks().Test(ctx, false) }

// Lint runs gofmt, go vet and golangci-lint over every module.
func Lint(ctx context.Context) error { return projectChecks().Lint(ctx) }

// Generate runs all code generation.
func Generate(ctx context.Context) error { return projectChecks().Generate(ctx) }

// CI runs everything CI checks: lint, generated code is current, tests.
func CI(ctx context.Context) error { return projectChecks().CI(ctx) }

// DevUp measures dev:up from nothing and warm, and migrator up on an empty database, against baselines.
func (Bench) DevUp(ctx context.Context) error {
	return devbench.Run(ctx, os.Stdout)
}

// API loads CreateAccount and GetAccount on a private full stack and on a bare grpc-go + pgx baseline, and prints req/s, p50/p99 and the ratio.
func (Bench) API(ctx context.Context) error {
	return apibench.Run(ctx, os.Stdout)
}
