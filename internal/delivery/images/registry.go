package images

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry is where images are pushed: a host and a repository prefix.
type Registry struct {
	// Prefix is host[:port][/path]: localhost:5001/groundwork,
	// registry.example.com/groundwork.
	Prefix string
	// Insecure allows plain HTTP (the local registry of the Kind cluster).
	Insecure bool
	// CAFile is a PEM file of extra CAs to trust for the registry's TLS
	// certificate (a private registry's CA); empty: the system's.
	CAFile string
	// Keychain finds credentials; nil: ~/.docker/config.json and helpers.
	Keychain authn.Keychain
	// Transport is the HTTP transport to start from; nil: Go's default.
	Transport *http.Transport
}

// Repository returns the repository of an image name in the registry.
func (r Registry) Repository(image string) (name.Repository, error) {
	var opts []name.Option
	if r.Insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(strings.TrimSuffix(r.Prefix, "/")+"/"+image, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("registry %q: %w", r.Prefix, err)
	}
	return repo, nil
}

func (r Registry) options(ctx context.Context) ([]remote.Option, error) {
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	base := http.DefaultTransport.(*http.Transport)
	if r.Transport != nil {
		base = r.Transport
	}
	tr := base.Clone()
	if r.CAFile != "" {
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the registry's CA: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", r.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return append(opts, remote.WithTransport(tr)), nil
}

// Push pushes idx as image in the registry, also under tag when it is not
// empty, and returns the reference by digest.
func (r Registry) Push(ctx context.Context, image, tag string, idx v1.ImageIndex) (string, error) {
	repo, err := r.Repository(image)
	if err != nil {
		return "", err
	}
	digest, err := idx.Digest()
	if err != nil {
		return "", err
	}
	opts, err := r.options(ctx)
	if err != nil {
		return "", err
	}
	var ref name.Reference = repo.Digest(digest.String())
	if tag != "" {
		ref = repo.Tag(tag)
	}
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return "", explain(repo.RegistryStr(), "pushing "+repo.String(), err)
	}
	return repo.Digest(digest.String()).String(), nil
}

// Pull reads an image index from a registry.
func (r Registry) Pull(ctx context.Context, ref string) (v1.ImageIndex, error) {
	var nopts []name.Option
	if r.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	parsed, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, err
	}
	opts, err := r.options(ctx)
	if err != nil {
		return nil, err
	}
	idx, err := remote.Index(parsed, opts...)
	if err != nil {
		return nil, explain(parsed.Context().RegistryStr(), "pulling "+ref, err)
	}
	return idx, nil
}

// ErrCredentials is wrapped by errors that mean the registry wants
// credentials it did not get.
var ErrCredentials = errors.New("the registry refused the credentials")

func explain(host, doing string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%s: %w (HTTP %d): log in first — `docker login %s` or `go run github.com/google/go-containerregistry/cmd/crane auth login %s -u USER --password-stdin` — credentials are read from ~/.docker/config.json: %w",
			doing, ErrCredentials, te.StatusCode, host, host, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// LoadOrPull returns the index ref (which must be by digest) from the OCI
// layout cache, or pulls it and keeps it there: a base image is pulled once,
// later builds work offline.
func (r Registry) LoadOrPull(ctx context.Context, ref, cache string) (v1.ImageIndex, error) {
	d, err := name.NewDigest(ref)
	if err != nil {
		return nil, fmt.Errorf("base image %s must be pinned by digest: %w", ref, err)
	}
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, err
	}
	if p, err := layout.FromPath(cache); err == nil {
		if idx, err := p.ImageIndex(); err == nil {
			if im, err := idx.IndexManifest(); err == nil {
				for _, m := range im.Manifests {
					if m.Digest == h {
						return idx.ImageIndex(h)
					}
				}
			}
		}
	}
	idx, err := r.Pull(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("the base image %s is not in %s yet and could not be pulled (it needs network access once): %w", ref, cache, err)
	}
	p, err := layout.FromPath(cache)
	if err != nil {
		if p, err = layout.Write(cache, emptyIndex()); err != nil {
			return nil, fmt.Errorf("creating the image cache %s: %w", cache, err)
		}
	}
	if err := p.AppendIndex(idx); err != nil {
		return nil, fmt.Errorf("caching %s in %s: %w", ref, cache, err)
	}
	return idx, nil
}
