// Package kindcluster is `mage kind:up`, `kind:down`, `kind:reset` and
// `kind:deploy`: a local Kubernetes cluster made with Kind's Go API
// (sigs.k8s.io/kind), fed by a local registry (internal/delivery/ociregistry, a Go
// process on the host) and running the dev overlay.
//
// kind:up, in order: check the tools (a container runtime whose daemon
// answers, kubectl, helm) and say what to install when one is missing;
// create the cluster (containerd told to read registry hosts from
// /etc/containerd/certs.d); start the registry on 127.0.0.1:5001 and on the
// Kind network's gateway, and point each node's containerd at it for
// localhost:5001; install the operators pinned in k8s/operators/versions.yaml;
// generate the dev Secrets (manifests.External) once; build the images for
// the node's platform and push them; apply the dev overlay pinned to the
// pushed digests, stage by stage, waiting for each.
package kindcluster

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/groundwork-dev/groundwork/internal/delivery/images"
	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
	"github.com/groundwork-dev/groundwork/internal/delivery/ociregistry"
)

// Config is the Kind cluster's setup.
type Config struct {
	Root         string // the repository, an absolute path
	Name         string // the cluster: groundwork (kube context kind-groundwork)
	RegistryPort int    // the local registry's port on the host: 5001
	HTTPPort     int32  // the host port of the ingress: 8080, the local origin
}

// DefaultConfig is the cluster of a checkout at root.
func DefaultConfig(root string) Config {
	return Config{Root: root, Name: "groundwork", RegistryPort: 5001, HTTPPort: 8080}
}

// Context is the cluster's kube context.
func (c Config) Context() string { return "kind-" + c.Name }

// RegistryHost is the registry's name in image references, the same on the
// host and (through containerd's hosts.toml) on the nodes.
func (c Config) RegistryHost() string { return "localhost:" + strconv.Itoa(c.RegistryPort) }

func (c Config) stateDir() string { return filepath.Join(c.Root, ".cache", "kind") }

// Host is how the package reaches the machine: tools on PATH and commands.
// Tests replace it.
type Host struct {
	LookPath func(string) (string, error)
	// Run runs a command and returns its combined output.
	Run  func(ctx context.Context, name string, args ...string) ([]byte, error)
	GOOS string
}

// RealHost is this machine.
func RealHost() Host {
	return Host{
		LookPath: exec.LookPath,
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, name, args...).CombinedOutput()
		},
		GOOS: runtime.GOOS,
	}
}

// ErrMissingTool is wrapped by the errors of Preflight.
var ErrMissingTool = errors.New("a tool kind:up needs is missing")

// Runtime is the container runtime the Kind nodes run in.
type Runtime string

// Preflight checks the tools and returns the container runtime: docker if
// its daemon answers, else podman.
func Preflight(ctx context.Context, h Host, needHelm bool) (Runtime, error) {
	var rt Runtime
	var daemonErr error
	for _, name := range []Runtime{"docker", "podman"} {
		if _, err := h.LookPath(string(name)); err != nil {
			continue
		}
		out, err := h.Run(ctx, string(name), "info")
		if err != nil {
			daemonErr = fmt.Errorf("%w: %s is installed but does not answer (`%s info`: %w: %s); start it — for Docker: `sudo systemctl start docker` on Linux, or open Docker Desktop — and run kind:up again",
				ErrMissingTool, name, name, err, firstLine(out))
			continue
		}
		rt = name
		break
	}
	if rt == "" {
		if daemonErr != nil {
			return "", daemonErr
		}
		return "", fmt.Errorf("%w: kind:up runs the Kubernetes nodes as containers and found no container runtime: install Docker (https://docs.docker.com/engine/install/) or Podman (https://podman.io/docs/installation), start it, and run `go tool mage kind:up` again", ErrMissingTool)
	}
	if _, err := h.LookPath("kubectl"); err != nil {
		return "", fmt.Errorf("%w: kubectl applies the manifests: install it (https://kubernetes.io/docs/tasks/tools/#kubectl)", ErrMissingTool)
	}
	if needHelm {
		if _, err := h.LookPath("helm"); err != nil {
			return "", fmt.Errorf("%w: helm installs the operators pinned as Helm charts in k8s/operators/versions.yaml: install it (https://helm.sh/docs/intro/install/)", ErrMissingTool)
		}
	}
	return rt, nil
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// ContainerdConfigPatch makes containerd read per-registry settings from
// /etc/containerd/certs.d, where Up writes localhost:5001's.
const ContainerdConfigPatch = `[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"`

// KindConfig is the cluster's Kind configuration: one node that also runs
// the ingress controller (label ingress-ready, ports 80/443 on the host's
// loopback), containerd reading registry hosts from certs.d.
func KindConfig(c Config) *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     c.Name,
		Nodes: []v1alpha4.Node{{
			Role:   v1alpha4.ControlPlaneRole,
			Labels: map[string]string{"ingress-ready": "true"},
			ExtraPortMappings: []v1alpha4.PortMapping{
				{ContainerPort: 80, HostPort: c.HTTPPort, ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP},
			},
		}},
		ContainerdConfigPatches: []string{ContainerdConfigPatch},
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}

// HostsTOML is containerd's hosts.toml for localhost:<port>: pull from the
// registry at endpoint over plain HTTP.
func HostsTOML(endpoint string) string {
	return fmt.Sprintf("# written by go tool mage kind:up\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", "http://"+endpoint)
}

// registryEndpoint is where the nodes reach the host's registry: on Linux
// the Kind network's gateway (the registry listens there too), elsewhere
// Docker Desktop's / Podman's name for the host.
func registryEndpoint(ctx context.Context, h Host, rt Runtime, port int) (listen []string, endpoint string, err error) {
	local := "127.0.0.1:" + strconv.Itoa(port)
	if h.GOOS != "linux" {
		host := "host.docker.internal"
		if rt == "podman" {
			host = "host.containers.internal"
		}
		return []string{local}, host + ":" + strconv.Itoa(port), nil
	}
	out, err := h.Run(ctx, string(rt), "network", "inspect", "kind", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}")
	if err != nil {
		return nil, "", fmt.Errorf("finding the kind network's gateway: %w: %s", err, firstLine(out))
	}
	for _, gw := range strings.Fields(string(out)) {
		if strings.Count(gw, ".") == 3 {
			addr := gw + ":" + strconv.Itoa(port)
			return []string{local, addr}, addr, nil
		}
	}
	return nil, "", fmt.Errorf("the kind network has no IPv4 gateway (%q)", strings.TrimSpace(string(out)))
}

// Cluster drives one Kind cluster.
type Cluster struct {
	Config Config
	Host   Host
	Out    io.Writer
	// Kube talks to the cluster; nil: kubectl with the cluster's context.
	Kube kube.Kube
	// Build builds an image for the node's platform; nil: the project's
	// real build (images.Project).
	Build kube.BuildFunc
	// PrepareWebapp is the real build's images.Project.PrepareWebapp.
	PrepareWebapp func(ctx context.Context) error
	// WaitTimeout bounds each wait (0: kube.WaitTimeout).
	WaitTimeout time.Duration
}

func (k *Cluster) client() kube.Kube {
	if k.Kube == nil {
		return kube.Kubectl{Context: k.Config.Context(), Log: k.Out}
	}
	return k.Kube
}

func (k *Cluster) provider(rt Runtime) *cluster.Provider {
	opt := cluster.ProviderWithDocker()
	if rt == "podman" {
		opt = cluster.ProviderWithPodman()
	}
	return cluster.NewProvider(opt)
}

func (k *Cluster) registry(listen []string) ociregistry.Process {
	return ociregistry.Process{
		Binary: filepath.Join(k.Config.Root, ".cache", "bin", "groundwork-registry"),
		Dir:    filepath.Join(k.Config.stateDir(), "registry"),
		Addrs:  listen,
	}
}

func (k *Cluster) buildRegistry(ctx context.Context) error {
	out, err := k.Host.Run(ctx, "go", "-C", k.Config.Root, "build", "-o", k.registry(nil).Binary, "./cmd/registry")
	if err != nil {
		return fmt.Errorf("building the registry: %w: %s", err, out)
	}
	return nil
}

// Up creates (or completes) the cluster and deploys the dev overlay.
func (k *Cluster) Up(ctx context.Context) error {
	start := time.Now()
	rt, err := Preflight(ctx, k.Host, true)
	if err != nil {
		return err
	}
	ops, err := manifests.LoadOperators(filepath.Join(k.Config.Root, manifests.OperatorsFile))
	if err != nil {
		return err
	}
	p := k.provider(rt)
	names, err := p.List()
	if err != nil {
		return fmt.Errorf("listing Kind clusters: %w", err)
	}
	if slices.Contains(names, k.Config.Name) {
		fmt.Fprintf(k.Out, "kind: cluster %s exists\n", k.Config.Name)
	} else {
		fmt.Fprintf(k.Out, "kind: creating cluster %s\n", k.Config.Name)
		if err := p.Create(k.Config.Name, cluster.CreateWithV1Alpha4Config(KindConfig(k.Config)),
			cluster.CreateWithWaitForReady(3*time.Minute), cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false)); err != nil {
			return fmt.Errorf("creating the Kind cluster: %w", err)
		}
	}
	listen, endpoint, err := registryEndpoint(ctx, k.Host, rt, k.Config.RegistryPort)
	if err != nil {
		return err
	}
	if err := k.buildRegistry(ctx); err != nil {
		return err
	}
	if err := k.registry(listen).Start(ctx, k.Out); err != nil {
		return err
	}
	nodes, err := p.ListNodes(k.Config.Name)
	if err != nil {
		return fmt.Errorf("listing the cluster's nodes: %w", err)
	}
	dir := "/etc/containerd/certs.d/" + k.Config.RegistryHost()
	for _, n := range nodes {
		if err := n.Command("mkdir", "-p", dir).Run(); err != nil {
			return fmt.Errorf("node %s: %w", n.String(), err)
		}
		if err := n.Command("cp", "/dev/stdin", dir+"/hosts.toml").SetStdin(strings.NewReader(HostsTOML(endpoint))).Run(); err != nil {
			return fmt.Errorf("node %s: writing hosts.toml: %w", n.String(), err)
		}
	}
	if err := k.installOperators(ctx, ops); err != nil {
		return err
	}
	if err := k.deploy(ctx, nil); err != nil {
		return err
	}
	fmt.Fprintf(k.Out, "kind: ready in %s — http://127.0.0.1:%d (kubectl --context %s)\n", time.Since(start).Round(time.Second), k.Config.HTTPPort, k.Config.Context())
	return nil
}

func (k *Cluster) installOperators(ctx context.Context, ops []manifests.Operator) error {
	for _, op := range ops {
		fmt.Fprintf(k.Out, "operators: %s %s\n", op.Name, op.Version)
		var out []byte
		var err error
		if op.Manifest != "" {
			out, err = k.Host.Run(ctx, "kubectl", "--context", k.Config.Context(), "apply", "--server-side", "--force-conflicts", "-f", op.Manifest)
		} else {
			args := []string{"upgrade", "--install", op.Release, op.Chart, "--version", op.Version, "--namespace", op.Namespace,
				"--create-namespace", "--kube-context", k.Config.Context(), "--wait"}
			keys := slices.Sorted(maps.Keys(op.HelmValues))
			for _, key := range keys {
				args = append(args, "--set", key+"="+op.HelmValues[key])
			}
			out, err = k.Host.Run(ctx, "helm", args...)
		}
		if err != nil {
			return fmt.Errorf("installing %s %s: %w: %s", op.Name, op.Version, err, out)
		}
		for _, w := range op.Wait {
			kind, name, _ := strings.Cut(w, "/")
			if err := k.client().Wait(ctx, manifests.Wait{Kind: kind, Namespace: op.Namespace, Name: name, For: manifests.Rollout}, 5*time.Minute); err != nil {
				return fmt.Errorf("waiting for %s: %w", op.Name, err)
			}
		}
	}
	return nil
}

// Deploy rebuilds one component's image, pushes it, applies its objects
// pinned to the new digest, restarts it when the image did not change, and
// waits for the rollout.
func (k *Cluster) Deploy(ctx context.Context, component string) error {
	// A component is an image and the objects labelled with its name.
	if !slices.Contains(images.Names, component) {
		return fmt.Errorf("no component %q; kind:deploy takes one of %v", component, images.Names)
	}
	start := time.Now()
	if _, err := Preflight(ctx, k.Host, false); err != nil {
		return err
	}
	if !ociregistry.Healthy(ctx, "127.0.0.1:"+strconv.Itoa(k.Config.RegistryPort)) {
		return fmt.Errorf("the local registry does not answer on 127.0.0.1:%d: run `go tool mage kind:up` first", k.Config.RegistryPort)
	}
	if err := k.client().Reachable(ctx); err != nil {
		return fmt.Errorf("%w (run `go tool mage kind:up` first)", err)
	}
	if err := k.deploy(ctx, []string{component}); err != nil {
		return err
	}
	fmt.Fprintf(k.Out, "kind:deploy %s: done in %s\n", component, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// deploy builds and pushes the images of components (all when nil) and
// applies their objects (everything when nil).
func (k *Cluster) deploy(ctx context.Context, components []string) error {
	reg := images.Registry{Prefix: k.Config.RegistryHost() + "/groundwork", Insecure: true}
	build := k.Build
	if build == nil {
		proj := images.Project{Root: k.Config.Root, Platforms: []images.Platform{nodePlatform()}, Build: images.GoBuild(k.Out),
			PrepareWebapp: k.PrepareWebapp, Log: k.Out, Revision: images.GitRevision(ctx, k.Config.Root)}
		build = proj.Image
	}
	names := components
	if names == nil {
		names = images.Names
	}
	pushed := map[string]string{}
	for _, name := range names {
		idx, err := build(ctx, name)
		if err != nil {
			return err
		}
		ref, err := reg.Push(ctx, name, "dev", idx)
		if err != nil {
			return err
		}
		pushed[name] = ref
		fmt.Fprintf(k.Out, "pushed %s\n", ref)
	}
	objs, err := kube.RenderPinned(filepath.Join(k.Config.Root, manifests.DevOverlay), pushed, false)
	if err != nil {
		return err
	}
	kc := k.client()
	if components == nil {
		stages := manifests.Stages(objs)
		if err := kube.ApplyStages(ctx, kc, stages[:1], k.WaitTimeout, k.Out); err != nil { // the namespaces
			return err
		}
		if err := EnsureSecrets(ctx, kc, manifests.ExternalFor(false), k.Out); err != nil {
			return err
		}
		return kube.ApplyStages(ctx, kc, stages[1:], k.WaitTimeout, k.Out)
	}
	var part []manifests.Object
	for _, c := range components {
		part = append(part, manifests.Component(objs, c)...)
	}
	// A Deployment whose image did not change would not roll: restart it.
	var unchanged []manifests.Object
	for _, o := range part {
		if o.Kind != "Deployment" {
			continue
		}
		live, ok, err := kc.Get(ctx, "Deployment", o.Namespace, o.Name, liveImages)
		if err != nil {
			return err
		}
		if ok && strings.Join(strings.Fields(live), " ") == strings.Join(manifests.ContainerImages(o), " ") {
			unchanged = append(unchanged, o)
		}
	}
	stages := manifests.Stages(part)
	if err := kube.ApplyStages(ctx, kc, stages, k.WaitTimeout, k.Out); err != nil {
		return err
	}
	for _, o := range unchanged {
		fmt.Fprintf(k.Out, "restarting %s (same image)\n", o.ID())
		if err := kc.Restart(ctx, o.Namespace, o.Name); err != nil {
			return err
		}
		if err := kc.Wait(ctx, manifests.Wait{Kind: "Deployment", Namespace: o.Namespace, Name: o.Name, For: manifests.Rollout}, cmp.Or(k.WaitTimeout, kube.WaitTimeout)); err != nil {
			return err
		}
	}
	return nil
}

// liveImages reads a Deployment's images in manifests.ContainerImages's
// order: init containers, then containers.
const liveImages = "{.spec.template.spec.initContainers[*].image} {.spec.template.spec.containers[*].image}"

func nodePlatform() images.Platform {
	return images.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// EnsureSecrets creates each Secret that does not exist yet with random
// values (manifests.ExternalSecret.Generate); Secrets in SharedValue get
// the same value. Existing Secrets are left alone.
func EnsureSecrets(ctx context.Context, kc kube.Kube, secrets []manifests.ExternalSecret, out io.Writer) error {
	shared := map[string]map[string]string{}
	var docs []string
	for _, s := range secrets {
		if _, ok, err := kc.Get(ctx, "Secret", s.Namespace, s.Name, "{.metadata.name}"); err != nil {
			return err
		} else if ok {
			continue
		}
		data := map[string]string{}
		for _, group := range manifests.SharedValue {
			if slices.Contains(group[:], s.Namespace+"/"+s.Name) {
				for _, other := range group {
					if v, ok := shared[other]; ok {
						data = v
					}
				}
			}
		}
		if len(data) == 0 {
			for _, key := range s.Keys {
				n := s.Generate[key]
				if n == 0 {
					return fmt.Errorf("secret %s/%s: no rule to generate key %s", s.Namespace, s.Name, key)
				}
				data[key] = randomString(n)
			}
		}
		shared[s.Namespace+"/"+s.Name] = data
		var b bytes.Buffer
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    groundwork.dev/generated-by: kind-up\ntype: Opaque\nstringData:\n", s.Name, s.Namespace)
		for _, key := range slices.Sorted(mapKeys(data)) {
			fmt.Fprintf(&b, "  %s: %q\n", key, data[key])
		}
		docs = append(docs, b.String())
		fmt.Fprintf(out, "secrets: generated %s/%s\n", s.Namespace, s.Name)
	}
	if len(docs) == 0 {
		return nil
	}
	return kc.Apply(ctx, []byte(strings.Join(docs, "---\n")))
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// randomString returns n random URL-safe characters (6 bits each).
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// Down deletes the cluster and stops the registry; the registry's storage
// stays (kind:up is quick again).
func (k *Cluster) Down(ctx context.Context) error {
	rt, err := Preflight(ctx, k.Host, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(k.Out, "kind: deleting cluster %s\n", k.Config.Name)
	if err := k.provider(rt).Delete(k.Config.Name, ""); err != nil {
		return fmt.Errorf("deleting the Kind cluster: %w", err)
	}
	return k.registry(nil).Stop(ctx)
}

// Reset is Down, then the registry's storage is deleted too.
func (k *Cluster) Reset(ctx context.Context) error {
	if err := k.Down(ctx); err != nil {
		return err
	}
	fmt.Fprintf(k.Out, "kind: deleting %s\n", k.Config.stateDir())
	return os.RemoveAll(k.Config.stateDir())
}
