// Package rules reads the project's alerting and recording rules, kept
// once as PrometheusRule manifests in k8s/base/monitoring/rules, and turns
// them into the plain rule files a Prometheus without the operator loads:
// the local stack's (dev:up) and promtool's. One source, so the rules a
// laptop evaluates are the cluster's.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// Dir holds the PrometheusRule manifests and TestDir their promtool unit
// tests, relative to the repository root.
const (
	Dir     = "k8s/base/monitoring/rules"
	TestDir = "k8s/base/monitoring/tests"
)

// File is one PrometheusRule manifest.
type File struct {
	Name string // file name in Dir, e.g. api.yaml; also the plain file's name
	Rule monitoringv1.PrometheusRule
}

// Load reads every manifest in root's Dir, decoded strictly into the
// operator's type: an unknown or misspelt field is an error here, not a
// rule the operator silently drops.
func Load(root string) ([]File, error) {
	paths, err := filepath.Glob(filepath.Join(root, Dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no rule files in %s", filepath.Join(root, Dir))
	}
	slices.Sort(paths)
	var out []File
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read rules: %w", err)
		}
		var r monitoringv1.PrometheusRule
		if err := yaml.UnmarshalStrict(b, &r); err != nil {
			return nil, fmt.Errorf("%s: decode PrometheusRule: %w", p, err)
		}
		if r.Kind != monitoringv1.PrometheusRuleKind || r.APIVersion != "monitoring.coreos.com/v1" {
			return nil, fmt.Errorf("%s: want a monitoring.coreos.com/v1 PrometheusRule, got %s %s", p, r.APIVersion, r.Kind)
		}
		out = append(out, File{Name: filepath.Base(p), Rule: r})
	}
	return out, nil
}

// Plain is f's groups as a Prometheus rule file (the `groups:` document
// `rule_files` names), checked by Prometheus's own parser.
func (f File) Plain() ([]byte, error) {
	b, err := yaml.Marshal(struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}{f.Rule.Spec.Groups})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if _, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parserOptions), slog.New(slog.DiscardHandler)); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", f.Name, errors.Join(errs...))
	}
	return b, nil
}

// WritePlain writes each file's Plain form into dir under its own name and
// returns the paths written. Files in dir that no longer have a source are
// removed, so a deleted rule file stops being loaded.
func WritePlain(files []File, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range files {
		b, err := f.Plain()
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, f.Name)
		if old, err := os.ReadFile(p); err != nil || !bytes.Equal(old, b) {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return nil, err
			}
		}
		written = append(written, p)
	}
	stale, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, p := range stale {
		if !slices.Contains(written, p) {
			if err := os.Remove(p); err != nil {
				return nil, err
			}
		}
	}
	return written, nil
}

// parserOptions are the PromQL features the rules may use: none beyond
// the stable language, so Debian's promtool 2.42 and a current
// Prometheus 3 read them alike.
var parserOptions = parser.Options{}

// ParseExpr parses a PromQL expression as Prometheus 3 does.
func ParseExpr(expr string) (parser.Expr, error) {
	return parser.NewParser(parserOptions).ParseExpr(expr)
}

// Rule is one alerting or recording rule, flattened.
type Rule struct {
	File, Group string
	monitoringv1.Rule
}

// Name is the alert's or the recorded series' name.
func (r Rule) Name() string { return r.Alert + r.Record }

// All flattens files into their rules, in order.
func All(files []File) []Rule {
	var out []Rule
	for _, f := range files {
		for _, g := range f.Rule.Spec.Groups {
			for _, r := range g.Rules {
				out = append(out, Rule{File: f.Name, Group: g.Name, Rule: r})
			}
		}
	}
	return out
}

// MetricNames are the metric names expr selects, sorted and without
// duplicates.
func MetricNames(expr string) ([]string, error) {
	e, err := ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, sel := range parser.ExtractSelectors(e) {
		for _, m := range sel {
			if m.Name == "__name__" {
				names = append(names, m.Value)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// RunbookURL is where an alert's runbook_url annotation must point: its
// section in docs/runbooks.md.
func RunbookURL(alert string) string {
	return "https://github.com/groundwork-dev/groundwork/blob/main/docs/runbooks.md#" + strings.ToLower(alert)
}
