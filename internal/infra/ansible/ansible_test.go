package ansible

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

// groupVars reads ansible/group_vars/all/main.yml.
func groupVars(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "ansible/group_vars/all/main.yml"))
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, yaml.Unmarshal(b, &v))
	return v
}

// The playbooks' pins agree with the rest of the project: the Kubernetes
// release with the local control plane's (and the kubeadm that checks the
// configuration), the address ranges with the ones Terraform keeps the
// node subnet out of, the stand-ins with the pins they stand in for.
func TestPinsAgree(t *testing.T) {
	t.Parallel()
	v := groupVars(t)
	require.Equal(t, strings.TrimPrefix(toolbuild.KubernetesVersion, "v"), v["kubernetes_version"])
	require.Equal(t, k8sPackageVersion, v["kubernetes_version"].(string)+"-"+v["kubernetes_package_revision"].(string))
	require.Equal(t, containerdVersion, v["containerd_package_version"])

	tf, err := os.ReadFile(filepath.Join(root, "terraform/envs/prod/variables.tf"))
	require.NoError(t, err)
	ranges := regexp.MustCompile(`for r in \["([0-9./]+)", "([0-9./]+)"\]`).FindStringSubmatch(string(tf))
	require.NotNil(t, ranges, "terraform/envs/prod/variables.tf no longer lists the pod and Service ranges")
	require.Equal(t, []string{v["pod_subnet"].(string), v["service_subnet"].(string)}, ranges[1:])
}

// A missing inventory says how to make one; reset's FORCE answer is the
// inventory's cluster name.
func TestInventoryAndClusterName(t *testing.T) {
	t.Parallel()
	p := Project{Root: root}
	_, err := p.Inventory("staging")
	require.ErrorContains(t, err, "INFRA_ENV=staging go tool mage infra:inventory")

	path, err := p.Inventory("sample")
	require.NoError(t, err)
	name, err := clusterName(path)
	require.NoError(t, err)
	require.Equal(t, "groundwork-prod", name)

	bad := filepath.Join(t.TempDir(), "hosts.yml")
	require.NoError(t, os.WriteFile(bad, []byte("all:\n  hosts: {}\n"), 0o644))
	_, err = clusterName(bad)
	require.ErrorContains(t, err, "names no cluster_name")
}

func requireAnsible(t *testing.T, pkgs ...sysdeps.Package) {
	t.Helper()
	for _, p := range pkgs {
		if p.Installed() {
			continue
		}
		msg := p.Name + " is not installed (apt-get install " + p.Name + "; go tool mage test installs it)"
		if os.Getenv("GROUNDWORK_REQUIRE_ANSIBLE") == "1" {
			t.Fatal(msg + " and GROUNDWORK_REQUIRE_ANSIBLE=1")
		}
		t.Skip(msg + "; set GROUNDWORK_REQUIRE_ANSIBLE=1 to make this a failure")
	}
}

// CheckInventory refuses inventories site.yml cannot run on.
func TestCheckInventoryRefuses(t *testing.T) {
	t.Parallel()
	requireAnsible(t, sysdeps.Ansible())
	for name, tc := range map[string]struct{ inv, want string }{
		"no control plane": {`all:
  children:
    cluster:
      children:
        control_plane: {}
        workers:
          hosts: {w1: {ansible_host: 10.0.0.2}}
  vars: {cluster_name: c, api_endpoint: "10.0.0.9:6443"}
`, "group control_plane has no hosts"},
		"workers outside cluster": {`all:
  children:
    cluster:
      children:
        control_plane:
          hosts: {cp1: {ansible_host: 10.0.0.1}}
    workers:
      hosts: {w1: {ansible_host: 10.0.0.2}}
  vars: {cluster_name: c, api_endpoint: "10.0.0.9:6443"}
`, "group workers is not a child of group cluster"},
		"no api endpoint": {`all:
  children:
    cluster:
      children:
        control_plane:
          hosts: {cp1: {ansible_host: 10.0.0.1}}
        workers:
          hosts: {w1: {ansible_host: 10.0.0.2}}
  vars: {cluster_name: c}
`, "cp1 has no api_endpoint"},
	} {
		path := filepath.Join(t.TempDir(), "hosts.yml")
		require.NoError(t, os.WriteFile(path, []byte(tc.inv), 0o644))
		require.ErrorContains(t, CheckInventory(t.Context(), path), tc.want, name)
	}
}

// ansible:check fails on what its tools catch, in a copy of ansible/: a
// lint violation of the production profile, a playbook that does not parse.
func TestCheckCatches(t *testing.T) {
	t.Parallel()
	requireAnsible(t, sysdeps.Ansible(), sysdeps.AnsibleLint())
	copyTree := func(t *testing.T) string {
		dir := t.TempDir()
		for _, sub := range []string{"ansible", "terraform/envs/prod/tests"} {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(sub)), 0o755))
			out, err := exec.Command("cp", "-a", filepath.Join(root, sub), filepath.Join(dir, sub)).CombinedOutput()
			require.NoError(t, err, "%s", out)
		}
		return dir
	}
	check := func(dir string) (string, error) {
		var out bytes.Buffer
		err := Project{Root: dir, Out: &out, Deps: sysdeps.New(&out)}.Check(t.Context())
		return out.String(), err
	}

	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		out, err := check(copyTree(t))
		require.NoError(t, err, out)
	})
	t.Run("lint", func(t *testing.T) {
		t.Parallel()
		dir := copyTree(t)
		tasks := filepath.Join(dir, "ansible/roles/node_prep/tasks/main.yml")
		b, err := os.ReadFile(tasks)
		require.NoError(t, err)
		// A command that always reports a change and has no name.
		require.NoError(t, os.WriteFile(tasks, append(b, "\n- ansible.builtin.command: swapon --show\n"...), 0o644))
		out, err := check(dir)
		require.ErrorContains(t, err, "ansible-lint found problems")
		require.Contains(t, out, "name[missing]")
		require.Contains(t, out, "no-changed-when")
	})
	t.Run("syntax", func(t *testing.T) {
		t.Parallel()
		dir := copyTree(t)
		// ansible-lint would report it too; the syntax check must on its own.
		require.NoError(t, os.WriteFile(filepath.Join(dir, "ansible/.ansible-lint"), []byte("profile: production\nexclude_paths: [upgrade.yml, inventory/]\noffline: true\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "ansible/upgrade.yml"), []byte("- name: Broken\n  hosts: cluster\n  tasks:\n    - name: No such module\n      ansible.builtin.no_such_module: {}\n"), 0o644))
		out, err := check(dir)
		require.ErrorContains(t, err, "syntax check of upgrade.yml", out)
	})
}
