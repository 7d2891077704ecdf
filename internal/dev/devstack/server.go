package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/toolchain/gobin"
)

// ServerGRPCAddr is the server's gRPC (mTLS) listen address.
func (c Config) ServerGRPCAddr() string { return c.addr(c.Port(EnvGRPCPort)) }

// ServerGatewayAddr is the server's HTTP/JSON gateway listen address.
func (c Config) ServerGatewayAddr() string { return c.addr(c.Port(EnvGatewayPort)) }

// ServerOpsAddr is the server's ops (health, metrics) listen address.
func (c Config) ServerOpsAddr() string { return c.addr(c.Port(EnvOpsPort)) }

func (c Config) serverRunDir() string { return filepath.Join(c.StateDir(), "server") }
func (c Config) serverBin() string    { return gobin.Path(c.Root, serverProgram.Name) }

// serverProgram is server/cmd/server; its sources are the server's and
// those of the workspace modules it imports.
var serverProgram = gobin.Program{Name: "server", Dir: "server", Package: "./cmd/server",
	Sources: []string{"server", "migrator", "queue", filepath.Join("internal", "shared")}}

// ensureServerBinary builds the server when its sources changed.
func (s *Stack) ensureServerBinary(ctx context.Context) (string, error) {
	bin, built, err := gobin.Ensure(ctx, s.cfg.Root, serverProgram)
	if err != nil {
		return "", err
	}
	if built {
		fmt.Fprintln(s.out, "server        built "+bin)
	}
	return bin, nil
}

// ServerRuntimeSettings are the Go runtime settings the API server runs
// with, here and in the Kubernetes manifests (k8s/base/server/api.yaml,
// kept equal by a test). gcshrinkstackoff=1: the server runs RPCs on
// long-lived stream workers, and the garbage collector halved the stacks
// of idle workers, which the next RPC through the request path (the
// interceptors, the messenger, pgx) grew back by copying: a tenth of the
// server's CPU under load. Stacks then stay at their largest size (a few
// MiB for all workers); see docs/server.md.
const ServerRuntimeSettings = "gcshrinkstackoff=1"

// ServerGODEBUG is the server's GODEBUG: inherited settings, then
// ServerRuntimeSettings (which wins on a conflict).
func ServerGODEBUG(inherited string) string {
	if inherited == "" {
		return ServerRuntimeSettings
	}
	return inherited + "," + ServerRuntimeSettings
}

func (s *Stack) serverEnv() ([]string, error) {
	key, err := s.hookKey()
	if err != nil {
		return nil, err
	}
	grpc := pki.SecretPaths(s.cfg.PKIDir(), pki.ServerGRPCSecret)
	gw := pki.SecretPaths(s.cfg.PKIDir(), pki.GatewayClientSecret)
	return []string{
		"GRPC_ADDR=" + s.cfg.ServerGRPCAddr(),
		"GATEWAY_ADDR=" + s.cfg.ServerGatewayAddr(),
		"OPS_ADDR=" + s.cfg.ServerOpsAddr(),
		"DATABASE_URL=" + s.cfg.DatabaseURL(RoleServer, DBApp),
		"GRPC_TLS_CERT=" + grpc.Cert,
		"GRPC_TLS_KEY=" + grpc.Key,
		"GRPC_CLIENT_CA=" + grpc.CA,
		"GATEWAY_TLS_CERT=" + gw.Cert,
		"GATEWAY_TLS_KEY=" + gw.Key,
		"GATEWAY_SERVER_CA=" + grpc.CA,
		"KRATOS_PUBLIC_URL=" + s.cfg.KratosPublicURL(),
		"KRATOS_ADMIN_URL=" + s.cfg.KratosAdminURL(),
		"ALLOWED_ORIGIN=" + s.cfg.WebOrigin(),
		"LOG_FORMAT=text",
		"GODEBUG=" + ServerGODEBUG(os.Getenv("GODEBUG")),
		"KRATOS_HOOK_KEY=" + key,
	}, nil
}

func (s *Stack) serverProcess(bin string, env []string) *process {
	return &process{
		Name:    "server",
		Bin:     bin,
		Args:    []string{"serve"},
		Env:     env,
		Dir:     s.cfg.Root,
		LogFile: filepath.Join(s.cfg.LogDir(), "server.log"),
		PIDFile: filepath.Join(s.cfg.serverRunDir(), "server.pid"),
		Ports:   []string{s.cfg.ServerGRPCAddr(), s.cfg.ServerGatewayAddr(), s.cfg.ServerOpsAddr()},
		Ready:   func(ctx context.Context) error { return httpOK(ctx, "http://"+s.cfg.ServerOpsAddr()+"/readyz") },
	}
}

// serverComponent is the API server: gRPC, the HTTP/JSON gateway and ops.
type serverComponent struct{}

func (serverComponent) Name() string { return "server" }

func (serverComponent) Ports() []Port {
	return []Port{{EnvGRPCPort, 25000}, {EnvGatewayPort, 26000}, {EnvOpsPort, 27000}}
}

// Up builds the server when its sources changed and runs it; a running
// server built from older sources, or with another environment, is
// restarted.
func (serverComponent) Up(ctx context.Context, s *Stack) error {
	bin, err := s.ensureServerBinary(ctx)
	if err != nil {
		return err
	}
	env, err := s.serverEnv()
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	started, err := s.serverProcess(bin, env).Start(ctx)
	if err != nil {
		return err
	}
	if started {
		fmt.Fprintf(s.out, "server        started: gRPC %s (mTLS), gateway http://%s, ops http://%s\n", s.cfg.ServerGRPCAddr(), s.cfg.ServerGatewayAddr(), s.cfg.ServerOpsAddr())
	}
	return nil
}

func (serverComponent) Down(ctx context.Context, s *Stack) error {
	return s.stopProcess(ctx, s.serverProcess(s.cfg.serverBin(), nil))
}

func (serverComponent) Check(ctx context.Context, s *Stack) []ComponentStatus {
	st := ComponentStatus{Name: "server",
		Address: fmt.Sprintf("grpc %s, http %s, ops %s", s.cfg.ServerGRPCAddr(), s.cfg.ServerGatewayAddr(), s.cfg.ServerOpsAddr())}
	ready := func(ctx context.Context) error { return httpOK(ctx, "http://"+s.cfg.ServerOpsAddr()+"/readyz") }
	return []ComponentStatus{processStatus(ctx, st, s.serverProcess(s.cfg.serverBin(), nil), ready, "ready (database and Kratos reachable)")}
}

// httpOK reports whether url answers 200 within 2 s.
func httpOK(ctx context.Context, url string) error { return fetchJSON(ctx, url, nil) }
