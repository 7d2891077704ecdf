package gitops

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/require"

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
	p := Publisher{URL: bare, SourceRepo: root}
	res, err := p.Publish(ctx, func(context.Context) (Release, error) {
		rec, err := images.ReadPushed(record)
		if err != nil {
			return Release{}, err
		}
		return RenderProd(root, rec)
	})
	require.NoError(t, err)
	require.True(t, res.Committed)

	// What Flux would read: a clone of the manifest repository.
	clone := t.TempDir()
	_, err = git.PlainCloneContext(ctx, clone, false, &git.CloneOptions{URL: bare})
	require.NoError(t, err)
	dirs, err := filepath.Glob(filepath.Join(clone, ProdDeployDir, "*", "manifests.yaml"))
	require.NoError(t, err)
	require.Len(t, dirs, 5)

	// The Flux objects, and the stages in the order their dependsOn chain
	// gives (Flux's controllers do not run here; the API server checks the
	// objects against Flux's CRDs).
	cp := controlplanetest.Start(t, root, false)
	k := cp.Kubectl()
	_, err = k.Run(ctx, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+FluxNamespace+"}\n"), "apply", "-f", "-")
	require.NoError(t, err)
	for _, f := range append([]string{filepath.Join(clone, ProdClusterDir, "groundwork.yaml")}, dirs...) { // 01-namespaces, 02-config, ...: sorted
		y, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = k.Run(ctx, y, "apply", "--server-side", "--field-manager="+kube.FieldManager, "-f", "-")
		require.NoError(t, err, "apply %s", f)
	}
	out, err := k.Run(ctx, nil, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "-n", FluxNamespace, "-o", "name")
	require.NoError(t, err)
	require.Len(t, strings.Fields(string(out)), 5)
	out, err = k.Run(ctx, nil, "get", "deployment", "-n", "groundwork", "server", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	require.NoError(t, err)
	require.Equal(t, pushed.Images["server"], string(out), "the cluster runs the pushed digest")
}
