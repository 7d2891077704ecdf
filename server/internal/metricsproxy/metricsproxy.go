// Package metricsproxy serves one upstream URL as /metrics and nothing
// else. Kratos exports its metrics only on its admin API, which may
// create, read and delete identities; the monitoring namespace must be
// able to scrape the metrics without reaching that API. This proxy runs
// as a sidecar in Kratos's pod, reads the admin port over the pod's
// loopback, and is the only port the NetworkPolicy opens to Prometheus.
package metricsproxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Handler serves GET /metrics from upstream and /healthz for probes;
// every other path is 404 and every other method 405. Upstream failures
// answer 502 without their details, which go to the log.
func Handler(upstream *url.URL, timeout time.Duration, log *slog.Logger) http.Handler {
	client := &http.Client{
		Timeout: timeout,
		// The upstream is a fixed loopback URL: a redirect would lead
		// somewhere this proxy was not configured to expose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstream.String(), nil)
		if err != nil {
			log.Error("metrics proxy: build request", "error", err)
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
			return
		}
		// Prometheus negotiates the exposition format (text or
		// OpenMetrics) through Accept; the upstream answers in kind.
		if a := r.Header.Get("Accept"); a != "" {
			req.Header.Set("Accept", a)
		}
		resp, err := client.Do(req)
		if err != nil {
			log.Warn("metrics proxy: upstream request failed", "error", err)
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			log.Warn("metrics proxy: upstream answered", "status", resp.Status)
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
			return
		}
		for _, h := range []string{"Content-Type", "Content-Encoding"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		if _, err := io.Copy(w, resp.Body); err != nil {
			log.Warn("metrics proxy: copy the upstream body", "error", err)
		}
	})
	return mux
}
