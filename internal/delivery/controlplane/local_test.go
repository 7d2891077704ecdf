package controlplane_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/controlplane"
	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

// kube:up, kube:status, kube:apply and kube:down as a person runs them,
// on free ports and a temporary state directory: the processes outlive
// the call that started them, a second up is quick and changes nothing,
// down stops them all.
func TestLocalUpApplyDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ports, err := controlplane.FreePorts(ctx)
	require.NoError(t, err)
	var out bytes.Buffer
	l := controlplane.Local{Root: root, Out: &out, Dir: t.TempDir(), Ports: ports}
	t.Cleanup(func() { _ = l.Down(ctx) })

	err = l.Status(ctx)
	require.ErrorIs(t, err, controlplane.ErrNotRunning)

	require.NoError(t, l.Up(ctx), out.String())
	require.Contains(t, out.String(), "kube-apiserver started")
	require.Contains(t, out.String(), "export KUBECONFIG=")
	out.Reset()
	require.NoError(t, l.Up(ctx), out.String())
	require.NotContains(t, out.String(), "started", "a running control plane was restarted")

	require.NoError(t, l.Apply(ctx, filepath.Join(root, manifests.DevOverlay)), out.String())
	require.Contains(t, out.String(), "accepted by the API server")
	require.NoError(t, l.Status(ctx))
	require.Contains(t, out.String(), "kwok                     running")

	require.NoError(t, l.Down(ctx))
	out.Reset()
	require.ErrorIs(t, l.Status(ctx), controlplane.ErrNotRunning)
	require.Contains(t, out.String(), "kube-apiserver           stopped")
}
