package prod

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
	"github.com/groundwork-dev/groundwork/internal/delivery/ociregistry/registrytest"
)

const root = "../../.."

// fakeKube records what deploy asks of the cluster.
type fakeKube struct {
	context string
	mu      sync.Mutex
	calls   []string // "apply <n objects>", "wait Kind/name for", "diff"
	applied [][]byte
}

func (f *fakeKube) CurrentContext(context.Context) (string, error) { return f.context, nil }

func (f *fakeKube) Reachable(context.Context) error { return nil }

func (f *fakeKube) Apply(_ context.Context, y []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "apply")
	f.applied = append(f.applied, y)
	return nil
}

func (f *fakeKube) Diff(_ context.Context, y []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "diff")
	return "+ " + strings.SplitN(string(y), "\n", 2)[0], nil
}

func (f *fakeKube) Wait(_ context.Context, w manifests.Wait, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "wait "+w.Kind+"/"+w.Name+" "+w.For)
	return nil
}

func (f *fakeKube) Get(context.Context, string, string, string, string) (string, bool, error) {
	return "", false, nil
}

func (f *fakeKube) Restart(_ context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "restart "+ns+"/"+name)
	return nil
}

// randomImages builds a small random index per image name, standing in for
// the real builds (which the images package tests).
func randomImages(t *testing.T) (kube.BuildFunc, *[]string) {
	t.Helper()
	var built []string
	var mu sync.Mutex
	return func(_ context.Context, name string) (v1.ImageIndex, error) {
		mu.Lock()
		built = append(built, name)
		mu.Unlock()
		return random.Index(256, 1, 2)
	}, &built
}

// tlsRegistry is a registry over TLS with httptest's CA, reachable as
// registry.example.com.
func tlsRegistry(t *testing.T) images.Registry {
	t.Helper()
	r := registrytest.ServeTLS(t, nil)
	return images.Registry{Prefix: registrytest.Host + ":" + r.Port + "/groundwork", CAFile: r.CAFile, Transport: r.Transport}
}

func TestProdRefusesAKindContext(t *testing.T) {
	t.Parallel()
	build, built := randomImages(t)
	cluster := &fakeKube{context: "kind-groundwork"}
	var out strings.Builder
	err := Deploy{Root: root, Registry: images.Registry{Prefix: "registry.example.com/g"}, Build: build, Kube: cluster, Out: &out}.Run(context.Background())
	require.ErrorIs(t, err, ErrKindContext)
	require.ErrorContains(t, err, `"kind-groundwork"`)
	require.Empty(t, *built, "nothing is built for a refused context")
	require.Empty(t, cluster.calls)
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	_, _, err := ConfigFromEnv(env())
	require.ErrorContains(t, err, "PROD_REGISTRY is not set")
	_, _, err = ConfigFromEnv(env("PROD_REGISTRY", "localhost:5001/g"))
	require.ErrorContains(t, err, "is a local registry")
	_, _, err = ConfigFromEnv(env("PROD_REGISTRY", "https://r.example.com/g"))
	require.ErrorContains(t, err, "without a scheme")
	_, _, err = ConfigFromEnv(env("PROD_REGISTRY", "r.example.com/g", "DRY_RUN", "maybe"))
	require.ErrorContains(t, err, "DRY_RUN=maybe")
	reg, dry, err := ConfigFromEnv(env("PROD_REGISTRY", "r.example.com/g", "DRY_RUN", "1", "REGISTRY_CA_FILE", "/ca.pem"))
	require.NoError(t, err)
	require.True(t, dry)
	require.Equal(t, images.Registry{Prefix: "r.example.com/g", CAFile: "/ca.pem"}, reg)
}

func TestProdDryRunPushesAndAppliesNothing(t *testing.T) {
	t.Parallel()
	build, built := randomImages(t)
	cluster := &fakeKube{context: "prod"}
	var out strings.Builder
	// A registry nobody listens on: a push would fail.
	reg := images.Registry{Prefix: "registry.invalid/groundwork"}
	err := Deploy{Root: root, Registry: reg, Build: build, Kube: cluster, DryRun: true, Out: &out}.Run(context.Background())
	require.NoError(t, err)
	require.Equal(t, images.Names, *built)
	for _, c := range cluster.calls {
		require.Equal(t, "diff", c)
	}
	require.NotEmpty(t, cluster.calls)
	require.Contains(t, out.String(), "dry run: nothing was applied")
	require.Contains(t, out.String(), "(dry run, not pushed)")
}

func TestProdPushesPinsAndAppliesInStages(t *testing.T) {
	t.Parallel()
	build, _ := randomImages(t)
	reg := tlsRegistry(t)
	cluster := &fakeKube{context: "prod"}
	var out strings.Builder
	ctx := context.Background()
	require.NoError(t, Deploy{Root: root, Registry: reg, Build: build, Kube: cluster, Out: &out}.Run(ctx))

	// Every image was pushed and the applied manifests name exactly those
	// digests.
	all := strings.Join(func() (s []string) {
		for _, b := range cluster.applied {
			s = append(s, string(b))
		}
		return s
	}(), "\n")
	for _, name := range images.Names {
		var ref string
		for line := range strings.SplitSeq(out.String(), "\n") {
			if r, ok := strings.CutPrefix(line, "pushed "); ok && strings.Contains(r, "/groundwork/"+name+"@") {
				ref = r
			}
		}
		require.NotEmpty(t, ref, name)
		_, err := reg.Pull(ctx, ref)
		require.NoError(t, err, "pull back %s", ref)
		require.Contains(t, all, "image: "+ref, name)
	}
	require.NotContains(t, all, "sha256:0000000000")

	// Stage order: the migrator Job is waited for before any Deployment is
	// applied.
	calls := strings.Join(cluster.calls, "\n")
	migrator := strings.Index(calls, "wait Job/migrator-")
	require.GreaterOrEqual(t, migrator, 0, calls)
	require.Contains(t, calls, "condition=Complete")
	lastApply := strings.LastIndex(calls, "apply")
	require.Less(t, migrator, lastApply, "the Deployments' stage comes after the migration")
	require.Contains(t, string(cluster.applied[len(cluster.applied)-1]), "kind: Deployment")
	require.NotContains(t, string(cluster.applied[len(cluster.applied)-1]), "kind: Job")
	require.Contains(t, calls, "wait Deployment/server rollout")
}

// kubectl itself, against a kubeconfig whose current context is a Kind
// cluster: refused before anything is built or contacted.
func TestProdWithKubectlRefusesKindContext(t *testing.T) {
	t.Parallel()
	requireKubectl(t)
	cfg := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(cfg, []byte(`apiVersion: v1
kind: Config
clusters: [{name: kind-groundwork, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: kind-groundwork, user: {}}]
contexts: [{name: kind-groundwork, context: {cluster: kind-groundwork, user: kind-groundwork}}]
current-context: kind-groundwork
`), 0o600))
	k := kube.Kubectl{Binary: "kubectl", Env: []string{"KUBECONFIG=" + cfg}}
	build, built := randomImages(t)
	err := Deploy{Root: root, Registry: images.Registry{Prefix: "r.example.com/g"}, Build: build, Kube: k, Out: &strings.Builder{}}.Run(context.Background())
	require.ErrorIs(t, err, ErrKindContext)
	require.Empty(t, *built)

	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600))
	_, err = kube.Kubectl{Env: []string{"KUBECONFIG=" + empty}}.CurrentContext(context.Background())
	require.ErrorContains(t, err, "no current kube context")
}

// A production context whose cluster does not answer: refused before
// anything is built, with what to check.
func TestProdWithKubectlAndNoCluster(t *testing.T) {
	t.Parallel()
	requireKubectl(t)
	cfg := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(cfg, []byte(`apiVersion: v1
kind: Config
clusters: [{name: prod, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: prod, user: {}}]
contexts: [{name: prod, context: {cluster: prod, user: prod}}]
current-context: prod
`), 0o600))
	build, built := randomImages(t)
	err := Deploy{Root: root, Registry: images.Registry{Prefix: "r.example.com/g"}, Build: build,
		Kube: kube.Kubectl{Env: []string{"KUBECONFIG=" + cfg}}, Out: &strings.Builder{}}.Run(context.Background())
	require.ErrorIs(t, err, kube.ErrUnreachable)
	require.ErrorContains(t, err, `kube context "prod"`)
	require.Empty(t, *built)
}

// requireKubectl skips without kubectl, saying so, unless
// GROUNDWORK_REQUIRE_KUBECTL=1 makes that a failure (machines that are meant
// to have it, like CI's).
func requireKubectl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		if os.Getenv("GROUNDWORK_REQUIRE_KUBECTL") == "1" {
			t.Fatalf("kubectl is not installed and GROUNDWORK_REQUIRE_KUBECTL=1: %v", err)
		}
		t.Skip("kubectl is not installed (https://kubernetes.io/docs/tasks/tools/#kubectl); set GROUNDWORK_REQUIRE_KUBECTL=1 to make this a failure")
	}
}

// After images:push, deploy:prod builds and pushes nothing: it applies the
// overlay pinned to exactly the recorded digests.
func TestProdDeploysWhatImagesPushRecorded(t *testing.T) {
	t.Parallel()
	build, built := randomImages(t)
	rec := images.Pushed{Source: "0123abc", Images: map[string]string{}}
	for i, n := range images.Names {
		rec.Images[n] = fmt.Sprintf("ghcr.io/acme/%s@sha256:%064x", n, i+1)
	}
	require.NoError(t, rec.Validate())
	cluster := &fakeKube{context: "prod"}
	var out strings.Builder
	// A registry nobody listens on: a push would fail.
	reg := images.Registry{Prefix: "registry.invalid/groundwork"}
	require.NoError(t, Deploy{Root: root, Registry: reg, Build: build, Kube: cluster, Pushed: &rec, Out: &out}.Run(context.Background()))
	require.Empty(t, *built, "nothing is built")
	var all strings.Builder
	for _, b := range cluster.applied {
		all.Write(b)
	}
	for _, ref := range rec.Images {
		require.Contains(t, all.String(), "image: "+ref)
	}
	require.Contains(t, out.String(), "images pushed from 0123abc")
}
