package metricsproxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// upstream stands in for Kratos's admin API: metrics on one path, and an
// identities API the proxy must never reach.
func upstream(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path)
		switch r.URL.Path {
		case "/admin/metrics/prometheus":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = io.WriteString(w, "http_requests_total{code=\"200\"} 3\n")
		case "/admin/slow":
			time.Sleep(200 * time.Millisecond)
		case "/admin/redirect":
			http.Redirect(w, r, "/admin/identities", http.StatusFound)
		default:
			_, _ = io.WriteString(w, `[{"id":"secret-identity"}]`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestServesOnlyTheMetrics(t *testing.T) {
	t.Parallel()
	up, seen := upstream(t)
	u, err := url.Parse(up.URL + "/admin/metrics/prometheus")
	require.NoError(t, err)
	h := Handler(u, time.Second, slog.New(slog.DiscardHandler))

	rec := get(t, h, http.MethodGet, "/metrics")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/plain; version=0.0.4", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Body.String(), "http_requests_total")

	for _, path := range []string{"/admin/identities", "/identities", "/metrics/../admin/identities", "/"} {
		rec := get(t, h, http.MethodGet, path)
		require.NotEqual(t, http.StatusOK, rec.Code, path)
		require.NotContains(t, rec.Body.String(), "secret-identity", path)
	}
	require.Equal(t, http.StatusMethodNotAllowed, get(t, h, http.MethodDelete, "/metrics").Code)
	require.Equal(t, http.StatusMethodNotAllowed, get(t, h, http.MethodPost, "/metrics").Code)
	require.Equal(t, http.StatusOK, get(t, h, http.MethodGet, "/healthz").Code)
	require.Equal(t, []string{"GET /admin/metrics/prometheus"}, *seen, "only the metrics path reaches the upstream")
}

func TestUpstreamFailuresAre502WithoutDetails(t *testing.T) {
	t.Parallel()
	up, _ := upstream(t)
	for name, path := range map[string]string{
		"slow":     "/admin/slow",
		"redirect": "/admin/redirect",
		"down":     "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw := up.URL + path
			if path == "" {
				raw = "http://127.0.0.1:1/metrics"
			}
			u, err := url.Parse(raw)
			require.NoError(t, err)
			var logs strings.Builder
			h := Handler(u, 50*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
			rec := get(t, h, http.MethodGet, "/metrics")
			require.Equal(t, http.StatusBadGateway, rec.Code)
			require.Equal(t, "upstream unavailable\n", rec.Body.String())
			require.NotContains(t, rec.Body.String(), "secret-identity")
			require.Contains(t, logs.String(), "metrics proxy")
		})
	}
}
