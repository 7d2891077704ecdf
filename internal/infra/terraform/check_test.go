package terraform

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
)

// checkProject is a copy of this checkout's terraform/ (and the provider's
// pin) that a test may break, checked with the offline mirror and tflint.
func checkProject(t *testing.T) (Project, string) {
	t.Helper()
	const repo = "../../.."
	bin := requireTerraform(t)
	rc, err := Mirror(t.Context(), repo, io.Discard)
	require.NoError(t, err)
	tflint, err := toolbuild.Ensure(t.Context(), repo, toolbuild.TFLint, io.Discard)
	require.NoError(t, err)
	root := t.TempDir()
	require.NoError(t, copyTree(filepath.Join(repo, Dir), filepath.Join(root, Dir)))
	var out strings.Builder
	return Project{Root: root, Bin: bin, CLIConfig: rc, Out: &out}, tflint
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), old)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644))
}

// The checks fail on what they are there to catch: unformatted code; then
// the API opened to the internet (a terraform test assertion), an even
// control-plane count accepted (expect_failures) and an unused variable
// (tflint), all reported in one run.
func TestCheckCatches(t *testing.T) {
	t.Parallel()
	p, tflint := checkProject(t)
	ctx := t.Context()
	tree := filepath.Join(p.Root, Dir)

	vars := filepath.Join(tree, "modules/network/variables.tf")
	edit(t, vars, `  type        = string`, `  type = string`)
	err := p.Check(ctx, tflint)
	require.ErrorContains(t, err, "not formatted")
	require.ErrorContains(t, err, "variables.tf")
	edit(t, vars, `  type = string`, `  type        = string`)

	edit(t, filepath.Join(tree, "modules/security/main.tf"),
		`control-plane-api = { group = "control_plane", protocol = "tcp", from = 6443, to = 6443, from_cidr = var.cidr, from_group = null }`,
		`control-plane-api = { group = "control_plane", protocol = "tcp", from = 6443, to = 6443, from_cidr = "0.0.0.0/0", from_group = null }`)
	edit(t, filepath.Join(tree, "envs/prod/variables.tf"), `var.control_plane_count % 2 == 1`, `var.control_plane_count % 1 == 0`)
	require.NoError(t, os.WriteFile(filepath.Join(tree, "modules/apilb/extra.tf"), []byte("variable \"unused\" {\n  description = \"Nothing.\"\n  type        = string\n  default     = \"\"\n}\n"), 0o644))
	err = p.Check(ctx, tflint)
	require.Error(t, err)
	for _, want := range []string{
		"terraform/modules/security: terraform test",
		"6443 is open on something other than the control plane, or from outside the cluster subnet",
		"terraform/envs/prod: terraform test",
		`"even_control_plane"... fail`,
		"tflint",
		`variable "unused" is declared but not used`,
	} {
		require.ErrorContains(t, err, want)
	}
}
