package images

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Webapp describes the webapp image: the built assets and the nginx
// configuration.
type Webapp struct {
	Dist  string // webapp/dist: index.html and the assets
	Nginx string // webapp/nginx: *.conf for /etc/nginx/conf.d, nginx.conf for /etc/nginx
	// Source is the org.opencontainers.image.source label.
	Source string
}

// Files maps the assets and the configuration to their places in the
// image: dist under /usr/share/nginx/html; nginx.conf to /etc/nginx;
// every other *.conf to /etc/nginx/conf.d, where an empty default.conf
// replaces the base's welcome server unless the configuration has one.
func (w Webapp) Files() ([]File, error) {
	if _, err := os.Stat(filepath.Join(w.Dist, "index.html")); err != nil {
		return nil, fmt.Errorf("the webapp is not built: %s/index.html is missing (build it with npm in webapp/ first): %w", w.Dist, err)
	}
	files, err := DirFiles(w.Dist, "/usr/share/nginx/html")
	if err != nil {
		return nil, err
	}
	confs, err := filepath.Glob(filepath.Join(w.Nginx, "*.conf"))
	if err != nil || len(confs) == 0 {
		return nil, fmt.Errorf("no nginx configuration (*.conf) in %s", w.Nginx)
	}
	slices.Sort(confs)
	hasDefault := false
	for _, c := range confs {
		b, err := os.ReadFile(c)
		if err != nil {
			return nil, fmt.Errorf("reading the nginx configuration: %w", err)
		}
		name := filepath.Base(c)
		dst := "/etc/nginx/conf.d/" + name
		if name == "nginx.conf" {
			dst = "/etc/nginx/nginx.conf"
		}
		hasDefault = hasDefault || name == "default.conf"
		files = append(files, File{Path: dst, Mode: 0o644, Data: b})
	}
	if !hasDefault {
		files = append(files, File{Path: "/etc/nginx/conf.d/default.conf", Mode: 0o644,
			Data: []byte("# replaced by the webapp's configuration\n")})
	}
	return files, nil
}

// BuildWebapp puts the webapp's files on each platform image of base (for
// the given platforms) and returns the new index. The base's user,
// entrypoint, command and ports are kept; the base must not run as root.
func BuildWebapp(base v1.ImageIndex, w Webapp, platforms []v1.Platform) (v1.ImageIndex, error) {
	files, err := w.Files()
	if err != nil {
		return nil, err
	}
	layer, err := Layer(files)
	if err != nil {
		return nil, err
	}
	im, err := base.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the base index: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	found := 0
	for _, p := range platforms {
		var desc *v1.Descriptor
		for i, m := range im.Manifests {
			if m.Platform != nil && m.Platform.OS == p.OS && m.Platform.Architecture == p.Architecture {
				desc = &im.Manifests[i]
				break
			}
		}
		if desc == nil {
			return nil, fmt.Errorf("the base image has no %s/%s image", p.OS, p.Architecture)
		}
		img, err := base.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading the base's %s/%s image: %w", p.OS, p.Architecture, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		if u := cf.Config.User; u == "" || u == "0" || u == "root" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
			return nil, errors.New("the webapp's base image runs as root; it must be an unprivileged nginx")
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
			History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "groundwork: webapp assets and nginx configuration"}})
		if err != nil {
			return nil, err
		}
		cf, err = img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		for k, v := range labels(w.Source, "webapp") {
			if cf.Config.Labels == nil {
				cf.Config.Labels = map[string]string{}
			}
			cf.Config.Labels[k] = v
		}
		cf.Created = v1.Time{Time: Epoch}
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			return nil, err
		}
		pc := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pc}})
		found++
	}
	if found == 0 {
		return nil, errors.New("no platform to build the webapp for")
	}
	return idx, nil
}
