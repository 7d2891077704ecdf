package devstack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/monitoring/dashboards"
	"github.com/groundwork-dev/groundwork/internal/monitoring/exported"
	"github.com/groundwork-dev/groundwork/internal/monitoring/rules"
)

// clusterOnly are the panels whose metrics only exist in a cluster:
// CloudNativePG's exporter, ingress-nginx, cert-manager, the kubelet's
// cAdvisor and kube-state-metrics. Every other panel must show data on a
// local stack; a panel that moves between the two fails the test.
var clusterOnly = map[string]bool{
	"groundwork-postgres/Instances up":                      true,
	"groundwork-postgres/Connections by state":              true,
	"groundwork-postgres/Transactions":                      true,
	"groundwork-postgres/Replication lag":                   true,
	"groundwork-postgres/WAL and archiving":                 true,
	"groundwork-postgres/Transaction ID age":                true,
	"groundwork-postgres/Database size":                     true,
	"groundwork-edge/Ingress requests by status":            true,
	"groundwork-edge/Ingress 5xx ratio":                     true,
	"groundwork-edge/Ingress p99 latency":                   true,
	"groundwork-edge/Time to expiry":                        true,
	"groundwork-infrastructure/CPU by pod":                  true,
	"groundwork-infrastructure/Memory by pod (working set)": true,
	"groundwork-infrastructure/Restarts (1 h)":              true,
}

// promQuery runs an instant query on the stack's Prometheus and returns
// how many series (or 1 for a scalar) it answered.
func promQuery(t *testing.T, cfg Config, expr string) int {
	t.Helper()
	resp, err := http.Get(cfg.PrometheusURL() + "/api/v1/query?query=" + url.QueryEscape(expr))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", expr, b)
	var r struct {
		Data struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &r))
	if r.Data.ResultType == "scalar" {
		return 1
	}
	var series []json.RawMessage
	require.NoError(t, json.Unmarshal(r.Data.Result, &series))
	return len(series)
}

func postJSON(t *testing.T, url, token, body string, wantStatus int, into any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Session-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, wantStatus, resp.StatusCode, "%s: %s", url, b)
	if into != nil {
		require.NoError(t, json.Unmarshal(b, into))
	}
}

// The local Prometheus scrapes every process of a private stack with the
// cluster's labels and runs the cluster's rules; after traffic (API calls,
// failing calls, an export job) every dashboard query for a component that
// runs locally returns data through Prometheus's HTTP API.
func TestEveryLocalDashboardQueryReturnsData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.stack.Up(t.Context()))
	cfg := b.cfg

	// Traffic: a registered user reads itself, creates an account and
	// exports it (a job for the worker); calls without a session and with
	// bad input fail.
	token := registerWithKratos(t, cfg, "metrics@example.com")
	api := "http://" + cfg.ServerGatewayAddr() + "/api/v1"
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, api+"/me", nil)
		req.Header.Set("X-Session-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond)
	var acc struct {
		Account struct{ ID string } `json:"account"`
	}
	postJSON(t, api+"/accounts", token, `{"name":"Metrics Inc"}`, http.StatusOK, &acc)
	postJSON(t, api+"/accounts/"+acc.Account.ID+"/exports", token, `{}`, http.StatusOK, nil)
	postJSON(t, api+"/accounts", token, `{"name":""}`, http.StatusBadRequest, nil)
	getJSON(t, api+"/me", "", http.StatusUnauthorized, nil)

	// Wait until Prometheus has seen the job done and the failures.
	for _, expr := range []string{
		`sum(pgqueue_jobs_completed_total{job="worker",kind="account.export"}) > 0`,
		`sum(grpc_server_handled_total{job="server",grpc_code="Unauthenticated"}) > 0`,
		`sum(grpc_server_handled_total{job="server",grpc_code="InvalidArgument"}) > 0`,
		`sum(http_requests_total{job="kratos",exported_endpoint=~".*registration.*"}) > 0`,
	} {
		require.Eventually(t, func() bool { return promQuery(t, cfg, expr) > 0 }, 45*time.Second, 250*time.Millisecond, expr)
	}
	time.Sleep(3 * cfg.scrapeInterval()) // a few more samples for the rates

	// Every target up with the labels the ServiceMonitors give.
	health, err := PrometheusHealth(t.Context(), cfg.PrometheusURL())
	require.NoError(t, err)
	require.Contains(t, health, "4/4 targets up")
	for _, job := range []string{"server", "worker", "kratos"} {
		require.Equal(t, 1, promQuery(t, cfg, fmt.Sprintf(`up{job=%q,namespace=~"groundwork.*",pod=%q} == 1`, job, job+"-local")), job)
	}

	// The cluster's rules, loaded and evaluated without error.
	files, err := rules.Load(cfg.Root)
	require.NoError(t, err)
	var ruleResp struct {
		Data struct {
			Groups []struct {
				Name  string
				Rules []struct{ Name, Health, LastError string }
			}
		}
	}
	resp, err := http.Get(cfg.PrometheusURL() + "/api/v1/rules")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ruleResp))
	resp.Body.Close()
	loaded := 0
	for _, g := range ruleResp.Data.Groups {
		for _, r := range g.Rules {
			loaded++
			require.NotEqual(t, "err", r.Health, "%s/%s: %s", g.Name, r.Name, r.LastError)
		}
	}
	require.Len(t, rules.All(files), loaded)

	// Every dashboard query.
	known, err := exported.Names()
	require.NoError(t, err)
	recorded := map[string]bool{}
	for _, r := range rules.All(files) {
		recorded[r.Record] = r.Record != ""
	}
	window := strings.NewReplacer("$__rate_interval", "30s")
	seenClusterOnly := map[string]bool{}
	for _, board := range dashboards.Boards() {
		for _, q := range board.Queries() {
			panel := q.Board + "/" + q.Panel
			names, err := rules.MetricNames(window.Replace(q.Expr))
			require.NoError(t, err)
			local := true
			for _, n := range names {
				src, ok := exported.Source(known, n)
				local = local && (recorded[n] || (ok && exported.Local(src)))
			}
			if !local {
				require.True(t, clusterOnly[panel], "%s needs the cluster: list it in clusterOnly", panel)
				seenClusterOnly[panel] = true
				continue
			}
			require.False(t, clusterOnly[panel], "%s is listed as cluster-only but queries local metrics", panel)
			require.Positive(t, promQuery(t, cfg, window.Replace(q.Expr)), "%s: no data for %s", panel, q.Expr)
		}
	}
	require.Len(t, seenClusterOnly, len(clusterOnly), "a clusterOnly panel that no board has any more")
}
