package controlplane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane"
	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane/controlplanetest"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

const root = "../../.."

// One control plane for the package's checks (each start costs seconds of
// both cores).
func TestControlPlane(t *testing.T) {
	t.Parallel()
	cp := controlplanetest.Start(t, root, true)
	t.Run("is the real thing", func(t *testing.T) { isTheRealThing(t, cp) })
	t.Run("runs workloads on fake nodes", func(t *testing.T) { runsWorkloads(t, cp) })
}

// The API server is the pinned release, every CRD of versions.yaml is
// served, and nobody gets in without a certificate of the cluster's CA.
func isTheRealThing(t *testing.T, cp *controlplane.ControlPlane) {
	ctx := t.Context()
	k := cp.Kubectl()

	out, err := k.Run(ctx, nil, "version", "-o", "json")
	require.NoError(t, err)
	require.Contains(t, string(out), `"gitVersion": "`+controlplane.Version+`"`)

	_, n, err := controlplane.CRDs(ctx, root)
	require.NoError(t, err)
	require.Greater(t, n, 30)
	out, err = k.Run(ctx, nil, "get", "crd", "-o", "name")
	require.NoError(t, err)
	require.Len(t, strings.Fields(string(out)), n)
	sources, err := manifests.LoadCRDSources(filepath.Join(root, manifests.OperatorsFile))
	require.NoError(t, err)
	for _, group := range []string{"cert-manager.io", "trust-manager.io", "postgresql.cnpg.io", "monitoring.coreos.com", "source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io"} {
		require.Contains(t, string(out), "."+group+"\n", "no CRD of %s (sources %v)", group, sources)
	}

	// Without a client certificate: 401, not a read.
	ca, err := os.ReadFile(filepath.Join(cp.Config.Dir, "pki", "kube-ca", "tls.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cp.Config.Server()+"/api/v1/namespaces/kube-system/secrets", nil)
	require.NoError(t, err)
	resp, err := anon.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// With workloads, a Deployment becomes Available with Running pods on the
// fake nodes and a Job completes; kwok may not read Secrets.
func runsWorkloads(t *testing.T, cp *controlplane.ControlPlane) {
	ctx := t.Context()
	k := cp.Kubectl()
	require.NoError(t, k.Apply(ctx, []byte(`apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: registry.example.com/web:1}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: demo}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: registry.example.com/once:1}]
`)))
	_, err := k.Run(ctx, nil, "-n", "demo", "rollout", "status", "deployment/web", "--timeout=90s")
	require.NoError(t, err)
	_, err = k.Run(ctx, nil, "-n", "demo", "wait", "job/once", "--for=condition=Complete", "--timeout=90s")
	require.NoError(t, err)
	out, err := k.Run(ctx, nil, "-n", "demo", "get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}")
	require.NoError(t, err)
	lines := strings.Fields(strings.ReplaceAll(string(out), " Running", ""))
	require.ElementsMatch(t, []string{"fake-node-0", "fake-node-1", "fake-node-2"}, lines, "one Running pod per zone:\n%s", out)

	kwok := kubectlAs(t, cp, "kwok")
	out, err = kwok.Run(ctx, nil, "auth", "can-i", "list", "secrets", "-A")
	require.Error(t, err, "kwok may list secrets: %s", out)
	require.Contains(t, string(out), "no")
	_, err = kwok.Run(ctx, nil, "auth", "can-i", "update", "pods/status", "-A")
	require.NoError(t, err)
}

func kubectlAs(t *testing.T, cp *controlplane.ControlPlane, component string) interface {
	Run(ctx context.Context, stdin []byte, args ...string) ([]byte, error)
} {
	t.Helper()
	k := cp.Kubectl()
	k.Env = []string{"KUBECONFIG=" + filepath.Join(cp.Config.Dir, "kubeconfigs", component+".kubeconfig")}
	return k
}
