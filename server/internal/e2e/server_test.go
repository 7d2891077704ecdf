package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/cli"
	"github.com/groundwork-dev/groundwork/server/internal/faultproxy"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
	"github.com/groundwork-dev/groundwork/server/internal/tlsfiles/tlsfilestest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	// allowedOrigin is the browser origin the server accepts cookie
	// writes from (--allowed-origin).
	allowedOrigin = "https://app.groundwork.test"
	// maxMessageSize is the server's --max-message-size: small, so that
	// the limit is cheap to cross.
	maxMessageSize = 64 << 10
	// hookKey is the shared key of Kratos's identity web hook.
	hookKey = "e2e-hook-key-0123456789abcdef0123456789abcdef"
)

// serverOptions are the settings a test varies.
type serverOptions struct {
	kratos *kratostest.Kratos
	// cacheTTL is --session-cache-ttl; nil leaves the default (5s).
	cacheTTL *time.Duration
	// hookKey is KRATOS_HOOK_KEY; empty: no hook route.
	hookKey string
	// databaseProxy puts a faultproxy between the server and PostgreSQL
	// (server.dbProxy), so a test can take the database away.
	databaseProxy bool
	// operators is RIVERUI_OPERATORS: the identities River UI lets in.
	operators []string
}

func ttl(d time.Duration) *time.Duration { return &d }

// server is a running `server serve` with its own database.
type server struct {
	grpcAddr   string // host:port of the gRPC port (mTLS)
	gatewayURL string // http://host:port of the HTTP/JSON gateway
	opsURL     string // http://host:port of the ops port
	db         *pgtest.DB
	dbProxy    *faultproxy.Proxy // with serverOptions.databaseProxy
	tree       tlsfilestest.Tree
	log        *serverLog
}

// startServer runs the real `server serve` (cli.Run, the production wiring)
// in the background on free ports, against a fresh database reached as the
// server role with its client certificate, and the Kratos of o. It returns
// once every port listens; at the test's end the context is cancelled and
// the process must shut down cleanly (exit 0) without having logged an
// error.
func startServer(t *testing.T, o serverOptions) *server {
	t.Helper()
	tree := tlsfilestest.New(t)
	db := pgtest.New(t)
	dbURL := db.URL
	var dbProxy *faultproxy.Proxy
	if o.databaseProxy {
		u, err := url.Parse(db.URL)
		require.NoError(t, err)
		dbProxy = faultproxy.Start(t, u.Host)
		u.Host = dbProxy.Addr()
		dbURL = u.String()
	}
	grpcTLS, gwTLS := tree.Paths(tlsfilestest.GRPCServer), tree.Paths(tlsfilestest.GatewayClient)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "GATEWAY_ADDR": "127.0.0.1:0", "OPS_ADDR": "127.0.0.1:0",
		"DATABASE_URL":  dbURL,
		"GRPC_TLS_CERT": grpcTLS.Cert, "GRPC_TLS_KEY": grpcTLS.Key, "GRPC_CLIENT_CA": grpcTLS.CA,
		"GATEWAY_TLS_CERT": gwTLS.Cert, "GATEWAY_TLS_KEY": gwTLS.Key, "GATEWAY_SERVER_CA": gwTLS.CA,
		"KRATOS_PUBLIC_URL": o.kratos.PublicURL, "KRATOS_ADMIN_URL": o.kratos.AdminURL,
		"KRATOS_HOOK_KEY":  o.hookKey,
		"ALLOWED_ORIGIN":   allowedOrigin,
		"MAX_MESSAGE_SIZE": strconv.Itoa(maxMessageSize),
		"SHUTDOWN_TIMEOUT": "10s",
		"LOG_FORMAT":       "json", "LOG_LEVEL": "info",
	}
	if o.cacheTTL != nil {
		env["SESSION_CACHE_TTL"] = o.cacheTTL.String()
	}
	if len(o.operators) > 0 {
		env["RIVERUI_OPERATORS"] = strings.Join(o.operators, ",")
	}

	log := newServerLog()
	serving := runCLI(t, "serve", env, log)
	addr := func(key string) string {
		a, ok := serving[key].(string)
		require.True(t, ok, "the serving log line has no %s address: %v", key, serving)
		return a
	}
	return &server{
		grpcAddr:   addr("grpc"),
		gatewayURL: "http://" + addr("gateway"),
		opsURL:     "http://" + addr("ops"),
		db:         db, dbProxy: dbProxy, tree: tree, log: log,
	}
}

// clientTLS is a gRPC client's TLS configuration presenting the
// certificate of secret (none when empty), trusting server-ca.
func (s *server) clientTLS(t *testing.T, secret string) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(s.tree.Paths(tlsfilestest.ServerCA).Cert)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(ca))
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	if secret != "" {
		p := s.tree.Paths(secret)
		kp, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		require.NoError(t, err)
		// Sent whatever CAs the server names as acceptable (crypto/tls
		// would send none for a foreign one), so that the server decides.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	}
	return cfg
}

// dial connects to the gRPC port with the client certificate of secret.
func (s *server) dial(t *testing.T, secret string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(s.clientTLS(t, secret)))}, opts...)
	conn, err := grpc.NewClient("passthrough:///"+s.grpcAddr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// userRow is a row of the users table.
type userRow struct {
	Email, DisplayName   string
	CreatedAt, UpdatedAt time.Time
}

// userRow reads the users row of id as the server role; ok is false when
// there is none.
func (s *server) userRow(t *testing.T, id string) (row userRow, ok bool) {
	t.Helper()
	err := s.db.Pool.QueryRow(t.Context(),
		`SELECT email, display_name, created_at, updated_at FROM users WHERE id = $1`, id,
	).Scan(&row.Email, &row.DisplayName, &row.CreatedAt, &row.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return userRow{}, false
	}
	require.NoError(t, err)
	return row, true
}

// waitUserRow polls the users table until the row of id satisfies cond:
// Kratos calls its web hooks asynchronously.
func (s *server) waitUserRow(t *testing.T, id string, cond func(userRow) bool) userRow {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		row, ok := s.userRow(t, id)
		if ok && cond(row) {
			return row
		}
		if time.Now().After(deadline) {
			t.Fatalf("users row of %s: want a change within 15s, have %+v (exists: %v)", id, row, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// accountCounts counts owner's rows in the accounts table: live ones and
// all, soft-deleted included.
func (s *server) accountCounts(t *testing.T, owner string) (live, all int) {
	t.Helper()
	require.NoError(t, s.db.Pool.QueryRow(t.Context(),
		`SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FROM accounts WHERE owner_id = $1`, owner,
	).Scan(&live, &all))
	return live, all
}

// runCLI runs `server <command>` (cli.Run, the production wiring) in the
// background with env as its environment, writing to log, and returns the
// log line that announces it is up. At the test's end its context is
// cancelled and the process must shut down cleanly (exit 0) within 30 s
// without having logged an error.
func runCLI(t *testing.T, command string, env map[string]string, log *serverLog) map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Run(ctx, []string{command}, func(k string) string { return env[k] }, io.Discard, log)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exited:
			if code != cli.ExitOK {
				t.Errorf("server %s exited with %d after the test", command, code)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server %s did not stop within 30s of its context's end", command)
		}
		for _, r := range log.records() {
			if r["level"] == "ERROR" {
				t.Errorf("server %s logged an error: %v", command, r)
			}
		}
		if t.Failed() {
			t.Logf("server %s log:\n%s", command, log.String())
		}
	})
	select {
	case rec := <-log.serving:
		return rec
	case code := <-exited:
		t.Fatalf("server %s exited with %d before it was up:\n%s", command, code, log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server %s was not up within 30s:\n%s", command, log.String())
	}
	return nil
}

// serverLog receives the server's JSON log, keeps it for failure reports
// and assertions, and announces the "serving" line, which names the
// addresses of the ports.
type serverLog struct {
	announce string // the message of the line to announce on serving
	serving  chan map[string]any

	mu      sync.Mutex
	all     bytes.Buffer
	pending []byte
	recs    []map[string]any
}

func newServerLog() *serverLog { return newProcessLog("serving") }

// newProcessLog announces the first line with the message announce (the
// worker's is "working").
func newProcessLog(announce string) *serverLog {
	return &serverLog{announce: announce, serving: make(chan map[string]any, 1)}
}

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.pending = append(l.pending, p...)
	for {
		i := bytes.IndexByte(l.pending, '\n')
		if i < 0 {
			break
		}
		var rec map[string]any
		if err := json.Unmarshal(l.pending[:i], &rec); err == nil {
			l.recs = append(l.recs, rec)
			if rec["msg"] == l.announce {
				select {
				case l.serving <- rec:
				default:
				}
			}
		}
		l.pending = slices.Clone(l.pending[i+1:])
	}
	return len(p), nil
}

func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

func (l *serverLog) records() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs)
}

// rpcs returns the "rpc" log lines (one per RPC) of the method's full name.
func (l *serverLog) rpcs(method string) []map[string]any {
	var out []map[string]any
	for _, r := range l.records() {
		if r["msg"] == "rpc" && (method == "" || r["method"] == method) {
			out = append(out, r)
		}
	}
	return out
}

// forwarder is a TCP hop to an address known only later, as a Service
// stands between Kratos and the server's ops port in a cluster: Kratos
// must be given the hook URL when it starts, and the server picks its
// ops port when it starts.
type forwarder struct {
	lis net.Listener

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newForwarder(t *testing.T) *forwarder {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &forwarder{lis: lis}
	t.Cleanup(func() {
		_ = lis.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// URL is the forwarder's address as an http URL.
func (f *forwarder) URL() string { return "http://" + f.lis.Addr().String() }

// forwardTo starts passing connections to target (those that arrived
// before wait in the listen queue).
func (f *forwarder) forwardTo(target string) {
	f.wg.Go(func() {
		for {
			in, err := f.lis.Accept()
			if err != nil {
				return // closed at cleanup
			}
			var d net.Dialer
			out, err := d.DialContext(context.Background(), "tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, in, out)
			f.mu.Unlock()
			f.wg.Go(func() { pipe(in, out) })
		}
	})
}

// pipe copies both ways until one side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(a, b); done <- struct{}{} }()
	go func() { _, _ = io.Copy(b, a); done <- struct{}{} }()
	<-done
	_ = a.Close()
	_ = b.Close()
	<-done
}

// get sends a GET and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return requesttest.Get(t, url, nil)
}
