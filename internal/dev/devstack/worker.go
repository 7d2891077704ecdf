package devstack

import (
	"context"
	"fmt"
	"path/filepath"
)

// WorkerOpsAddr is the worker's ops (health, metrics) listen address.
func (c Config) WorkerOpsAddr() string { return c.addr(c.Port(EnvWorkerOpsPort)) }

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

// workerComponent is `server worker`, next to the server.
type workerComponent struct{}

func (workerComponent) Name() string { return "worker" }

func (workerComponent) Ports() []Port { return []Port{{EnvWorkerOpsPort, 27001}} }

// Up runs the worker from the server's binary (built when its sources
// changed); a running worker of an older build or another environment is
// restarted.
func (workerComponent) Up(ctx context.Context, s *Stack) error {
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

func (workerComponent) Down(ctx context.Context, s *Stack) error {
	return s.stopProcess(ctx, s.workerProcess(s.cfg.serverBin(), "", nil))
}

func (workerComponent) Check(ctx context.Context, s *Stack) []ComponentStatus {
	opsAddr := s.cfg.WorkerOpsAddr()
	st := ComponentStatus{Name: "worker", Address: "ops " + opsAddr}
	ready := func(ctx context.Context) error { return httpOK(ctx, "http://"+opsAddr+"/readyz") }
	return []ComponentStatus{processStatus(ctx, st, s.workerProcess(s.cfg.serverBin(), opsAddr, nil), ready, "ready (database reachable, queue running)")}
}
