package webproxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const nginxConf = "../../../webapp/nginx/default.conf"

// paths both origins must route alike.
var parityPaths = []string{
	"/", "/index.html", "/login", "/registration", "/settings", "/recovery", "/verification", "/error?id=x",
	"/accounts/0b6f3c2e-0000-4000-8000-000000000001?export=e1", "/favicon.svg", "/nope.png",
	"/assets/index-abc123.js", "/assets/missing-000.js",
	"/api/v1/me", "/api/v1/accounts?pageSize=10&pageToken=abc",
	"/.ory/kratos/public/sessions/whoami", "/.ory/kratos/public/self-service/login/browser?return_to=x",
	"/.ory/kratos/admin/identities", "/api", "/api?x=1", "/.ory/kratos/public", "/assets",
}

// location is one location block of the nginx config, as far as routing goes.
type location struct {
	exact     bool
	prefix    string
	proxyPass string
	tryFiles  string
}

// parseLocations reads the location blocks of an nginx server config: the
// prefix (or exact) match and the directives that decide the route.
func parseLocations(t *testing.T, conf string) []location {
	t.Helper()
	var locs []location
	var cur *location
	head := regexp.MustCompile(`^location\s+(=\s+)?(\S+)\s*\{$`)
	sc := bufio.NewScanner(strings.NewReader(conf))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if m := head.FindStringSubmatch(line); m != nil {
			locs = append(locs, location{exact: m[1] != "", prefix: m[2]})
			cur = &locs[len(locs)-1]
			continue
		}
		require.False(t, strings.HasPrefix(line, "location "), "unsupported location form (regex?): %q", line)
		if cur == nil {
			continue
		}
		switch {
		case line == "}":
			cur = nil
		case strings.HasPrefix(line, "proxy_pass "):
			cur.proxyPass = strings.TrimSuffix(strings.TrimPrefix(line, "proxy_pass "), ";")
		case strings.HasPrefix(line, "try_files "):
			cur.tryFiles = strings.TrimSuffix(strings.TrimPrefix(line, "try_files "), ";")
		}
	}
	require.NotEmpty(t, locs)
	return locs
}

// route is what nginx's location matching gives for path (exact first,
// then the longest prefix), in the terms of the proxy's table.
func (l location) route() Route {
	r := Route{Prefix: l.prefix}
	switch {
	case strings.Contains(l.proxyPass, "server:26000"):
		r.Target = TargetAPI
	case strings.Contains(l.proxyPass, "kratos:4433"):
		r.Target = TargetKratos
	case l.tryFiles == "$uri =404":
		r.Target = TargetAssets
	case l.tryFiles == "$uri /index.html":
		r.Target = TargetApp
	}
	// proxy_pass with a URI part ("http://kratos:4433/") replaces the
	// matched prefix with it.
	if rest := strings.TrimPrefix(strings.TrimPrefix(l.proxyPass, "http://"), "https://"); strings.Contains(rest, "/") {
		r.Strip = true
	}
	return r
}

func nginxMatch(locs []location, path string) Route {
	var best *location
	for i, l := range locs {
		if l.exact && l.prefix == path {
			return l.route()
		}
		if !l.exact && strings.HasPrefix(path, l.prefix) && (best == nil || len(l.prefix) > len(best.prefix)) {
			best = &locs[i]
		}
	}
	if best == nil {
		return Route{}
	}
	return best.route()
}

// TestNginxConfigRoutesLikeTheProxy compares the config's locations with
// the route table on every parity path (no nginx needed).
func TestNginxConfigRoutesLikeTheProxy(t *testing.T) {
	t.Parallel()
	conf, err := os.ReadFile(nginxConf)
	require.NoError(t, err)
	locs := parseLocations(t, string(conf))
	for _, p := range parityPaths {
		path := strings.SplitN(p, "?", 2)[0]
		require.Equal(t, Match(path), nginxMatch(locs, path), p)
	}
	for _, want := range []string{"listen 8080;", "gzip on;", "server_tokens off;", `add_header Content-Security-Policy "` + ContentSecurityPolicy + `" always;`,
		`add_header Referrer-Policy "` + ReferrerPolicy + `" always;`, `"` + CacheImmutable + `"`, `"` + CacheRevalidate + `"`} {
		require.Contains(t, string(conf), want)
	}
}

// TestNginxAnswersLikeTheProxy runs the production config in real nginx
// (Debian's package) beside the Go proxy, both in front of the same stub
// upstreams and the same build, and compares their answers path by path:
// status, which upstream saw which path, body, caching and security headers.
// Only the listen address, the root and the upstream host names are
// replaced; every location is the file's.
func TestNginxAnswersLikeTheProxy(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("GROUNDWORK_REQUIRE_NGINX") != "" {
				t.Fatal("nginx is not installed and GROUNDWORK_REQUIRE_NGINX is set: apt-get install nginx")
			}
			t.Skip("nginx is not installed (apt-get install nginx); set GROUNDWORK_REQUIRE_NGINX=1 to make this a failure")
		}
	}
	b := setup(t)
	ngx := startNginx(t, bin, b)

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	type seenAnswer struct {
		Status                    int
		Body                      string
		CacheControl, CSP, RefPol string
		Nosniff, Frame            string
	}
	ask := func(base, p string) seenAnswer {
		resp, err := client.Get(base + p)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		a := seenAnswer{Status: resp.StatusCode, CacheControl: resp.Header.Get("Cache-Control"), CSP: resp.Header.Get("Content-Security-Policy"),
			RefPol: resp.Header.Get("Referrer-Policy"), Nosniff: resp.Header.Get("X-Content-Type-Options"), Frame: resp.Header.Get("X-Frame-Options")}
		var s seen
		switch {
		case json.Unmarshal(body, &s) == nil && s.Upstream != "":
			a.Body = fmt.Sprintf("%s %s %s", s.Upstream, s.Path, s.Query) // upstreams' answers: who saw what
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			a.Body = "redirect to " + resp.Header.Get("Location")
		case resp.StatusCode == http.StatusNotFound:
			a.Body = "404" // error pages differ in wording only
		default:
			a.Body = string(body)
		}
		return a
	}
	for _, p := range parityPaths {
		want := ask(b.origin.URL, p)
		got := ask(ngx, p)
		require.Equal(t, want, got, "nginx and the proxy differ on %s", p)
	}

	// gzip for text assets (the proxy leaves compression to the browser's
	// localhost link; nginx compresses).
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, ngx+"/assets/index-abc123.js", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(plain, []byte("console.log")))
}

// startNginx runs the config in a private prefix on a free port, in the
// foreground without workers (so it needs no user switch when run as root).
func startNginx(t *testing.T, bin string, b *testBundle) string {
	t.Helper()
	conf, err := os.ReadFile(nginxConf)
	require.NoError(t, err)
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	api := strings.TrimPrefix(b.api.URL, "http://")
	kratos := strings.TrimPrefix(b.kratos.URL, "http://")
	site := string(conf)
	for old, repl := range map[string]string{
		"listen 8080;":                   "listen " + addr + ";",
		"root /usr/share/nginx/html;":    "root " + b.dist + ";",
		"proxy_pass http://server:26000": "proxy_pass http://" + api,
		"proxy_pass http://kratos:4433/": "proxy_pass http://" + kratos + "/",
	} {
		require.Contains(t, site, old)
		site = strings.ReplaceAll(site, old, repl)
	}
	dir := t.TempDir()
	mime := "/etc/nginx/mime.types"
	if _, err := os.Stat(mime); err != nil {
		mime = "" // types default to application/octet-stream; routing is unaffected
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  %[2]s
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  include %[1]s/default.conf;
}
`, dir, map[bool]string{true: "include " + mime + ";", false: ""}[mime != ""])
	require.NoError(t, os.WriteFile(filepath.Join(dir, "default.conf"), []byte(site), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644))
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/favicon.svg")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 10*time.Second, 20*time.Millisecond, "nginx did not start: %s\n%s", out.String(), readFile(filepath.Join(dir, "error.log")))
	return base
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
