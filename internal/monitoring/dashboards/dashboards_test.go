package dashboards_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/monitoring/dashboards"
	"github.com/groundwork-dev/groundwork/internal/monitoring/exported"
	"github.com/groundwork-dev/groundwork/internal/monitoring/rules"
)

const root = "../../.."

// The committed JSON is what the Go writes (go tool mage generate), and
// decodes into Grafana's own dashboard model with every query a
// Prometheus query on the datasource variable.
func TestCommittedJSONIsCurrentAndDecodes(t *testing.T) {
	t.Parallel()
	plugins.RegisterDefaultPlugins()
	uids := map[string]bool{}
	for _, b := range dashboards.Boards() {
		require.False(t, uids[b.UID], "uid %s twice", b.UID)
		uids[b.UID] = true
		require.LessOrEqual(t, len(b.UID), 40, "Grafana limits uids to 40 characters")

		want, err := b.JSON()
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(root, dashboards.Dir, b.UID+".json"))
		require.NoError(t, err, "run go tool mage generate")
		require.Equal(t, string(want), string(got), "%s.json is stale: run go tool mage generate", b.UID)

		var d dashboard.Dashboard //nolint:staticcheck // the classic model Build writes
		require.NoError(t, json.Unmarshal(got, &d), b.UID)
		require.Equal(t, b.Title, *d.Title)
		var exprs []string
		ids := map[uint32]bool{}
		for _, p := range d.Panels {
			if p.RowPanel != nil {
				require.False(t, ids[p.RowPanel.Id], "%s: panel id %d twice", b.UID, p.RowPanel.Id)
				ids[p.RowPanel.Id] = true
			}
			if p.Panel == nil {
				continue
			}
			require.NotNil(t, p.Panel.Id)
			require.False(t, ids[*p.Panel.Id], "%s: panel id %d twice", b.UID, *p.Panel.Id)
			ids[*p.Panel.Id] = true
			for _, target := range p.Panel.Targets {
				q, ok := target.(*prometheus.Dataquery)
				require.True(t, ok, "%s / %s: a %T, not a Prometheus query", b.UID, *p.Panel.Title, target)
				require.Equal(t, "${datasource}", *q.Datasource.Uid)
				exprs = append(exprs, q.Expr)
			}
		}
		var wantExprs []string
		for _, q := range b.Queries() {
			wantExprs = append(wantExprs, q.Expr)
		}
		require.Equal(t, wantExprs, exprs, b.UID)
	}
	entries, err := filepath.Glob(filepath.Join(root, dashboards.Dir, "*.json"))
	require.NoError(t, err)
	require.Len(t, entries, len(uids), "a JSON file without a board: go tool mage generate removes it")
}

// Grafana's variables a query may use, and what Prometheus gets instead.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// Every query parses with Prometheus's own parser and selects only metrics
// that exist: ours (the real registries' names), the recording rules',
// and the programs' we run beside ours at their pinned versions.
func TestEveryQueryParsesAndSelectsKnownMetrics(t *testing.T) {
	t.Parallel()
	known, err := exported.Names()
	require.NoError(t, err)
	files, err := rules.Load(root)
	require.NoError(t, err)
	recorded := map[string]bool{}
	for _, r := range rules.All(files) {
		recorded[r.Record] = r.Record != ""
	}
	for _, b := range dashboards.Boards() {
		for _, q := range b.Queries() {
			names, err := rules.MetricNames(grafanaVars.Replace(q.Expr))
			require.NoError(t, err, "%s / %s: %s", q.Board, q.Panel, q.Expr)
			require.NotEmpty(t, names, "%s / %s selects nothing", q.Board, q.Panel)
			for _, n := range names {
				_, ok := exported.Source(known, n)
				require.True(t, ok || recorded[n], "%s / %s: no program exports %s (internal/monitoring/exported)", q.Board, q.Panel, n)
			}
		}
	}
}

func TestWriteRemovesStaleBoards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, dashboards.Dir), 0o755))
	stale := filepath.Join(dir, dashboards.Dir, "old.json")
	require.NoError(t, os.WriteFile(stale, []byte("{}"), 0o644))
	names, err := dashboards.Write(dir)
	require.NoError(t, err)
	require.Len(t, names, len(dashboards.Boards()))
	require.NoFileExists(t, stale)
}
