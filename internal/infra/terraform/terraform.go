// Package terraform drives the Terraform code under terraform/ through
// terraform-exec: init, plan, apply and destroy of an environment
// (terraform/envs/<env>), its outputs, and the offline checks CI runs
// (fmt, validate, tflint, terraform test with mocked providers).
package terraform

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Dir is the Terraform tree, relative to the repository root: modules/
// and envs/<env>/.
const Dir = "terraform"

// ErrNoTerraform means the terraform binary is not on PATH.
var ErrNoTerraform = errors.New("terraform not found on PATH: install Terraform 1.9 or newer (https://developer.hashicorp.com/terraform/install)")

// Binary finds the user's terraform. Nothing is downloaded: the project
// uses the Terraform the user installed.
func Binary() (string, error) {
	p, err := exec.LookPath("terraform")
	if err != nil {
		return "", ErrNoTerraform
	}
	return p, nil
}

// Project is the Terraform tree of one checkout.
type Project struct {
	Root string // the repository root
	Bin  string // the terraform binary
	// CLIConfig is a Terraform CLI configuration file to use instead of
	// the user's own (the offline provider mirror, Mirror); "" keeps the
	// user's, which installs providers from the registry.
	CLIConfig string
	Out       io.Writer
	// In answers the confirmations of Apply and Destroy.
	In io.Reader
}

var envName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// EnvDir is terraform/envs/<env>, which must exist.
func (p Project) EnvDir(env string) (string, error) {
	if !envName.MatchString(env) {
		return "", fmt.Errorf("environment %q: a name of lower-case letters, digits and hyphens", env)
	}
	dir := filepath.Join(p.Root, Dir, "envs", env)
	if _, err := os.Stat(filepath.Join(dir, "main.tf")); err != nil {
		return "", fmt.Errorf("environment %q: no %s/envs/%s/main.tf", env, Dir, env)
	}
	return dir, nil
}

// tf is terraform-exec for dir, with the CLI configuration and output of p.
func (p Project) tf(dir string) (*tfexec.Terraform, error) {
	return p.terraform(dir, p.Out)
}

// terraform is terraform-exec for dir with the CLI configuration of p,
// showing Terraform's own output on out (nil: nowhere).
func (p Project) terraform(dir string, out io.Writer) (*tfexec.Terraform, error) {
	tf, err := tfexec.NewTerraform(dir, p.Bin)
	if err != nil {
		return nil, fmt.Errorf("terraform in %s: %w", dir, err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range tfexec.ProhibitedEnv(env) {
		delete(env, k) // terraform-exec sets these itself
	}
	if p.CLIConfig != "" {
		env["TF_CLI_CONFIG_FILE"] = p.CLIConfig
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, err
	}
	if out != nil {
		tf.SetStdout(out)
		tf.SetStderr(out)
	}
	return tf, nil
}

// cloudSetting is a terraform.tfvars line naming a clouds.yaml entry.
var cloudSetting = regexp.MustCompile(`(?m)^\s*cloud\s*=\s*"[^"]+"`)

// credentials checks that the OpenStack provider will find credentials
// before Terraform asks the cloud, so the error says what to set.
func credentials(envDir string, getenv func(string) string) error {
	if getenv("OS_CLOUD") != "" || getenv("OS_AUTH_URL") != "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(envDir, "terraform.tfvars"))
	if err == nil && cloudSetting.Match(b) {
		return nil
	}
	return errors.New("no OpenStack credentials: set cloud in terraform.tfvars or OS_CLOUD to an entry of clouds.yaml, or source your cloud's openrc (OS_AUTH_URL, ...); see docs/infrastructure.md")
}

// Init runs terraform init in the environment, with the backend settings
// of envs/<env>/backend.hcl (git-ignored; backend.hcl.example shows them).
func (p Project) Init(ctx context.Context, env string) error {
	dir, err := p.EnvDir(env)
	if err != nil {
		return err
	}
	backend := filepath.Join(dir, "backend.hcl")
	if _, err := os.Stat(backend); err != nil {
		return fmt.Errorf("environment %s: no backend.hcl, where the state is kept: copy %s/envs/%s/backend.hcl.example and fill it in", env, Dir, env)
	}
	tf, err := p.tf(dir)
	if err != nil {
		return err
	}
	if err := tf.Init(ctx, tfexec.BackendConfig(backend)); err != nil {
		return fmt.Errorf("terraform init in %s: %w", dir, err)
	}
	return nil
}

// planFile is where Plan leaves the plan Apply applies.
const planFile = ".terraform/groundwork.tfplan"

// Plan writes and shows the plan for env (destroy: the plan to destroy
// everything) and reports whether it changes anything.
func (p Project) Plan(ctx context.Context, env string, destroy bool) (bool, error) {
	dir, err := p.EnvDir(env)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(dir, "terraform.tfvars")); err != nil {
		return false, fmt.Errorf("environment %s: no terraform.tfvars: copy %s/envs/%s/terraform.tfvars.example and fill it in", env, Dir, env)
	}
	if err := credentials(dir, os.Getenv); err != nil {
		return false, err
	}
	tf, err := p.tf(dir)
	if err != nil {
		return false, err
	}
	changes, err := tf.Plan(ctx, tfexec.Out(planFile), tfexec.Destroy(destroy))
	if err != nil {
		return false, fmt.Errorf("terraform plan in %s: %w", dir, err)
	}
	return changes, nil
}

// Apply plans, asks for confirmation unless force, and applies exactly
// the plan shown.
func (p Project) Apply(ctx context.Context, env string, force bool) error {
	return p.planAndApply(ctx, env, false, force)
}

// Destroy plans the destruction of everything in env, asks for the
// environment's name unless force, and applies that plan.
func (p Project) Destroy(ctx context.Context, env string, force bool) error {
	return p.planAndApply(ctx, env, true, force)
}

func (p Project) planAndApply(ctx context.Context, env string, destroy, force bool) error {
	changes, err := p.Plan(ctx, env, destroy)
	if err != nil {
		return err
	}
	if !changes {
		fmt.Fprintf(p.Out, "infra: %s has no changes\n", env)
		return nil
	}
	if !force {
		what, want := "apply this plan to "+env, "yes"
		if destroy {
			what, want = "DESTROY every resource of "+env, env
		}
		if err := confirm(p.In, p.Out, what, want); err != nil {
			return err
		}
	}
	dir, _ := p.EnvDir(env)
	tf, err := p.tf(dir)
	if err != nil {
		return err
	}
	if err := tf.Apply(ctx, tfexec.DirOrPlan(planFile)); err != nil {
		return fmt.Errorf("terraform apply in %s: %w", dir, err)
	}
	return nil
}

// ErrNotConfirmed means the user did not type the confirmation.
var ErrNotConfirmed = errors.New("not confirmed: nothing was changed")

func confirm(in io.Reader, out io.Writer, what, want string) error {
	if in == nil {
		return fmt.Errorf("%w (no terminal to ask on; FORCE=1 skips the question)", ErrNotConfirmed)
	}
	fmt.Fprintf(out, "\nType %q to %s: ", want, what)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != want {
		return ErrNotConfirmed
	}
	return nil
}

// Outputs reads the environment's outputs (terraform output -json).
func (p Project) Outputs(ctx context.Context, env string) (map[string]tfexec.OutputMeta, error) {
	dir, err := p.EnvDir(env)
	if err != nil {
		return nil, err
	}
	// Not shown: terraform-exec reads the JSON itself.
	tf, err := p.terraform(dir, nil)
	if err != nil {
		return nil, err
	}
	out, err := tf.Output(ctx)
	if err != nil {
		return nil, fmt.Errorf("terraform output in %s: %w", dir, err)
	}
	return out, nil
}
