package rules_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/monitoring/exported"
	"github.com/groundwork-dev/groundwork/internal/monitoring/rules"
)

const root = "../../.."

func load(t *testing.T) []rules.File {
	t.Helper()
	files, err := rules.Load(root)
	require.NoError(t, err)
	return files
}

// Every rule decodes into the operator's type (Load), every expression
// parses with Prometheus 3's parser, and the plain files pass rulefmt.
func TestRulesParse(t *testing.T) {
	t.Parallel()
	files := load(t)
	for _, f := range files {
		_, err := f.Plain()
		require.NoError(t, err)
	}
	all := rules.All(files)
	require.NotEmpty(t, all)
	for _, r := range all {
		_, err := rules.ParseExpr(r.Expr.String())
		require.NoError(t, err, "%s: %s", r.File, r.Name())
	}
}

func TestLoadRefusesWhatTheOperatorWouldDrop(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"unknown field":    "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: up == 0\n          severity: critical\n",
		"not a rule":       "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\n",
		"bad expression":   "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: sum(rate(up[5m])\n",
		"record and alert": "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          record: b\n          expr: up\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, rules.Dir), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, rules.Dir, "x.yaml"), []byte(body), 0o644))
			files, err := rules.Load(dir)
			if err == nil {
				_, err = files[0].Plain()
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "x.yaml")
		})
	}
}

// Debian's promtool (2.42, the version a Debian host runs locally) checks
// the same plain files and runs the unit tests in TestDir.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool := requirePromtool(t)
	dir := t.TempDir()
	paths, err := rules.WritePlain(load(t), dir)
	require.NoError(t, err)
	out, err := exec.CommandContext(t.Context(), promtool, append([]string{"check", "rules"}, paths...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)

	tests, err := filepath.Glob(filepath.Join(root, rules.TestDir, "*.test.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	for _, src := range tests {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644))
	}
	cmd := exec.CommandContext(t.Context(), promtool, "test", "rules")
	for _, src := range tests {
		cmd.Args = append(cmd.Args, filepath.Base(src))
	}
	cmd.Dir = dir
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
}

func requirePromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("GROUNDWORK_REQUIRE_PROMTOOL") == "1" {
			t.Fatalf("promtool is not installed and GROUNDWORK_REQUIRE_PROMTOOL=1: %v", err)
		}
		t.Skip("promtool is not installed (apt-get install prometheus; go tool mage test installs it); set GROUNDWORK_REQUIRE_PROMTOOL=1 to make this a failure")
	}
	return p
}

// promtoolTests is the part of a promtool test file this test reads.
type promtoolTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string           `json:"alertname"`
			ExpAlerts []map[string]any `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// Each alert has a unit test where it fires and one where it stays quiet,
// and its file's tests name that file.
func TestEveryAlertFiresAndStaysQuietInATest(t *testing.T) {
	t.Parallel()
	fires, quiet := map[string]bool{}, map[string]bool{}
	tested := map[string]bool{}
	tests, err := filepath.Glob(filepath.Join(root, rules.TestDir, "*.test.yaml"))
	require.NoError(t, err)
	for _, p := range tests {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var pt promtoolTests
		require.NoError(t, yaml.Unmarshal(b, &pt), p)
		for _, f := range pt.RuleFiles {
			tested[f] = true
		}
		for _, tc := range pt.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	for _, f := range load(t) {
		require.True(t, tested[f.Name], "no promtool test file loads %s", f.Name)
	}
	for _, r := range rules.All(load(t)) {
		if r.Alert == "" {
			continue
		}
		require.True(t, fires[r.Alert], "no test where %s fires", r.Alert)
		require.True(t, quiet[r.Alert], "no test where %s stays quiet", r.Alert)
	}
}

var heading = regexp.MustCompile(`(?m)^## (\S+)$`)

// Each alert says what happened and what to do: a summary, a description,
// a severity a receiver can route on, and a runbook_url pointing at its
// section in docs/runbooks.md, which exists.
func TestEveryAlertHasARunbook(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "runbooks.md"))
	require.NoError(t, err)
	var sections []string
	for _, m := range heading.FindAllSubmatch(doc, -1) {
		sections = append(sections, string(m[1]))
	}
	var alerts []string
	for _, r := range rules.All(load(t)) {
		if r.Alert == "" {
			continue
		}
		alerts = append(alerts, r.Alert)
		require.NotEmpty(t, r.Annotations["summary"], r.Alert)
		require.NotEmpty(t, r.Annotations["description"], r.Alert)
		require.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
		require.Equal(t, rules.RunbookURL(r.Alert), r.Annotations["runbook_url"], r.Alert)
		require.Contains(t, sections, r.Alert, "docs/runbooks.md has no section %q", "## "+r.Alert)
	}
	for _, s := range sections {
		require.Contains(t, alerts, s, "docs/runbooks.md has a section for %s, which is no alert", s)
	}
}

func TestWritePlainRemovesStaleFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, "removed.yaml")
	require.NoError(t, os.WriteFile(stale, []byte("groups: []\n"), 0o644))
	paths, err := rules.WritePlain(load(t), dir)
	require.NoError(t, err)
	require.NoFileExists(t, stale)
	require.NotEmpty(t, paths)
	b, err := os.ReadFile(paths[0])
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("groups:")), "%s", b)
	require.False(t, slices.ContainsFunc(paths, func(p string) bool { return strings.HasSuffix(p, "removed.yaml") }))
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	got, err := rules.MetricNames(`sum(rate(b_total{job="x"}[5m])) / sum(rate(a_total[5m])) > 0 or absent(b_total)`)
	require.NoError(t, err)
	require.Equal(t, []string{"a_total", "b_total"}, got)
}

// Every metric a rule selects exists: exported by one of our processes or
// the programs beside them (internal/monitoring/exported), recorded by
// another rule, or Prometheus's own `up`.
func TestEveryRuleSelectsKnownMetrics(t *testing.T) {
	t.Parallel()
	known, err := exported.Names()
	require.NoError(t, err)
	all := rules.All(load(t))
	recorded := map[string]bool{"up": true}
	for _, r := range all {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	for _, r := range all {
		names, err := rules.MetricNames(r.Expr.String())
		require.NoError(t, err)
		for _, n := range names {
			_, ok := exported.Source(known, n)
			require.True(t, ok || recorded[n], "%s: %s selects %s, which no program exports", r.File, r.Name(), n)
		}
	}
}
