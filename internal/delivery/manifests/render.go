package manifests

import (
	"fmt"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The overlays, relative to the repository root.
const (
	DevOverlay  = "k8s/overlays/dev"
	ProdOverlay = "k8s/overlays/prod"
)

// Object is one rendered Kubernetes object.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string // empty for cluster-scoped objects
	Name       string
	// Map is the object as kustomize rendered it; Pin changes it.
	Map map[string]any
}

// ID names the object in messages: Kind/namespace/name.
func (o Object) ID() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Label returns the value of one of the object's labels.
func (o Object) Label(key string) string {
	md, _ := o.Map["metadata"].(map[string]any)
	labels, _ := md["labels"].(map[string]any)
	v, _ := labels[key].(string)
	return v
}

// Render builds the kustomization in dir (an overlay) from disk.
func Render(dir string) ([]Object, error) {
	return RenderFS(filesys.MakeFsOnDisk(), dir)
}

// RenderFS builds the kustomization in dir of fsys.
func RenderFS(fsys filesys.FileSystem, dir string) ([]Object, error) {
	opts := krusty.MakeDefaultOptions()
	rm, err := krusty.MakeKustomizer(opts).Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", filepath.ToSlash(dir), err)
	}
	objs := make([]Object, 0, rm.Size())
	for _, r := range rm.Resources() {
		o, err := fromResource(r)
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", filepath.ToSlash(dir), err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func fromResource(r *resource.Resource) (Object, error) {
	m, err := r.Map()
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", r.CurId(), err)
	}
	return Object{
		APIVersion: r.GetApiVersion(),
		Kind:       r.GetKind(),
		Namespace:  r.GetNamespace(),
		Name:       r.GetName(),
		Map:        m,
	}, nil
}

// YAML renders objs as one multi-document YAML stream, as kubectl reads it.
func YAML(objs []Object) ([]byte, error) {
	var out []byte
	for i, o := range objs {
		b, err := yaml.Marshal(o.Map)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", o.ID(), err)
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
	}
	return out, nil
}
