package gitops

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// The manifest repository's layout (fluxcd/flux2-kustomize-helm-example's):
// clusters/prod holds what Flux's own sync Kustomization (flux bootstrap's
// flux-system, path ./clusters/prod) applies — our Flux Kustomizations —
// and deploy/prod the rendered stages those point at.
const (
	ProdClusterDir = "clusters/prod"
	ProdDeployDir  = "deploy/prod"
	// ProdFluxFile is ours in ProdClusterDir; flux bootstrap keeps its own
	// objects next to it, in flux-system/.
	ProdFluxFile = ProdClusterDir + "/groundwork.yaml"
	// FluxNamespace and FluxSource are where flux bootstrap puts its
	// GitRepository of this repository.
	FluxNamespace = "flux-system"
	FluxSource    = "flux-system"
)

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

// RenderProd renders the repository's prod overlay pinned to the pushed
// digests and checked by the prod policy: first the Flux objects that
// install the operators (deploy/prod/00-operators), then one directory per
// deploy stage (01-namespaces, 02-config, ...: the order deploy:prod
// applies them in), and in clusters/prod one Flux Kustomization per
// directory, each depending on the one before and waiting for its objects
// to be healthy, so Flux applies them in that order.
func RenderProd(root string, pushed images.Pushed) (Release, error) {
	if err := pushed.Validate(); err != nil {
		return Release{}, fmt.Errorf("pushed images: %w", err)
	}
	ops, err := manifests.LoadOperators(filepath.Join(root, manifests.OperatorsFile))
	if err != nil {
		return Release{}, err
	}
	opObjs, err := operatorObjects(ops)
	if err != nil {
		return Release{}, err
	}
	objs, err := kube.RenderPinned(filepath.Join(root, manifests.ProdOverlay), pushed.Images, true)
	if err != nil {
		return Release{}, err
	}
	for _, o := range objs {
		// The manifest repository is read by more people and machines
		// than the cluster: Secrets are created in the cluster
		// (docs/gitops.md), never committed.
		if o.Kind == "Secret" {
			return Release{}, fmt.Errorf("the prod overlay has Secret %s/%s: secrets are not published to the manifest repository; create it in the cluster and list it in manifests.External", o.Namespace, o.Name)
		}
	}
	rel := Release{Source: pushed.Source, Owned: []string{ProdFluxFile, ProdDeployDir}, Files: map[string][]byte{}}

	type stage struct {
		name string
		yaml []byte
	}
	var docs []string
	for _, o := range opObjs {
		b, err := clean(o)
		if err != nil {
			return Release{}, err
		}
		docs = append(docs, strings.TrimSpace(string(b)))
	}
	stages := []stage{{OperatorsStage, []byte("---\n" + strings.Join(docs, "\n---\n") + "\n")}}
	for _, st := range manifests.Stages(objs) {
		y, err := manifests.YAML(st.Objects)
		if err != nil {
			return Release{}, err
		}
		stages = append(stages, stage{st.Name, y})
	}

	var flux []string
	prev := ""
	for i, st := range stages {
		dir := fmt.Sprintf("%s/%02d-%s", ProdDeployDir, i, st.name)
		rel.Files[dir+"/manifests.yaml"] = st.yaml
		k := kustomizev1.Kustomization{
			TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
			ObjectMeta: metav1.ObjectMeta{Name: "groundwork-" + st.name, Namespace: FluxNamespace},
			Spec: kustomizev1.KustomizationSpec{
				Interval:      metav1.Duration{Duration: 10 * time.Minute},
				RetryInterval: &metav1.Duration{Duration: time.Minute},
				Timeout:       &metav1.Duration{Duration: stageTimeout(st.name)},
				Path:          "./" + dir,
				Prune:         true,
				Wait:          true,
				SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: FluxSource},
			},
		}
		if prev != "" {
			k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: prev}}
		}
		prev = k.Name
		b, err := clean(k)
		if err != nil {
			return Release{}, err
		}
		flux = append(flux, strings.TrimSpace(string(b)))
	}
	rel.Files[ProdFluxFile] = []byte(FluxHeader + "---\n" + strings.Join(flux, "\n---\n") + "\n")
	return rel, nil
}

// FluxHeader opens clusters/prod/groundwork.yaml.
const FluxHeader = "# Generated by go tool mage gitops:publish. DO NOT EDIT.\n" +
	"# One Flux Kustomization per directory of deploy/prod, each after the one before.\n"

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
