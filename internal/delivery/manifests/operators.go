package manifests

import (
	"fmt"
	"os"
	"slices"
	"strings"

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
	// Git is where Flux gets a manifest operator's manifest: a file in
	// the project's repository at a tag (Flux applies Git, OCI and Helm
	// sources, not a release asset's URL).
	Git *GitFile `json:"git,omitempty"`
	// DependsOn names operators (earlier in the file, installed the same
	// way) that must be ready first.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Wait lists the Deployments (kind/name in Namespace) that must be
	// available before the operator counts as installed.
	Wait []string `json:"wait"`
}

// GitFile is one file of a Git repository at a tag.
type GitFile struct {
	URL  string `json:"url"`
	Tag  string `json:"tag"`
	Path string `json:"path"`
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
		if (o.Manifest != "") != (o.Git != nil) {
			return nil, fmt.Errorf("%s: operator %s: a manifest needs git (the same file in a Git repository, for Flux), and only a manifest has one", path, o.Name)
		}
		if g := o.Git; g != nil && (!strings.HasPrefix(g.URL, "https://") || g.Tag == "" || g.Path == "" || strings.HasPrefix(g.Path, "/") || strings.Contains(g.Path, "..")) {
			return nil, fmt.Errorf("%s: operator %s: git needs an https url, a tag and a relative path", path, o.Name)
		}
		for key, v := range o.HelmValues {
			// Flux takes values as a tree, helm --set as dotted paths:
			// only the plain subset converts one-to-one.
			if strings.ContainsAny(key, `\[],=`) || strings.ContainsAny(v, `,\{}[]`) {
				return nil, fmt.Errorf("%s: operator %s: helm value %s=%s uses --set syntax beyond plain dotted keys and scalar values", path, o.Name, key, v)
			}
		}
	}
	for i, o := range f.Operators {
		for _, d := range o.DependsOn {
			j := slices.IndexFunc(f.Operators[:i], func(e Operator) bool { return e.Name == d })
			if j < 0 {
				return nil, fmt.Errorf("%s: operator %s depends on %s, which is not listed before it", path, o.Name, d)
			}
			if (f.Operators[j].Chart == "") != (o.Chart == "") {
				return nil, fmt.Errorf("%s: operator %s depends on %s, which is installed another way (a HelmRelease can wait only for HelmReleases)", path, o.Name, d)
			}
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
