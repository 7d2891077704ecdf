package ociregistry

import (
	"context"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
)

func quiet() *log.Logger { return log.New(io.Discard, "", 0) }

// Images pushed to the registry are still there after a restart.
func TestStorageSurvivesARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h, err := Handler(dir, quiet())
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	host := strings.TrimPrefix(srv.URL, "http://")

	idx, err := random.Index(512, 2, 2)
	require.NoError(t, err)
	tag, err := name.NewTag(host + "/groundwork/server:dev")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(tag, idx))
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	digestOnly, err := img.Digest()
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag.Context().Digest(digestOnly.String()), img))
	srv.Close()

	h, err = Handler(dir, quiet())
	require.NoError(t, err)
	srv = httptest.NewServer(h)
	defer srv.Close()
	host2 := strings.TrimPrefix(srv.URL, "http://")
	want, err := idx.Digest()
	require.NoError(t, err)
	got, err := remote.Index(must(name.ParseReference(host2 + "/groundwork/server:dev")))
	require.NoError(t, err)
	d, err := got.Digest()
	require.NoError(t, err)
	require.Equal(t, want, d)
	// The children and their layers came back too.
	im, err := got.IndexManifest()
	require.NoError(t, err)
	for _, m := range im.Manifests {
		child, err := got.Image(m.Digest)
		require.NoError(t, err)
		layers, err := child.Layers()
		require.NoError(t, err)
		for _, l := range layers {
			rc, err := l.Compressed()
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, rc)
			require.NoError(t, err)
			rc.Close()
		}
	}
	_, err = remote.Image(must(name.ParseReference(host2 + "/groundwork/server@" + digestOnly.String())))
	require.NoError(t, err)
}

func TestMainUsage(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	require.Equal(t, 2, Main(context.Background(), nil, &stderr))
	require.Contains(t, stderr.String(), "--dir and at least one --listen are required")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := freeport.Pick(t.Context())
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// The real command, started detached and stopped by its pid.
func TestProcessStartStop(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "registry")
	out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/registry").CombinedOutput()
	require.NoError(t, err, string(out))

	ctx := context.Background()
	p := Process{Binary: bin, Dir: filepath.Join(tmp, "data"), Addrs: []string{freeAddr(t)}}
	var log strings.Builder
	require.NoError(t, p.Start(ctx, &log))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	require.Contains(t, log.String(), "registry: started on "+p.Addrs[0])
	require.True(t, Healthy(ctx, p.Addrs[0]))

	// Idempotent: a second Start finds it running.
	log.Reset()
	require.NoError(t, p.Start(ctx, &log))
	require.Contains(t, log.String(), "running on")

	require.NoError(t, p.Stop(ctx))
	require.Eventually(t, func() bool { return !Healthy(ctx, p.Addrs[0]) }, 5*time.Second, 50*time.Millisecond)
	_, err = os.Stat(filepath.Join(p.Dir, "registry.pid"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, p.Stop(ctx), "stopping a stopped registry is fine")
}

func TestProcessRefusesABusyPort(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(must(Handler(t.TempDir(), quiet())))
	defer srv.Close()
	p := Process{Binary: "/nonexistent", Dir: t.TempDir(), Addrs: []string{strings.TrimPrefix(srv.URL, "http://")}}
	err := p.Start(context.Background(), io.Discard)
	require.ErrorContains(t, err, "something else already answers")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
