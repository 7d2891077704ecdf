package webproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
)

// seen is what a stub upstream answers: who it is and what it received.
type seen struct {
	Upstream    string `json:"upstream"`
	Path        string `json:"path"`
	Query       string `json:"query"`
	Origin      string `json:"origin"`
	ContentType string `json:"contentType"`
	Cookie      string `json:"cookie"`
	Body        string `json:"body"`
	ForwardedTo string `json:"forwardedHost"`
}

func stub(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{Upstream: name, Path: r.URL.Path, Query: r.URL.RawQuery, Origin: r.Header.Get("Origin"),
			ContentType: r.Header.Get("Content-Type"), Cookie: r.Header.Get("Cookie"), Body: string(b), ForwardedTo: r.Header.Get("X-Forwarded-Host")})
	}))
	t.Cleanup(s.Close)
	return s
}

// writeDist writes a small build: index.html, a hashed asset, a public file.
func writeDist(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html":             `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>`,
		"assets/index-abc123.js": strings.Repeat("console.log('groundwork');\n", 40),
		"favicon.svg":            `<svg xmlns="http://www.w3.org/2000/svg"></svg>`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

type testBundle struct {
	api, kratos *httptest.Server
	dist        string
	origin      *httptest.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{api: stub(t, "api"), kratos: stub(t, "kratos"), dist: writeDist(t)}
	h, err := New(Config{API: mustURL(t, b.api.URL), Kratos: mustURL(t, b.kratos.URL), Dist: b.dist})
	require.NoError(t, err)
	b.origin = httptest.NewServer(h)
	t.Cleanup(b.origin.Close)
	return b
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// answer is a response read whole.
type answer struct {
	StatusCode int
	Header     http.Header
}

func get(t *testing.T, url string) (answer, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed, no transparent gzip
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]Route{
		"/":                                   {Prefix: "/", Target: TargetApp},
		"/login":                              {Prefix: "/", Target: TargetApp},
		"/accounts/42":                        {Prefix: "/", Target: TargetApp},
		"/api":                                {Prefix: "/", Target: TargetApp}, // no slash: not the API prefix (redirected to /api/)
		"/api/v1/me":                          {Prefix: "/api/", Target: TargetAPI},
		"/.ory/kratos/public/sessions/whoami": {Prefix: "/.ory/kratos/public/", Target: TargetKratos, Strip: true},
		"/.ory/kratos/admin/identities":       {Prefix: "/", Target: TargetApp}, // never the admin API
		"/assets/index-abc.js":                {Prefix: "/assets/", Target: TargetAssets},
	} {
		require.Equal(t, want, Match(path), path)
	}
	require.Equal(t, "/sessions/whoami", Match("/.ory/kratos/public/sessions/whoami").upstreamPath("/.ory/kratos/public/sessions/whoami"))
	require.Equal(t, "/api/v1/me", Match("/api/v1/me").upstreamPath("/api/v1/me"))
}

func TestProxiesTheAPIWithPathAndCSRFHeadersUnchanged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.origin.URL+"/api/v1/accounts?x=1", strings.NewReader(`{"name":"Savings"}`))
	require.NoError(t, err)
	req.Header.Set("Origin", "http://127.0.0.1:8080")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "ory_kratos_session=abc")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var s seen
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	require.Equal(t, seen{Upstream: "api", Path: "/api/v1/accounts", Query: "x=1", Origin: "http://127.0.0.1:8080",
		ContentType: "application/json", Cookie: "ory_kratos_session=abc", Body: `{"name":"Savings"}`, ForwardedTo: req.URL.Host}, s)
	require.Empty(t, resp.Header.Get("Cache-Control"), "proxied answers keep their own caching")
	require.Equal(t, ContentSecurityPolicy, resp.Header.Get("Content-Security-Policy"))
}

func TestProxiesKratosWithThePrefixStripped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := get(t, b.origin.URL+"/.ory/kratos/public/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A8080%2F")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var s seen
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	require.Equal(t, "kratos", s.Upstream)
	require.Equal(t, "/self-service/login/browser", s.Path)
	require.Equal(t, "return_to=http%3A%2F%2F127.0.0.1%3A8080%2F", s.Query)
}

func TestServesTheSPAWithFallbackAndCacheRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	index, err := os.ReadFile(filepath.Join(b.dist, "index.html"))
	require.NoError(t, err)
	for _, tc := range []struct {
		path, cache, bodyPrefix string
		status                  int
	}{
		{"/", CacheRevalidate, string(index), http.StatusOK},
		{"/index.html", CacheRevalidate, string(index), http.StatusOK},
		{"/login", CacheRevalidate, string(index), http.StatusOK},
		{"/accounts/0b6f3c2e?export=1", CacheRevalidate, string(index), http.StatusOK},
		{"/favicon.svg", CacheRevalidate, "<svg", http.StatusOK},
		{"/assets/index-abc123.js", CacheImmutable, "console.log", http.StatusOK},
		{"/assets/index-gone.js", CacheRevalidate, "404", http.StatusNotFound},
		{"/assets/", CacheRevalidate, "404", http.StatusNotFound},
		{"/../../etc/passwd", CacheRevalidate, string(index), http.StatusOK},
	} {
		resp, body := get(t, b.origin.URL+tc.path)
		require.Equal(t, tc.status, resp.StatusCode, tc.path)
		require.Equal(t, tc.cache, resp.Header.Get("Cache-Control"), tc.path)
		require.True(t, strings.HasPrefix(body, tc.bodyPrefix), "%s: %.60q", tc.path, body)
		for h, v := range map[string]string{"Content-Security-Policy": ContentSecurityPolicy, "Referrer-Policy": ReferrerPolicy, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
			require.Equal(t, v, resp.Header.Get(h), "%s: %s", tc.path, h)
		}
	}
	resp, err := http.Post(b.origin.URL+"/login", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestUnreachableUpstreamIsAStatusJSON(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := mustURL(t, dead.URL)
	dead.Close()
	h, err := New(Config{API: deadURL, Kratos: deadURL, Dist: writeDist(t)})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/me", nil))
	require.Equal(t, http.StatusBadGateway, rec.Code)
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	require.Equal(t, 14, st.Code)
	require.Contains(t, st.Message, "dev:status")
}

func TestWatchModeServesTheDevServer(t *testing.T) {
	t.Parallel()
	vite := stub(t, "vite")
	api := stub(t, "api")
	h, err := New(Config{API: mustURL(t, api.URL), Kratos: mustURL(t, api.URL), DevServer: mustURL(t, vite.URL)})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]string{"/": "vite", "/src/main.tsx": "vite", "/assets/x.js": "vite", "/api/v1/me": "api"} {
		_, body := get(t, srv.URL+path)
		var s seen
		require.NoError(t, json.Unmarshal([]byte(body), &s), path)
		require.Equal(t, want, s.Upstream, path)
		require.Equal(t, path, s.Path)
	}
}

func TestConfigErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Dist: t.TempDir()})
	require.ErrorContains(t, err, "--api")
	require.ErrorContains(t, err, "--kratos")
	require.ErrorContains(t, err, "--dist: ")
	require.ErrorContains(t, err, "has no index.html")

	var stderr bytes.Buffer
	code := Run(context.Background(), []string{"--listen", "nonsense"}, func(string) string { return "" }, io.Discard, &stderr)
	require.Equal(t, 2, code)
	require.Contains(t, stderr.String(), "--listen")
}

func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	port, err := freeport.Pick(ctx)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var out logtest.Buffer
	done := make(chan int, 1)
	env := map[string]string{"DEVWEB_API": b.api.URL, "DEVWEB_KRATOS": b.kratos.URL, "DEVWEB_DIST": b.dist}
	go func() {
		done <- Run(ctx, []string{"--listen", addr}, func(k string) string { return env[k] }, &out, io.Discard)
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/login")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	cancel()
	require.Equal(t, 0, <-done)
	require.Contains(t, out.String(), addr, "it says where it listens")
}
