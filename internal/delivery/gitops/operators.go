package gitops

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// helmChartLayer is the media type of a Helm chart's content in an OCI
// artifact: the layer an OCIRepository hands helm-controller.
const helmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// operatorTimeout bounds one operator's install (a chart with its CRDs and
// webhooks, or a release manifest) and the wait for it.
const operatorTimeout = 10 * time.Minute

// operatorObjects are the Flux objects that install the operators of
// versions.yaml, in its order: a chart becomes an OCIRepository and a
// HelmRelease (which waits for the chart's workloads), a manifest the
// GitRepository of its project at the tag, cut down to that one file, and a
// Kustomization applying it. All of them live in flux-system and are
// applied, and waited for, by the operators stage.
func operatorObjects(ops []manifests.Operator) ([]any, error) {
	var objs []any
	for _, op := range ops {
		om := metav1.ObjectMeta{Name: op.Name, Namespace: FluxNamespace}
		switch {
		case op.Chart != "":
			values, err := helmValues(op.HelmValues)
			if err != nil {
				return nil, fmt.Errorf("operator %s: %w", op.Name, err)
			}
			objs = append(objs, sourcev1.OCIRepository{
				TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
				ObjectMeta: om,
				Spec: sourcev1.OCIRepositorySpec{
					URL:           op.Chart,
					Reference:     &sourcev1.OCIRepositoryRef{Tag: op.Version},
					LayerSelector: &sourcev1.OCILayerSelector{MediaType: helmChartLayer, Operation: sourcev1.OCILayerCopy},
					Interval:      metav1.Duration{Duration: time.Hour},
				},
			})
			hr := helmv2.HelmRelease{
				TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
				ObjectMeta: om,
				Spec: helmv2.HelmReleaseSpec{
					ChartRef:         &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: op.Name},
					Interval:         metav1.Duration{Duration: time.Hour},
					ReleaseName:      op.Release,
					TargetNamespace:  op.Namespace,
					StorageNamespace: op.Namespace,
					Timeout:          &metav1.Duration{Duration: operatorTimeout},
					// CRDs follow the chart on upgrades too (Helm alone
					// installs them once and never again).
					Install: &helmv2.Install{CreateNamespace: true, CRDs: helmv2.CreateReplace, Remediation: &helmv2.InstallRemediation{Retries: 3}},
					Upgrade: &helmv2.Upgrade{CRDs: helmv2.CreateReplace, Remediation: &helmv2.UpgradeRemediation{Retries: 3}},
					Values:  values,
				},
			}
			for _, d := range op.DependsOn {
				hr.Spec.DependsOn = append(hr.Spec.DependsOn, helmv2.DependencyReference{Name: d})
			}
			objs = append(objs, hr)
		case op.Git != nil:
			ignore := onlyFile(op.Git.Path)
			objs = append(objs, sourcev1.GitRepository{
				TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
				ObjectMeta: om,
				Spec: sourcev1.GitRepositorySpec{
					URL:       op.Git.URL,
					Reference: &sourcev1.GitRepositoryRef{Tag: op.Git.Tag},
					Interval:  metav1.Duration{Duration: time.Hour},
					Ignore:    &ignore,
				},
			})
			k := kustomization(op.Name, path.Dir(op.Git.Path), op.Name, time.Hour, operatorTimeout)
			for _, d := range op.DependsOn {
				k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
			}
			objs = append(objs, k)
		default:
			return nil, fmt.Errorf("operator %s has neither a chart nor a git file", op.Name)
		}
	}
	return objs, nil
}

// onlyFile is a .sourceignore (gitignore) pattern list that keeps one file
// of a repository and drops the rest. source-controller matches each path
// on its own, where "/*" and "!/file" would do; gitignore proper cannot
// re-include a file below an excluded directory, so every directory on the
// way is re-included and its other entries excluded: the list means the
// same under both readings.
func onlyFile(file string) string {
	lines := []string{"/*"}
	parts := strings.Split(file, "/")
	for i := range parts[:len(parts)-1] {
		dir := "/" + strings.Join(parts[:i+1], "/")
		lines = append(lines, "!"+dir+"/", dir+"/*")
	}
	return strings.Join(append(lines, "!/"+file), "\n") + "\n"
}

// helmValues turns helm --set style dotted keys into the values tree a
// HelmRelease takes, typed as --set types them (true/false as booleans,
// integers as numbers, the rest strings), so kind:up's helm and Flux
// install the same release.
func helmValues(set map[string]string) (*apiextensionsv1.JSON, error) {
	if len(set) == 0 {
		return nil, nil
	}
	tree := map[string]any{}
	for _, key := range slices.Sorted(maps.Keys(set)) {
		node := tree
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			child, ok := node[p].(map[string]any)
			if !ok {
				if _, taken := node[p]; taken {
					return nil, fmt.Errorf("helm value %s: %s is already a value, not a map", key, p)
				}
				child = map[string]any{}
				node[p] = child
			}
			node = child
		}
		last := parts[len(parts)-1]
		if _, taken := node[last]; taken {
			return nil, fmt.Errorf("helm value %s is set twice", key)
		}
		node[last] = scalar(set[key])
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("encoding the helm values: %w", err)
	}
	return &apiextensionsv1.JSON{Raw: raw}, nil
}

func scalar(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return v
}
