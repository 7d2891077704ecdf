package terraform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// project is a checkout whose terraform/envs/demo is testdata's stand-in
// environment, run by the real terraform with an empty CLI configuration
// (no provider is needed: terraform_data is built in).
func project(t *testing.T) (Project, *bytes.Buffer) {
	t.Helper()
	bin := requireTerraform(t)
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, Dir), os.DirFS("testdata")))
	rc := filepath.Join(root, "terraform.rc")
	require.NoError(t, os.WriteFile(rc, nil, 0o644))
	var out bytes.Buffer
	return Project{Root: root, Bin: bin, CLIConfig: rc, Out: &out}, &out
}

// requireTerraform is the machine's terraform, or skips the test.
func requireTerraform(t *testing.T) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("GROUNDWORK_REQUIRE_TERRAFORM") == "1" {
			t.Fatalf("%v, and GROUNDWORK_REQUIRE_TERRAFORM=1", err)
		}
		t.Skip("terraform is not installed (see docs/infrastructure.md); set GROUNDWORK_REQUIRE_TERRAFORM=1 to make this a failure")
	}
	return bin
}

func inventoryOf(t *testing.T, p Project) map[string]any {
	t.Helper()
	outs, err := p.Outputs(t.Context(), "demo")
	require.NoError(t, err)
	meta, ok := outs["inventory"]
	if !ok {
		return nil
	}
	var v map[string]any
	require.NoError(t, json.Unmarshal(meta.Value, &v))
	return v
}

// init, plan, apply (refused, then confirmed), outputs and destroy
// through terraform-exec against the real terraform binary.
func TestLifecycle(t *testing.T) {
	p, out := project(t)
	ctx := t.Context()
	dir, err := p.EnvDir("demo")
	require.NoError(t, err)
	_, err = p.EnvDir("staging")
	require.ErrorContains(t, err, "no terraform/envs/staging/main.tf")
	_, err = p.EnvDir("../demo")
	require.ErrorContains(t, err, "lower-case letters")

	require.ErrorContains(t, p.Init(ctx, "demo"), "no backend.hcl")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "backend.hcl"), []byte("path = \"demo.tfstate\"\n"), 0o644))
	require.NoError(t, p.Init(ctx, "demo"))

	_, err = p.Plan(ctx, "demo", false)
	require.ErrorContains(t, err, "no terraform.tfvars")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "terraform.tfvars"), []byte("nodes = 2\n"), 0o644))
	if os.Getenv("OS_CLOUD") == "" && os.Getenv("OS_AUTH_URL") == "" {
		_, err = p.Plan(ctx, "demo", false)
		require.ErrorContains(t, err, "no OpenStack credentials")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "terraform.tfvars"), []byte("cloud = \"demo\"\nnodes = 2\n"), 0o644))

	p.In = strings.NewReader("no\n")
	require.ErrorIs(t, p.Apply(ctx, "demo", false), ErrNotConfirmed)
	require.Nil(t, inventoryOf(t, p), "a refused apply changes nothing")
	require.Contains(t, out.String(), "2 to add")

	p.In = strings.NewReader("yes\n")
	require.NoError(t, p.Apply(ctx, "demo", false))
	require.Equal(t, map[string]any{"cloud": "demo", "nodes": []any{"node-1", "node-2"}}, inventoryOf(t, p))

	out.Reset()
	require.NoError(t, p.Apply(ctx, "demo", false), "no changes: no question")
	require.Contains(t, out.String(), "demo has no changes")

	p.In = strings.NewReader("yes\n")
	require.ErrorIs(t, p.Destroy(ctx, "demo", false), ErrNotConfirmed, "destroy wants the environment's name")
	require.NotNil(t, inventoryOf(t, p))
	p.In = nil
	require.ErrorIs(t, p.Destroy(ctx, "demo", false), ErrNotConfirmed, "no terminal, no force: no destroy")
	require.NoError(t, p.Destroy(ctx, "demo", true))
	require.Nil(t, inventoryOf(t, p))
}

func TestSettingsFromEnv(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	s, err := SettingsFromEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, Settings{Env: "prod"}, s)
	s, err = SettingsFromEnv(env(map[string]string{"INFRA_ENV": "staging", "FORCE": "1", "INFRA_OFFLINE": "1"}))
	require.NoError(t, err)
	require.Equal(t, Settings{Env: "staging", Force: true, Offline: true}, s)
	_, err = SettingsFromEnv(env(map[string]string{"FORCE": "yes"}))
	require.ErrorContains(t, err, `FORCE="yes": set 1 or leave it unset`)
	_, err = SettingsFromEnv(env(map[string]string{"INFRA_ENV": "../prod"}))
	require.ErrorContains(t, err, "INFRA_ENV")
}
