// Package ci is what `mage lint`, `mage test`, `mage generate` and
// `mage ci` do: the same steps locally and in CI.
package ci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane"
	"github.com/groundwork-dev/groundwork/internal/dev/webe2e"
	"github.com/groundwork-dev/groundwork/internal/infra/ansible"
	"github.com/groundwork-dev/groundwork/internal/infra/rootfs"
	"github.com/groundwork-dev/groundwork/internal/infra/terraform"
	"github.com/groundwork-dev/groundwork/internal/monitoring/dashboards"
	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
	"github.com/groundwork-dev/groundwork/internal/toolchain/apiref"
	"github.com/groundwork-dev/groundwork/internal/toolchain/protogen"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
	"github.com/groundwork-dev/groundwork/internal/toolchain/tsapi"
	"github.com/groundwork-dev/groundwork/internal/toolchain/webbuild"
	"github.com/groundwork-dev/groundwork/internal/toolchain/workspace"
)

// Checks runs the project's checks from the repository root.
type Checks struct {
	Root string
	Out  io.Writer
	Deps *sysdeps.Installer
}

func (c Checks) runner() workspace.Runner { return workspace.Runner{Root: c.Root, Out: c.Out} }

// Lint runs buf lint and buf format on the protos, then gofmt, go vet and
// golangci-lint over every module.
func (c Checks) Lint(ctx context.Context) error {
	r := c.runner()
	fmt.Fprintln(c.Out, "==> buf lint, buf format")
	if err := protogen.Lint(ctx, c.Root, c.Out); err != nil {
		return err
	}
	if err := r.Gofmt(ctx); err != nil {
		return err
	}
	if err := r.Each(ctx, "vet", "./..."); err != nil {
		return err
	}
	bin, err := toolbuild.Ensure(ctx, c.Root, toolbuild.GolangciLint, c.Out)
	if err != nil {
		return err
	}
	mods, err := workspace.Modules(ctx, c.Root)
	if err != nil {
		return err
	}
	var failed []string
	for _, m := range mods {
		fmt.Fprintf(c.Out, "==> golangci-lint %s\n", m.Path)
		if err := r.Run(ctx, m.Dir, bin, "run", "--config", c.Root+"/.golangci.yml", "./..."); err != nil {
			failed = append(failed, m.Path)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("golangci-lint found problems in: %s", strings.Join(failed, ", "))
	}
	return c.lintWorkflows(ctx)
}

// lintWorkflows runs actionlint (a Go tool of the root module) over the
// GitHub workflows, with shellcheck (Debian's, installed when missing) on
// their run: scripts.
func (c Checks) lintWorkflows(ctx context.Context) error {
	fmt.Fprintln(c.Out, "==> actionlint .github/workflows (with shellcheck)")
	if err := c.Deps.Ensure(ctx, sysdeps.ShellCheck()); err != nil {
		return err
	}
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		return fmt.Errorf("actionlint: %w", err)
	}
	workflows, err := filepath.Glob(filepath.Join(c.Root, ".github", "workflows", "*.yaml"))
	if err != nil {
		return err
	}
	args := append([]string{"tool", "actionlint", "-color=false", "-shellcheck=" + shellcheck}, workflows...)
	if err := c.runner().Run(ctx, c.Root, "go", args...); err != nil {
		return fmt.Errorf("actionlint found problems in the workflows: %w", err)
	}
	return nil
}

// Test runs every module's tests against real PostgreSQL (installed first
// when missing, as are nginx for the webapp's configuration test,
// Prometheus with promtool for the rules' tests, Ansible with what its
// chroot run needs, curl and jq for the API journey) and a real Kubernetes control plane (built first when
// not cached). count=1 in CI: the tests talk to servers, whose state the
// test cache cannot see.
func (c Checks) Test(ctx context.Context, fresh bool) error {
	pkgs := append([]sysdeps.Package{sysdeps.PostgreSQL(), sysdeps.Nginx(), sysdeps.Prometheus(), sysdeps.Ansible()}, sysdeps.AnsibleChroot()...)
	pkgs = append(pkgs, sysdeps.CurlJQ()...)
	if err := c.Deps.Ensure(ctx, pkgs...); err != nil {
		return err
	}
	// Built here rather than by the first test that needs them: a cold
	// build takes longer than go test's default timeout.
	if _, err := controlplane.EnsureBinaries(ctx, c.Root, true, c.Out); err != nil {
		return err
	}
	if _, _, err := c.terraformTools(ctx); err != nil {
		return err
	}
	// The roles' offline run needs kubeadm (its configuration check) and a
	// Debian root filesystem, the API journey grpcurl; all cached per machine.
	for _, tool := range []toolbuild.Tool{toolbuild.Kubeadm, toolbuild.Grpcurl} {
		if _, err := toolbuild.Ensure(ctx, c.Root, tool, c.Out); err != nil {
			return err
		}
	}
	if os.Geteuid() == 0 {
		if _, err := rootfs.Ensure(ctx, rootfs.Bookworm, c.Out); err != nil {
			return err
		}
	}
	args := []string{"test"}
	if fresh {
		args = append(args, "-count=1")
	}
	args = append(args, "./...")
	return c.runner().Each(ctx, args...)
}

// Generate runs every generator: buf for the protos, tsapi for the
// webapp's API types (from buf's OpenAPI output), then go generate in each
// module (messengers).
func (c Checks) Generate(ctx context.Context) error {
	fmt.Fprintln(c.Out, "==> buf generate")
	if err := protogen.Generate(ctx, c.Root, c.Out); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "==> tsapi (webapp API types from the OpenAPI document)")
	if _, err := tsapi.WriteFile(c.Root); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "==> apiref (the served OpenAPI 3 document and reference page)")
	if _, err := apiref.Write(c.Root); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "==> dashboards (Grafana JSON from internal/monitoring/dashboards)")
	if _, err := dashboards.Write(c.Root); err != nil {
		return err
	}
	return c.runner().Each(ctx, "generate", "./...")
}

// GeneratedCurrent fails when generating changes any file.
func (c Checks) GeneratedCurrent(ctx context.Context) error {
	return workspace.CheckGenerated(ctx, c.Root, c.Generate)
}

// Infra checks the Terraform code offline: fmt, validate, tflint and
// terraform test against mocked providers, with the OpenStack provider
// and tflint built from the Go module proxy into the user's cache.
func (c Checks) Infra(ctx context.Context) error {
	fmt.Fprintln(c.Out, "==> terraform fmt, validate, tflint, test (terraform/)")
	bin, err := terraform.Binary()
	if err != nil {
		return err
	}
	rc, tflint, err := c.terraformTools(ctx)
	if err != nil {
		return err
	}
	return terraform.Project{Root: c.Root, Bin: bin, CLIConfig: rc, Out: c.Out}.Check(ctx, tflint)
}

// Ansible checks the playbooks and roles offline: ansible-lint,
// syntax checks, the inventories (internal/infra/ansible). Their real run
// in a Debian root filesystem is a Go test of the test step.
func (c Checks) Ansible(ctx context.Context) error {
	return ansible.Project{Root: c.Root, Out: c.Out, Deps: c.Deps}.Check(ctx)
}

// terraformTools are the offline provider mirror's CLI configuration and
// tflint, built into the user's cache the first time.
func (c Checks) terraformTools(ctx context.Context) (cliConfig, tflint string, err error) {
	if cliConfig, err = terraform.Mirror(ctx, c.Root, c.Out); err != nil {
		return "", "", err
	}
	tflint, err = toolbuild.Ensure(ctx, c.Root, toolbuild.TFLint, c.Out)
	return cliConfig, tflint, err
}

// E2E runs the webapp's browser journey on a private stack (internal/e2e).
func (c Checks) E2E(ctx context.Context) error {
	_, err := webe2e.Run(ctx, webe2e.Options{Root: c.Root, Out: c.Out, Deps: c.Deps})
	return err
}

// CI runs every check, continuing past failures so one run shows them all.
func (c Checks) CI(ctx context.Context) error {
	return runSteps(ctx, c.Out, c.steps())
}

// step is one check of CI.
type step struct {
	name string
	run  func(context.Context) error
}

// steps are CI's checks, in the order it runs them.
func (c Checks) steps() []step {
	return []step{
		{"lint", c.Lint},
		{"generated code current", c.GeneratedCurrent},
		{"infra", c.Infra},
		{"ansible", c.Ansible},
		{"test", func(ctx context.Context) error { return c.Test(ctx, true) }},
		{"webapp", func(ctx context.Context) error { return webbuild.Check(ctx, c.Root, c.Out) }},
		{"e2e", c.E2E},
	}
}

// runSteps runs every step in order, continuing past failures, prints a
// summary (name, ok or FAILED, duration) and returns the failures joined,
// each prefixed with its step's name.
func runSteps(ctx context.Context, out io.Writer, steps []step) error {
	var errs []error
	var summary []string
	for _, s := range steps {
		start := time.Now()
		fmt.Fprintf(out, "\n=== ci: %s\n", s.name)
		err := s.run(ctx)
		state := "ok"
		if err != nil {
			state = "FAILED"
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		}
		summary = append(summary, fmt.Sprintf("  %-24s %-6s %s", s.name, state, time.Since(start).Round(time.Second)))
	}
	fmt.Fprintf(out, "\n=== ci summary\n%s\n", strings.Join(summary, "\n"))
	return errors.Join(errs...)
}
