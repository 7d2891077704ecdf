package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/monitoring/rules"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

// The local Prometheus: Debian's binary on PrometheusPort (19090, not the
// package's own :9090 service), scraping the stack's processes with the
// labels the cluster's ServiceMonitors give them, and evaluating the
// cluster's rules (k8s/base/monitoring/rules, turned into plain rule
// files). Its data stays under .dev/prometheus/ across restarts.

// PrometheusURL is the local Prometheus's UI and HTTP API.
func (c Config) PrometheusURL() string { return "http://" + c.addr(c.Port(EnvPrometheusPort)) }

func (c Config) prometheusDir() string { return filepath.Join(c.StateDir(), "prometheus") }

func (c Config) scrapeInterval() time.Duration {
	if c.ScrapeInterval > 0 {
		return c.ScrapeInterval
	}
	return 15 * time.Second
}

// ScrapeTarget is one process the local Prometheus scrapes, labelled as
// the cluster's monitors label its pods: job (the Service's name, as a
// ServiceMonitor sets it), namespace, service, endpoint (the port's
// name), pod and container.
type ScrapeTarget struct {
	Job, Namespace, Service, Endpoint, Container string
	Addr, Path                                   string
}

// ScrapeTargets are what the local Prometheus scrapes. devweb, the local
// origin, exports no metrics: the cluster's edge is ingress-nginx, whose
// metrics only exist there.
func (c Config) ScrapeTargets() []ScrapeTarget {
	return []ScrapeTarget{
		{Job: "server", Namespace: "groundwork", Service: "server", Endpoint: "ops", Container: "server",
			Addr: c.ServerOpsAddr(), Path: "/metrics"},
		{Job: "worker", Namespace: "groundwork", Service: "worker", Endpoint: "ops", Container: "worker",
			Addr: c.WorkerOpsAddr(), Path: "/metrics"},
		// In the cluster a metrics-only sidecar serves this path as
		// /metrics on the port named metrics; locally Prometheus reads
		// the admin port itself, which only it and the server reach.
		{Job: "kratos", Namespace: "groundwork-auth", Service: "kratos", Endpoint: "metrics", Container: "kratos",
			Addr: c.KratosAdminAddr(), Path: "/admin/metrics/prometheus"},
		{Job: "prometheus", Namespace: "monitoring", Service: "prometheus", Endpoint: "web", Container: "prometheus",
			Addr: c.addr(c.Port(EnvPrometheusPort)), Path: "/metrics"},
	}
}

// prometheusConfig renders prometheus.yml for the stack's ports.
func (c Config) prometheusConfig() ([]byte, error) {
	type staticConfig struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	type scrapeConfig struct {
		JobName       string         `json:"job_name"`
		MetricsPath   string         `json:"metrics_path"`
		StaticConfigs []staticConfig `json:"static_configs"`
	}
	interval := model(c.scrapeInterval())
	cfg := struct {
		Global struct {
			ScrapeInterval     string `json:"scrape_interval"`
			EvaluationInterval string `json:"evaluation_interval"`
		} `json:"global"`
		RuleFiles     []string       `json:"rule_files"`
		ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
	}{RuleFiles: []string{"rules/*.yaml"}}
	cfg.Global.ScrapeInterval, cfg.Global.EvaluationInterval = interval, interval
	for _, t := range c.ScrapeTargets() {
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, scrapeConfig{
			JobName: t.Job, MetricsPath: t.Path,
			StaticConfigs: []staticConfig{{Targets: []string{t.Addr}, Labels: map[string]string{
				"namespace": t.Namespace, "service": t.Service, "endpoint": t.Endpoint,
				"container": t.Container, "pod": t.Job + "-local",
			}}},
		})
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Written by go tool mage dev:up from the stack's ports; edits are overwritten.\n"), b...), nil
}

// model formats d as a Prometheus duration.
func model(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// writePrometheusFiles writes the configuration and the plain rule files
// and returns a digest of them: the process's fingerprint, so that a
// change restarts it.
func (s *Stack) writePrometheusFiles() (string, error) {
	dir := s.cfg.prometheusDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return "", fmt.Errorf("prometheus: %w", err)
	}
	files, err := rules.Load(s.cfg.Root)
	if err != nil {
		return "", fmt.Errorf("prometheus: %w", err)
	}
	paths, err := rules.WritePlain(files, filepath.Join(dir, "rules"))
	if err != nil {
		return "", fmt.Errorf("prometheus: write rules: %w", err)
	}
	conf, err := s.cfg.prometheusConfig()
	if err != nil {
		return "", fmt.Errorf("prometheus: render configuration: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), conf, 0o644); err != nil {
		return "", fmt.Errorf("prometheus: %w", err)
	}
	h := sha256.New()
	h.Write(conf)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (s *Stack) prometheusProcess(bin, digest string) *process {
	dir := s.cfg.prometheusDir()
	addr := s.cfg.addr(s.cfg.Port(EnvPrometheusPort))
	return &process{
		Name: "prometheus",
		Bin:  bin,
		Args: []string{
			"--config.file=" + filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--storage.tsdb.retention.time=7d",
			"--web.listen-address=" + addr,
		},
		// Not read by Prometheus: it puts the configuration's digest into
		// the fingerprint, so changed rules or ports restart it.
		Env:     []string{"GROUNDWORK_PROMETHEUS_CONFIG=" + digest},
		Dir:     dir,
		LogFile: filepath.Join(s.cfg.LogDir(), "prometheus.log"),
		PIDFile: filepath.Join(dir, "prometheus.pid"),
		Ports:   []string{addr},
		Ready:   func(ctx context.Context) error { return httpOK(ctx, s.cfg.PrometheusURL()+"/-/ready") },
	}
}

// prometheusComponent is the local Prometheus, last: its targets run.
type prometheusComponent struct{}

func (prometheusComponent) Name() string { return "prometheus" }

func (prometheusComponent) Ports() []Port { return []Port{{EnvPrometheusPort, 19090}} }

// Up installs Debian's prometheus when missing (as root; else it prints
// the command), writes its files and runs it.
func (prometheusComponent) Up(ctx context.Context, s *Stack) error {
	if err := s.deps.Ensure(ctx, sysdeps.Prometheus()); err != nil {
		return err
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return fmt.Errorf("prometheus: %w", err)
	}
	digest, err := s.writePrometheusFiles()
	if err != nil {
		return err
	}
	started, err := s.prometheusProcess(bin, digest).Start(ctx)
	if err != nil {
		return err
	}
	if started {
		fmt.Fprintf(s.out, "prometheus    started: %s (targets, alerts, graphs)\n", s.cfg.PrometheusURL())
	}
	return nil
}

func (prometheusComponent) Down(ctx context.Context, s *Stack) error {
	return s.stopProcess(ctx, s.prometheusProcess("prometheus", ""))
}

func (prometheusComponent) Check(ctx context.Context, s *Stack) []ComponentStatus {
	st := ComponentStatus{Name: "prometheus", Address: s.cfg.PrometheusURL()}
	var health string
	ready := func(ctx context.Context) error {
		h, err := PrometheusHealth(ctx, s.cfg.PrometheusURL())
		health = h
		return err
	}
	st = processStatus(ctx, st, s.prometheusProcess("prometheus", ""), ready, "")
	if st.Healthy {
		st.Health = health
	}
	return []ComponentStatus{st}
}

// PrometheusHealth summarizes a Prometheus's targets and rules: "4/4
// targets up, 27 rules loaded", or an error naming the targets whose last
// scrape failed and why.
func PrometheusHealth(ctx context.Context, url string) (string, error) {
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string `json:"scrapePool"`
				Health     string `json:"health"`
				LastError  string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := fetchJSON(ctx, url+"/api/v1/targets?state=active", &targets); err != nil {
		return "", err
	}
	var rulesResp struct {
		Data struct {
			Groups []struct {
				Rules []json.RawMessage `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := fetchJSON(ctx, url+"/api/v1/rules", &rulesResp); err != nil {
		return "", err
	}
	n := 0
	for _, g := range rulesResp.Data.Groups {
		n += len(g.Rules)
	}
	up, pending, all := 0, 0, len(targets.Data.ActiveTargets)
	var down []string
	for _, t := range targets.Data.ActiveTargets {
		switch t.Health {
		case "up":
			up++
		case "unknown":
			// Not scraped yet: the first scrape of a target comes up to
			// one interval after start.
			pending++
		default:
			down = append(down, t.ScrapePool+": "+t.LastError)
		}
	}
	slices.Sort(down)
	summary := fmt.Sprintf("%d/%d targets up", up, all)
	if pending > 0 {
		summary += fmt.Sprintf(" (%d not scraped yet)", pending)
	}
	summary += fmt.Sprintf(", %d rules loaded", n)
	if len(down) > 0 {
		return "", fmt.Errorf("%s; down: %s", summary, strings.Join(down, "; "))
	}
	return summary, nil
}

// fetchJSON GETs url within 2 s, wants 200 and decodes the body into
// into (nil: the status is all that matters).
func fetchJSON(ctx context.Context, url string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if into == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
