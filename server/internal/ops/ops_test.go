package ops_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/ops"
	"github.com/groundwork-dev/groundwork/server/internal/requesttest"
)

// switchCheck fails while its error is set.
type switchCheck struct {
	name string
	err  atomic.Pointer[error]
}

func (c *switchCheck) Name() string { return c.name }
func (c *switchCheck) Check(context.Context) error {
	if e := c.err.Load(); e != nil {
		return *e
	}
	return nil
}
func (c *switchCheck) fail(err error) { c.err.Store(&err) }
func (c *switchCheck) pass()          { c.err.Store(nil) }

type testBundle struct {
	db, kratos *switchCheck
	readiness  *ops.Readiness
	srv        *httptest.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{db: &switchCheck{name: "database"}, kratos: &switchCheck{name: "kratos"}}
	b.readiness = ops.NewReadiness(0, b.db, b.kratos)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "Things."}))
	s, err := ops.New(ops.Config{Readiness: b.readiness, Gatherer: reg})
	require.NoError(t, err)
	b.srv = httptest.NewServer(s.Handler())
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBundle) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return requesttest.Get(t, b.srv.URL+path, nil)
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Alive even when not ready.
	code, body := b.get(t, "/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	b := setup(t)

	code, body := b.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not ready before serving")
	require.Equal(t, "[-]serving failed: starting or shutting down\nnot ready\n", body)

	b.readiness.SetServing(true)
	code, body = b.get(t, "/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "[+]database ok\n[+]kratos ok\nready\n", body)

	b.db.fail(errors.New("PostgreSQL unreachable: nothing listens\non 127.0.0.1:1"))
	code, body = b.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "[-]database failed: PostgreSQL unreachable: nothing listens; on 127.0.0.1:1\n[+]kratos ok\nnot ready\n", body)

	b.db.pass()
	b.kratos.fail(errors.New("kratos down"))
	code, _ = b.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)

	b.kratos.pass()
	code, _ = b.get(t, "/readyz")
	require.Equal(t, http.StatusOK, code, "recovers without restart")

	b.readiness.SetServing(false)
	code, _ = b.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not ready while shutting down")
}

func TestReadinessCheckTimeout(t *testing.T) {
	t.Parallel()
	hang := ops.Check("hang", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	r := ops.NewReadiness(time.Millisecond, hang)
	r.SetServing(true)
	rep := r.Evaluate(context.Background())
	require.False(t, rep.Ready())
	require.ErrorIs(t, rep.Err(), context.DeadlineExceeded)
	require.ErrorContains(t, rep.Err(), "hang: ")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, body := b.get(t, "/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "test_things_total 0")
}

func TestWatchReportsChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.readiness.SetServing(true)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan bool)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.readiness.Watch(ctx, time.Millisecond, slog.New(slog.DiscardHandler), func(ready bool) { changes <- ready })
	}()
	require.True(t, <-changes, "first evaluation")
	b.db.fail(errors.New("down"))
	require.False(t, <-changes)
	b.db.pass()
	require.True(t, <-changes)
	cancel()
	<-done
}

func TestExtraHandlers(t *testing.T) {
	t.Parallel()
	r := ops.NewReadiness(0)
	hook := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s, err := ops.New(ops.Config{Readiness: r, Gatherer: prometheus.NewRegistry(),
		Handlers: map[string]http.Handler{"/kratos/identity": hook}})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/kratos/identity", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	_, err = ops.New(ops.Config{Readiness: r, Gatherer: prometheus.NewRegistry(),
		Handlers: map[string]http.Handler{"GET /metrics": hook}})
	require.ErrorContains(t, err, "ops server: routes:")
}

func TestServerStartStop(t *testing.T) {
	t.Parallel()
	r := ops.NewReadiness(0)
	s, err := ops.New(ops.Config{Addr: "127.0.0.1:0", Readiness: r, Gatherer: prometheus.NewRegistry()})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, s.Stop(context.Background()))
	require.NoError(t, s.Stop(context.Background()), "a second Stop is harmless")
	_, err = net.Dial("tcp", s.Addr().String())
	require.Error(t, err, "stopped")
	select {
	case err := <-s.Failed():
		t.Fatalf("a stop is no failure: %v", err)
	default:
	}
}
