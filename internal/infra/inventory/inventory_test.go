package inventory

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite ansible/inventory/sample/hosts.yml")

const root = "../../.."

// fixture is the inventory output terraform/envs/prod/tests/prod.tftest.hcl
// asserts the environment produces (against mocks).
func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "terraform/envs/prod/tests/inventory.json"))
	require.NoError(t, err)
	return b
}

// The committed sample is what infra:inventory writes for the output the
// Terraform test asserts, and ansible-inventory reads it into the groups
// and hosts the playbooks use, the nodes reached through the bastion.
func TestSampleFromTheTerraformOutput(t *testing.T) {
	t.Parallel()
	o, err := Parse(fixture(t))
	require.NoError(t, err)
	got, err := Render(o)
	require.NoError(t, err)
	sample := filepath.Join(root, Path("sample"))
	if *update {
		require.NoError(t, os.WriteFile(sample, got, 0o644))
	}
	want, err := os.ReadFile(sample)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "%s is not current: go test ./internal/infra/inventory -update", Path("sample"))

	ai := requireAnsibleInventory(t)
	out, err := exec.CommandContext(t.Context(), ai, "--list", "-i", sample).Output()
	require.NoError(t, err, "ansible-inventory --list")
	var inv map[string]struct {
		Hosts    []string `json:"hosts"`
		Children []string `json:"children"`
	}
	require.NoError(t, json.Unmarshal(out, &inv))
	require.ElementsMatch(t, []string{"groundwork-prod-cp-1", "groundwork-prod-cp-2", "groundwork-prod-cp-3"}, inv["control_plane"].Hosts)
	require.ElementsMatch(t, []string{"groundwork-prod-worker-1", "groundwork-prod-worker-2", "groundwork-prod-worker-3"}, inv["workers"].Hosts)
	require.ElementsMatch(t, []string{"groundwork-prod-bastion"}, inv["bastion"].Hosts)
	require.ElementsMatch(t, []string{"control_plane", "workers"}, inv["cluster"].Children)

	host, err := exec.CommandContext(t.Context(), ai, "--host", "groundwork-prod-cp-2", "-i", sample).Output()
	require.NoError(t, err)
	var hv map[string]any
	require.NoError(t, json.Unmarshal(host, &hv))
	require.Equal(t, "10.20.0.11", hv["ansible_host"])
	require.Equal(t, "debian", hv["ansible_user"])
	require.Equal(t, "10.20.0.200:6443", hv["api_endpoint"])
	require.Contains(t, hv["ansible_ssh_common_args"], "ProxyJump=debian@198.51.100.10")
	host, err = exec.CommandContext(t.Context(), ai, "--host", "groundwork-prod-bastion", "-i", sample).Output()
	require.NoError(t, err)
	hv = nil
	require.NoError(t, json.Unmarshal(host, &hv))
	require.NotContains(t, hv, "ansible_ssh_common_args", "the bastion is reached directly")
}

func requireAnsibleInventory(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ansible-inventory")
	if err != nil {
		if os.Getenv("GROUNDWORK_REQUIRE_ANSIBLE") == "1" {
			t.Fatalf("ansible-inventory is not installed and GROUNDWORK_REQUIRE_ANSIBLE=1: %v", err)
		}
		t.Skip("ansible-inventory is not installed (apt-get install ansible-core; go tool mage test installs it); set GROUNDWORK_REQUIRE_ANSIBLE=1 to make this a failure")
	}
	return p
}

// Bad outputs are refused with what is wrong, and nothing is written.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func(m map[string]any)
		want string
	}{
		"unknown field":    {func(m map[string]any) { m["extra"] = 1 }, `unknown field "extra"`},
		"no control plane": {func(m map[string]any) { m["control_plane"] = map[string]any{} }, "no control-plane nodes"},
		"bad address":      {func(m map[string]any) { m["workers"].(map[string]any)["groundwork-prod-worker-1"] = "10.20.0" }, `address "10.20.0"`},
		"bad host name":    {func(m map[string]any) { m["workers"].(map[string]any)["Worker_1"] = "10.20.0.30" }, "is not a DNS label"},
		"endpoint no port": {func(m map[string]any) { m["api"].(map[string]any)["endpoint"] = "10.20.0.200" }, "is not host:port"},
		"host twice":       {func(m map[string]any) { m["workers"].(map[string]any)["groundwork-prod-cp-1"] = "10.20.0.30" }, "host groundwork-prod-cp-1 twice"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			require.NoError(t, json.Unmarshal(fixture(t), &m))
			tc.edit(m)
			raw, err := json.Marshal(m)
			require.NoError(t, err)
			dir := t.TempDir()
			_, err = WriteOutput(dir, "prod", raw)
			require.ErrorContains(t, err, tc.want)
			_, statErr := os.Stat(filepath.Join(dir, Path("prod")))
			require.True(t, os.IsNotExist(statErr), "nothing written")
		})
	}
}
