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
	// Release is a chart's Helm release name; empty: Name.
	Release string `json:"release,omitempty"`
	// AppVersion is the version of the operator a chart deploys, where
	// the chart has versions of its own (the CRDs of the local control
	// plane must be that operator's).
	AppVersion string `json:"appVersion,omitempty"`
	// HelmValues are --set values for a chart.
	HelmValues map[string]string `json:"helmValues,omitempty"`
	// Wait lists the Deployments (kind/name in Namespace) that must be
	// available before the operator counts as installed.
	Wait []string `json:"wait"`
}

// CRDSource is one entry of OperatorsFile's crds list: the
// CustomResourceDefinitions a project ships in its Go module, at the
// version pinned here, which the local control plane installs
// (internal/delivery/controlplane).
type CRDSource struct {
	Name    string `json:"name"`
	Module  string `json:"module"`  // the Go module that carries the CRD files
	Version string `json:"version"` // its version
	Dir     string `json:"dir"`     // the directory of CRD YAML files in it
}

type operatorsFile struct {
	Operators []Operator  `json:"operators"`
	CRDs      []CRDSource `json:"crds"`
}

func loadOperatorsFile(path string) (operatorsFile, error) {
	var f operatorsFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("reading the operator versions: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// LoadOperators reads and validates OperatorsFile.
func LoadOperators(path string) ([]Operator, error) {
	f, err := loadOperatorsFile(path)
	if err != nil {
		return nil, err
	}
	for _, o := range f.Operators {
		if o.Name == "" || o.Version == "" || o.Namespace == "" {
			return nil, fmt.Errorf("%s: operator %q needs name, version and namespace", path, o.Name)
		}
		if (o.Manifest == "") == (o.Chart == "") {
			return nil, fmt.Errorf("%s: operator %s needs exactly one of manifest and chart", path, o.Name)
		}
		if o.Release != "" && o.Chart == "" {
			return nil, fmt.Errorf("%s: operator %s: release names a Helm release, but it has no chart", path, o.Name)
		}
	}
	for i := range f.Operators {
		if f.Operators[i].Release == "" {
			f.Operators[i].Release = f.Operators[i].Name
		}
	}
	return f.Operators, nil
}

// LoadCRDSources reads and validates OperatorsFile's crds list.
func LoadCRDSources(path string) ([]CRDSource, error) {
	f, err := loadOperatorsFile(path)
	if err != nil {
		return nil, err
	}
	for _, c := range f.CRDs {
		if c.Name == "" || c.Module == "" || c.Version == "" || c.Dir == "" {
			return nil, fmt.Errorf("%s: crds entry %q needs name, module, version and dir", path, c.Name)
		}
	}
	if len(f.CRDs) == 0 {
		return nil, fmt.Errorf("%s: no crds entries", path)
	}
	return f.CRDs, nil
}
