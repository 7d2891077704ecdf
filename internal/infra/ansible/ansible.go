// Package ansible runs the playbooks under ansible/ — site.yml (the
// cluster), reset.yml and upgrade.yml — against an environment's inventory
// (ansible/inventory/<env>/hosts.yml, which infra:inventory writes from the
// Terraform outputs), and checks them offline for mage ci: ansible-lint,
// syntax checks and the inventories.
package ansible

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/internal/infra/inventory"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

// Playbooks are the playbooks under ansible/, each checked by Check.
var Playbooks = []string{"site.yml", "reset.yml", "upgrade.yml"}

// Project runs Ansible in Root/ansible, where ansible.cfg applies.
type Project struct {
	Root string
	Out  io.Writer
	In   io.Reader // for reset.yml's confirmation prompt
	Deps *sysdeps.Installer
}

// Dir is the Ansible directory.
func (p Project) Dir() string { return filepath.Join(p.Root, "ansible") }

// Inventory is the path of env's inventory; an error says how to make it
// when it is missing.
func (p Project) Inventory(env string) (string, error) {
	path := filepath.Join(p.Root, inventory.Path(env))
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("no inventory for environment %s (%s): run INFRA_ENV=%s go tool mage infra:inventory after infra:apply, or write it by hand like ansible/inventory/sample/hosts.yml", env, inventory.Path(env), env)
		}
		return "", err
	}
	return path, nil
}

// Install runs site.yml on env: the cluster built, or left as it is when
// it runs already.
func (p Project) Install(ctx context.Context, env string) error {
	return p.playbook(ctx, env, "site.yml")
}

// Upgrade runs upgrade.yml on env, one machine at a time.
func (p Project) Upgrade(ctx context.Context, env string) error {
	return p.playbook(ctx, env, "upgrade.yml")
}

// Reset runs reset.yml on env. reset.yml asks for the cluster's name;
// force answers it from the inventory.
func (p Project) Reset(ctx context.Context, env string, force bool) error {
	var extra []string
	if force {
		path, err := p.Inventory(env)
		if err != nil {
			return err
		}
		name, err := clusterName(path)
		if err != nil {
			return err
		}
		extra = append(extra, "--extra-vars", "reset_confirm="+name)
	}
	return p.playbook(ctx, env, "reset.yml", extra...)
}

func (p Project) playbook(ctx context.Context, env, playbook string, extra ...string) error {
	if err := p.Deps.Ensure(ctx, sysdeps.Ansible()); err != nil {
		return err
	}
	inv, err := p.Inventory(env)
	if err != nil {
		return err
	}
	args := append([]string{"-i", inv}, extra...)
	args = append(args, playbook)
	cmd := exec.CommandContext(ctx, "ansible-playbook", args...)
	cmd.Dir = p.Dir()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.In, p.Out, p.Out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ansible-playbook %s on %s: %w", playbook, env, err)
	}
	return nil
}

// clusterName reads cluster_name from an inventory's top-level vars, as
// infra:inventory writes it.
func clusterName(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var inv struct {
		All struct {
			Vars struct {
				ClusterName string `yaml:"cluster_name"`
			} `yaml:"vars"`
		} `yaml:"all"`
	}
	if err := yaml.Unmarshal(b, &inv); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if inv.All.Vars.ClusterName == "" {
		return "", fmt.Errorf("%s names no cluster_name under all.vars", path)
	}
	return inv.All.Vars.ClusterName, nil
}
