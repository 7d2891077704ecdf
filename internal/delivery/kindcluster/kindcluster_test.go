package kindcluster

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
)

// fakeHost has the tools named in tools; commands in fail fail.
func fakeHost(tools []string, fail map[string]string, outputs map[string]string) (Host, *[]string) {
	var mu sync.Mutex
	var ran []string
	return Host{
		LookPath: func(name string) (string, error) {
			for _, t := range tools {
				if t == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", exec.ErrNotFound
		},
		Run: func(_ context.Context, name string, args ...string) ([]byte, error) {
			cmd := strings.Join(append([]string{name}, args...), " ")
			mu.Lock()
			ran = append(ran, cmd)
			mu.Unlock()
			for prefix, msg := range fail {
				if strings.HasPrefix(cmd, prefix) {
					return []byte(msg), errors.New("exit status 1")
				}
			}
			for prefix, out := range outputs {
				if strings.HasPrefix(cmd, prefix) {
					return []byte(out), nil
				}
			}
			return nil, nil
		},
		GOOS: "linux",
	}, &ran
}

func TestPreflightSaysWhatToInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		tools []string
		fail  map[string]string
		want  string
	}{
		{"NoRuntime", []string{"kubectl", "helm"}, nil, "install Docker (https://docs.docker.com/engine/install/) or Podman"},
		{"DaemonDown", []string{"docker", "kubectl", "helm"}, map[string]string{"docker info": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"},
			"docker is installed but does not answer (`docker info`: exit status 1: Cannot connect to the Docker daemon"},
		{"NoKubectl", []string{"docker", "helm"}, nil, "kubectl applies the manifests: install it"},
		{"NoHelm", []string{"docker", "kubectl"}, nil, "helm installs the operators pinned as Helm charts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, _ := fakeHost(tc.tools, tc.fail, nil)
			_, err := Preflight(ctx, h, true)
			require.ErrorIs(t, err, ErrMissingTool)
			require.ErrorContains(t, err, tc.want)
		})
	}
	h, _ := fakeHost([]string{"docker", "podman", "kubectl", "helm"}, map[string]string{"docker info": "down"}, nil)
	rt, err := Preflight(ctx, h, true)
	require.NoError(t, err)
	require.Equal(t, Runtime("podman"), rt, "podman when docker's daemon is down")
}

// On this machine (no Docker engine) the real kind:up stops at once and
// says what to install.
func TestUpWithoutDocker(t *testing.T) {
	t.Parallel()
	h, ran := fakeHost([]string{"kubectl", "helm"}, nil, nil)
	c := &Cluster{Config: DefaultConfig("../../.."), Host: h, Out: io.Discard}
	err := c.Up(context.Background())
	require.ErrorContains(t, err, "found no container runtime: install Docker")
	require.Empty(t, *ran, "nothing runs before the check")
	require.ErrorContains(t, c.Down(context.Background()), "install Docker")
	require.ErrorContains(t, c.Deploy(context.Background(), "server"), "install Docker")

	if _, err := exec.LookPath("docker"); err != nil {
		err := (&Cluster{Config: DefaultConfig("../../.."), Host: RealHost(), Out: io.Discard}).Up(context.Background())
		require.ErrorIs(t, err, ErrMissingTool)
	}
}

func TestKindConfig(t *testing.T) {
	t.Parallel()
	cfg := KindConfig(DefaultConfig("."))
	require.Equal(t, "groundwork", cfg.Name)
	require.Len(t, cfg.Nodes, 1)
	n := cfg.Nodes[0]
	require.Equal(t, "true", n.Labels["ingress-ready"])
	require.Equal(t, int32(8080), n.ExtraPortMappings[0].HostPort)
	require.Equal(t, int32(80), n.ExtraPortMappings[0].ContainerPort)
	require.Equal(t, "127.0.0.1", n.ExtraPortMappings[0].ListenAddress)
	require.Equal(t, []string{ContainerdConfigPatch}, cfg.ContainerdConfigPatches)
	// The patch is valid TOML that sets containerd's config_path.
	var patch map[string]any
	_, err := toml.Decode(ContainerdConfigPatch, &patch)
	require.NoError(t, err)
	cri := patch["plugins"].(map[string]any)["io.containerd.grpc.v1.cri"].(map[string]any)
	require.Equal(t, "/etc/containerd/certs.d", cri["registry"].(map[string]any)["config_path"])
	// It encodes as a Kind config file (what `kind create cluster --config` reads).
	b, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	require.Contains(t, string(b), "apiVersion: kind.x-k8s.io/v1alpha4")
}

func TestHostsTOML(t *testing.T) {
	t.Parallel()
	var hosts struct {
		Host map[string]struct {
			Capabilities []string `toml:"capabilities"`
		} `toml:"host"`
	}
	_, err := toml.Decode(HostsTOML("172.18.0.1:5001"), &hosts)
	require.NoError(t, err)
	require.Equal(t, []string{"pull", "resolve"}, hosts.Host["http://172.18.0.1:5001"].Capabilities)
}

func TestRegistryEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := fakeHost(nil, nil, map[string]string{"docker network inspect kind": "172.18.0.1 fc00:f853:ccd:e793::1 \n"})
	listen, ep, err := registryEndpoint(ctx, h, "docker", 5001)
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.1:5001", "172.18.0.1:5001"}, listen)
	require.Equal(t, "172.18.0.1:5001", ep)

	h.GOOS = "darwin"
	listen, ep, err = registryEndpoint(ctx, h, "docker", 5001)
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.1:5001"}, listen)
	require.Equal(t, "host.docker.internal:5001", ep)

	h2, _ := fakeHost(nil, map[string]string{"docker network inspect": "Error: No such network: kind"}, nil)
	_, _, err = registryEndpoint(ctx, h2, "docker", 5001)
	require.ErrorContains(t, err, "No such network")
}

// fakeKube records applies and knows the Secrets and images applied.
type fakeKube struct {
	mu      sync.Mutex
	applied []string
	calls   []string
	live    map[string]string // "Kind/ns/name" -> Get's answer
}

func (f *fakeKube) CurrentContext(context.Context) (string, error) { return "kind-groundwork", nil }
func (f *fakeKube) Reachable(context.Context) error                { return nil }
func (f *fakeKube) Apply(_ context.Context, y []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, string(y))
	f.calls = append(f.calls, "apply")
	return nil
}
func (f *fakeKube) Diff(context.Context, []byte) (string, error) { return "", nil }
func (f *fakeKube) Wait(_ context.Context, w manifests.Wait, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "wait "+w.Kind+"/"+w.Name)
	return nil
}
func (f *fakeKube) Get(_ context.Context, kind, ns, name, _ string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.live[kind+"/"+ns+"/"+name]
	return v, ok, nil
}
func (f *fakeKube) Restart(_ context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "restart "+ns+"/"+name)
	return nil
}

func TestEnsureSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kube := &fakeKube{live: map[string]string{}}
	require.NoError(t, EnsureSecrets(ctx, kube, manifests.ExternalFor(false), io.Discard))
	require.Len(t, kube.applied, 1)
	type secret struct {
		Metadata   struct{ Name, Namespace string }
		StringData map[string]string `json:"stringData"`
	}
	got := map[string]secret{}
	for _, doc := range strings.Split(kube.applied[0], "---\n") {
		var s secret
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Type       string            `json:"type"`
			Metadata   any               `json:"metadata"`
			StringData map[string]string `json:"stringData"`
		}{}))
		require.NoError(t, yaml.Unmarshal([]byte(doc), &s))
		got[s.Metadata.Namespace+"/"+s.Metadata.Name] = s
	}
	require.Len(t, got, 3)
	k := got["groundwork-auth/kratos-secrets"].StringData
	require.Len(t, k["cipher"], 32, "Kratos's cipher secret is exactly 32 characters")
	require.GreaterOrEqual(t, len(k["default"]), 16)
	require.NotEqual(t, k["default"], k["cookie"])
	require.Equal(t, got["groundwork/kratos-hook-key"].StringData, got["groundwork-auth/kratos-hook-key"].StringData, "one hook key on both sides")

	// Existing Secrets are left alone.
	kube2 := &fakeKube{live: map[string]string{}}
	for id := range got {
		ns, name, _ := strings.Cut(id, "/")
		kube2.live["Secret/"+ns+"/"+name] = name
	}
	require.NoError(t, EnsureSecrets(ctx, kube2, manifests.ExternalFor(false), io.Discard))
	require.Empty(t, kube2.applied)
}

func TestDeployNeedsTheRegistry(t *testing.T) {
	t.Parallel()
	h, _ := fakeHost([]string{"docker", "kubectl"}, nil, nil)
	cfg := DefaultConfig("../../..")
	cfg.RegistryPort = freePort(t)
	c := &Cluster{Config: cfg, Host: h, Out: io.Discard}
	require.ErrorContains(t, c.Deploy(context.Background(), "server"), "run `go tool mage kind:up` first")
	require.ErrorContains(t, c.Deploy(context.Background(), "nope"), `no component "nope"`)
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Pick(t.Context())
	require.NoError(t, err)
	return p
}

// kind:deploy server against a real registry and a recording cluster:
// the image is pushed, only the server's objects are applied, pinned to the
// pushed digest, and an unchanged Deployment is restarted.
func TestDeployComponent(t *testing.T) {
	t.Parallel()
	// Listening first and reading the port back: a port picked free and
	// bound again later can be taken in between (a CI run failed so).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	srv := httptest.NewUnstartedServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	h, _ := fakeHost([]string{"docker", "kubectl"}, nil, nil)
	cfg := DefaultConfig("../../..")
	cfg.RegistryPort = port
	idx, err := random.Index(128, 1, 1)
	require.NoError(t, err)
	digest, err := idx.Digest()
	require.NoError(t, err)
	ref := "localhost:" + strconv.Itoa(port) + "/groundwork/server@" + digest.String()
	kube := &fakeKube{live: map[string]string{"Deployment/groundwork/worker": ref}}
	var built []string
	c := &Cluster{Config: cfg, Host: h, Out: io.Discard, Kube: kube, Build: func(_ context.Context, name string) (v1.ImageIndex, error) {
		built = append(built, name)
		return idx, nil
	}}
	require.NoError(t, c.Deploy(context.Background(), "server"))
	require.Equal(t, []string{"server"}, built)
	all := strings.Join(kube.applied, "\n")
	require.Contains(t, all, "image: "+ref)
	require.Contains(t, all, "name: server-grpc-tls")
	require.NotContains(t, all, "kind: Job", "only the server's objects")
	require.NotContains(t, all, "name: kratos\n")
	calls := strings.Join(kube.calls, "\n")
	require.Contains(t, calls, "wait Deployment/server")
	require.Contains(t, calls, "restart groundwork/worker", "the worker's image did not change: restarted")
	require.NotContains(t, calls, "restart groundwork/server")
}

// The patch uses the plugin names of the containerd configuration in
// Kind's node image (version 2 format, CRI plugin io.containerd.grpc.v1.cri),
// which does not set config_path itself; both read from the pinned Kind
// module's source.
func TestContainerdPatchFitsKindsNodeConfig(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kind").Output()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "images/base/files/etc/containerd/config.toml"))
	require.NoError(t, err)
	var node map[string]any
	_, err = toml.Decode(string(b), &node)
	require.NoError(t, err)
	require.EqualValues(t, 2, node["version"])
	cri, ok := node["plugins"].(map[string]any)["io.containerd.grpc.v1.cri"].(map[string]any)
	require.True(t, ok, "Kind's node config has no io.containerd.grpc.v1.cri plugin section")
	_, set := cri["registry"]
	require.False(t, set, "Kind's node config sets the registry itself; the patch would fight it")
}
