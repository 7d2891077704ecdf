package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"
)

// MetricsProxy is the validated configuration of `server metrics-proxy`.
type MetricsProxy struct {
	// Addr is where /metrics is served (the pod's port named metrics).
	Addr string
	// Upstream is the one URL whose body /metrics returns, e.g. Kratos's
	// http://127.0.0.1:4434/admin/metrics/prometheus.
	Upstream *url.URL
	// Timeout bounds one upstream request.
	Timeout time.Duration

	LogFormat string
	LogLevel  slog.Level
}

var (
	sProxyAddr     = setting{"listen", "METRICS_PROXY_ADDR"}
	sProxyUpstream = setting{"upstream", "METRICS_PROXY_UPSTREAM"}
	sProxyTimeout  = setting{"timeout", "METRICS_PROXY_TIMEOUT"}
)

// ParseMetricsProxy reads the flags of `server metrics-proxy` as Parse
// does those of `server serve`.
func ParseMetricsProxy(name string, args []string, getenv func(string) string, output io.Writer) (MetricsProxy, error) {
	c := MetricsProxy{LogLevel: slog.LevelInfo}
	var upstream string
	p := newParser(name)
	p.str(&c.Addr, sProxyAddr, "0.0.0.0:9464", "listen address of /metrics")
	p.str(&upstream, sProxyUpstream, "", "the URL /metrics returns, on the pod's loopback (e.g. http://127.0.0.1:4434/admin/metrics/prometheus)")
	p.dur(&c.Timeout, sProxyTimeout, 5*time.Second, "deadline of one upstream request")
	p.str(&c.LogFormat, sLogFormat, LogText, "log format: text or json")
	p.level(&c.LogLevel, sLogLevel)
	if err := p.parse(args, getenv, output); err != nil {
		return MetricsProxy{}, err
	}
	var errs []error
	bad := func(s setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", s, fmt.Sprintf(format, args...)))
	}
	if err := checkAddr(c.Addr); err != nil {
		bad(sProxyAddr, "%v", err)
	}
	u, err := url.Parse(upstream)
	switch {
	case upstream == "":
		bad(sProxyUpstream, "required: the metrics URL to serve")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad(sProxyUpstream, "want an http(s) URL with a host, got %q", upstream)
	case u.User != nil:
		// A password here would show in ps and in the pod spec.
		bad(sProxyUpstream, "must not carry credentials")
	default:
		c.Upstream = u
	}
	if c.Timeout <= 0 {
		bad(sProxyTimeout, "must be positive")
	}
	if c.LogFormat != LogText && c.LogFormat != LogJSON {
		bad(sLogFormat, "must be %q or %q", LogText, LogJSON)
	}
	if len(errs) > 0 {
		return MetricsProxy{}, errors.Join(errs...)
	}
	return c, nil
}
