package gitops

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// FluxNamespace and FluxSource are where flux bootstrap puts its
// GitRepository of the manifest repository.
const (
	FluxNamespace = "flux-system"
	FluxSource    = "flux-system"
)

// Env is one cluster the manifest repository feeds. Its layout is
// fluxcd/flux2-kustomize-helm-example's: clusters/<name> holds what
// Flux's own sync Kustomization (flux bootstrap's flux-system, path
// ./clusters/<name>) applies — our Flux Kustomizations, in FluxFile — and
// deploy/<name> the rendered directories those point at.
type Env struct {
	Name    string
	Overlay string // the kustomize overlay, relative to the repository root
	// Production selects the prod policy of internal/delivery/manifests.
	Production bool
	// Operators: the cluster gets its operators from Flux (the first
	// directory); without, they are installed another way (kind:up).
	Operators bool
}

// Prod is the production cluster. Dev is a Kind cluster from kind:up
// (which installs the operators) following the manifest repository instead
// of kind:deploy: the dev overlay, pinned to the published digests.
var (
	Prod = Env{Name: "prod", Overlay: manifests.ProdOverlay, Production: true, Operators: true}
	Dev  = Env{Name: "dev", Overlay: manifests.DevOverlay}
)

// Envs are the clusters gitops:publish writes, in one commit.
var Envs = []Env{Prod, Dev}

// ClusterDir is the path flux bootstrap is pointed at.
func (e Env) ClusterDir() string { return "clusters/" + e.Name }

// DeployDir holds the rendered directories.
func (e Env) DeployDir() string { return "deploy/" + e.Name }

// FluxFile is ours in ClusterDir; flux bootstrap keeps its own objects
// next to it, in flux-system/.
func (e Env) FluxFile() string { return e.ClusterDir() + "/groundwork.yaml" }

// stageTimeout bounds each stage's apply-and-wait in the cluster: the
// database and the migrations take longest.
func stageTimeout(stage string) time.Duration {
	switch stage {
	case OperatorsStage:
		// trust-manager waits for cert-manager: two installs in a row.
		return 2*operatorTimeout + 5*time.Minute
	case manifests.StageDatabase, manifests.StageMigrations:
		return 15 * time.Minute
	default:
		return 5 * time.Minute
	}
}

// OperatorsStage names the first directory and Flux Kustomization: the
// operators the overlay's objects need (versions.yaml), before any of them.
const OperatorsStage = "operators"

// Render renders each environment's overlay pinned to the pushed digests
// and checked by its policy, as one release: for each, first the Flux
// objects that install the operators (00-operators, where the environment
// gets them from Flux), then one directory per deploy stage (01-namespaces,
// 02-config, ...: the order deploy:prod applies them in), and one Flux
// Kustomization per directory, each depending on the one before and
// waiting for its objects to be healthy, so Flux applies them in that
// order.
func Render(root string, pushed images.Pushed, envs ...Env) (Release, error) {
	if err := pushed.Validate(); err != nil {
		return Release{}, fmt.Errorf("pushed images: %w", err)
	}
	rel := Release{Source: pushed.Source, Files: map[string][]byte{}}
	for _, env := range envs {
		if err := renderEnv(root, pushed, env, &rel); err != nil {
			return Release{}, fmt.Errorf("rendering %s: %w", env.Name, err)
		}
	}
	return rel, nil
}

func renderEnv(root string, pushed images.Pushed, env Env, rel *Release) error {
	type dir struct {
		name string
		yaml []byte
	}
	var dirs []dir
	if env.Operators {
		ops, err := manifests.LoadOperators(filepath.Join(root, manifests.OperatorsFile))
		if err != nil {
			return err
		}
		opObjs, err := operatorObjects(ops)
		if err != nil {
			return err
		}
		var docs []string
		for _, o := range opObjs {
			b, err := clean(o)
			if err != nil {
				return err
			}
			docs = append(docs, strings.TrimSpace(string(b)))
		}
		dirs = append(dirs, dir{OperatorsStage, []byte("---\n" + strings.Join(docs, "\n---\n") + "\n")})
	}
	objs, err := kube.RenderPinned(filepath.Join(root, env.Overlay), pushed.Images, env.Production)
	if err != nil {
		return err
	}
	for _, o := range objs {
		// The manifest repository is read by more people and machines
		// than the cluster: Secrets are created in the cluster
		// (docs/gitops.md), never committed.
		if o.Kind == "Secret" {
			return fmt.Errorf("%s has Secret %s/%s: secrets are not published to the manifest repository; create it in the cluster and list it in manifests.External", env.Overlay, o.Namespace, o.Name)
		}
	}
	for _, st := range manifests.Stages(objs) {
		y, err := manifests.YAML(st.Objects)
		if err != nil {
			return err
		}
		dirs = append(dirs, dir{st.Name, y})
	}

	rel.Owned = append(rel.Owned, env.FluxFile(), env.DeployDir())
	var flux []string
	prev := ""
	for i, d := range dirs {
		if !env.Operators {
			i++ // 01-namespaces either way
		}
		path := fmt.Sprintf("%s/%02d-%s", env.DeployDir(), i, d.name)
		rel.Files[path+"/manifests.yaml"] = d.yaml
		k := kustomization("groundwork-"+d.name, path, FluxSource, 10*time.Minute, stageTimeout(d.name))
		k.Spec.RetryInterval = &metav1.Duration{Duration: time.Minute}
		if prev != "" {
			k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: prev}}
		}
		prev = k.Name
		b, err := clean(k)
		if err != nil {
			return err
		}
		flux = append(flux, strings.TrimSpace(string(b)))
	}
	rel.Files[env.FluxFile()] = []byte(FluxHeader + "---\n" + strings.Join(flux, "\n---\n") + "\n")
	return nil
}

// kustomization is a Flux Kustomization in flux-system that applies dir of
// the GitRepository source, prunes what leaves it and waits, within
// timeout, for what it applied to be healthy.
func kustomization(name, dir, source string, interval, timeout time.Duration) kustomizev1.Kustomization {
	return kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: FluxNamespace},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: interval},
			Timeout:   &metav1.Duration{Duration: timeout},
			Path:      "./" + dir,
			Prune:     true,
			Wait:      true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: source},
		},
	}
}

// FluxHeader opens clusters/prod/groundwork.yaml.
const FluxHeader = "# Generated by go tool mage gitops:publish. DO NOT EDIT.\n" +
	"# One Flux Kustomization per directory of deploy/<cluster>, each after the one before.\n"

// clean marshals a typed object as YAML without the fields an object in
// Git never sets (status, metadata.creationTimestamp).
func clean(obj any) ([]byte, error) {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return yaml.Marshal(m)
}
