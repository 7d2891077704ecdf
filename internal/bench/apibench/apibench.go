// Package apibench is `go tool mage bench:api`: the gRPC API under load,
// next to a baseline measured in the same run on the same machine, printed
// as ratios.
//
// The full side is the real thing: a private stack (internal/dev/devstack) in
// a temporary directory on free ports — PostgreSQL with certificate logins,
// real Kratos, the real server binary — and a user registered in Kratos
// whose session token goes as x-session-token metadata over mTLS with the
// developers' client certificate (pki.DevClientSecret). The server runs
// with its defaults, as deployed. Every request passes the whole
// interceptor chain (recovery, logging to the server's log file — a busy
// method's INFO lines sampled, as --log-sample's default does in
// production —, metrics, deadline, authentication with the session cache,
// validation), the messenger with its validator and authorizer, and the
// store.
//
// The baseline (Baseline, run as its own process from
// cmd/apibench-baseline, like the server) is plain grpc-go + pgx: the
// store's INSERT and SELECT for one fixed owner, no interceptors, no
// messenger, no authentication. It serves the same server certificate with
// the same TLS settings (TLS 1.3, client certificate required) and is
// called with the same client certificate and metadata, so the ratio
// measures our layers, not TLS; it connects to the same database as the
// server role with the same pool settings, and runs with the server's Go
// runtime settings (devstack.ServerRuntimeSettings).
//
// Load: a closed loop of Plan.Concurrency workers over Plan.Connections
// connections per side (see Load and measure), CreateAccount with a unique
// name per request and GetAccount of one existing account. Each side runs
// each RPC unrecorded for Plan.Settle, then the RPC is measured
// Plan.Rounds times per side, the sides alternating, so that
// drift on a shared machine hits both; the table sums the rounds,
// percentiles are exact over every request, and each round's own ratio is
// shown to make the noise visible. Beside throughput and latency the table
// shows the CPU time spent per request by the serving process, PostgreSQL,
// the load generator and the rest of the machine, read from /proc (see
// CPU). Before each RPC's measurements the accounts table is vacuumed and
// analyzed, so that neither the query plan nor autovacuum's work depends on
// autovacuum's timing (maintainAccounts).
package apibench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/groundwork-dev/groundwork/internal/dev/devstack"
	"github.com/groundwork-dev/groundwork/internal/shared/dbconn"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
	"github.com/groundwork-dev/groundwork/internal/shared/machine"
	"github.com/groundwork-dev/groundwork/internal/shared/pki"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
)

// RunPlan measures with plan p (DefaultPlan, or PlanFromEnv's) and prints
// the table. It runs from the repository root (where mage runs).
func RunPlan(ctx context.Context, out io.Writer, p Plan) error {
	if p.Connections < 1 || p.Rounds < 1 {
		return fmt.Errorf("plan: want Connections ≥ 1 and Rounds ≥ 1, got %d and %d", p.Connections, p.Rounds)
	}
	if p.ClientProcs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(p.ClientProcs))
	}
	if err := checkPrerequisites(ctx, out); err != nil {
		return err
	}
	root, err := benchDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	fmt.Fprintf(out, "building the baseline server and starting a private stack in %s ...\n", root)
	baselineBin := filepath.Join(root, "apibench-baseline")
	if err := goBuild(ctx, baselineBin, "./internal/bench/apibench/cmd/apibench-baseline"); err != nil {
		return err
	}
	cfg, resetStack, err := startStack(ctx, out, root)
	if err != nil {
		return err
	}
	defer resetStack()

	// The full side, called as a registered user.
	user, err := registerUser(ctx, cfg.KratosPublicURL())
	if err != nil {
		return err
	}
	clientTLS, err := devClientTLS(cfg)
	if err != nil {
		return err
	}
	full, err := dialAll(cfg.ServerGRPCAddr(), clientTLS, p.Connections)
	if err != nil {
		return err
	}
	defer closeAll(full)
	md := metadata.Pairs("x-session-token", user.token)
	seed, err := seedAccount(ctx, md, full[0], user.id)
	if err != nil {
		return err
	}
	fullPID, err := listenerPID(cfg.Port(devstack.EnvGRPCPort))
	if err != nil {
		return fmt.Errorf("full stack: the server process: %w", err)
	}

	// The baseline side, called with the same certificate and metadata.
	baseAddr, basePID, stopBaseline, err := startBaseline(ctx, baselineBin, filepath.Join(root, "baseline.log"), baselineArgs(cfg, user.id))
	if err != nil {
		return err
	}
	defer func() { _ = stopBaseline() }()
	base, err := dialAll(baseAddr, clientTLS, p.Connections)
	if err != nil {
		return err
	}
	defer closeAll(base)
	if err := checkBaseline(ctx, md, base[0], seed); err != nil {
		return err
	}

	rpcs := accountRPCs(seed.GetId())
	fmt.Fprintf(out, "baseline serving on %s; measuring for about %s\n\n", baseAddr,
		time.Duration(len(rpcs)*2)*(p.Settle+time.Duration(p.Rounds)*(p.Warmup+p.Duration)))
	postmaster, err := postmasterPID(cfg.DataDir())
	if err != nil {
		return err
	}
	fullSide := target{name: "full", conns: asInterfaces(full), cpu: cpuMeter{server: fullPID, postmaster: postmaster}}
	baseSide := target{name: "baseline", conns: asInterfaces(base), cpu: cpuMeter{server: basePID, postmaster: postmaster}}
	report, err := measureRPCs(ctx, out, p, md, cfg.DatabaseURL(devstack.RoleMigrator, devstack.DBApp), rpcs, fullSide, baseSide)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	Print(out, report)
	return nil
}

// checkPrerequisites checks that the benchmark runs where it can build the
// workspace's programs, and installs PostgreSQL for the stack if need be.
func checkPrerequisites(ctx context.Context, out io.Writer) error {
	if _, err := os.Stat("go.work"); err != nil {
		return fmt.Errorf("run from the repository root (where go.work is): %w", err)
	}
	return sysdeps.New(out).Ensure(ctx, sysdeps.PostgreSQL())
}

// benchDir creates the temporary directory that holds the private stack
// and the baseline's binary and log; the caller removes it.
func benchDir() (string, error) {
	root, err := os.MkdirTemp("", "apibench-")
	if err != nil {
		return "", fmt.Errorf("create the benchmark's directory: %w", err)
	}
	// The unprivileged PostgreSQL user must traverse it.
	if err := os.Chmod(root, 0o711); err != nil {
		_ = os.RemoveAll(root)
		return "", fmt.Errorf("create the benchmark's directory: %w", err)
	}
	return root, nil
}

// startStack brings up the private stack in root and returns its
// configuration and reset, which stops it. The stack's own output is kept
// for the error, not shown. When the stack does not come up, startStack
// resets it itself, whatever part of it had started.
func startStack(ctx context.Context, out io.Writer, root string) (devstack.Config, func(), error) {
	cfg, err := devstack.PrivateConfig(ctx, ".", root)
	if err != nil {
		return devstack.Config{}, nil, err
	}
	var stackOut bytes.Buffer
	stack := devstack.New(cfg, &stackOut, sysdeps.New(&stackOut))
	reset := func() { _ = stack.Reset(context.Background()) }
	up := false
	defer func() {
		if !up { // deferred, so that a panic in Up resets it too
			reset()
		}
	}()
	t0 := time.Now()
	if err := stack.Up(ctx); err != nil {
		return devstack.Config{}, nil, fmt.Errorf("private stack: %w\n%s%s", err, stackOut.String(), stackLogTails(cfg))
	}
	up = true
	fmt.Fprintf(out, "stack healthy in %s (server gRPC %s)\n", time.Since(t0).Round(time.Millisecond), cfg.ServerGRPCAddr())
	return cfg, reset, nil
}

// stackLogTails is the end of the stack's Kratos and server logs. The logs
// go with the temporary directory: a failed start shows their ends now.
func stackLogTails(cfg devstack.Config) string {
	var logs strings.Builder
	for _, name := range []string{"kratos.log", "server.log"} {
		if b, err := os.ReadFile(filepath.Join(cfg.LogDir(), name)); err == nil {
			fmt.Fprintf(&logs, "--- end of %s\n%s\n", name, lastlines.Of(string(b), 15))
		}
	}
	return logs.String()
}

// devClientTLS is the client side of mTLS for both sides: the developers'
// client certificate, and the CA of the server certificate both serve.
func devClientTLS(cfg devstack.Config) (*tls.Config, error) {
	grpcTLS := pki.SecretPaths(cfg.PKIDir(), pki.ServerGRPCSecret)
	dev := pki.SecretPaths(cfg.PKIDir(), pki.DevClientSecret)
	return ClientTLS(dev.Cert, dev.Key, grpcTLS.CA)
}

// seedAccount creates, on the full side, the account GetAccount gets. As
// the user's first authenticated call it also creates the user's row (the
// auth layer's upsert), which the baseline's inserts need as owner.
func seedAccount(ctx context.Context, md metadata.MD, conn grpc.ClientConnInterface, owner string) (*groundworkv1.Account, error) {
	ctx = metadata.NewOutgoingContext(ctx, md)
	seed, err := groundworkv1.NewAccountServiceClient(conn).CreateAccount(ctx, &groundworkv1.CreateAccountRequest{Name: "apibench-get"})
	if err != nil {
		return nil, fmt.Errorf("full stack: create the account to get: %w", err)
	}
	if seed.GetAccount().GetOwnerId() != owner {
		return nil, fmt.Errorf("full stack: account owned by %q, want the registered identity %q", seed.GetAccount().GetOwnerId(), owner)
	}
	return seed.GetAccount(), nil
}

// baselineArgs are the baseline's flags: the server role's database, the
// full side's server certificate and client CA, and owner for its inserts.
func baselineArgs(cfg devstack.Config, owner string) []string {
	grpcTLS := pki.SecretPaths(cfg.PKIDir(), pki.ServerGRPCSecret)
	return []string{
		"--listen", "127.0.0.1:0",
		"--database-url", cfg.DatabaseURL(devstack.RoleServer, devstack.DBApp),
		"--tls-cert", grpcTLS.Cert, "--tls-key", grpcTLS.Key, "--client-ca", grpcTLS.CA,
		"--owner", owner,
	}
}

// checkBaseline checks that the baseline answers GetAccount as the full
// stack does, so that both sides are measured doing the same work.
func checkBaseline(ctx context.Context, md metadata.MD, conn grpc.ClientConnInterface, seed *groundworkv1.Account) error {
	ctx = metadata.NewOutgoingContext(ctx, md)
	got, err := groundworkv1.NewAccountServiceClient(conn).GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: seed.GetId()})
	if err != nil {
		return fmt.Errorf("baseline: get the seeded account: %w", err)
	}
	if !proto.Equal(got.GetAccount(), seed) {
		return fmt.Errorf("baseline answers %v, the full stack %v", got.GetAccount(), seed)
	}
	return nil
}

// benchRPC is one RPC to measure. call makes its Call; prefix is unique
// to the side and round (see compare).
type benchRPC struct {
	name string
	call func(prefix string) Call
}

// accountRPCs are the RPCs measured: CreateAccount with a unique name per
// request, and GetAccount of the account id.
func accountRPCs(id string) []benchRPC {
	return []benchRPC{
		{"CreateAccount", func(prefix string) Call {
			return func(ctx context.Context, conn grpc.ClientConnInterface, n uint64) error {
				_, err := groundworkv1.NewAccountServiceClient(conn).CreateAccount(ctx,
					&groundworkv1.CreateAccountRequest{Name: fmt.Sprintf("%s-%d", prefix, n)})
				return err
			}
		}},
		{"GetAccount", func(string) Call {
			return func(ctx context.Context, conn grpc.ClientConnInterface, _ uint64) error {
				_, err := groundworkv1.NewAccountServiceClient(conn).GetAccount(ctx, &groundworkv1.GetAccountRequest{Id: id})
				return err
			}
		}},
	}
}

// measureRPCs compares the sides on each RPC in turn, called with the
// user's metadata md, and collects the results. Before each RPC the
// accounts table is maintained as the migrator (maintainAccounts).
func measureRPCs(ctx context.Context, out io.Writer, p Plan, md metadata.MD, migratorURL string, rpcs []benchRPC, full, base target) (Report, error) {
	callCtx := metadata.NewOutgoingContext(ctx, md)
	report := Report{Machine: ThisMachine(), Plan: p, LoadBefore: machine.LoadAverage()}
	for _, rpc := range rpcs {
		if err := maintainAccounts(ctx, migratorURL); err != nil {
			return Report{}, err
		}
		res, err := compare(callCtx, out, p, rpc.name, rpc.call, full, base)
		if err != nil {
			return Report{}, err
		}
		report.Results = append(report.Results, res)
	}
	return report, nil
}

// target is one side of the comparison.
type target struct {
	name  string
	conns []grpc.ClientConnInterface
	cpu   cpuMeter
}

// compare measures one RPC p.Rounds times on each side, alternating which
// side goes first, and sums the rounds. newCall gets a prefix unique to
// the side and round, for names: both sides insert for the same owner into
// the same table.
func compare(ctx context.Context, out io.Writer, p Plan, rpc string, newCall func(prefix string) Call, full, base target) (Result, error) {
	res := Result{RPC: rpc}
	if p.Settle > 0 {
		for _, t := range []target{full, base} {
			settle := Load{Concurrency: p.Concurrency, Duration: p.Settle}
			if _, err := measure(ctx, t.conns, settle, newCall(t.name+"-settle")); err != nil {
				return res, fmt.Errorf("%s on the %s side, settling: %w", rpc, t.name, err)
			}
		}
	}
	var fullSamples, baseSamples []Sample
	for round := range p.Rounds {
		order := []target{full, base}
		if round%2 == 1 {
			order = []target{base, full}
		}
		var got [2]Sample // full, baseline
		for _, t := range order {
			s, err := measureTarget(ctx, p.Load, t, newCall(fmt.Sprintf("%s-%d", t.name, round)))
			if err != nil {
				return res, fmt.Errorf("%s on the %s side: %w", rpc, t.name, err)
			}
			st := summarize(s)
			fmt.Fprintf(out, "  %-14s %-9s round %d: %8.1f req/s  p50 %s  p99 %s  cpu/req %s\n",
				rpc, t.name, round+1, st.RPS(), ms(st.P50), ms(st.P99), us(st.CPUPerRequest.Server))
			if t.name == full.name {
				got[0] = s
			} else {
				got[1] = s
			}
		}
		fullSamples, baseSamples = append(fullSamples, got[0]), append(baseSamples, got[1])
		res.RoundRatios = append(res.RoundRatios, ratio(summarize(got[0]), summarize(got[1])))
	}
	res.Full, res.Baseline = summarize(fullSamples...), summarize(baseSamples...)
	return res, nil
}

// measureTarget runs one measurement against t and adds the CPU time
// spent over it.
func measureTarget(ctx context.Context, l Load, t target, call Call) (Sample, error) {
	cpu0, err := t.cpu.read()
	if err != nil {
		return Sample{}, err
	}
	s, err := measure(ctx, t.conns, l, call)
	if err != nil {
		return Sample{}, err
	}
	cpu1, err := t.cpu.read()
	if err != nil {
		return Sample{}, err
	}
	s.CPU = cpu1.sub(cpu0)
	return s, nil
}

// maintainAccounts vacuums accounts and refreshes its planner statistics,
// as the table's owner, as autovacuum would have done in a database that
// has been running for a while. Without the statistics GetAccount's plan
// depends on when autovacuum last ran: right after CreateAccount's tens of
// thousands of inserts for one owner, stale statistics make PostgreSQL look
// the id up through the owner's name index and filter every row of that
// owner (~15 ms a query instead of ~0.05 ms through the primary key), and
// the benchmark would measure the planner, not our layers. Without the
// vacuum, the autovacuum those inserts trigger runs during the next RPC's
// first rounds and loads whichever side they measure.
func maintainAccounts(ctx context.Context, migratorURL string) error {
	cfg, err := dbconn.ConnConfig(migratorURL)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect as the migrator to vacuum accounts: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) accounts"); err != nil {
		return fmt.Errorf("vacuum accounts: %w", err)
	}
	return nil
}

// goBuild builds pkg of the workspace into bin.
func goBuild(ctx context.Context, bin, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// startBaseline runs the baseline process and waits for its address. stop
// ends it (SIGTERM, then SIGKILL after 5 s) and returns how it exited.
func startBaseline(ctx context.Context, bin, logFile string, args []string) (addr string, pid int, stop func() error, err error) {
	logf, err := os.Create(logFile)
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(bin, args...) //nolint:noctx // stopped by stop, not by ctx, so that it outlives a cancelled measurement until cleanup
	// The server's Go runtime settings, so that the ratio compares code,
	// not runtime configuration.
	cmd.Env = append(os.Environ(), "GODEBUG="+devstack.ServerGODEBUG(os.Getenv("GODEBUG")))
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", 0, nil, fmt.Errorf("start baseline: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop = func() error {
		defer logf.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			return <-done
		}
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), ListeningPrefix); ok {
				lines <- a
			}
		}
	}()
	select {
	case addr = <-lines:
		return addr, cmd.Process.Pid, stop, nil
	case err := <-done:
		done <- err
		_ = stop()
		b, _ := os.ReadFile(logFile)
		return "", 0, nil, fmt.Errorf("baseline exited before serving: %w\n%s", err, b)
	case <-time.After(30 * time.Second):
		_ = stop()
		return "", 0, nil, errors.New("baseline: not serving after 30 s")
	case <-ctx.Done():
		_ = stop()
		return "", 0, nil, ctx.Err()
	}
}

func dialAll(addr string, tlsCfg *tls.Config, n int) ([]*grpc.ClientConn, error) {
	creds := credentials.NewTLS(tlsCfg)
	var conns []*grpc.ClientConn
	for range n {
		// Each its own connection: grpc.NewClient shares none.
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		c.Connect()
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(conns []*grpc.ClientConn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

func asInterfaces(conns []*grpc.ClientConn) []grpc.ClientConnInterface {
	out := make([]grpc.ClientConnInterface, len(conns))
	for i, c := range conns {
		out[i] = c
	}
	return out
}

type kratosUser struct{ id, token string }

// registerUser registers a new identity through Kratos's API registration
// flow and returns its ID and session token.
func registerUser(ctx context.Context, publicURL string) (kratosUser, error) {
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	password := make([]byte, 16)
	_, _ = rand.Read(password)
	var flow struct {
		ID string `json:"id"`
	}
	if err := kratosJSON(ctx, http.MethodGet, publicURL+"/self-service/registration/api", nil, &flow); err != nil {
		return kratosUser{}, fmt.Errorf("kratos: start registration: %w", err)
	}
	body, err := json.Marshal(map[string]any{
		"method":   "password",
		"password": hex.EncodeToString(password),
		"traits":   map[string]string{"email": "apibench-" + hex.EncodeToString(suffix) + "@example.com", "name": "API Bench"},
	})
	if err != nil {
		return kratosUser{}, err
	}
	var reg struct {
		SessionToken string `json:"session_token"`
		Identity     struct {
			ID string `json:"id"`
		} `json:"identity"`
	}
	if err := kratosJSON(ctx, http.MethodPost, publicURL+"/self-service/registration?flow="+flow.ID, body, &reg); err != nil {
		return kratosUser{}, fmt.Errorf("kratos: register: %w", err)
	}
	if reg.SessionToken == "" || reg.Identity.ID == "" {
		return kratosUser{}, errors.New("kratos: registration answered without a session token or identity")
	}
	return kratosUser{id: reg.Identity.ID, token: reg.SessionToken}, nil
}

func kratosJSON(ctx context.Context, method, url string, body []byte, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return json.Unmarshal(b, into)
}
