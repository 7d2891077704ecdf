package exported

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/shared/gomodule"
)

func TestNamesLoad(t *testing.T) {
	t.Parallel()
	names, err := Names()
	require.NoError(t, err)
	for name, want := range map[string]string{
		"grpc_server_handled_total":                            "groundwork",
		"http_requests_total":                                  "kratos",
		"cnpg_collector_up":                                    "cloudnative-pg",
		"certmanager_certificate_expiration_timestamp_seconds": "cert-manager",
		"nginx_ingress_controller_requests":                    "ingress-nginx",
		"container_cpu_usage_seconds_total":                    "kubernetes",
	} {
		require.Equal(t, want, names[name], name)
	}
	src, ok := Source(names, "grpc_server_handling_seconds_bucket")
	require.True(t, ok)
	require.Equal(t, "groundwork", src)
	_, ok = Source(names, "grpc_server_handling_seconds_total")
	require.False(t, ok)
	_, ok = Source(names, "pgqueue_jobs_failed")
	require.False(t, ok)
}

// moduleDir is the directory of module@version, from the module proxy.
func moduleDir(t *testing.T, modVersion string) string {
	t.Helper()
	mod, version, _ := strings.Cut(modVersion, "@")
	dir, err := gomodule.Dir(t.Context(), mod, version)
	require.NoError(t, err)
	return dir
}

func listed(t *testing.T, file, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			require.True(t, strings.HasPrefix(line, prefix), "%s: %s", file, line)
			out = append(out, line)
		}
	}
	return out
}

// The CloudNativePG list is exactly what the pinned module exports: its
// default queries and its collectors.
func TestCloudNativePGListMatchesItsSource(t *testing.T) {
	t.Parallel()
	dir := moduleDir(t, "github.com/cloudnative-pg/cloudnative-pg@v1.29.0")
	b, err := os.ReadFile(filepath.Join(dir, "config/manager/default-monitoring.yaml"))
	require.NoError(t, err)
	var cm struct {
		Data struct{ Queries string } `json:"data"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cm))
	var queries map[string]struct {
		Metrics []map[string]struct{ Usage string } `json:"metrics"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(cm.Data.Queries), &queries))
	var want []string
	for q, spec := range queries {
		for _, m := range spec.Metrics {
			for col, c := range m {
				if c.Usage != "LABEL" && c.Usage != "DISCARD" {
					want = append(want, "cnpg_"+q+"_"+col)
				}
			}
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, "pkg/management/postgres/webserver/metricserver/pg_collector.go"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`Subsystem: subsystem,\s*Name:\s*"([a-z_]+)"`).FindAllSubmatch(src, -1) {
		want = append(want, "cnpg_collector_"+string(m[1]))
	}
	slices.Sort(want)
	require.Equal(t, want, listed(t, "cloudnative-pg.txt", "cnpg_"))
}

// Every cert-manager and Kratos name is defined in the pinned module's
// source.
func TestUpstreamNamesAreInTheirSource(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file, module, dir, prefix string
	}{
		{"cert-manager.txt", "github.com/cert-manager/cert-manager@v1.21.2", ".", "certmanager_"},
		{"kratos.txt", "github.com/ory/x@v0.0.660", "prometheusx", "http_"},
	} {
		dir := filepath.Join(moduleDir(t, c.module), c.dir)
		var src strings.Builder
		require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			src.Write(b)
			return err
		}))
		for _, name := range listed(t, c.file, c.prefix) {
			short := strings.TrimPrefix(name, c.prefix)
			require.True(t, strings.Contains(src.String(), `"`+short+`"`) || strings.Contains(src.String(), `"`+name+`"`),
				"%s: %s is not defined in %s", c.file, name, c.module)
		}
	}
}
