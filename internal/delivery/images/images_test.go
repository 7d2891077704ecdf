package images

import (
	"archive/tar"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/delivery/ociregistry/registrytest"
)

var hello = GoProgram{Name: "hello", Dir: ".", Package: "./testdata/hello", Source: Source}

// files reads every regular file of a layer.
func files(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out["/"+strings.TrimSuffix(h.Name, "/")] = h
	}
}

func fileData(t *testing.T, l v1.Layer, path string) []byte {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "no %s in the layer", path)
		if "/"+h.Name == path {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return b
		}
	}
}

func buildHello(t *testing.T, platforms []v1.Platform) v1.ImageIndex {
	t.Helper()
	idx, err := BuildGo(context.Background(), hello, platforms, GoBuild(io.Discard))
	require.NoError(t, err)
	return idx
}

// checkGoImage checks one platform image of a Go program.
func checkGoImage(t *testing.T, img v1.Image, p v1.Platform) {
	t.Helper()
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, p.OS, cf.OS)
	require.Equal(t, p.Architecture, cf.Architecture)
	require.Equal(t, "65532:65532", cf.Config.User)
	require.Equal(t, []string{"/usr/local/bin/hello"}, cf.Config.Entrypoint)
	require.True(t, cf.Created.Equal(Epoch))
	mt, err := img.MediaType()
	require.NoError(t, err)
	require.Equal(t, types.OCIManifestSchema1, mt)

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2)
	base := files(t, layers[0])
	require.Contains(t, string(fileData(t, layers[0], "/etc/passwd")), "nonroot:x:65532:65532:")
	require.Equal(t, int64(0o1777), base["/tmp"].Mode)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(fileData(t, layers[0], "/etc/ssl/certs/ca-certificates.crt")))
	bin := files(t, layers[1])
	h := bin["/usr/local/bin/hello"]
	require.NotNil(t, h)
	require.Equal(t, int64(0o755), h.Mode)
	require.Equal(t, 0, h.Uid)
	require.True(t, h.ModTime.Equal(Epoch))
	for _, hh := range bin {
		require.True(t, hh.ModTime.Equal(Epoch), hh.Name)
	}
}

func TestGoImageIsAReproducibleMultiPlatformIndex(t *testing.T) {
	t.Parallel()
	idx := buildHello(t, Platforms)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Equal(t, types.OCIImageIndex, im.MediaType)
	require.Len(t, im.Manifests, 2)
	for i, m := range im.Manifests {
		require.Equal(t, Platforms[i].Architecture, m.Platform.Architecture)
		img, err := idx.Image(m.Digest)
		require.NoError(t, err)
		checkGoImage(t, img, Platforms[i])
	}

	again := buildHello(t, Platforms)
	d1, err := idx.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2, "the same inputs must give the same digest")
}

// The amd64 binary in the image is a static program that runs.
func TestGoImageBinaryRuns(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the linux/amd64 binary: needs a linux/amd64 machine (no env var enables it elsewhere)")
	}
	bin := binaryOf(t, buildHello(t, Platforms[:1]), "hello")
	out, err := exec.Command(bin).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "hello from")
	ldd, _ := exec.Command("file", bin).CombinedOutput()
	if len(ldd) > 0 {
		require.Contains(t, string(ldd), "statically linked")
	}
}

func TestBaseLayerIsReproducible(t *testing.T) {
	t.Parallel()
	a, err := BaseLayer()
	require.NoError(t, err)
	b, err := BaseLayer()
	require.NoError(t, err)
	da, _ := a.Digest()
	db, _ := b.Digest()
	require.Equal(t, da, db)
	// Entries are sorted and parents come first.
	rc, err := a.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
	}
	require.IsIncreasing(t, names)
	require.Equal(t, "etc/", names[0])
}

func TestLayerRejectsDuplicates(t *testing.T) {
	t.Parallel()
	_, err := Layer([]File{{Path: "/a", Data: []byte("1")}, {Path: "a", Data: []byte("2")}})
	require.ErrorContains(t, err, "/a twice")
}

// testRegistry serves go-containerregistry's registry over plain HTTP, the
// way the local registry of the Kind cluster does.
func testRegistry(t *testing.T) (Registry, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(discardLogger())))
	t.Cleanup(srv.Close)
	return Registry{Prefix: strings.TrimPrefix(srv.URL, "http://") + "/groundwork", Insecure: true}, srv
}

// tlsRegistry serves the registry over TLS with httptest's test CA,
// reachable as registry.example.com (a name its certificate has); the
// handler may require credentials.
func tlsRegistry(t *testing.T, wrap func(http.Handler) http.Handler) (Registry, string) {
	t.Helper()
	r := registrytest.ServeTLS(t, wrap)
	return Registry{Prefix: registrytest.Host + ":" + r.Port + "/groundwork", CAFile: r.CAFile, Transport: r.Transport}, r.CAFile
}

func TestPushAndPullOverHTTP(t *testing.T) {
	t.Parallel()
	reg, _ := testRegistry(t)
	idx := buildHello(t, Platforms)
	ctx := context.Background()
	ref, err := reg.Push(ctx, "hello", "dev", idx)
	require.NoError(t, err)
	want, _ := idx.Digest()
	require.True(t, strings.HasSuffix(ref, "/groundwork/hello@"+want.String()), ref)

	for _, r := range []string{ref, strings.TrimSuffix(reg.Prefix, "/groundwork") + "/groundwork/hello:dev"} {
		got, err := reg.Pull(ctx, r)
		require.NoError(t, err, r)
		d, _ := got.Digest()
		require.Equal(t, want, d, r)
		im, err := got.IndexManifest()
		require.NoError(t, err)
		require.Len(t, im.Manifests, 2)
		for i, m := range im.Manifests {
			img, err := got.Image(m.Digest)
			require.NoError(t, err)
			checkGoImage(t, img, Platforms[i])
		}
	}
}

func TestPushAndPullOverTLSByDigest(t *testing.T) {
	t.Parallel()
	reg, _ := tlsRegistry(t, nil)
	idx := buildHello(t, Platforms[:1])
	ctx := context.Background()
	ref, err := reg.Push(ctx, "hello", "", idx)
	require.NoError(t, err)
	require.Regexp(t, `^registry\.example\.com:\d+/groundwork/hello@sha256:[0-9a-f]{64}$`, ref)
	got, err := reg.Pull(ctx, ref)
	require.NoError(t, err)
	im, err := got.IndexManifest()
	require.NoError(t, err)
	img, err := got.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	checkGoImage(t, img, Platforms[0])

	// Without the registry's CA the certificate is refused.
	untrusting := reg
	untrusting.CAFile = ""
	_, err = untrusting.Push(ctx, "hello", "", idx)
	require.ErrorContains(t, err, "certificate")
}

func TestPushWithoutCredentialsSaysHowToLogIn(t *testing.T) {
	t.Parallel()
	requireAuth := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	reg, _ := tlsRegistry(t, requireAuth)
	reg.Keychain = authn.NewMultiKeychain() // no credentials anywhere
	idx := buildHello(t, Platforms[:1])
	_, err := reg.Push(context.Background(), "hello", "", idx)
	require.ErrorIs(t, err, ErrCredentials)
	require.ErrorContains(t, err, "docker login registry.example.com:")

	// The credentials CI passes in the environment.
	env := map[string]string{"IMAGES_REGISTRY": reg.Prefix, "REGISTRY_USERNAME": "ci", "REGISTRY_PASSWORD": "s3cret"}
	fromEnv, err := RegistryFromEnv(func(k string) string { return env[k] }, "IMAGES_REGISTRY")
	require.NoError(t, err)
	reg.Keychain = fromEnv.Keychain
	_, err = reg.Push(context.Background(), "hello", "", idx)
	require.NoError(t, err)
}

func TestRegistryFromEnvRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{
		"":                                  "IMAGES_REGISTRY is not set",
		"IMAGES_REGISTRY=https://ghcr.io/x": "without a scheme",
		"IMAGES_REGISTRY=localhost:5001/x":  "is a local registry",
		"IMAGES_REGISTRY=ghcr.io/x REGISTRY_USERNAME=ci": "REGISTRY_USERNAME and REGISTRY_PASSWORD go together",
	} {
		m := map[string]string{}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		_, err := RegistryFromEnv(func(k string) string { return m[k] }, "IMAGES_REGISTRY")
		require.ErrorContains(t, err, want, env)
	}
}

// standInNginx is a stand-in for nginx-unprivileged: an index of two
// images running as 101:101 with nginx's entrypoint, and a default.conf
// the webapp's replaces.
func standInNginx(t *testing.T) v1.ImageIndex {
	t.Helper()
	l, err := Layer([]File{
		{Path: "/etc/nginx/conf.d/default.conf", Mode: 0o644, Data: []byte("# welcome\n")},
		{Path: "/usr/sbin/nginx", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
	})
	require.NoError(t, err)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range Platforms {
		img, err := image(p, []v1.Layer{l}, v1.Config{
			User: NginxUser, Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		}, []string{"stand-in nginx"})
		require.NoError(t, err)
		pc := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pc}})
	}
	return idx
}

func TestWebappImageOnAPinnedBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, srv := testRegistry(t)
	baseRef, err := reg.Push(ctx, "nginx-standin", "", standInNginx(t))
	require.NoError(t, err)

	cache := filepath.Join(t.TempDir(), "base")
	p := Project{Root: "testdata", Platforms: Platforms, Base: reg, NginxBase: baseRef, Cache: cache,
		Dist: "testdata/webapp/site", Log: io.Discard}
	// testdata/webapp/nginx is the stand-in for webapp/nginx.
	idx, err := p.Image(ctx, "webapp")
	require.NoError(t, err)

	// The base is cached: the next build works with the registry gone.
	srv.Close()
	again, err := p.Image(ctx, "webapp")
	require.NoError(t, err)
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	require.Equal(t, d1, d2)

	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2)
	for i, m := range im.Manifests {
		require.Equal(t, Platforms[i].Architecture, m.Platform.Architecture)
		img, err := idx.Image(m.Digest)
		require.NoError(t, err)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		require.Equal(t, NginxUser, cf.Config.User)
		require.Equal(t, []string{"/docker-entrypoint.sh"}, cf.Config.Entrypoint)
		require.Equal(t, "webapp", cf.Config.Labels["org.opencontainers.image.title"])
		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 2)
		top := layers[1]
		require.Contains(t, string(fileData(t, top, "/usr/share/nginx/html/index.html")), "fixture")
		require.Contains(t, string(fileData(t, top, "/usr/share/nginx/html/assets/app.js")), "fixture")
		require.Contains(t, string(fileData(t, top, "/etc/nginx/conf.d/default.conf")), "listen 8080")
	}
}

func TestWebappNeedsABuild(t *testing.T) {
	t.Parallel()
	_, err := Webapp{Dist: t.TempDir(), Nginx: "testdata/webapp/nginx"}.Files()
	require.ErrorContains(t, err, "the webapp is not built")
}

func TestWebappRefusesARootBase(t *testing.T) {
	t.Parallel()
	l, err := Layer([]File{{Path: "/x", Data: []byte("x")}})
	require.NoError(t, err)
	img, err := image(Platforms[0], []v1.Layer{l}, v1.Config{}, []string{"root"})
	require.NoError(t, err)
	pc := Platforms[0]
	base := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pc}})
	_, err = BuildWebapp(base, Webapp{Dist: "testdata/webapp/site", Nginx: "testdata/webapp/nginx"}, Platforms[:1])
	require.ErrorContains(t, err, "runs as root")
}

func TestBaseMustBePinnedAndPullable(t *testing.T) {
	t.Parallel()
	reg, srv := testRegistry(t)
	_, err := reg.LoadOrPull(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/nginx:latest", t.TempDir())
	require.ErrorContains(t, err, "must be pinned by digest")
	srv.Close()
	_, err = reg.LoadOrPull(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/nginx@sha256:"+strings.Repeat("0", 64), t.TempDir())
	require.ErrorContains(t, err, "needs network access once")
}

func TestNginxBaseIsPinned(t *testing.T) {
	t.Parallel()
	require.Regexp(t, `^docker\.io/nginxinc/nginx-unprivileged:[^@]+@sha256:[0-9a-f]{64}$`, NginxBase)
}

func TestUnknownImage(t *testing.T) {
	t.Parallel()
	_, err := Project{Log: io.Discard}.Image(context.Background(), "nope")
	require.ErrorContains(t, err, `no image "nope"`)
}

// A saved layout is the index itself: same digest, pushable with
// `crane push --index`.
func TestWriteLayoutKeepsTheDigest(t *testing.T) {
	t.Parallel()
	idx := buildHello(t, Platforms[:1])
	dir := filepath.Join(t.TempDir(), "hello")
	require.NoError(t, WriteLayout(dir, idx))
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	got, err := p.ImageIndex()
	require.NoError(t, err)
	want, _ := idx.Digest()
	d, _ := got.Digest()
	require.Equal(t, want, d)
	im, err := got.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	require.Equal(t, "amd64", im.Manifests[0].Platform.Architecture)
}

// The webapp image is made from a current webapp/dist: PrepareWebapp runs
// first, and a failed build stops that image (no base is pulled). The Go
// images do not wait for npm.
func TestPrepareWebappRunsBeforeTheWebappImageOnly(t *testing.T) {
	t.Parallel()
	var calls []string
	broken := errors.New("npm run build: exit status 2")
	p := Project{Root: "testdata", Platforms: Platforms[:1], Log: io.Discard,
		// An unreachable base: reaching it would mean the build went on.
		NginxBase: "127.0.0.1:1/nginx@sha256:" + strings.Repeat("0", 64), Cache: t.TempDir(),
		Build: func(_ context.Context, g GoProgram, _ v1.Platform, out string) error {
			calls = append(calls, "go build "+g.Name)
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			return os.WriteFile(out, []byte("binary"), 0o755)
		},
		PrepareWebapp: func(context.Context) error {
			calls = append(calls, "webapp")
			return broken
		}}
	_, err := p.Image(t.Context(), "server")
	require.NoError(t, err)
	require.Equal(t, []string{"go build server"}, calls)

	_, err = p.Image(t.Context(), "webapp")
	require.ErrorIs(t, err, broken)
	require.ErrorContains(t, err, "build webapp/dist")
	require.Equal(t, []string{"go build server", "webapp"}, calls)
}

// The server image's binary says which commit it was built from: the
// stamp's -X path must name the variable buildinfo reads.
func TestServerImageCarriesTheRevision(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the linux/amd64 binary: needs a linux/amd64 machine (no env var enables it elsewhere)")
	}
	p := Project{Root: "../../..", Platforms: Platforms[:1], Build: GoBuild(io.Discard), Log: io.Discard, Revision: "0123abc-dirty"}
	idx, err := p.Image(t.Context(), "server")
	require.NoError(t, err)
	out, err := exec.Command(binaryOf(t, idx, "server"), "version").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "(revision 0123abc-dirty, go")
}

// binaryOf writes the program name of idx's first image (its second
// layer, /usr/local/bin/<name>) to a file and returns its path.
func binaryOf(t *testing.T, idx v1.ImageIndex, name string) string {
	t.Helper()
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	img, err := idx.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(bin, fileData(t, layers[1], "/usr/local/bin/"+name), 0o755))
	return bin
}

func TestGitRevision(t *testing.T) {
	t.Parallel()
	require.Regexp(t, `^[0-9a-f]{40}(-dirty)?$`, GitRevision(t.Context(), "../../.."))
	require.Empty(t, GitRevision(t.Context(), t.TempDir()), "not a checkout")
}
