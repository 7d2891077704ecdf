package gitops

import (
	"fmt"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// ProdRoot is the prod cluster's directory in the manifest repository
// (fluxcd/flux2-kustomize-helm-example's layout).
const ProdRoot = "clusters/prod"

// RenderProd renders the repository's prod overlay pinned to the pushed
// digests and checked by the prod policy, one directory per deploy stage
// (01-namespaces, 02-config, ...: the order deploy:prod applies them in,
// which the cluster's Kustomizations follow).
func RenderProd(root string, pushed images.Pushed) (Release, error) {
	if err := pushed.Validate(); err != nil {
		return Release{}, fmt.Errorf("pushed images: %w", err)
	}
	objs, err := kube.RenderPinned(filepath.Join(root, manifests.ProdOverlay), pushed.Images, true)
	if err != nil {
		return Release{}, err
	}
	rel := Release{Source: pushed.Source, Root: ProdRoot, Files: map[string][]byte{}}
	for i, st := range manifests.Stages(objs) {
		y, err := manifests.YAML(st.Objects)
		if err != nil {
			return Release{}, err
		}
		rel.Files[fmt.Sprintf("%02d-%s/manifests.yaml", i+1, st.Name)] = y
	}
	return rel, nil
}
