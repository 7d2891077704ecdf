package controlplane

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
	"github.com/groundwork-dev/groundwork/internal/shared/gomodule"
)

// CRDs returns, as one YAML stream, the CustomResourceDefinitions of every
// crds entry of k8s/operators/versions.yaml, read from each project's Go
// module at the pinned version, and how many there are.
func CRDs(ctx context.Context, root string) ([]byte, int, error) {
	sources, err := manifests.LoadCRDSources(filepath.Join(root, manifests.OperatorsFile))
	if err != nil {
		return nil, 0, err
	}
	var all [][]byte
	for _, s := range sources {
		dir, err := gomodule.Dir(ctx, s.Module, s.Version)
		if err != nil {
			return nil, 0, fmt.Errorf("the CRDs of %s: %w", s.Name, err)
		}
		docs, _, err := yamlFiles(filepath.Join(dir, s.Dir))
		if err != nil {
			return nil, 0, fmt.Errorf("the CRDs of %s %s: %w", s.Name, s.Version, err)
		}
		all = append(all, docs...)
	}
	return joinYAML(all), len(all), nil
}

// OperatorNamespaces are the namespaces the operators of
// k8s/operators/versions.yaml are installed into: the overlays put objects
// there (cert-manager's namespace holds the CA Secrets), as they find them
// in a cluster whose operators are installed.
func OperatorNamespaces(root string) ([]byte, error) {
	ops, err := manifests.LoadOperators(filepath.Join(root, manifests.OperatorsFile))
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	seen := map[string]bool{}
	for _, o := range ops {
		if !seen[o.Namespace] {
			seen[o.Namespace] = true
			docs = append(docs, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+o.Namespace+"\n"))
		}
	}
	return joinYAML(docs), nil
}

// InstallCRDs applies the CRDs (and the operators' namespaces, if given)
// server-side (several CRDs are too large for client-side apply's
// last-applied annotation) and waits until the API server serves every
// one.
func InstallCRDs(ctx context.Context, k kube.Kubectl, crds, namespaces []byte) error {
	if err := k.Apply(ctx, append(append(namespaces, '\n'), crds...)); err != nil {
		return fmt.Errorf("installing the CRDs: %w", err)
	}
	if _, err := k.Run(ctx, nil, "wait", "--for=condition=Established", "--timeout=120s", "crd", "--all"); err != nil {
		return fmt.Errorf("waiting for the CRDs to be established: %w", err)
	}
	return nil
}
