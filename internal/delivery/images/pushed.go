package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PushedFile is where `mage images:push` records what it pushed, relative
// to the repository root, unless PUSHED_IMAGES names another file. The
// publishing steps after it (gitops:publish, deploy:prod with
// PUSHED_IMAGES) pin the manifests to exactly these digests.
const PushedFile = ".cache/images/pushed.json"

// Pushed is the record of one push of every image.
type Pushed struct {
	// Source is the commit the images were built from.
	Source string `json:"source"`
	// Images maps each of Names to the pushed reference, repo@sha256:….
	Images map[string]string `json:"images"`
}

var digestRef = regexp.MustCompile(`^[a-z0-9][a-z0-9.:_/-]*@sha256:[0-9a-f]{64}$`)

// Validate reports what is wrong with p: a missing source, a missing or
// unknown image, a reference that is not by digest.
func (p Pushed) Validate() error {
	var errs []error
	if p.Source == "" {
		errs = append(errs, errors.New("no source commit"))
	}
	for _, n := range Names {
		ref, ok := p.Images[n]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("image %s is missing", n))
		case !digestRef.MatchString(ref):
			errs = append(errs, fmt.Errorf("image %s: %q is not repository@sha256:<64 hex>", n, ref))
		}
	}
	for n := range p.Images {
		if !slices.Contains(Names, n) {
			errs = append(errs, fmt.Errorf("image %s is none of %v", n, Names))
		}
	}
	return errors.Join(errs...)
}

// Write writes p to path (its directory created), after validating it.
func (p Pushed) Write(path string) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("pushed images: %w", err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadPushed reads and validates a record Write wrote.
func ReadPushed(path string) (Pushed, error) {
	var p Pushed
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("read the pushed images (go tool mage images:push writes them): %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// PushAll builds every image with build and pushes it by digest to reg,
// returning the record. Nothing is tagged: the digests are the release.
func PushAll(ctx context.Context, reg Registry, build func(context.Context, string) (v1.ImageIndex, error), source string, out io.Writer) (Pushed, error) {
	p := Pushed{Source: source, Images: map[string]string{}}
	for _, name := range Names {
		idx, err := build(ctx, name)
		if err != nil {
			return p, err
		}
		ref, err := reg.Push(ctx, name, "", idx)
		if err != nil {
			return p, err
		}
		p.Images[name] = ref
		fmt.Fprintf(out, "pushed %s\n", ref)
	}
	return p, nil
}
