package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Platform is an OS and architecture (v1.Platform).
type Platform = v1.Platform

// Platforms are the platforms of the release images.
var Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// GoProgram is an image made of one static Go binary.
type GoProgram struct {
	Name    string // image name: server, migrator, kratos
	Dir     string // directory go build runs in (the package's module)
	Package string // the main package, e.g. ./cmd/server
	LDFlags string // extra linker flags (version stamps)
	Env     []string
	// Source is the org.opencontainers.image.source label.
	Source string
}

// Binary is where the program lives in the image; it is the entrypoint.
func (g GoProgram) Binary() string { return "/usr/local/bin/" + g.Name }

// GoBuilder builds the binary of g for a platform into out.
type GoBuilder func(ctx context.Context, g GoProgram, p v1.Platform, out string) error

// GoBuild builds a reproducible static binary with the go command:
// CGO_ENABLED=0, -trimpath, no VCS stamp, an empty build id.
func GoBuild(log io.Writer) GoBuilder {
	return func(ctx context.Context, g GoProgram, p v1.Platform, out string) error {
		ldflags := "-s -w -buildid="
		if g.LDFlags != "" {
			ldflags += " " + g.LDFlags
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags="+ldflags, "-o", out, g.Package)
		cmd.Dir = g.Dir
		cmd.Env = append(append(os.Environ(), g.Env...), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s for %s/%s: %w", g.Name, p.OS, p.Architecture, err)
		}
		return nil
	}
}

// BuildGo builds g for each platform and returns an image index of the
// images: the base layer, then the binary, run as nonroot.
func BuildGo(ctx context.Context, g GoProgram, platforms []v1.Platform, build GoBuilder) (v1.ImageIndex, error) {
	base, err := BaseLayer()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "groundwork-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	for _, p := range platforms {
		bin := filepath.Join(tmp, p.OS+"-"+p.Architecture, g.Name)
		if err := build(ctx, g, p, bin); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("reading the %s binary: %w", g.Name, err)
		}
		binLayer, err := Layer([]File{{Path: g.Binary(), Mode: 0o755, Data: data}})
		if err != nil {
			return nil, err
		}
		img, err := image(p, []v1.Layer{base, binLayer}, v1.Config{
			User:       NonRootStr,
			Entrypoint: []string{g.Binary()},
			WorkingDir: "/",
			Env: []string{
				"PATH=/usr/local/bin:/usr/bin:/bin",
				"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
			},
			Labels: labels(g.Source, g.Name),
		}, []string{"groundwork base: users, /tmp, CA certificates", "groundwork: " + path.Base(g.Binary())})
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", g.Name, err)
		}
		pc := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pc}})
	}
	return idx, nil
}

func labels(source, title string) map[string]string {
	l := map[string]string{"org.opencontainers.image.title": title}
	if source != "" {
		l["org.opencontainers.image.source"] = source
	}
	return l
}

// image makes an OCI image for platform p from layers and cfg, every time
// Epoch.
func image(p v1.Platform, layers []v1.Layer, cfg v1.Config, history []string) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		adds[i] = mutate.Addendum{Layer: l, MediaType: types.OCILayer,
			History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: history[i]}}
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config = cfg
	cf.Created = v1.Time{Time: Epoch}
	return mutate.ConfigFile(img, cf)
}
