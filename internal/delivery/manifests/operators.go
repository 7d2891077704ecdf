package manifests

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// OperatorsFile pins the operators the manifests need, relative to the
// repository root.
const OperatorsFile = "k8s/operators/versions.yaml"

// Operator is one entry of OperatorsFile.
type Operator struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Manifest  string `json:"manifest,omitempty"` // a release manifest URL, applied with kubectl
	Chart     string `json:"chart,omitempty"`    // a Helm chart (OCI), installed with helm
	Namespace string `json:"namespace"`
	// HelmValues are --set values for a chart.
	HelmValues map[string]string `json:"helmValues,omitempty"`
	// Wait lists the Deployments (kind/name in Namespace) that must be
	// available before the operator counts as installed.
	Wait []string `json:"wait"`
}

// LoadOperators reads and validates OperatorsFile.
func LoadOperators(path string) ([]Operator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the operator versions: %w", err)
	}
	var f struct {
		Operators []Operator `json:"operators"`
	}
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range f.Operators {
		if o.Name == "" || o.Version == "" || o.Namespace == "" {
			return nil, fmt.Errorf("%s: operator %q needs name, version and namespace", path, o.Name)
		}
		if (o.Manifest == "") == (o.Chart == "") {
			return nil, fmt.Errorf("%s: operator %s needs exactly one of manifest and chart", path, o.Name)
		}
	}
	return f.Operators, nil
}
