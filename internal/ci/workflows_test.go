package ci

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const repoRoot = "../.."

// workflow is the part of a GitHub Actions workflow these tests read.
type workflow struct {
	Permissions any            `yaml:"permissions"`
	Jobs        map[string]job `yaml:"jobs"`
}

type job struct {
	Permissions any          `yaml:"permissions"`
	Timeout     any          `yaml:"timeout-minutes"`
	Steps       []actionStep `yaml:"steps"`
}

type actionStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
}

func workflows(t *testing.T) map[string]workflow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]workflow{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var w workflow
		require.NoError(t, yaml.Unmarshal(b, &w), p)
		out[filepath.Base(p)] = w
	}
	return out
}

// readmeTestCommand is the command under the README's "Run every check, as
// CI does".
func readmeTestCommand(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "## Run every check, as CI does")
	require.True(t, ok, "README has no section \"Run every check, as CI does\"")
	m := regexp.MustCompile("(?s)```sh\n(.*?)\n```").FindStringSubmatch(after)
	require.NotNil(t, m)
	return strings.TrimSpace(m[1])
}

// CI on GitHub runs the README's test command, as .ci/run does: one
// source of truth, no second copy of the checks in YAML.
func TestCIRunsTheREADMECommand(t *testing.T) {
	t.Parallel()
	cmd := readmeTestCommand(t)
	require.Equal(t, "go tool mage ci", cmd)
	run, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	require.NoError(t, err)
	require.Contains(t, string(run), "\nexec "+cmd+"\n")

	ci := workflows(t)["ci.yaml"]
	require.NotEmpty(t, ci.Jobs, "no ci.yaml")
	var runs []string
	for _, j := range ci.Jobs {
		for _, s := range j.Steps {
			if s.Run != "" && !strings.Contains(s.Run, "apt-get") {
				runs = append(runs, strings.TrimSpace(s.Run))
			}
		}
	}
	require.Equal(t, []string{cmd}, runs, "ci.yaml runs the README's command and nothing else (besides the packages the checkout needs)")
}

var pinned = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s+([^@\s]+)@([0-9a-f]{40}) # v\d+(\.\d+)*\s*$`)

// Every action is pinned to a full commit SHA with its version in a
// comment (Dependabot keeps both current), and every checkout leaves no
// credentials behind.
func TestActionsArePinnedBySHA(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yaml"))
	require.NoError(t, err)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "uses:") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				require.Regexp(t, pinned, line, "%s:%d: pin the action to a 40-hex commit SHA with `# vX.Y.Z`", filepath.Base(p), i+1)
			}
		}
	}
	for name, w := range workflows(t) {
		for jn, j := range w.Jobs {
			require.NotNil(t, j.Timeout, "%s: job %s has no timeout-minutes", name, jn)
			for _, s := range j.Steps {
				if strings.HasPrefix(s.Uses, "actions/checkout@") {
					require.Equal(t, "false", s.With["persist-credentials"], "%s: job %s checks out with credentials left in .git/config", name, jn)
				}
			}
		}
	}
}

// writes lists the scopes a permissions block grants write on.
func writes(perms any) []string {
	var out []string
	switch p := perms.(type) {
	case string:
		if p == "write-all" {
			out = append(out, "all")
		}
	case map[string]any:
		for scope, level := range p {
			if level == "write" {
				out = append(out, scope)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Least privilege: read-only tokens everywhere, write scopes only on the
// publishing jobs of publish.yaml.
func TestWritePermissionsOnlyInPublishJobs(t *testing.T) {
	t.Parallel()
	for name, w := range workflows(t) {
		require.Equal(t, map[string]any{"contents": "read"}, w.Permissions, "%s: the workflow's token is contents: read", name)
		for jn, j := range w.Jobs {
			if ws := writes(j.Permissions); len(ws) > 0 {
				require.Equal(t, "publish.yaml", name, "%s: job %s may write %v: only publish.yaml's jobs may", name, jn, ws)
			}
		}
	}
}

// Each cache is keyed on the files that invalidate it.
func TestCacheKeysNameTheirLockFiles(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"/root/go/pkg/mod":        {"'**/go.sum'", "'go.work.sum'"},
		"/root/.cache/groundwork": {"'tools/*/go.sum'", "'k8s/operators/versions.yaml'"},
		"/root/.npm":              {"'webapp/package-lock.json'"},
	}
	seen := map[string]bool{}
	for name, w := range workflows(t) {
		for _, j := range w.Jobs {
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "actions/cache@") {
					continue
				}
				first := strings.Fields(s.With["path"])[0]
				files, ok := want[first]
				require.True(t, ok, "%s: a cache of %s this test does not know", name, first)
				for _, f := range files {
					require.Contains(t, s.With["key"], f, "%s: the cache of %s must be keyed on %s", name, first, f)
				}
				seen[first] = true
			}
		}
	}
	for p := range want {
		require.True(t, seen[p], "no cache of %s", p)
	}
}
