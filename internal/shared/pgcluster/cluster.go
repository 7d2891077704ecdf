// Package pgcluster runs a local PostgreSQL cluster from the system's server
// binaries, configured the way the project's clusters are everywhere: TLS on,
// clients authenticated by certificate only over TCP, and the bootstrap
// superuser reachable only through the unix socket.
//
// It serves two callers: the local development stack, which keeps a cluster
// running in the background with pg_ctl (Start/Stop), and the test package,
// which runs a throwaway cluster as a child process that dies with the tests
// (StartChild).
//
// When the caller is root, the cluster runs as an unprivileged OS user,
// because initdb and postgres refuse to run as root.
package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/shared/freeport"
	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
)

// Superuser is the name of the bootstrap superuser. It may log in only over
// the unix socket, by peer authentication mapped from the OS user.
const Superuser = "postgres"

// HBARule is one pg_hba.conf line.
type HBARule struct {
	Type     string // local, hostssl, host
	Database string
	User     string
	Address  string // empty for local
	Method   string // cert, peer map=..., reject
}

func (r HBARule) String() string {
	if r.Type == "local" {
		return fmt.Sprintf("%-8s %-10s %-10s %-16s %s", r.Type, r.Database, r.User, "", r.Method)
	}
	return fmt.Sprintf("%-8s %-10s %-10s %-16s %s", r.Type, r.Database, r.User, r.Address, r.Method)
}

// CertRule allows role to reach database over TLS from addr with a client
// certificate whose CN is the role, and nothing else.
func CertRule(database, role, addr string) HBARule {
	return HBARule{Type: "hostssl", Database: database, User: role, Address: addr, Method: "cert"}
}

// TLSFiles are the PEM files PostgreSQL serves with and trusts for clients.
type TLSFiles struct {
	Cert, Key string // the server's certificate and key
	ClientCA  string // the only CA whose client certificates are accepted
}

// Config describes a cluster. Every path must be absolute.
type Config struct {
	Bin       Binaries
	DataDir   string
	SocketDir string
	LogFile   string
	Listen    string // TCP address to listen on, e.g. 127.0.0.1
	Port      int
	TLS       TLSFiles
	HBA       []HBARule         // TCP rules; socket and reject-all rules are added around them
	Settings  map[string]string // extra postgresql.conf settings
	// RunAs is the OS user the server runs as when the caller is root.
	// Default "postgres".
	RunAs string
	// NoSync makes initdb skip fsync: for throwaway test clusters only.
	NoSync bool
}

// Cluster is one PostgreSQL data directory and the server running on it.
type Cluster struct {
	cfg  Config
	cred *syscall.Credential // nil when not running as root
	uid  int
	gid  int
}

// New checks cfg and resolves the OS user the server runs as.
func New(cfg Config) (*Cluster, error) {
	for name, p := range map[string]string{"DataDir": cfg.DataDir, "SocketDir": cfg.SocketDir, "LogFile": cfg.LogFile} {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("pgcluster: %s must be an absolute path, got %q", name, p)
		}
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("pgcluster: port %d out of range", cfg.Port)
	}
	// The socket path must fit in sun_path (107 bytes on Linux).
	if sock := filepath.Join(cfg.SocketDir, ".s.PGSQL."+strconv.Itoa(cfg.Port)); len(sock) > 107 {
		return nil, fmt.Errorf("pgcluster: socket path %s is longer than 107 bytes; use a shorter directory", sock)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1"
	}
	if cfg.RunAs == "" {
		cfg.RunAs = "postgres"
	}
	c := &Cluster{cfg: cfg, uid: os.Geteuid(), gid: os.Getegid()}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(cfg.RunAs)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: running as root, PostgreSQL needs an unprivileged OS user %q: %w (create it with: useradd --system --home-dir /var/lib/postgresql %s)", cfg.RunAs, err, cfg.RunAs)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.uid, c.gid = uid, gid
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)} //nolint:gosec // G115: ids from the user database fit uint32
		if err := c.checkReachable(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Config returns the cluster's configuration.
func (c *Cluster) Config() Config { return c.cfg }

// checkReachable makes sure the unprivileged user can traverse to the data
// and socket directories: otherwise initdb fails with a confusing message.
func (c *Cluster) checkReachable() error {
	for _, p := range []string{filepath.Dir(c.cfg.DataDir), filepath.Dir(c.cfg.SocketDir), filepath.Dir(c.cfg.LogFile)} {
		if dir, ok := Traversable(p, c.uid, c.gid); !ok {
			return fmt.Errorf("pgcluster: OS user %s cannot enter %s, so PostgreSQL cannot reach %s: allow it (chmod o+x %s) or keep the cluster elsewhere", c.cfg.RunAs, dir, p, dir)
		}
	}
	return nil
}

// Traversable reports whether uid/gid may search every directory from / down
// to path (the part of path that does not exist yet is not checked). It
// returns the first directory that blocks.
func Traversable(path string, uid, gid int) (string, bool) {
	path = filepath.Clean(path)
	dirs := []string{}
	for p := path; ; p = filepath.Dir(p) {
		dirs = append(dirs, p)
		if p == "/" || p == "." {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		fi, err := os.Stat(dirs[i])
		if err != nil {
			return "", true
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return "", true
		}
		mode := fi.Mode().Perm()
		switch {
		case int(st.Uid) == uid:
			if mode&0o100 == 0 {
				return dirs[i], false
			}
		case int(st.Gid) == gid:
			if mode&0o010 == 0 {
				return dirs[i], false
			}
		default:
			if mode&0o001 == 0 {
				return dirs[i], false
			}
		}
	}
	return "", true
}

// Initialized reports whether the data directory holds a cluster.
func (c *Cluster) Initialized() bool {
	_, err := os.Stat(filepath.Join(c.cfg.DataDir, "PG_VERSION"))
	return err == nil
}

// Init creates the data directory with initdb unless it exists already.
func (c *Cluster) Init(ctx context.Context) error {
	if c.Initialized() {
		return nil
	}
	for _, d := range []string{c.cfg.DataDir, c.cfg.SocketDir, filepath.Dir(c.cfg.LogFile)} {
		if err := c.mkdirOwned(d); err != nil {
			return err
		}
	}
	args := []string{
		"-D", c.cfg.DataDir,
		"-U", Superuser,
		"--encoding=UTF8", "--locale=C",
		// Until Configure writes the real rules, nobody gets in over TCP.
		"--auth-local=peer", "--auth-host=reject",
	}
	if c.cfg.NoSync {
		args = append(args, "--no-sync")
	}
	if out, err := c.command(ctx, c.cfg.Bin.Path("initdb"), args...).CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", c.cfg.DataDir, err, lastlines.Of(string(out), 10))
	}
	return nil
}

func (c *Cluster) mkdirOwned(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	if c.cred != nil {
		if err := os.Chown(dir, c.uid, c.gid); err != nil {
			return fmt.Errorf("chown %s to %s: %w", dir, c.cfg.RunAs, err)
		}
	}
	return nil
}

// Files written into the data directory by Configure.
const (
	confFile     = "groundwork.conf"
	serverCert   = "server.crt"
	serverKey    = "server.key"
	clientCAFile = "client-ca.crt"
	includeLine  = "include_if_exists = 'groundwork.conf'"
)

// Configure writes the server settings, pg_hba.conf, pg_ident.conf and the
// TLS files into the data directory. It reports whether anything changed, in
// which case a running server needs Reload.
func (c *Cluster) Configure() (bool, error) {
	files := map[string][]byte{
		confFile:        c.settings(),
		"pg_hba.conf":   c.hba(),
		"pg_ident.conf": c.ident(),
	}
	for name, src := range map[string]string{serverCert: c.cfg.TLS.Cert, serverKey: c.cfg.TLS.Key, clientCAFile: c.cfg.TLS.ClientCA} {
		b, err := os.ReadFile(src)
		if err != nil {
			return false, fmt.Errorf("read TLS file for PostgreSQL: %w", err)
		}
		files[name] = b
	}
	conf, err := os.ReadFile(filepath.Join(c.cfg.DataDir, "postgresql.conf"))
	if err != nil {
		return false, fmt.Errorf("read postgresql.conf: %w", err)
	}
	if !bytes.Contains(conf, []byte(includeLine)) {
		files["postgresql.conf"] = append(append(conf, '\n'), []byte(includeLine+"\n")...)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	changed := false
	for _, name := range names {
		ch, err := c.writeOwned(filepath.Join(c.cfg.DataDir, name), files[name])
		if err != nil {
			return false, err
		}
		changed = changed || ch
	}
	return changed, nil
}

func (c *Cluster) writeOwned(path string, data []byte) (bool, error) {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if c.cred != nil {
		if err := os.Chown(tmp, c.uid, c.gid); err != nil {
			return false, fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

func (c *Cluster) settings() []byte {
	set := map[string]string{
		"listen_addresses":         quote(c.cfg.Listen),
		"port":                     strconv.Itoa(c.cfg.Port),
		"unix_socket_directories":  quote(c.cfg.SocketDir),
		"unix_socket_permissions":  "0700",
		"ssl":                      "on",
		"ssl_cert_file":            quote(serverCert),
		"ssl_key_file":             quote(serverKey),
		"ssl_ca_file":              quote(clientCAFile),
		"ssl_min_protocol_version": quote("TLSv1.3"),
		"password_encryption":      quote("scram-sha-256"),
		"log_connections":          "on",
		"log_line_prefix":          quote("%m [%p] %q%u@%d "),
	}
	for k, v := range c.cfg.Settings {
		set[k] = v
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# Written by groundwork's pgcluster; changes are overwritten.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, set[k])
	}
	return b.Bytes()
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// hba puts the caller's certificate rules between the socket rule for the
// bootstrap superuser and a final reject for everything else. There is no
// password method anywhere.
func (c *Cluster) hba() []byte {
	var b bytes.Buffer
	b.WriteString("# Written by groundwork's pgcluster; changes are overwritten.\n")
	b.WriteString("# The superuser over the unix socket only; roles over TLS with a client certificate only.\n")
	fmt.Fprintln(&b, HBARule{Type: "local", Database: "all", User: Superuser, Method: "peer map=bootstrap"})
	for _, r := range c.cfg.HBA {
		fmt.Fprintln(&b, r)
	}
	fmt.Fprintln(&b, HBARule{Type: "local", Database: "all", User: "all", Method: "reject"})
	fmt.Fprintln(&b, HBARule{Type: "host", Database: "all", User: "all", Address: "0.0.0.0/0", Method: "reject"})
	fmt.Fprintln(&b, HBARule{Type: "host", Database: "all", User: "all", Address: "::/0", Method: "reject"})
	return b.Bytes()
}

// ident maps the OS users allowed to act as the superuser: the one the
// server runs as, and the one running this code (root included).
func (c *Cluster) ident() []byte {
	var b bytes.Buffer
	b.WriteString("# Written by groundwork's pgcluster; changes are overwritten.\n")
	seen := map[string]bool{}
	for _, u := range []string{c.osUserName(), currentUserName()} {
		if u != "" && !seen[u] {
			seen[u] = true
			fmt.Fprintf(&b, "bootstrap %s %s\n", u, Superuser)
		}
	}
	return b.Bytes()
}

func (c *Cluster) osUserName() string {
	if c.cred != nil {
		return c.cfg.RunAs
	}
	return currentUserName()
}

func currentUserName() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.Username
}

// command prepares a program to run as the cluster's OS user.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
	return cmd
}

// Running reports the postmaster's pid when a server runs on the data
// directory.
func (c *Cluster) Running() (int, bool) {
	b, err := os.ReadFile(filepath.Join(c.cfg.DataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// A stale pid file may name a pid reused by another program.
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || !strings.HasPrefix(filepath.Base(exe), "postgres") {
		return 0, false
	}
	return pid, true
}

// CheckPortFree fails with freeport.ErrInUse when something else listens
// on the cluster's address.
func (c *Cluster) CheckPortFree(ctx context.Context) error {
	return freeport.CheckFree(ctx, net.JoinHostPort(c.cfg.Listen, strconv.Itoa(c.cfg.Port)))
}

// Start runs the server in the background with pg_ctl and waits until it
// accepts connections. It does nothing when the server is running already.
func (c *Cluster) Start(ctx context.Context) error {
	if _, ok := c.Running(); ok {
		return nil
	}
	if err := c.CheckPortFree(ctx); err != nil {
		return err
	}
	if err := c.touchLog(); err != nil {
		return err
	}
	cmd := c.command(ctx, c.cfg.Bin.Path("pg_ctl"), "start", "-D", c.cfg.DataDir, "-l", c.cfg.LogFile, "-w", "-t", "60", "-s")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start PostgreSQL: %w\n%s\n%s", err, bytes.TrimSpace(out), c.logTail(15))
	}
	return nil
}

func (c *Cluster) touchLog() error {
	f, err := os.OpenFile(c.cfg.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open PostgreSQL log: %w", err)
	}
	defer f.Close()
	if c.cred != nil {
		if err := f.Chown(c.uid, c.gid); err != nil {
			return fmt.Errorf("chown PostgreSQL log: %w", err)
		}
	}
	return nil
}

// Stop shuts the server down (fast mode: running transactions are rolled
// back, data is flushed). It does nothing when no server runs.
func (c *Cluster) Stop(ctx context.Context) error {
	if _, ok := c.Running(); !ok {
		return nil
	}
	cmd := c.command(ctx, c.cfg.Bin.Path("pg_ctl"), "stop", "-D", c.cfg.DataDir, "-m", "fast", "-w", "-t", "60", "-s")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Reload makes a running server reread its configuration and TLS files.
func (c *Cluster) Reload(ctx context.Context) error {
	if _, ok := c.Running(); !ok {
		return nil
	}
	cmd := c.command(ctx, c.cfg.Bin.Path("pg_ctl"), "reload", "-D", c.cfg.DataDir, "-s")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("reload PostgreSQL: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Child is a server running as a child process of the caller.
type Child struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // the exit status, set before exited is closed
}

// StartChild runs the server as a child process that receives SIGQUIT
// (immediate shutdown) if the calling process dies, so a crashed test run
// leaves no server behind. It waits until the server accepts connections.
func (c *Cluster) StartChild(ctx context.Context) (*Child, error) {
	if err := c.touchLog(); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(c.cfg.LogFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL log: %w", err)
	}
	defer log.Close()
	// Not CommandContext: the server must outlive the context that started it.
	cmd := exec.Command(c.cfg.Bin.Path("postgres"), "-D", c.cfg.DataDir) //nolint:noctx // must outlive the starting context
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	ch := &Child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		ch.waitErr = cmd.Wait()
		close(ch.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := c.ConnectSuperuser(ctx, "postgres")
		if err == nil {
			_ = conn.Close(ctx)
			return ch, nil
		}
		select {
		case <-ch.exited:
			return nil, fmt.Errorf("postgres exited during start-up: %w\n%s", ch.waitErr, c.logTail(15))
		case <-ctx.Done():
			ch.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			ch.Stop()
			return nil, fmt.Errorf("postgres did not accept connections within 60s: %w\n%s", err, c.logTail(15))
		}
	}
}

// Stop shuts the child down (fast mode) and waits for it.
func (ch *Child) Stop() {
	_ = ch.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-ch.exited:
	case <-time.After(30 * time.Second):
		_ = ch.cmd.Process.Kill()
		<-ch.exited
	}
}

// ConnectSuperuser connects to database as the bootstrap superuser over the
// unix socket.
func (c *Cluster) ConnectSuperuser(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("superuser connection config: %w", err)
	}
	cfg.Host = c.cfg.SocketDir
	cfg.Port = uint16(c.cfg.Port) //nolint:gosec // G115: New checked the range
	cfg.User = Superuser
	cfg.Password = ""
	cfg.Database = database
	cfg.TLSConfig = nil
	cfg.Fallbacks = nil
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect as %s to %s over %s: %w", Superuser, database, c.cfg.SocketDir, err)
	}
	return conn, nil
}

func (c *Cluster) logTail(n int) string {
	b, err := os.ReadFile(c.cfg.LogFile)
	if err != nil {
		return ""
	}
	return "PostgreSQL log (" + c.cfg.LogFile + "):\n" + lastlines.Of(string(b), n)
}
