package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
)

const envStandInPort = "GROUNDWORK_STANDIN_PORT"

// standIn is a component the stack does not have: an HTTP server in this
// process on a port of its own, recording what the stack asks of it. It is
// registered the way a new component is: by the list alone.
type standIn struct {
	mu    sync.Mutex
	calls []string
	srv   *http.Server
}

func (*standIn) Name() string  { return "stand-in" }
func (*standIn) Ports() []Port { return []Port{{envStandInPort, 19999}} }

func (c *standIn) record(call string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

func (c *standIn) Up(ctx context.Context, s *Stack) error {
	c.record("up")
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.addr(s.cfg.Port(envStandInPort)))
	if err != nil {
		return fmt.Errorf("stand-in: %w", err)
	}
	c.srv = &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})} //nolint:gosec // G112: a test server on loopback
	go func() { _ = c.srv.Serve(l) }()
	fmt.Fprintln(s.out, "stand-in      started")
	return nil
}

func (c *standIn) Down(ctx context.Context, s *Stack) error {
	c.record("down")
	if c.srv == nil {
		return nil
	}
	err := c.srv.Shutdown(ctx)
	c.srv = nil
	fmt.Fprintln(s.out, "stand-in      stopped")
	return err
}

func (c *standIn) Check(ctx context.Context, s *Stack) []ComponentStatus {
	c.record("check")
	addr := s.cfg.addr(s.cfg.Port(envStandInPort))
	st := ComponentStatus{Name: "stand-in", State: "stopped", Address: addr, Health: "not running"}
	if err := httpOK(ctx, "http://"+addr+"/"); err == nil {
		st.State, st.Health, st.Healthy = "running", "healthy", true
	}
	return []ComponentStatus{st}
}

func (c *standIn) history() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// A component registered through the list alone gets a free port in a
// private stack, is started by Up, reported by Status and Check, and
// stopped by Down — after the components before it, and before them on
// the way down.
func TestAComponentFromTheListIsStartedCheckedAndStopped(t *testing.T) {
	t.Parallel()
	si := &standIn{}
	comps := []Component{certificates{}, si}
	cfg, err := privateConfig(t.Context(), "../../..", t.TempDir(), comps)
	require.NoError(t, err)
	port := cfg.Port(envStandInPort)
	lo, hi := freeport.Range()
	require.True(t, port >= lo && port < hi, "the stand-in's port %d is a private one, not its default", port)

	var out bytes.Buffer
	s := newStack(cfg, &out, nil, comps)
	require.NoError(t, s.Up(t.Context()))
	require.Equal(t, []string{"up", "check"}, si.history(), "Up starts it, then prints the status")
	require.Contains(t, out.String(), "certificates  issued", "the components before it ran first")
	require.Regexp(t, `stand-in\s+running\s+127\.0\.0\.1:\d+\s+healthy`, out.String())
	require.FileExists(t, cfg.PKIDir()+"/postgres-ca/ca.crt")

	sts := s.Check(t.Context())
	require.Len(t, sts, 1, "certificates report no line; the stand-in one")
	require.True(t, sts[0].Healthy)

	out.Reset()
	require.NoError(t, s.Down(t.Context()))
	require.Contains(t, out.String(), "stand-in      stopped")
	err = s.Status(t.Context())
	require.ErrorContains(t, err, "1 of 1 components unhealthy")
	require.Equal(t, []string{"up", "check", "check", "down", "check"}, si.history())
}

// Up stops at the first component that fails and says which; the ones
// after it are not started.
func TestUpStopsAtAFailingComponent(t *testing.T) {
	t.Parallel()
	after := &standIn{}
	boom := errors.New("no disk")
	comps := []Component{failing{err: boom}, after}
	cfg, err := privateConfig(t.Context(), "../../..", t.TempDir(), comps)
	require.NoError(t, err)
	err = newStack(cfg, &bytes.Buffer{}, nil, comps).Up(t.Context())
	require.ErrorIs(t, err, boom)
	require.Empty(t, after.history())
}

type failing struct{ err error }

func (failing) Name() string                                    { return "failing" }
func (failing) Ports() []Port                                   { return nil }
func (f failing) Up(context.Context, *Stack) error              { return f.err }
func (failing) Down(context.Context, *Stack) error              { return nil }
func (failing) Check(context.Context, *Stack) []ComponentStatus { return nil }

// The stack's own components declare ARCHITECTURE.md's ports, each
// variable once.
func TestTheStacksPorts(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range portsOf(components) {
		require.False(t, seen[p.Env], "%s declared twice", p.Env)
		seen[p.Env] = true
		require.True(t, strings.HasPrefix(p.Env, "GROUNDWORK_"), p.Env)
	}
	cfg, err := ConfigFromEnv(t.TempDir(), func(string) string { return "" })
	require.NoError(t, err)
	for env, want := range map[string]int{EnvPGPort: 15432, EnvKratosPublicPort: 4433, EnvKratosAdminPort: 4434,
		EnvGRPCPort: 25000, EnvGatewayPort: 26000, EnvOpsPort: 27000, EnvWorkerOpsPort: 27001,
		EnvWebPort: 8080, EnvVitePort: 5173, EnvMailpitSMTPPort: 1025, EnvMailpitUIPort: 8025, EnvPrometheusPort: 19090} {
		require.Equal(t, want, cfg.Port(env), env)
	}
	require.Len(t, seen, 12)
}
