package devstack

import (
	"context"
	"fmt"
	"path/filepath"
)

// WorkerOpsAddr is the worker's ops (health, metrics) listen address.
func (c Config) WorkerOpsAddr() string { return c.addr(c.WorkerOpsPort) }

func (c Config) workerRunDir() string { return filepath.Join(c.StateDir(), "worker") }

// workerShutdownTimeout fits the worker's graceful shutdown into the 20 s
// process.stop waits before it kills.
const workerShutdownTimeout = "15s"

func (s *Stack) workerEnv(opsAddr string) []string {
	return []string{
		"OPS_ADDR=" + opsAddr,
		"DATABASE_URL=" + s.cfg.DatabaseURL(RoleServer, DBApp),
		"KRATOS_ADMIN_URL=" + s.cfg.KratosAdminURL(),
		"SHUTDOWN_TIMEOUT=" + workerShutdownTimeout,
		"LOG_FORMAT=text",
	}
}

// workerProcess is `server worker`: the same binary as the server.
func (s *Stack) workerProcess(bin, opsAddr string, env []string) *process {
	return &process{
		Name:    "worker",
		Bin:     bin,
		Args:    []string{"worker"},
		Env:     env,
		Dir:     s.cfg.Root,
		LogFile: filepath.Join(s.cfg.LogDir(), "worker.log"),
		PIDFile: filepath.Join(s.cfg.workerRunDir(), "worker.pid"),
		Ports:   []string{opsAddr},
		Ready:   func(ctx context.Context) error { return httpOK(ctx, "http://"+opsAddr+"/readyz") },
	}
}

// upWorker runs the worker next to the server, from the server's binary
// (built by upServer when its sources changed); a running worker of an
// older build or another environment is restarted.
func (s *Stack) upWorker(ctx context.Context) error {
	opsAddr := s.cfg.WorkerOpsAddr()
	bin, err := s.ensureServerBinary(ctx)
	if err != nil {
		return err
	}
	started, err := s.workerProcess(bin, opsAddr, s.workerEnv(opsAddr)).Start(ctx)
	if err != nil {
		return err
	}
	if started {
		fmt.Fprintf(s.out, "worker        started: ops http://%s\n", opsAddr)
	}
	return nil
}

func (s *Stack) downWorker(ctx context.Context) error {
	p := s.workerProcess(s.cfg.serverBin(), "", nil)
	if _, ok := p.PID(); !ok {
		return nil
	}
	if err := p.Stop(ctx); err != nil {
		return fmt.Errorf("worker: stop: %w", err)
	}
	fmt.Fprintln(s.out, "worker        stopped")
	return nil
}

func (s *Stack) checkWorker(ctx context.Context) ComponentStatus {
	st := ComponentStatus{Name: "worker", State: "stopped", Health: "not running (go tool mage dev:up)"}
	opsAddr := s.cfg.WorkerOpsAddr()
	st.Address = "ops " + opsAddr
	if pid, ok := s.workerProcess(s.cfg.serverBin(), opsAddr, nil).PID(); ok {
		st.State = fmt.Sprintf("running (pid %d)", pid)
		if err := httpOK(ctx, "http://"+opsAddr+"/readyz"); err != nil {
			st.Health = err.Error()
		} else {
			st.Health, st.Healthy = "ready (database reachable, queue running)", true
		}
	}
	return st
}
