package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
)

var update = flag.Bool("update", false, "rewrite the list of exported metric names")

// exportedList is the committed list of every metric name the server and
// the worker export, which the dashboards' and rules' tests check their
// queries against (internal/monitoring/exported).
const exportedList = "../../../internal/monitoring/exported/groundwork.txt"

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// describe lists the names of every metric reg can export, also those no
// sample has been recorded for yet (a label vector before its first use).
func describe(reg *prometheus.Registry) []string {
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// The real processes' registries, wired as in production, export exactly
// the names in the committed list: a renamed or removed metric fails here
// and then in the dashboards' test, not silently in Grafana.
// go test ./internal/cli -run TestExportedMetricNames -update rewrites it.
func TestExportedMetricNames(t *testing.T) {
	t.Parallel()
	regs := make(chan *prometheus.Registry, 2)

	tree := tlsfilestest.New(t)
	db := pgtest.New(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, lis.Close())
	e := env(tree, db.URL)
	e["KRATOS_PUBLIC_URL"] = "http://" + lis.Addr().String()
	e["KRATOS_HOOK_KEY"] = strings.Repeat("k", 40)
	b := startWithOptions(t, e, tree, BuildAPI, options{registry: func(r *prometheus.Registry) { regs <- r }})
	w := startWorkerWith(t, nil, func(r *prometheus.Registry) { regs <- r })

	names := append(describe(<-regs), describe(<-regs)...)
	slices.Sort(names)
	names = slices.Compact(names)
	b.cancel()
	w.cancel()

	want := "# Every metric the server (serve) and the worker export: their registries'\n" +
		"# descriptions, kept current by server/internal/cli's TestExportedMetricNames\n" +
		"# (-update rewrites this file). Histograms are listed by their base name.\n" +
		strings.Join(names, "\n") + "\n"
	if *update {
		require.NoError(t, os.WriteFile(exportedList, []byte(want), 0o644))
	}
	got, err := os.ReadFile(exportedList)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "the exported metrics changed: run go test ./internal/cli -run TestExportedMetricNames -update in server/, then check the dashboards and rules")
	require.Contains(t, names, "groundwork_build_info")
	require.Contains(t, names, "grpc_server_refused_total", "label vectors are listed before their first sample")
}

// metrics-proxy serves the upstream's metrics on its port and stops on
// the signal context.
func TestMetricsProxyCommand(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/metrics/prometheus" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "http_requests_total 1\n")
	}))
	t.Cleanup(up.Close)
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"metrics-proxy", "--listen", "127.0.0.1:0", "--upstream", up.URL + "/admin/metrics/prometheus"},
			func(string) string { return "" }, io.Discard, &stderr, options{proxyStarted: func(a net.Addr) { addrs <- a }})
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case code := <-done:
		t.Fatalf("exited with %d: %s", code, stderr.String())
	}
	code, body := requesttest.Get(t, "http://"+addr.String()+"/metrics", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "http_requests_total 1\n", body)
	code, _ = requesttest.Get(t, "http://"+addr.String()+"/admin/identities", nil)
	require.Equal(t, http.StatusNotFound, code)
	cancel()
	require.Equal(t, ExitOK, <-done)
}
