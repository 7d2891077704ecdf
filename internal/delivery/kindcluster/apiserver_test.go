package kindcluster

import (
	"context"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane/controlplanetest"
)

// kind:up's apply-and-wait part (the dev overlay, stage by stage, with the
// generated Secrets) and kind:deploy server, against a real API server
// whose fake nodes run the pods. Creating the Kind cluster itself needs
// Docker or Podman and is not covered here.
func TestDeployToARealAPIServer(t *testing.T) {
	t.Parallel()
	cp := controlplanetest.Start(t, "../../..", true)
	controlplanetest.PlayOperators(t, cp)
	k := cp.Kubectl()
	ctx := t.Context()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	// One image per component, the same on every build unless replaced.
	var mu sync.Mutex
	built := map[string]v1.ImageIndex{}
	build := func(_ context.Context, name string) (v1.ImageIndex, error) {
		mu.Lock()
		defer mu.Unlock()
		if built[name] == nil {
			idx, err := random.Index(128, 1, 1)
			if err != nil {
				return nil, err
			}
			built[name] = idx
		}
		return built[name], nil
	}
	h, _ := fakeHost([]string{"docker", "kubectl"}, nil, nil)
	cfg := DefaultConfig("../../..")
	cfg.RegistryPort = ln.Addr().(*net.TCPAddr).Port
	var out strings.Builder
	c := &Cluster{Config: cfg, Host: h, Out: &out, Kube: k, Build: build, WaitTimeout: 2 * time.Minute}

	require.NoError(t, c.deploy(ctx, nil), out.String())
	require.Contains(t, out.String(), "secrets: generated groundwork-auth/kratos-secrets")
	for _, name := range []string{"server", "worker", "webapp"} {
		ready, _, err := k.Get(ctx, "Deployment", "groundwork", name, "{.status.readyReplicas}")
		require.NoError(t, err)
		require.NotEqual(t, "", ready, "%s has no ready replica", name)
	}

	// kind:deploy server with an unchanged image: the Deployment is
	// restarted (a new ReplicaSet) and waited for.
	rsBefore := replicaSets(t, c, "server")
	out.Reset()
	require.NoError(t, c.Deploy(ctx, "server"), out.String())
	require.Contains(t, out.String(), "restarting Deployment/groundwork/server (same image)")
	restarted, _, err := k.Get(ctx, "Deployment", "groundwork", "server", `{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}`)
	require.NoError(t, err)
	require.NotEmpty(t, restarted)
	require.Greater(t, replicaSets(t, c, "server"), rsBefore)

	// A new image: applied pinned to its digest and rolled out, no restart.
	mu.Lock()
	delete(built, "server")
	mu.Unlock()
	out.Reset()
	require.NoError(t, c.Deploy(ctx, "server"), out.String())
	require.NotContains(t, out.String(), "restarting")
	d, err := built["server"].Digest()
	require.NoError(t, err)
	live, _, err := k.Get(ctx, "Deployment", "groundwork", "server", "{.spec.template.spec.containers[0].image}")
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(live, "/groundwork/server@"+d.String()), live)
}

func replicaSets(t *testing.T, c *Cluster, app string) int {
	t.Helper()
	out, err := c.Kube.(interface {
		Run(ctx context.Context, stdin []byte, args ...string) ([]byte, error)
	}).Run(t.Context(), nil, "-n", "groundwork", "get", "replicasets", "-o", "name")
	require.NoError(t, err)
	n := 0
	for l := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(l, "replicaset.apps/"+app+"-") {
			n++
		}
	}
	return n
}
