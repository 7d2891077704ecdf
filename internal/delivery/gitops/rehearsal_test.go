package gitops

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane/controlplanetest"
	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/ociregistry/registrytest"
)

// The pipeline offline: images pushed by digest to a TLS registry,
// published from this checkout's HEAD to a bare manifest repository, and
// what a clone of it holds under clusters/prod applied, stage directory
// by stage directory, to a real API server with the operators' CRDs.
func TestPipelineRehearsal(t *testing.T) {
	t.Parallel()
	const root = "../../.."
	ctx := t.Context()

	r := registrytest.ServeTLS(t, nil)
	reg := images.Registry{Prefix: registrytest.Host + ":" + r.Port + "/groundwork", CAFile: r.CAFile, Transport: r.Transport}
	src, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true})
	require.NoError(t, err)
	headRef, err := src.Head()
	require.NoError(t, err)
	build := func(context.Context, string) (v1.ImageIndex, error) { return random.Index(256, 1, 2) }
	pushed, err := images.PushAll(ctx, reg, build, headRef.Hash().String(), io.Discard)
	require.NoError(t, err)
	record := filepath.Join(t.TempDir(), "pushed.json")
	require.NoError(t, pushed.Write(record))

	bare := manifestRepo(t)
	bootstrapped(t, bare)
	p := Publisher{URL: bare, SourceRepo: root}
	res, err := p.Publish(ctx, func(context.Context) (Release, error) {
		rec, err := images.ReadPushed(record)
		if err != nil {
			return Release{}, err
		}
		return Render(root, rec, Envs...)
	})
	require.NoError(t, err)
	require.True(t, res.Committed)

	// What Flux would read: a clone of the manifest repository.
	clone := t.TempDir()
	_, err = git.PlainCloneContext(ctx, clone, false, &git.CloneOptions{URL: bare})
	require.NoError(t, err)
	dirs, err := filepath.Glob(filepath.Join(clone, Prod.DeployDir(), "*", "manifests.yaml"))
	require.NoError(t, err)
	require.Len(t, dirs, 6) // 00-operators, 01-namespaces, ...

	// The Flux objects, and the stages in the order their dependsOn chain
	// gives (Flux's controllers do not run here; the API server checks the
	// objects against Flux's CRDs).
	cp := controlplanetest.Start(t, root, false)
	k := cp.Kubectl()
	_, err = k.Run(ctx, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+FluxNamespace+"}\n"), "apply", "-f", "-")
	require.NoError(t, err)
	// flux bootstrap's sync objects stay next to ours.
	sync := filepath.Join(clone, Prod.ClusterDir(), "flux-system", "gotk-sync.yaml")
	require.FileExists(t, sync)
	for _, f := range append([]string{sync, filepath.Join(clone, Prod.FluxFile())}, dirs...) { // 00-operators, 01-namespaces, ...: sorted
		y, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = k.Run(ctx, y, "apply", "--server-side", "--field-manager="+kube.FieldManager, "-f", "-")
		require.NoError(t, err, "apply %s", f)
	}
	out, err := k.Run(ctx, nil, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "-n", FluxNamespace, "-o", "name")
	require.NoError(t, err)
	for _, n := range []string{"groundwork-operators", "groundwork-workloads", "cloudnative-pg", "ingress-nginx"} {
		require.Contains(t, strings.Fields(string(out)), "kustomization.kustomize.toolkit.fluxcd.io/"+n)
	}
	out, err = k.Run(ctx, nil, "get", "helmreleases.helm.toolkit.fluxcd.io,ocirepositories.source.toolkit.fluxcd.io", "-n", FluxNamespace, "-o", "name")
	require.NoError(t, err)
	for _, n := range []string{"helmrelease.helm.toolkit.fluxcd.io/cert-manager", "helmrelease.helm.toolkit.fluxcd.io/trust-manager", "helmrelease.helm.toolkit.fluxcd.io/kube-prometheus-stack", "ocirepository.source.toolkit.fluxcd.io/cert-manager"} {
		require.Contains(t, strings.Fields(string(out)), n)
	}
	out, err = k.Run(ctx, nil, "get", "deployment", "-n", "groundwork", "server", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	require.NoError(t, err)
	require.Equal(t, pushed.Images["server"], string(out), "the cluster runs the pushed digest")
}

// bootstrapped makes the first commit of an empty manifest repository:
// what flux bootstrap commits (the sync objects in clusters/prod/flux-system: the
// GitRepository of the manifest repository and the Kustomization applying
// clusters/prod), so the test sees a publish leave them alone.
func bootstrapped(t *testing.T, bare string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	require.NoError(t, err)
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{bare}})
	require.NoError(t, err)
	src, err := clean(sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: FluxSource, Namespace: FluxNamespace},
		Spec: sourcev1.GitRepositorySpec{
			URL: "https://github.com/acme/groundwork-manifests.git", Interval: metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}, SecretRef: &meta.LocalObjectReference{Name: "flux-system"},
		},
	})
	require.NoError(t, err)
	ks, err := clean(kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: FluxSource, Namespace: FluxNamespace},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: 10 * time.Minute}, Path: "./" + Prod.ClusterDir(), Prune: true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: FluxSource},
		},
	})
	require.NoError(t, err)
	name := Prod.ClusterDir() + "/flux-system/gotk-sync.yaml"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("---\n"+string(src)+"---\n"+string(ks)), 0o644))
	wt, err := repo.Worktree()
	require.NoError(t, err)
	_, err = wt.Add(name)
	require.NoError(t, err)
	_, err = wt.Commit("Add Flux sync manifests", &git.CommitOptions{Author: &object.Signature{Name: "Flux", Email: "flux@example.com", When: time.Now()}})
	require.NoError(t, err)
	require.NoError(t, repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}))
}
