// Package prod is `mage deploy:prod`: build and push the images to the TLS
// registry, render the prod overlay pinned to the pushed digests, check it,
// and apply it stage by stage to the current kube context (package kube) —
// or, with DryRun, show the server-side diff and apply nothing. It refuses
// a Kind context.
package prod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// ErrKindContext is returned when deploy:prod is pointed at a Kind cluster.
var ErrKindContext = errors.New("refusing to deploy the prod overlay to a Kind cluster")

// Deploy is `mage deploy:prod`.
type Deploy struct {
	Root     string
	Registry images.Registry // the TLS registry the cluster pulls from
	Build    kube.BuildFunc
	Kube     kube.Kube
	// DryRun builds the images (without pushing), renders and checks the
	// pinned overlay and prints the server-side diff; nothing is pushed or
	// applied.
	DryRun bool
	// Pushed, when set, are images images:push pushed already: nothing
	// is built or pushed, the overlay is pinned to these.
	Pushed *images.Pushed
	// Source is the commit the images are built from (images.GitRevision).
	Source string
	// WaitTimeout bounds each wait of a stage (0: kube.WaitTimeout).
	WaitTimeout time.Duration
	Out         io.Writer
}

// ConfigFromEnv reads the registry settings (images.RegistryFromEnv with
// PROD_REGISTRY) and DRY_RUN (1/true: diff only).
func ConfigFromEnv(getenv func(string) string) (images.Registry, bool, error) {
	reg, err := images.RegistryFromEnv(getenv, "PROD_REGISTRY")
	if err != nil {
		return images.Registry{}, false, err
	}
	dry := false
	switch strings.ToLower(getenv("DRY_RUN")) {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		dry = true
	default:
		return images.Registry{}, false, fmt.Errorf("DRY_RUN=%s: use 1 or 0", getenv("DRY_RUN"))
	}
	return reg, dry, nil
}

// IsKindContext reports whether a kube context is a Kind cluster's.
func IsKindContext(name string) bool { return strings.HasPrefix(name, "kind-") }

// Run deploys.
func (p Deploy) Run(ctx context.Context) error {
	kctx, err := p.Kube.CurrentContext(ctx)
	if err != nil {
		return err
	}
	if IsKindContext(kctx) {
		return fmt.Errorf("%w: the current kube context is %q; switch to the production context (`kubectl config use-context NAME`), or use `go tool mage kind:deploy` for Kind", ErrKindContext, kctx)
	}
	if p.Registry.Insecure {
		return errors.New("deploy:prod pushes over TLS only")
	}
	if err := p.Kube.Reachable(ctx); err != nil {
		return err
	}
	fmt.Fprintf(p.Out, "deploy:prod to context %q, images to %s\n", kctx, p.Registry.Prefix)

	var pushed map[string]string
	switch {
	case p.Pushed != nil:
		// images:push ran before (the publish workflow): deploy exactly
		// what it pushed.
		pushed = p.Pushed.Images
		fmt.Fprintf(p.Out, "images pushed from %s: %v\n", p.Pushed.Source, pushed)
	case p.DryRun:
		pushed = map[string]string{}
		for _, name := range images.Names {
			idx, err := p.Build(ctx, name)
			if err != nil {
				return err
			}
			repo, err := p.Registry.Repository(name)
			if err != nil {
				return err
			}
			d, err := idx.Digest()
			if err != nil {
				return err
			}
			pushed[name] = repo.Digest(d.String()).String()
			fmt.Fprintf(p.Out, "built %s (dry run, not pushed)\n", pushed[name])
		}
	default:
		rec, err := images.PushAll(ctx, p.Registry, p.Build, p.Source, p.Out)
		if err != nil {
			return err
		}
		pushed = rec.Images
	}

	objs, err := kube.RenderPinned(filepath.Join(p.Root, manifests.ProdOverlay), pushed, true)
	if err != nil {
		return err
	}
	stages := manifests.Stages(objs)
	if p.DryRun {
		return kube.DiffStages(ctx, p.Kube, stages, p.Out)
	}
	return kube.ApplyStages(ctx, p.Kube, stages, p.WaitTimeout, p.Out)
}
