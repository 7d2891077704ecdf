package gitops

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/artifact/storage"
	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"github.com/fluxcd/pkg/sourceignore"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
	"github.com/groundwork-dev/groundwork/internal/shared/gomodule"
)

const repoRoot = "../../.."

func testPushed() images.Pushed {
	pushed := images.Pushed{Source: "0123abc", Images: map[string]string{}}
	for i, n := range images.Names {
		pushed.Images[n] = "ghcr.io/acme/" + n + "@sha256:" + strings.Repeat(string(rune('a'+i)), 64)
	}
	return pushed
}

// fluxBuild builds a Flux Kustomization's path inside a checkout of its
// source the way kustomize-controller does (its generator writes a
// kustomization.yaml where there is none; kustomize builds with remote
// bases off) and returns the objects it would apply.
func fluxBuild(t *testing.T, checkout string, k kustomizev1.Kustomization) []unstructured.Unstructured {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&k)
	require.NoError(t, err)
	dir := filepath.Join(checkout, k.Spec.Path)
	_, err = fluxkustomize.NewGenerator(checkout, unstructured.Unstructured{Object: obj}).WriteFile(dir)
	require.NoError(t, err, k.Name)
	m, err := fluxkustomize.SecureBuild(checkout, dir, false)
	require.NoError(t, err, k.Name)
	var out []unstructured.Unstructured
	for _, r := range m.Resources() {
		raw, err := r.MarshalJSON()
		require.NoError(t, err)
		var o unstructured.Unstructured
		require.NoError(t, o.UnmarshalJSON(raw))
		out = append(out, o)
	}
	return out
}

// decodeAs strictly decodes a built object into a Flux API type.
func decodeAs[T any](t *testing.T, o unstructured.Unstructured) T {
	t.Helper()
	raw, err := o.MarshalJSON()
	require.NoError(t, err)
	var v T
	require.NoError(t, manifests.DecodeStrict(raw, &v), "%s %s", o.GetKind(), o.GetName())
	return v
}

// The release a publish commits, read as Flux reads it, for each cluster:
// the Flux Kustomizations of clusters/<env> decode into kustomize-controller's
// type, form one chain without a loop (starting with the operators where
// Flux installs them) that applies every directory once, and each path
// builds as kustomize-controller builds it into objects whose images are
// all published digests.
func TestRender(t *testing.T) {
	t.Parallel()
	pushed := testPushed()
	rel, err := Render(repoRoot, pushed, Envs...)
	require.NoError(t, err)
	require.Equal(t, "0123abc", rel.Source)
	require.Equal(t, []string{"clusters/prod/groundwork.yaml", "deploy/prod", "clusters/dev/groundwork.yaml", "deploy/dev"}, rel.Owned)
	checkout := t.TempDir()
	for name, b := range rel.Files {
		require.NoError(t, os.MkdirAll(filepath.Join(checkout, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(checkout, name), b, 0o644))
	}
	stages := []string{"01-namespaces", "02-config", "03-database", "04-migrations", "05-workloads"}
	for _, env := range Envs {
		want := stages
		if env.Operators {
			want = append([]string{"00-operators"}, stages...)
		}
		built := checkEnv(t, rel, checkout, env, pushed, want)
		if env.Operators {
			checkOperatorObjects(t, built["groundwork-"+OperatorsStage])
		}
	}

	delete(pushed.Images, "webapp")
	_, err = Render(repoRoot, pushed, Prod)
	require.ErrorContains(t, err, "image webapp is missing")
}

// checkEnv checks one cluster's Flux Kustomizations and what they build
// to, and returns the objects by Kustomization.
func checkEnv(t *testing.T, rel Release, checkout string, env Env, pushed images.Pushed, want []string) map[string][]unstructured.Unstructured {
	t.Helper()
	var dirs []string
	for name := range rel.Files {
		if strings.HasPrefix(name, env.DeployDir()+"/") {
			dirs = append(dirs, filepath.Dir(name))
		}
	}
	slices.Sort(dirs)
	var wantDirs []string
	for _, w := range want {
		wantDirs = append(wantDirs, env.DeployDir()+"/"+w)
	}
	require.Equal(t, wantDirs, dirs, env.Name)

	flux := string(rel.Files[env.FluxFile()])
	require.True(t, strings.HasPrefix(flux, FluxHeader+"---\n"))
	docs := strings.Split(strings.TrimPrefix(flux, FluxHeader+"---\n"), "\n---\n")
	require.Len(t, docs, len(dirs))
	paths := map[string]bool{}
	dependsOn := map[string]string{}
	var images []string
	built := map[string][]unstructured.Unstructured{}
	for _, doc := range docs {
		raw, err := yaml.YAMLToJSON([]byte(doc))
		require.NoError(t, err)
		var k kustomizev1.Kustomization
		require.NoError(t, manifests.DecodeStrict(raw, &k), doc)
		require.Equal(t, FluxNamespace, k.Namespace)
		require.True(t, k.Spec.Prune && k.Spec.Wait, k.Name)
		require.NotNil(t, k.Spec.Timeout, k.Name)
		require.Equal(t, FluxSource, k.Spec.SourceRef.Name)
		p := strings.TrimPrefix(k.Spec.Path, "./")
		require.Contains(t, dirs, p, "%s points at %s, which the release does not have", k.Name, k.Spec.Path)
		require.False(t, paths[p], "two Kustomizations apply %s", p)
		paths[p] = true
		require.LessOrEqual(t, len(k.Spec.DependsOn), 1)
		if len(k.Spec.DependsOn) == 1 {
			dependsOn[k.Name] = k.Spec.DependsOn[0].Name
		}
		objs := fluxBuild(t, checkout, k)
		require.NotEmpty(t, objs, k.Name)
		built[k.Name] = objs
		for _, o := range objs {
			require.NotEqual(t, "Secret", o.GetKind(), "%s applies a Secret", k.Name)
			images = append(images, manifests.ContainerImages(manifests.Object{Kind: o.GetKind(), Map: o.Object})...)
		}
	}
	require.Len(t, paths, len(dirs), "every directory is applied by exactly one Kustomization")
	// The chain from the last stage back reaches the first without a loop.
	var chain []string
	for n := "groundwork-" + manifests.StageWorkloads; n != ""; n = dependsOn[n] {
		require.NotContains(t, chain, n, "dependsOn loops at %s", n)
		chain = append(chain, n)
	}
	require.Len(t, chain, len(dirs), "one chain through every directory")
	_, first, _ := strings.Cut(want[0], "-")
	require.Equal(t, "groundwork-"+first, chain[len(chain)-1])

	require.NotEmpty(t, images)
	published := map[string]bool{}
	for _, ref := range pushed.Images {
		published[ref] = true
	}
	for _, img := range images {
		require.True(t, published[img], "%s: %s is not a published digest", env.Name, img)
	}
	for _, ref := range pushed.Images {
		require.Contains(t, images, ref, "%s: no workload runs %s", env.Name, ref)
	}
	return built
}

// checkOperatorObjects: every operator of versions.yaml is installed by
// exactly one Flux object, from its pinned chart or Git tag, and waits
// only for operators that exist.
func checkOperatorObjects(t *testing.T, objs []unstructured.Unstructured) {
	t.Helper()
	ops, err := manifests.LoadOperators(filepath.Join(repoRoot, manifests.OperatorsFile))
	require.NoError(t, err)
	ociRepos := map[string]sourcev1.OCIRepository{}
	gitRepos := map[string]sourcev1.GitRepository{}
	installers := map[string]int{}
	releases := map[string]helmv2.HelmRelease{}
	kustomizations := map[string]kustomizev1.Kustomization{}
	for _, o := range objs {
		require.Equal(t, FluxNamespace, o.GetNamespace(), "%s %s", o.GetKind(), o.GetName())
		switch o.GetKind() {
		case sourcev1.OCIRepositoryKind:
			ociRepos[o.GetName()] = decodeAs[sourcev1.OCIRepository](t, o)
		case sourcev1.GitRepositoryKind:
			gitRepos[o.GetName()] = decodeAs[sourcev1.GitRepository](t, o)
		case helmv2.HelmReleaseKind:
			releases[o.GetName()] = decodeAs[helmv2.HelmRelease](t, o)
			installers[o.GetName()]++
		case kustomizev1.KustomizationKind:
			kustomizations[o.GetName()] = decodeAs[kustomizev1.Kustomization](t, o)
			installers[o.GetName()]++
		default:
			t.Fatalf("the operators stage has a %s", o.GetKind())
		}
	}
	require.Len(t, installers, len(ops))
	for _, op := range ops {
		require.Equal(t, 1, installers[op.Name], op.Name)
		var deps []meta.DependencyReference
		if op.Chart != "" {
			hr := releases[op.Name]
			require.Equal(t, sourcev1.OCIRepositoryKind, hr.Spec.ChartRef.Kind)
			repo, ok := ociRepos[hr.Spec.ChartRef.Name]
			require.True(t, ok, "%s's chart source is missing", op.Name)
			require.Equal(t, op.Chart, repo.Spec.URL)
			require.Equal(t, op.Version, repo.Spec.Reference.Tag)
			require.Equal(t, op.Namespace, hr.Spec.TargetNamespace)
			require.Equal(t, op.Release, hr.Spec.ReleaseName, "the release name is the label the monitors select by")
			require.True(t, hr.Spec.Install.CreateNamespace)
			if len(op.HelmValues) > 0 {
				require.NotNil(t, hr.Spec.Values, op.Name)
			}
			deps = hr.Spec.DependsOn
		} else {
			k := kustomizations[op.Name]
			repo, ok := gitRepos[k.Spec.SourceRef.Name]
			require.True(t, ok, "%s's Git source is missing", op.Name)
			require.Equal(t, op.Git.URL, repo.Spec.URL)
			require.Equal(t, op.Git.Tag, repo.Spec.Reference.Tag)
			require.Equal(t, "./"+filepath.Dir(op.Git.Path), k.Spec.Path)
			require.True(t, k.Spec.Wait && k.Spec.Prune, op.Name)
			deps = k.Spec.DependsOn
		}
		require.Len(t, deps, len(op.DependsOn), op.Name)
		for _, d := range deps {
			require.Equal(t, 1, installers[d.Name], "%s depends on %s", op.Name, d.Name)
		}
	}
	// cert-manager's chart installs its CRDs only when told to.
	require.JSONEq(t, `{"crds":{"enabled":true}}`, string(releases["cert-manager"].Spec.Values.Raw))
	require.Equal(t, "cert-manager", releases["trust-manager"].Spec.DependsOn[0].Name)
}

// archive runs source-controller's artifact step on dir: the repository
// tree filtered by the GitRepository's ignore, as the archive Flux hands
// kustomize-controller, unpacked into a new directory.
func archive(t *testing.T, dir, ignore string) (string, []string) {
	t.Helper()
	domain := strings.Split(dir, string(filepath.Separator))
	ps := sourceignore.ReadPatterns(strings.NewReader(ignore), domain)
	st := storage.Storage{BasePath: t.TempDir()}
	art := meta.Artifact{Path: "repo.tar.gz"}
	require.NoError(t, st.Archive(&art, dir, storage.SourceIgnoreFilter(ps, domain)))
	f, err := os.Open(filepath.Join(st.BasePath, art.Path))
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	out := t.TempDir()
	var files []string
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		files = append(files, h.Name)
		p := filepath.Join(out, h.Name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	return out, files
}

// A GitRepository of an operator keeps exactly its manifest out of the
// whole repository: on a tree with neighbours at every level, and on
// CloudNativePG's real tree at the pinned tag (its Go module), where the
// operator's Kustomization then builds, as kustomize-controller would,
// into the operator's Deployment.
func TestOperatorGitSourcesKeepOneFile(t *testing.T) {
	t.Parallel()
	ops, err := manifests.LoadOperators(filepath.Join(repoRoot, manifests.OperatorsFile))
	require.NoError(t, err)
	objs, err := operatorObjects(ops)
	require.NoError(t, err)
	repos := map[string]sourcev1.GitRepository{}
	ks := map[string]kustomizev1.Kustomization{}
	for _, o := range objs {
		switch v := o.(type) {
		case sourcev1.GitRepository:
			repos[v.Name] = v
		case kustomizev1.Kustomization:
			ks[v.Name] = v
		}
	}
	n := 0
	for _, op := range ops {
		if op.Git == nil {
			continue
		}
		n++
		tree := t.TempDir()
		parts := strings.Split(op.Git.Path, "/")
		for i := range parts {
			dir := filepath.Join(append([]string{tree}, parts[:i]...)...)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "neighbour.yaml"), []byte("kind: ConfigMap\n"), 0o644))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "other"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "other", parts[len(parts)-1]), []byte("kind: ConfigMap\n"), 0o644))
		}
		require.NoError(t, os.WriteFile(filepath.Join(tree, op.Git.Path), []byte("kind: ConfigMap\n"), 0o644))
		_, files := archive(t, tree, *repos[op.Name].Spec.Ignore)
		require.Equal(t, []string{op.Git.Path}, files, op.Name)
	}
	require.Positive(t, n)

	cnpg := ops[slices.IndexFunc(ops, func(o manifests.Operator) bool { return o.Name == "cloudnative-pg" })]
	mod, err := gomodule.Dir(t.Context(), "github.com/cloudnative-pg/cloudnative-pg", cnpg.Git.Tag)
	require.NoError(t, err)
	checkout, files := archive(t, mod, *repos[cnpg.Name].Spec.Ignore)
	require.Equal(t, []string{cnpg.Git.Path}, files)
	var deployments []string
	for _, o := range fluxBuild(t, checkout, ks[cnpg.Name]) {
		if o.GetKind() == "Deployment" {
			deployments = append(deployments, o.GetNamespace()+"/"+o.GetName())
		}
	}
	require.Equal(t, []string{cnpg.Namespace + "/" + strings.TrimPrefix(cnpg.Wait[0], "deployment/")}, deployments)
}

func TestHelmValues(t *testing.T) {
	t.Parallel()
	v, err := helmValues(map[string]string{"a.b": "true", "a.c": "3", "d": "x", "a.e": "false", "f": "1.5"})
	require.NoError(t, err)
	require.JSONEq(t, `{"a":{"b":true,"c":3,"e":false},"d":"x","f":"1.5"}`, string(v.Raw))
	_, err = helmValues(map[string]string{"a": "1", "a.b": "2"})
	require.ErrorContains(t, err, "a is already a value")
	v, err = helmValues(nil)
	require.NoError(t, err)
	require.Nil(t, v)
}

// A Secret in the overlay is refused: the manifest repository holds no
// secret material.
func TestRenderRefusesSecrets(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "k8s"), os.DirFS(filepath.Join(repoRoot, "k8s"))))
	kust := filepath.Join(root, manifests.ProdOverlay, "kustomization.yaml")
	b, err := os.ReadFile(kust)
	require.NoError(t, err)
	b = append(b, []byte("secretGenerator:\n  - name: leaked\n    namespace: groundwork\n    literals: [password=hunter2]\n")...)
	require.NoError(t, os.WriteFile(kust, b, 0o644))
	_, err = Render(root, testPushed(), Prod)
	require.ErrorContains(t, err, "Secret groundwork/leaked")
	require.NotContains(t, err.Error(), "hunter2")
}
