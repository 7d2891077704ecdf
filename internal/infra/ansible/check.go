package ansible

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/groundwork-dev/groundwork/internal/infra/inventory"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

// TerraformFixture is the inventory output the Terraform test asserts the
// prod environment produces; Check renders it as infra:inventory would.
const TerraformFixture = "terraform/envs/prod/tests/inventory.json"

// Check is ansible:check, a step of mage ci: ansible-lint with the
// production profile (ansible/.ansible-lint), ansible-playbook
// --syntax-check on every playbook, and ansible-inventory on the sample
// inventory and on the one rendered from the Terraform test's output, each
// holding the groups the playbooks run on.
func (p Project) Check(ctx context.Context) error {
	if err := p.Deps.Ensure(ctx, sysdeps.Ansible(), sysdeps.AnsibleLint()); err != nil {
		return err
	}
	fmt.Fprintln(p.Out, "==> ansible-lint (production profile)")
	if err := p.run(ctx, "ansible-lint", "--nocolor"); err != nil {
		return fmt.Errorf("ansible-lint found problems: %w", err)
	}
	sample := filepath.Join(p.Root, inventory.Path("sample"))
	for _, pb := range Playbooks {
		fmt.Fprintf(p.Out, "==> ansible-playbook --syntax-check %s\n", pb)
		if err := p.run(ctx, "ansible-playbook", "--syntax-check", "-i", sample, pb); err != nil {
			return fmt.Errorf("syntax check of %s: %w", pb, err)
		}
	}
	tmp, err := os.MkdirTemp("", "inventory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rendered, err := p.renderFixture(tmp)
	if err != nil {
		return err
	}
	for _, inv := range []string{sample, rendered} {
		fmt.Fprintf(p.Out, "==> ansible-inventory %s\n", inv)
		if err := CheckInventory(ctx, inv); err != nil {
			return err
		}
	}
	return nil
}

// renderFixture writes the inventory infra:inventory would write for the
// Terraform test's output under dir.
func (p Project) renderFixture(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(p.Root, TerraformFixture))
	if err != nil {
		return "", err
	}
	path, err := inventory.WriteOutput(dir, "terraform", raw)
	if err != nil {
		return "", fmt.Errorf("render the inventory of %s: %w", TerraformFixture, err)
	}
	return path, nil
}

// CheckInventory reads an inventory with ansible-inventory and checks it
// has what site.yml needs: at least one control plane, the control planes
// and workers inside group cluster, and cluster_name and api_endpoint set.
func CheckInventory(ctx context.Context, path string) error {
	out, err := exec.CommandContext(ctx, "ansible-inventory", "--list", "-i", path).Output()
	if err != nil {
		return fmt.Errorf("ansible-inventory --list -i %s: %w%s", path, err, stderrOf(err))
	}
	var inv struct {
		Meta struct {
			HostVars map[string]map[string]any `json:"hostvars"`
		} `json:"_meta"`
		ControlPlane struct {
			Hosts []string `json:"hosts"`
		} `json:"control_plane"`
		Cluster struct {
			Children []string `json:"children"`
		} `json:"cluster"`
	}
	if err := json.Unmarshal(out, &inv); err != nil {
		return fmt.Errorf("read ansible-inventory's output for %s: %w", path, err)
	}
	if len(inv.ControlPlane.Hosts) == 0 {
		return fmt.Errorf("%s: group control_plane has no hosts", path)
	}
	for _, g := range []string{"control_plane", "workers"} {
		if !slices.Contains(inv.Cluster.Children, g) {
			return fmt.Errorf("%s: group %s is not a child of group cluster", path, g)
		}
	}
	first := inv.Meta.HostVars[inv.ControlPlane.Hosts[0]]
	for _, v := range []string{"cluster_name", "api_endpoint", "ansible_host"} {
		if s, _ := first[v].(string); s == "" {
			return fmt.Errorf("%s: %s has no %s", path, inv.ControlPlane.Hosts[0], v)
		}
	}
	return nil
}

func (p Project) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = p.Dir()
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	return cmd.Run()
}

// stderrOf is the standard error a failed exec.Cmd.Output kept, on a
// line of its own, or "".
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return "\n" + string(ee.Stderr)
	}
	return ""
}
