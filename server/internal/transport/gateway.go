package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/groundwork-dev/groundwork/server/internal/apidoc"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles"
)

// GatewayConfig configures the HTTP/JSON gateway.
type GatewayConfig struct {
	Addr string // listen address; port 0 picks a free one (tests)

	// GRPCTarget is the host:port of the gRPC server the gateway dials.
	GRPCTarget string
	// ServerName is the name verified in the gRPC server's certificate;
	// empty means GRPCTarget's host.
	ServerName string
	// ClientCertificate is the gateway's own certificate for mTLS;
	// ServerCAs are the CAs the gRPC server's certificate must chain to.
	ClientCertificate *tlsfiles.KeyPair
	ServerCAs         *tlsfiles.CAPool

	// AllowedOrigin is the browser origin allowed to send
	// cookie-authenticated state-changing requests (scheme://host[:port]).
	AllowedOrigin string
	// MaxMessageSize bounds request bodies and the gRPC messages of the
	// gateway's client, in bytes.
	MaxMessageSize int

	Logger *slog.Logger
}

// Gateway serves the HTTP/JSON API. Every request becomes a gRPC call over
// mTLS to the gRPC server, so it passes the same interceptors as a native
// gRPC call. Start it once; Stop may be called any number of times.
type Gateway struct {
	cfg  GatewayConfig
	conn *grpc.ClientConn
	mux  *runtime.ServeMux
	http *http.Server

	mu  sync.Mutex
	lis net.Listener

	failed   chan error
	stopOnce sync.Once
}

// NewGateway prepares the gateway's client connection (it connects on the
// first request) and routes; it does not listen yet.
func NewGateway(ctx context.Context, cfg GatewayConfig) (*Gateway, error) {
	switch {
	case cfg.ClientCertificate == nil || cfg.ServerCAs == nil:
		return nil, errors.New("gateway: client certificate and server CAs are required")
	case cfg.MaxMessageSize <= 0:
		return nil, errors.New("gateway: MaxMessageSize must be positive")
	case cfg.AllowedOrigin == "":
		return nil, errors.New("gateway: AllowedOrigin is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	serverName := cfg.ServerName
	if serverName == "" {
		host, _, err := net.SplitHostPort(cfg.GRPCTarget)
		if err != nil {
			return nil, fmt.Errorf("gateway: gRPC target %q: %w", cfg.GRPCTarget, err)
		}
		serverName = host
	}
	conn, err := grpc.NewClient("passthrough:///"+cfg.GRPCTarget,
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(cfg.ClientCertificate, cfg.ServerCAs, serverName))),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(cfg.MaxMessageSize),
			grpc.MaxCallSendMsgSize(cfg.MaxMessageSize),
		),
		// Above the server's MinPingInterval, with margin for jitter.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: MinPingInterval + 10*time.Second, Timeout: 20 * time.Second}),
	)
	if err != nil {
		return nil, fmt.Errorf("gateway: create gRPC client for %s: %w", cfg.GRPCTarget, err)
	}
	mux := runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(forwardHeader),
		// Fewer ways to reach a route: no X-HTTP-Method-Override, and no
		// form-encoded POST treated as a GET.
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
	)
	if err := registerGateway(ctx, mux, conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g := &Gateway{cfg: cfg, conn: conn, mux: mux, failed: make(chan error, 1)}
	g.http = &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return g, nil
}

// clientTLS presents the gateway's certificate and verifies the server's
// against the current CA bundle. crypto/tls reads RootCAs once per config,
// and grpc-go keeps one config for the life of the connection, so the
// chain is verified in VerifyConnection against the reloading pool instead
// of by crypto/tls itself.
func clientTLS(cert *tlsfiles.KeyPair, cas *tlsfiles.CAPool, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		ServerName:           serverName,
		GetClientCertificate: cert.GetClientCertificate,
		// Not insecure: VerifyConnection verifies the chain and the name,
		// exactly as crypto/tls would with RootCAs set.
		InsecureSkipVerify: true, //nolint:gosec // G402: verified in VerifyConnection against a reloading CA pool
		VerifyConnection:   cas.VerifyServer(serverName),
	}
}

// forwardHeader passes the credential headers to gRPC metadata and nothing
// else: the Cookie header (the Kratos session cookie) and X-Session-Token.
// grpc-gateway forwards Authorization as "authorization" on its own, and
// X-Forwarded-For/-Host as metadata of those names.
func forwardHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "Cookie":
		return MDCookie, true
	case "X-Session-Token":
		return MDSessionToken, true
	}
	return "", false
}

// Handler is the gateway's HTTP handler: the API's contract (package
// apidoc: /api/openapi.json and /api/docs, no session needed), else the
// CSRF check, the body limit, then the routes.
func (g *Gateway) Handler() http.Handler {
	docs := apidoc.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if apidoc.Serves(r.URL.Path) {
			docs.ServeHTTP(w, r)
			return
		}
		if reason := g.csrf(r); reason != "" {
			g.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "gateway: request refused (CSRF)",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("reason", reason))
			g.writeError(w, r, http.StatusForbidden, status.New(codes.PermissionDenied, "cross-site request refused: "+reason))
			return
		}
		if !g.readBody(w, r) {
			return
		}
		g.mux.ServeHTTP(w, r)
	})
}

// csrf returns why a request must be refused as a possible cross-site
// request forgery, or "" to let it through.
//
// Only cookie-authenticated requests are at risk: a browser attaches the
// session cookie to requests that another site's page makes, but it never
// lets that page set X-Session-Token or Authorization on a cross-origin
// request without a CORS preflight, and the gateway approves no preflight
// (it answers no OPTIONS with Access-Control-Allow-* headers). A
// state-changing request that relies on the cookie must therefore
//   - come from the allowed origin (Origin, or Referer when a browser sent
//     no Origin), and
//   - be JSON: the only bodies a cross-origin page can send without a
//     preflight are form-encoded, multipart and text/plain.
func (g *Gateway) csrf(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return ""
	}
	cookieAuth := r.Header.Get("Cookie") != "" &&
		r.Header.Get("X-Session-Token") == "" && r.Header.Get("Authorization") == ""
	if !cookieAuth {
		return ""
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref, err := url.Parse(r.Header.Get("Referer")); err == nil && ref.Scheme != "" && ref.Host != "" {
			origin = ref.Scheme + "://" + ref.Host
		}
	}
	switch {
	case origin == "":
		return "no Origin or Referer header"
	case !strings.EqualFold(origin, g.cfg.AllowedOrigin):
		return "origin " + origin + " is not allowed"
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return "Content-Type must be application/json"
	}
	return ""
}

// readBody reads the whole body, refusing one above the size limit with
// 413, and puts it back for the routes. It reports whether to go on.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) bool {
	limit := int64(g.cfg.MaxMessageSize)
	tooLarge := status.New(codes.ResourceExhausted, fmt.Sprintf("request body larger than %d bytes", limit))
	if r.ContentLength > limit {
		g.writeError(w, r, http.StatusRequestEntityTooLarge, tooLarge)
		return false
	}
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		g.writeError(w, r, http.StatusBadRequest, status.New(codes.InvalidArgument, "read request body: "+err.Error()))
		return false
	}
	if int64(len(body)) > limit {
		g.writeError(w, r, http.StatusRequestEntityTooLarge, tooLarge)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// writeError renders st the way grpc-gateway renders every error (a JSON
// google.rpc.Status), with the given HTTP status.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, httpStatus int, st *status.Status) {
	_, out := runtime.MarshalerForRequest(g.mux, r)
	runtime.HTTPError(r.Context(), g.mux, out, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
}

// Start listens and serves in the background. A serving error after a
// successful start arrives on Failed.
func (g *Gateway) Start() error {
	lis, err := net.Listen("tcp", g.cfg.Addr) //nolint:noctx // a listener for the life of the process
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", g.cfg.Addr, err)
	}
	g.mu.Lock()
	g.lis = lis
	g.mu.Unlock()
	go func() {
		if err := g.http.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			g.failed <- fmt.Errorf("gateway on %s: %w", lis.Addr(), err)
		}
	}()
	return nil
}

// Addr is the address the gateway listens on, once started.
func (g *Gateway) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lis == nil {
		return nil
	}
	return g.lis.Addr()
}

// Failed delivers the error that stopped serving unexpectedly.
func (g *Gateway) Failed() <-chan error { return g.failed }

// Stop stops accepting requests, waits for in-flight ones (and so their
// gRPC calls) until ctx ends, then closes the gRPC client. Later calls
// return nil at once.
func (g *Gateway) Stop(ctx context.Context) error {
	var err error
	g.stopOnce.Do(func() {
		if serr := g.http.Shutdown(ctx); serr != nil {
			_ = g.http.Close()
			err = fmt.Errorf("gateway: in-flight requests cut off, shutdown did not finish in time: %w", serr)
		}
		if cerr := g.conn.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("gateway: close gRPC client: %w", cerr))
		}
	})
	return err
}
