package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/groundwork-dev/groundwork/internal/images"
	"github.com/groundwork-dev/groundwork/internal/manifests"
)

// ErrKindContext is returned when deploy:prod is pointed at a Kind cluster.
var ErrKindContext = errors.New("refusing to deploy the prod overlay to a Kind cluster")

// BuildFunc builds one of images.Names.
type BuildFunc func(ctx context.Context, name string) (v1.ImageIndex, error)

// Prod is `mage deploy:prod`.
type Prod struct {
	Root     string
	Registry images.Registry // the TLS registry the cluster pulls from
	Build    BuildFunc
	Kube     Kube
	// DryRun builds the images (without pushing), renders and checks the
	// pinned overlay and prints the server-side diff; nothing is pushed or
	// applied.
	DryRun bool
	Out    io.Writer
}

// ProdConfigFromEnv reads the registry settings:
//
//	PROD_REGISTRY      host[:port]/path the images are pushed to (required)
//	REGISTRY_CA_FILE   PEM CA of the registry's certificate, if private
//	DRY_RUN            1/true: diff only
func ProdConfigFromEnv(getenv func(string) string) (images.Registry, bool, error) {
	prefix := getenv("PROD_REGISTRY")
	if prefix == "" {
		return images.Registry{}, false, errors.New("PROD_REGISTRY is not set: name the TLS registry the cluster pulls from, e.g. PROD_REGISTRY=registry.example.com/groundwork")
	}
	if strings.Contains(prefix, "://") {
		return images.Registry{}, false, fmt.Errorf("PROD_REGISTRY=%s: a host and path, without a scheme (the registry is always TLS)", prefix)
	}
	host := strings.SplitN(prefix, "/", 2)[0]
	if strings.HasPrefix(host, "localhost") || strings.HasPrefix(host, "127.") {
		return images.Registry{}, false, fmt.Errorf("PROD_REGISTRY=%s is a local registry; production pulls from a TLS registry it can reach", prefix)
	}
	dry := false
	switch strings.ToLower(getenv("DRY_RUN")) {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		dry = true
	default:
		return images.Registry{}, false, fmt.Errorf("DRY_RUN=%s: use 1 or 0", getenv("DRY_RUN"))
	}
	return images.Registry{Prefix: prefix, CAFile: getenv("REGISTRY_CA_FILE")}, dry, nil
}

// IsKindContext reports whether a kube context is a Kind cluster's.
func IsKindContext(name string) bool { return strings.HasPrefix(name, "kind-") }

// Run deploys.
func (p Prod) Run(ctx context.Context) error {
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

	pushed := map[string]string{}
	for _, name := range images.Names {
		idx, err := p.Build(ctx, name)
		if err != nil {
			return err
		}
		if p.DryRun {
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
			continue
		}
		ref, err := p.Registry.Push(ctx, name, "", idx)
		if err != nil {
			return err
		}
		pushed[name] = ref
		fmt.Fprintf(p.Out, "pushed %s\n", ref)
	}

	objs, err := RenderPinned(filepath.Join(p.Root, manifests.ProdOverlay), pushed, true)
	if err != nil {
		return err
	}
	stages := manifests.Stages(objs)
	if p.DryRun {
		return DiffStages(ctx, p.Kube, stages, p.Out)
	}
	return ApplyStages(ctx, p.Kube, stages, p.Out)
}

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
		for _, img := range containerImages(o) {
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

func containerImages(o manifests.Object) []string {
	spec, _ := o.Map["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	ps, _ := tmpl["spec"].(map[string]any)
	var out []string
	for _, key := range []string{"initContainers", "containers"} {
		cs, _ := ps[key].([]any)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			if s, ok := m["image"].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
