package transport_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
	"github.com/groundwork-dev/groundwork/server/internal/transport"
)

// request sends an HTTP request to the bundle's gateway and returns the
// status and the decoded JSON body.
func (b *testBundle) request(t *testing.T, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	return send(t, b.gateway, method, path, body, header)
}

func requestTo(t *testing.T, gw *transport.Gateway, method, path string, header map[string]string) (int, map[string]any) {
	t.Helper()
	return send(t, gw, method, path, "", header)
}

func send(t *testing.T, gw *transport.Gateway, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	resp := requesttest.Do(t, method, "http://"+gw.Addr().String()+path, body, header)
	raw := resp.Body
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	if resp.StatusCode >= 400 {
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Contains(t, out, "code", "errors are google.rpc.Status JSON")
		require.Contains(t, out, "message")
		require.Contains(t, out, "details")
	}
	return resp.StatusCode, out
}

// newGateway starts another gateway to target with the given files.
func newGateway(t *testing.T, target, certFile, keyFile, caFile string) *transport.Gateway {
	t.Helper()
	cert, err := tlsfiles.LoadKeyPair(certFile, keyFile, tlsfiles.Options{})
	require.NoError(t, err)
	cas, err := tlsfiles.LoadCAPool(caFile, tlsfiles.Options{})
	require.NoError(t, err)
	gw, err := transport.NewGateway(t.Context(), transport.GatewayConfig{
		Addr: "127.0.0.1:0", GRPCTarget: target, ClientCertificate: cert, ServerCAs: cas,
		AllowedOrigin: sameOrigin, MaxMessageSize: 1 << 20,
	})
	require.NoError(t, err)
	require.NoError(t, gw.Start())
	t.Cleanup(func() { _ = gw.Stop(context.Background()) })
	return gw
}

const (
	sameOrigin  = "http://127.0.0.1:8080"
	otherOrigin = "https://evil.example"
)

func TestGatewayForwardsCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})

	t.Run("session cookie", func(t *testing.T) {
		code, body := b.request(t, http.MethodGet, "/api/v1/me", "", map[string]string{
			"Cookie": "theme=dark; " + goodCookie, "X-Unrelated": "dropped",
		})
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, userID, body["user"].(map[string]any)["id"])
		md := b.auth.lastMD()
		require.Equal(t, []string{"theme=dark; " + goodCookie}, md.Get(transport.MDCookie))
		require.Empty(t, md.Get("x-unrelated"), "only credential headers are forwarded")
		require.Empty(t, md.Get("grpcgateway-cookie"))
		require.NotEmpty(t, md.Get("x-forwarded-for"))
		require.Equal(t, b.auth.lastRequestMD(), md, "the authenticator is given the request's metadata")
	})
	t.Run("session token", func(t *testing.T) {
		code, _ := b.request(t, http.MethodGet, "/api/v1/me", "", map[string]string{"X-Session-Token": goodToken})
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, []string{goodToken}, b.auth.lastMD().Get(transport.MDSessionToken))
	})
	t.Run("bearer token", func(t *testing.T) {
		code, _ := b.request(t, http.MethodGet, "/api/v1/me", "", map[string]string{"Authorization": "Bearer " + goodToken})
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, []string{"Bearer " + goodToken}, b.auth.lastMD().Get(transport.MDAuthorization))
	})
	t.Run("no credentials is 401", func(t *testing.T) {
		code, body := b.request(t, http.MethodGet, "/api/v1/me", "", nil)
		require.Equal(t, http.StatusUnauthorized, code)
		require.EqualValues(t, 16, body["code"])
		require.Equal(t, "unauthenticated: no valid session", body["message"])
	})
	t.Run("gateway requests pass the gRPC interceptors over mTLS", func(t *testing.T) {
		code, _ := b.request(t, http.MethodGet, "/api/v1/me", "", map[string]string{"X-Session-Token": goodToken})
		require.Equal(t, http.StatusOK, code)
		require.NotEmpty(t, b.logs.Lines("msg=rpc", "method=/groundwork.v1.UserService/GetMe", "peer_cn=gateway", "forwarded_for=127.0.0.1"))
	})
}

func TestGatewayCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	const body = `{"name":"acme"}`
	for _, tc := range []struct {
		name    string
		method  string
		header  map[string]string
		allowed bool
		reason  string
	}{
		{"cookie, same origin, JSON", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Origin": sameOrigin, "Content-Type": "application/json"}, true, ""},
		{"cookie, same origin, JSON with charset", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Origin": sameOrigin, "Content-Type": "application/json; charset=utf-8"}, true, ""},
		{"cookie, cross origin", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Origin": otherOrigin, "Content-Type": "application/json"}, false, "origin https://evil.example is not allowed"},
		{"cookie, same origin, form", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Origin": sameOrigin, "Content-Type": "application/x-www-form-urlencoded"}, false, "Content-Type must be application/json"},
		{"cookie, same origin, text/plain", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Origin": sameOrigin, "Content-Type": "text/plain"}, false, "Content-Type must be application/json"},
		{"cookie, no Origin, same-origin Referer", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Referer": sameOrigin + "/accounts?x=1", "Content-Type": "application/json"}, true, ""},
		{"cookie, no Origin, cross-origin Referer", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Referer": otherOrigin + "/", "Content-Type": "application/json"}, false, "origin https://evil.example is not allowed"},
		{"cookie, no Origin, no Referer", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Content-Type": "application/json"}, false, "no Origin or Referer header"},
		{"cookie, null Origin", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Origin": "null", "Content-Type": "application/json"}, false, "origin null is not allowed"},
		{"cookie, origin of another port", http.MethodPost, map[string]string{
			"Cookie": goodCookie, "Origin": "http://127.0.0.1:8081", "Content-Type": "application/json"}, false, "origin http://127.0.0.1:8081 is not allowed"},
		{"cookie, DELETE cross origin", http.MethodDelete, map[string]string{
			"Cookie": goodCookie, "Origin": otherOrigin, "Content-Type": "application/json"}, false, "origin https://evil.example is not allowed"},
		{"cookie, PATCH cross origin", http.MethodPatch, map[string]string{
			"Cookie": goodCookie, "Origin": otherOrigin, "Content-Type": "application/json"}, false, "origin https://evil.example is not allowed"},
		{"session token, no Origin", http.MethodPost, map[string]string{
			"X-Session-Token": goodToken, "Content-Type": "application/json"}, true, ""},
		{"bearer token and a cookie, cross origin", http.MethodPost, map[string]string{
			"Authorization": "Bearer " + goodToken, "Cookie": goodCookie, "Origin": otherOrigin}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/api/v1/accounts"
			if tc.method != http.MethodPost {
				path += "/a1"
			}
			code, out := b.request(t, tc.method, path, body, tc.header)
			if !tc.allowed {
				require.Equal(t, http.StatusForbidden, code)
				require.EqualValues(t, 7, out["code"], "PERMISSION_DENIED")
				require.Contains(t, out["message"], "cross-site request refused: "+tc.reason)
				return
			}
			require.Equal(t, http.StatusOK, code, "%v", out)
			require.Equal(t, "acme", out["account"].(map[string]any)["name"])
			require.Equal(t, userID, out["account"].(map[string]any)["ownerId"], "JSON keeps lowerCamelCase names")
		})
	}

	t.Run("reads are not checked", func(t *testing.T) {
		code, _ := b.request(t, http.MethodGet, "/api/v1/me", "", map[string]string{"Cookie": goodCookie, "Origin": otherOrigin})
		require.Equal(t, http.StatusOK, code)
	})
	t.Run("method override is off", func(t *testing.T) {
		// A cross-site form cannot become a DELETE (it is refused as a
		// form POST anyway; without a cookie it must not route as DELETE).
		code, _ := b.request(t, http.MethodPost, "/api/v1/accounts/a1", body, map[string]string{
			"X-Session-Token": goodToken, "X-HTTP-Method-Override": "DELETE", "Content-Type": "application/json"})
		require.NotEqual(t, http.StatusOK, code)
	})
}

func TestGatewayBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 16 << 10
	b := setup(t, setupOptions{maxMessageSize: limit})
	tok := map[string]string{"X-Session-Token": goodToken, "Content-Type": "application/json"}

	code, out := b.request(t, http.MethodPost, "/api/v1/accounts", `{"name":"`+strings.Repeat("x", limit)+`"}`, tok)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.EqualValues(t, 8, out["code"], "RESOURCE_EXHAUSTED")

	// Without a Content-Length (chunked) the limit holds too.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+b.gateway.Addr().String()+"/api/v1/accounts",
		io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", limit)), strings.NewReader(`"}`)))
	require.NoError(t, err)
	req.Header.Set("X-Session-Token", goodToken)
	req.ContentLength = -1 // unknown: sent chunked
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	code, _ = b.request(t, http.MethodPost, "/api/v1/accounts", `{"name":"`+strings.Repeat("x", limit/2)+`"}`, tok)
	require.Equal(t, http.StatusOK, code)
}

func TestGatewayRefusesAServerFromAnotherCA(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	// A gateway that trusts other-ca cannot reach the server.
	other := tlsfilestest.New(t)
	gwPaths := b.tree.Paths(tlsfilestest.GatewayClient)
	gw := newGateway(t, b.grpc.Addr().String(), gwPaths.Cert, gwPaths.Key, other.Paths(tlsfilestest.OtherCA).Cert)
	code, body := requestTo(t, gw, http.MethodGet, "/api/v1/me", map[string]string{"X-Session-Token": goodToken})
	require.Equal(t, http.StatusServiceUnavailable, code, "%v", body)

	// A gateway whose client certificate comes from another CA is refused
	// by the server.
	otherClient := b.tree.Paths(tlsfilestest.OtherClient)
	gw = newGateway(t, b.grpc.Addr().String(), otherClient.Cert, otherClient.Key, gwPaths.CA)
	code, _ = requestTo(t, gw, http.MethodGet, "/api/v1/me", map[string]string{"X-Session-Token": goodToken})
	require.Equal(t, http.StatusServiceUnavailable, code)
}

func TestGatewayStop(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	started, release := make(chan struct{}), make(chan struct{})
	b.users.getMe = func(context.Context) (*groundworkv1.GetMeResponse, error) {
		close(started)
		<-release
		return &groundworkv1.GetMeResponse{}, nil
	}
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+b.gateway.Addr().String()+"/api/v1/me", nil)
		req.Header.Set("X-Session-Token", goodToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		resp.Body.Close()
		res <- result{code: resp.StatusCode}
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- b.gateway.Stop(context.Background()) }()
	close(release)
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.code, "the in-flight request finishes")
	require.NoError(t, <-stopped)
	require.NoError(t, b.gateway.Stop(context.Background()), "a second Stop is harmless")
}

// The contract is served by the gateway itself, to anyone, cached by ETag;
// only its two paths, only GET and HEAD; every API route still needs a
// session.
func TestGatewayServesTheContract(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	base := "http://" + b.gateway.Addr().String()

	doc := requesttest.Do(t, http.MethodGet, base+"/api/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, doc.StatusCode)
	require.Equal(t, "application/json", doc.Header.Get("Content-Type"))
	require.Equal(t, "public, max-age=300", doc.Header.Get("Cache-Control"))
	require.Equal(t, "nosniff", doc.Header.Get("X-Content-Type-Options"))
	var v3 struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(doc.Body, &v3))
	require.Equal(t, "3.0.3", v3.OpenAPI)
	require.Contains(t, v3.Paths, "/api/v1/me")
	etag := doc.Header.Get("ETag")
	require.NotEmpty(t, etag)

	again := requesttest.Do(t, http.MethodGet, base+"/api/openapi.json", "", map[string]string{"If-None-Match": `"other", ` + etag})
	require.Equal(t, http.StatusNotModified, again.StatusCode)
	require.Empty(t, again.Body)

	page := requesttest.Do(t, http.MethodGet, base+"/api/docs", "", map[string]string{"Cookie": "ory_kratos_session=anything"})
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", page.Header.Get("Content-Type"))
	require.Contains(t, page.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, string(page.Body), `id="UserService_GetMe"`)
	css := requesttest.Do(t, http.MethodGet, base+"/api/docs.css", "", nil)
	require.Equal(t, http.StatusOK, css.StatusCode)
	require.Equal(t, "text/css; charset=utf-8", css.Header.Get("Content-Type"))
	b.auth.mu.Lock()
	require.Nil(t, b.auth.lastFull, "reading the contract asks no one about sessions")
	b.auth.mu.Unlock()

	head := requesttest.Do(t, http.MethodHead, base+"/api/docs", "", nil)
	require.Equal(t, http.StatusOK, head.StatusCode)
	require.Empty(t, head.Body)

	post := requesttest.Do(t, http.MethodPost, base+"/api/openapi.json", "{}", map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusMethodNotAllowed, post.StatusCode)
	require.Equal(t, "GET, HEAD", post.Header.Get("Allow"))

	// Nothing else: neighbours of the two paths go to the API routes,
	// which know no such path.
	for _, p := range []string{"/api/openapi.json/", "/api/docs/", "/api/openapi.yaml", "/api/docs/../v1/me"} {
		resp := requesttest.Do(t, http.MethodGet, base+p, "", nil)
		require.NotEqual(t, http.StatusOK, resp.StatusCode, p)
	}
	code, _ := b.request(t, http.MethodGet, "/api/v1/me", "", nil)
	require.Equal(t, http.StatusUnauthorized, code, "the API itself still needs a session")
}
