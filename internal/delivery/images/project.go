package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/groundwork-dev/groundwork/internal/shared/toolbuild"
)

// Names are the project's images, in build order.
var Names = []string{"server", "migrator", "kratos", "webapp"}

// Source is the images' org.opencontainers.image.source label.
const Source = "https://github.com/groundwork-dev/groundwork"

// Programs returns the Go images of the repository at root.
func Programs(root string) map[string]GoProgram {
	return map[string]GoProgram{
		"server":   {Name: "server", Dir: filepath.Join(root, "server"), Package: "./cmd/server", Source: Source},
		"migrator": {Name: "migrator", Dir: filepath.Join(root, "migrator"), Package: "./cmd/migrator", Source: Source},
		// Ory Kratos, built from tools/kratos (outside go.work) like the
		// local stack's, with the version stamp of its release builds.
		"kratos": {Name: "kratos", Dir: filepath.Join(root, "tools", toolbuild.Kratos.Dir), Package: toolbuild.Kratos.Package,
			LDFlags: toolbuild.Kratos.LDFlags, Env: []string{"GOWORK=off"}, Source: Source},
	}
}

// Project builds the project's images.
type Project struct {
	Root      string
	Platforms []v1.Platform
	Build     GoBuilder
	// Base is where the webapp's base image is pulled from (its own
	// credentials and CAs); the zero value is fine for Docker Hub.
	Base Registry
	// NginxBase is the webapp's base by digest; empty: NginxBase.
	NginxBase string
	// Cache is the OCI layout the base image is kept in; empty:
	// <Root>/.cache/images/base.
	Cache string
	// Dist is the built webapp; empty: <Root>/webapp/dist.
	Dist string
	// PrepareWebapp brings Dist up to date before the webapp image is
	// made (the mage targets pass the npm build, which does nothing when
	// the sources did not change); nil: Dist is taken as it is. Only the
	// webapp image needs it, so the Go images never wait for npm.
	PrepareWebapp func(ctx context.Context) error
	Log           io.Writer
	// Revision is the source commit stamped into the server binary (its
	// groundwork_build_info metric and `server version`); empty: none.
	Revision string
}

// buildInfoPackage holds the variables the server's version stamp sets.
const buildInfoPackage = "github.com/groundwork-dev/groundwork/server/internal/buildinfo"

// GitRevision is the commit checked out at root, with "-dirty" when the
// working tree has changes; "" outside a git checkout.
func GitRevision(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += "-dirty"
	}
	return rev
}

// Image builds one of Names.
func (p Project) Image(ctx context.Context, name string) (v1.ImageIndex, error) {
	if !slices.Contains(Names, name) {
		return nil, fmt.Errorf("no image %q; the images are %v", name, Names)
	}
	if name != "webapp" {
		fmt.Fprintf(p.Log, "building %s for %s\n", name, platformList(p.Platforms))
		g := Programs(p.Root)[name]
		if name == "server" && p.Revision != "" {
			g.LDFlags = strings.TrimSpace(g.LDFlags + " -X " + buildInfoPackage + ".revision=" + p.Revision)
		}
		return BuildGo(ctx, g, p.Platforms, p.Build)
	}
	if p.PrepareWebapp != nil {
		if err := p.PrepareWebapp(ctx); err != nil {
			return nil, fmt.Errorf("build webapp/dist: %w", err)
		}
	}
	ref := p.NginxBase
	if ref == "" {
		ref = NginxBase
	}
	cache := p.Cache
	if cache == "" {
		cache = filepath.Join(p.Root, ".cache", "images", "base")
	}
	dist := p.Dist
	if dist == "" {
		dist = filepath.Join(p.Root, "webapp", "dist")
	}
	fmt.Fprintf(p.Log, "building webapp for %s on %s\n", platformList(p.Platforms), ref)
	base, err := p.Base.LoadOrPull(ctx, ref, cache)
	if err != nil {
		return nil, err
	}
	return BuildWebapp(base, Webapp{Dist: dist, Nginx: filepath.Join(p.Root, "webapp", "nginx"), Source: Source}, p.Platforms)
}

func platformList(ps []v1.Platform) string {
	var out string
	for i, p := range ps {
		if i > 0 {
			out += ", "
		}
		out += p.OS + "/" + p.Architecture
	}
	return out
}

// Save builds every image and writes each as an OCI layout under
// dir/<name>, printing its digest. It goes on after a failed image and
// reports every failure at the end.
func (p Project) Save(ctx context.Context, dir string) error {
	var errs []error
	for _, name := range Names {
		idx, err := p.Image(ctx, name)
		if err == nil {
			err = WriteLayout(filepath.Join(dir, name), idx)
		}
		if err != nil {
			fmt.Fprintf(p.Log, "%s: FAILED: %v\n", name, err)
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		d, err := idx.Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(p.Log, "%s: %s (OCI layout %s)\n", name, d, filepath.Join(dir, name))
	}
	return errors.Join(errs...)
}
