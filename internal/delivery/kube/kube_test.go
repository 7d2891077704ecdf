package kube

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/manifests"
)

const root = "../../.."

func TestKubectlMissing(t *testing.T) {
	t.Parallel()
	_, err := Kubectl{Binary: "kubectl-that-does-not-exist"}.CurrentContext(context.Background())
	require.ErrorIs(t, err, ErrNoKubectl)
}

func TestRenderPinnedRefusesWhatFailsTheChecks(t *testing.T) {
	t.Parallel()
	// Only some images pinned: the placeholder digests stay, which the
	// checks accept as digests — but a tag is refused.
	_, err := RenderPinned(filepath.Join(root, manifests.ProdOverlay), map[string]string{"server": "registry.example.com/groundwork/server:latest"}, true)
	require.ErrorContains(t, err, "nothing was applied")
	require.ErrorContains(t, err, "is not pinned by digest")
}
