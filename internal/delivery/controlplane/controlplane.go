package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/delivery/kube"
	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
)

// Config is one control plane: where its state lives, the loopback ports
// it listens on and what runs.
type Config struct {
	// Dir holds everything: certificates, etcd's data, kubeconfigs, logs.
	Dir string
	// Context names the kubeconfig's context (and cluster and user).
	Context string
	Ports   Ports
	// Workloads adds kube-controller-manager, kube-scheduler and kwok with
	// Nodes fake nodes: Deployments roll out and Jobs complete (with no
	// container behind the pods). Without it, objects are stored and
	// validated only.
	Workloads bool
	Nodes     int
	// Seed is etcd data to start from (see Seed) when Dir has none yet.
	Seed string
	// FastStorage turns off etcd's fsync: a machine crash may lose the
	// last writes, which a test's throwaway data does not mind.
	FastStorage bool
}

// Ports are the loopback ports of the processes.
type Ports struct {
	APIServer, Etcd, EtcdPeer, ControllerManager, Scheduler int
}

// DefaultContext is the kube context of `mage kube:up`'s control plane.
const DefaultContext = "groundwork-local"

// DefaultPorts are `mage kube:up`'s: clear of a kubeadm node's (6443,
// 2379-2380, 10257, 10259) so both can run on one machine.
func DefaultPorts() Ports {
	return Ports{APIServer: 16443, Etcd: 23790, EtcdPeer: 23800, ControllerManager: 20257, Scheduler: 20259}
}

// FreePorts picks unused ports, for a control plane of a test.
func FreePorts(ctx context.Context) (Ports, error) {
	p, err := freeport.Distinct(ctx, 5)
	if err != nil {
		return Ports{}, err
	}
	return Ports{APIServer: p[0], Etcd: p[1], EtcdPeer: p[2], ControllerManager: p[3], Scheduler: p[4]}, nil
}

// Server is the API server's URL.
func (c Config) Server() string { return "https://127.0.0.1:" + strconv.Itoa(c.Ports.APIServer) }

// Kubeconfig is the admin kubeconfig's path.
func (c Config) Kubeconfig() string { return filepath.Join(c.Dir, "kubeconfig") }

func (c Config) pkiDir() string { return filepath.Join(c.Dir, "pki") }

func (c Config) secret(name string) pki.Paths { return pki.SecretPaths(c.pkiDir(), name) }

func (c Config) withDefaults() Config {
	if c.Context == "" {
		c.Context = DefaultContext
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	return c
}

// process is one program of the control plane, run as a child (tests)
// or detached (`mage kube:up`).
type process struct {
	name  string
	bin   string
	args  []string
	addrs []string // loopback addresses it listens on
	ready func(ctx context.Context) error
	// after runs once the process is ready, before the next starts.
	after func(ctx context.Context) error
}

// writeFiles writes the certificates, keys, kubeconfigs and kwok's files,
// keeping what is valid (certificates are renewed when due).
func writeFiles(ctx context.Context, c Config) error {
	if _, err := os.Stat(filepath.Join(c.Dir, "etcd")); c.Seed != "" && errors.Is(err, fs.ErrNotExist) {
		if err := copyTree(c.Seed, filepath.Join(c.Dir, "etcd")); err != nil {
			return fmt.Errorf("copy the control plane seed: %w", err)
		}
	}
	for _, d := range []string{c.Dir, c.pkiDir(), filepath.Join(c.Dir, "etcd"), filepath.Join(c.Dir, "kubeconfigs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("control plane directory: %w", err)
		}
	}
	if _, err := pki.Ensure(c.pkiDir(), certTree(), pki.Options{}); err != nil {
		return fmt.Errorf("control plane certificates: %w", err)
	}
	if err := serviceAccountKey(c.saKey(), c.saPub()); err != nil {
		return err
	}
	files := map[string][]byte{c.Kubeconfig(): []byte(kubeconfig(c.Context, c.Server(), c.ca(), c.secret(adminTLS)))}
	for name, secret := range map[string]string{"kube-controller-manager": kcmTLS, "kube-scheduler": schedulerTLS, "kwok": kwokTLS} {
		files[c.componentKubeconfig(name)] = []byte(kubeconfig(c.Context, c.Server(), c.ca(), c.secret(secret)))
	}
	if c.Workloads {
		stages, role, err := kwokFiles(ctx)
		if err != nil {
			return err
		}
		files[c.kwokStages()] = stages
		// kwok's rights: its own ClusterRole, bound to its certificate's
		// user; then the fake nodes it plays the kubelet of.
		files[c.bootstrap()] = joinYAML([][]byte{role, []byte(kwokBinding), []byte(fakeNodes(c.Nodes))})
	}
	for p, content := range files {
		if err := os.WriteFile(p, content, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

func (c Config) ca() string         { return c.secret(apiServerTLS).CA }
func (c Config) saKey() string      { return filepath.Join(c.pkiDir(), "service-account.key") }
func (c Config) saPub() string      { return filepath.Join(c.pkiDir(), "service-account.pub") }
func (c Config) kwokStages() string { return filepath.Join(c.Dir, "kwok-stages.yaml") }
func (c Config) bootstrap() string  { return filepath.Join(c.Dir, "bootstrap.yaml") }
func (c Config) componentKubeconfig(n string) string {
	return filepath.Join(c.Dir, "kubeconfigs", n+".kubeconfig")
}

// kubectlFor is kubectl with c's admin kubeconfig.
func kubectlFor(c Config) kube.Kubectl {
	return kube.Kubectl{Env: []string{"KUBECONFIG=" + c.Kubeconfig()}}
}

// plan returns the processes of c in start order. It only computes: the
// files are writeFiles's.
func plan(c Config, bins Binaries) []process {
	etcdURL := "https://127.0.0.1:" + strconv.Itoa(c.Ports.Etcd)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(c.Ports.EtcdPeer)
	etcdServer, etcdClient := c.secret(etcdServerTLS), c.secret(etcdClientTLS)
	etcdArgs := []string{
		"--name=groundwork", "--data-dir=" + filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		// One member: the peer port only has to exist; it is on loopback.
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=groundwork=" + peerURL,
		"--cert-file=" + etcdServer.Cert, "--key-file=" + etcdServer.Key,
		"--trusted-ca-file=" + etcdServer.CA, "--client-cert-auth",
		"--log-level=error",
	}
	if c.FastStorage {
		etcdArgs = append(etcdArgs, "--unsafe-no-fsync")
	}
	apiServer := c.secret(apiServerTLS)
	procs := []process{
		{name: "etcd", bin: bins.Etcd, args: etcdArgs,
			addrs: []string{addr(c.Ports.Etcd), addr(c.Ports.EtcdPeer)},
			ready: func(ctx context.Context) error {
				return expect(ctx, etcdServer.CA, etcdClient, etcdURL+"/health", `"health":"true"`)
			}},
		{name: "kube-apiserver", bin: bins.APIServer, args: []string{
			"--etcd-servers=" + etcdURL,
			"--etcd-cafile=" + etcdClient.CA, "--etcd-certfile=" + etcdClient.Cert, "--etcd-keyfile=" + etcdClient.Key,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(c.Ports.APIServer),
			"--tls-cert-file=" + apiServer.Cert, "--tls-private-key-file=" + apiServer.Key,
			"--client-ca-file=" + c.ca(),
			// Every client presents a certificate; nothing is anonymous.
			"--anonymous-auth=false",
			"--service-account-key-file=" + c.saPub(), "--service-account-signing-key-file=" + c.saKey(),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--authorization-mode=Node,RBAC",
			// Privileged pods are the Pod Security admission's to refuse,
			// per namespace, as in a kubeadm cluster.
			"--allow-privileged=true",
			"--profiling=false",
			// The kubernetes Service cannot point at a loopback address,
			// and nothing here runs in a pod network to use it.
			"--endpoint-reconciler-type=none",
			"--cert-dir=" + filepath.Join(c.Dir, "apiserver"),
		},
			addrs: []string{addr(c.Ports.APIServer)},
			ready: func(ctx context.Context) error {
				if err := expect(ctx, c.ca(), c.secret(adminTLS), c.Server()+"/readyz", "ok"); err != nil {
					return err
				}
				return crdsServed(ctx, c)
			}},
	}
	if !c.Workloads {
		return procs
	}
	serving := c.secret(componentsTLS)
	healthz := func(port int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return expect(ctx, c.ca(), pki.Paths{}, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "ok")
		}
	}
	procs[1].after = func(ctx context.Context) error {
		b, err := os.ReadFile(c.bootstrap())
		if err != nil {
			return err
		}
		return kubectlFor(c).Apply(ctx, b)
	}
	kcmConf, schedConf := c.componentKubeconfig("kube-controller-manager"), c.componentKubeconfig("kube-scheduler")
	procs = append(procs,
		process{name: "kube-controller-manager", bin: bins.ControllerManager, args: []string{
			"--kubeconfig=" + kcmConf, "--authentication-kubeconfig=" + kcmConf, "--authorization-kubeconfig=" + kcmConf,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(c.Ports.ControllerManager),
			"--tls-cert-file=" + serving.Cert, "--tls-private-key-file=" + serving.Key,
			"--leader-elect=false",
			// Each controller acts as its own service account, with the
			// bootstrap roles' rights, as in kubeadm.
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + c.saKey(), "--root-ca-file=" + c.ca(),
			"--cluster-name=" + c.Context, "--profiling=false",
		},
			addrs: []string{addr(c.Ports.ControllerManager)},
			ready: healthz(c.Ports.ControllerManager)},
		process{name: "kube-scheduler", bin: bins.Scheduler, args: []string{
			"--kubeconfig=" + schedConf, "--authentication-kubeconfig=" + schedConf, "--authorization-kubeconfig=" + schedConf,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(c.Ports.Scheduler),
			"--tls-cert-file=" + serving.Cert, "--tls-private-key-file=" + serving.Key,
			"--leader-elect=false", "--profiling=false",
		},
			addrs: []string{addr(c.Ports.Scheduler)},
			ready: healthz(c.Ports.Scheduler)},
		process{name: "kwok", bin: bins.Kwok, args: []string{
			"--kubeconfig=" + c.componentKubeconfig("kwok"), "--config=" + c.kwokStages(),
			"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=" + fakeNodeAnnotation,
			"--node-lease-duration-seconds=40",
		},
			ready: func(ctx context.Context) error {
				_, err := kubectlFor(c).Run(ctx, nil, "wait", "node", "--all", "--for=condition=Ready", "--timeout=1s")
				return err
			}},
	)
	return procs
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// tlsClient trusts ca and presents client, if given.
func tlsClient(ca string, client pki.Paths) (*http.Client, error) {
	b, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate", ca)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if client.Cert != "" {
		cert, err := tls.LoadX509KeyPair(client.Cert, client.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

// crdsServed checks that the API server serves every CRD stored in etcd:
// /readyz says ok while the storage of CRDs that were there before it
// started is still initializing (429, "storage is (re)initializing").
func crdsServed(ctx context.Context, c Config) error {
	hc, err := c.AdminClient()
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	var crds struct {
		Items []struct {
			Spec struct {
				Group    string
				Names    struct{ Plural string }
				Versions []struct {
					Name    string
					Storage bool
				}
			}
		}
	}
	if err := getJSON(ctx, hc, c.Server()+"/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &crds); err != nil {
		return err
	}
	for _, crd := range crds.Items {
		for _, v := range crd.Spec.Versions {
			if v.Storage {
				if err := getJSON(ctx, hc, c.Server()+"/apis/"+crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Plural+"?limit=1", nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func getJSON(ctx context.Context, hc *http.Client, url string, into any) error {
	b, err := do(ctx, hc, http.MethodGet, url, nil)
	if err != nil || into == nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// do sends one request (a JSON merge patch when mergePatch is set) and
// returns the body of a 200 answer; another status is an error with the
// end of the body, the API server's reason.
func do(ctx context.Context, hc *http.Client, method, url string, mergePatch []byte) ([]byte, error) {
	var body io.Reader
	if mergePatch != nil {
		body = bytes.NewReader(mergePatch)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if mergePatch != nil {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, lastlines.Of(string(b), 3))
	}
	return b, nil
}

// AdminClient is an HTTP client of the API server as the admin user.
func (c Config) AdminClient() (*http.Client, error) { return tlsClient(c.ca(), c.secret(adminTLS)) }

// expect GETs url, trusting ca and presenting client (if given), and
// wants 200 with want in the body.
func expect(ctx context.Context, ca string, client pki.Paths, url, want string) error {
	hc, err := tlsClient(ca, client)
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	body, err := do(ctx, hc, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %q is not in %q", url, want, strings.TrimSpace(string(body)))
	}
	return nil
}

// poll calls ready until it succeeds, exited fires, or timeout passes.
func poll(ctx context.Context, name string, timeout time.Duration, ready func(context.Context) error, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s: %w", name, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("%s exited while starting (last check: %w)", name, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ErrNotRunning says there is no control plane to talk to.
var ErrNotRunning = errors.New("the local control plane is not running")
