package kube

import (
	"context"
	"fmt"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// BuildFunc builds one of images.Names.
type BuildFunc func(ctx context.Context, name string) (v1.ImageIndex, error)

// RenderPinned renders an overlay, pins the images named in pushed (image
// name -> reference by digest) wherever the overlay uses them, and checks
// the result with the overlay's policy: nothing that fails a check is
// applied.
func RenderPinned(dir string, pushed map[string]string, production bool) ([]manifests.Object, error) {
	objs, err := manifests.Render(dir)
	if err != nil {
		return nil, err
	}
	pins := map[string]string{}
	for _, o := range objs {
		for _, img := range manifests.ContainerImages(o) {
			repo := manifests.Repository(img)
			if ref, ok := pushed[path.Base(repo)]; ok {
				pins[repo] = ref
			}
		}
	}
	if err := manifests.Pin(objs, pins); err != nil {
		return nil, err
	}
	set, err := manifests.Decode(objs)
	if err != nil {
		return nil, err
	}
	if err := manifests.Check(set, manifests.PolicyFor(production)); err != nil {
		return nil, fmt.Errorf("the rendered overlay fails its checks, nothing was applied:\n%w", err)
	}
	return objs, nil
}
